/**
 * A resumable training run, the one shared by the long scripts (`deno task main`,
 * `deno task face-epoch`). It
 *
 * - resumes from its checkpoint when one exists and was made with the same options, and
 *   refuses one made with other options, naming each difference and the fix;
 * - saves atomically ({@link saveCheckpoint}) every `saveEvery` steps and on Ctrl-C (SIGINT),
 *   with the random stream's state, so the resumed run draws the same numbers as an unbroken
 *   one; a second Ctrl-C quits at once, keeping the last checkpoint;
 * - checks that every weight is finite before every save and refuses to write NaN or Inf over
 *   a good checkpoint ({@link NonFiniteWeightsError});
 * - adds up the training time of all the sittings (time spent saving is not training time).
 *
 * ```ts ignore
 * const run = await ResumableRun.open({ path: "out/x/checkpoint.ckpt", modules: { D, G },
 *   options: { seed, lr }, saveEvery: 100 });
 * let step = (run.resumed?.step as number | undefined) ?? 0;
 * await run.timed(async () => {
 *   for (; step < steps && !run.stopRequested; step++) {
 *     trainOneStep(step);
 *     run.stepDone();
 *     if (run.isDue(step + 1)) await run.save({ step: step + 1 }, `step ${step + 1}`);
 *   }
 * });
 * if (run.stopRequested) await run.save({ step }, `step ${step}`);
 * run.close();
 * ```
 * @module
 */
import { exists } from "../data/atomic.ts";
import { CheckpointError, loadCheckpoint, saveCheckpoint } from "../engine/checkpoint.ts";
import type { Module } from "../engine/nn.ts";
import { getRngState, type RngState, setRngState } from "../engine/random.ts";
import { allFinite } from "./mnist_gan.ts";

/** A run option a checkpoint must match to be resumed. */
export type RunOption = string | number | boolean | null;

/** Settings of {@link ResumableRun.open}. */
export interface ResumableRunOptions {
  /** The checkpoint file, e.g. `<out>/checkpoint.ckpt`. */
  path: string;
  /** The networks (with their optimisers) to save and restore, by name. */
  modules: Record<string, Module>;
  /** The options a checkpoint must have been made with to be resumed; saved with it. */
  options: Record<string, RunOption>;
  /** The command-line flag of each option, for the error on a mismatch, e.g. `lrEnd: "--lr-end"`. */
  flags?: Record<string, string>;
  /** Values of options that checkpoints from before the option existed were made with. */
  legacy?: Record<string, RunOption>;
  /** Ignore an existing checkpoint and start again (it is overwritten at the first save). */
  fresh?: boolean;
  /** Steps between saves for {@link ResumableRun.isDue}; 0 or absent: never. */
  saveEvery?: number;
  /** Stop as Ctrl-C would once {@link ResumableRun.stepDone} was called this often (for tests). */
  stopAfterSteps?: number;
  /** Listen for Ctrl-C (default true). */
  signals?: boolean;
  /** Where messages go (default console.log). */
  log?: (line: string) => void;
}

/** Thrown by {@link ResumableRun.save} instead of saving weights that are NaN or infinite. */
export class NonFiniteWeightsError extends Error {
  /** `at` names the step, `module` the first network found not finite. */
  constructor(readonly path: string, readonly at: string, readonly module: string, kept: boolean) {
    super(
      `Weights of ${module} are not finite (NaN or Inf) at ${at}: not saved, ` +
        (kept
          ? `${path} still holds the last good checkpoint; run again to resume from it`
          : `and no checkpoint was written before; run again with --fresh`) +
        `, with a lower learning rate if training diverges again`,
    );
    this.name = "NonFiniteWeightsError";
  }
}

/** A training run that resumes from, and saves to, one checkpoint file. */
export class ResumableRun {
  /** The checkpoint's metadata when the run resumed from one; null for a fresh start. */
  readonly resumed: Record<string, unknown> | null;
  /** True after Ctrl-C or {@link requestStop}: finish the step, save, and stop. */
  stopRequested = false;
  /** Steps done in this sitting ({@link stepDone} calls). */
  stepsThisSitting = 0;

  #opts: ResumableRunOptions;
  #log: (line: string) => void;
  #secondsBefore: number;
  #clockSince: number | null = null;
  #listening = false;
  #onSigint = () => {
    if (this.stopRequested) {
      this.#log("Second Ctrl-C: exiting without saving; the last checkpoint is kept");
      Deno.exit(130);
    }
    this.stopRequested = true;
    this.#log("\nCtrl-C: saving a checkpoint at the current step (press again to quit at once)");
  };

  private constructor(opts: ResumableRunOptions, resumed: Record<string, unknown> | null) {
    this.#opts = opts;
    this.#log = opts.log ?? ((line: string) => console.log(line));
    this.resumed = resumed;
    this.#secondsBefore = typeof resumed?.seconds === "number" ? resumed.seconds : 0;
    if (opts.signals ?? true) {
      try {
        Deno.addSignalListener("SIGINT", this.#onSigint);
        this.#listening = true;
      } catch {
        // Signals are not available (e.g. Windows without a console): Ctrl-C simply quits.
      }
    }
  }

  /**
   * Starts a run: unless `fresh`, loads `path` into the modules when it exists, restores the
   * random stream's state and checks the checkpoint's options against this run's (a mismatch
   * throws a {@link CheckpointError} naming each option and the fix). A corrupt or partial
   * checkpoint throws too, and is left alone.
   */
  static async open(opts: ResumableRunOptions): Promise<ResumableRun> {
    if (opts.fresh || !(await exists(opts.path))) return new ResumableRun(opts, null);
    const meta = await loadCheckpoint(opts.path, { modules: opts.modules });
    const mismatch = optionMismatch(opts, meta);
    if (mismatch) throw new CheckpointError(opts.path, mismatch);
    setRngState(meta.rng as RngState);
    return new ResumableRun(opts, meta);
  }

  /** The checkpoint file. */
  get path(): string {
    return this.#opts.path;
  }

  /** Training seconds of all the sittings so far: the time inside {@link timed}, less saving. */
  get seconds(): number {
    const running = this.#clockSince === null ? 0 : (performance.now() - this.#clockSince) / 1000;
    return this.#secondsBefore + running;
  }

  /** Runs `train`, counting its time (less any saving within it) as training time. */
  async timed<T>(train: () => Promise<T>): Promise<T> {
    this.#clockSince = performance.now();
    try {
      return await train();
    } finally {
      this.#secondsBefore = this.seconds;
      this.#clockSince = null;
    }
  }

  /** Asks the run to stop as Ctrl-C does. */
  requestStop(): void {
    this.stopRequested = true;
  }

  /** Counts a step of this sitting; stops the run after `stopAfterSteps` of them. */
  stepDone(): void {
    this.stepsThisSitting++;
    const limit = this.#opts.stopAfterSteps;
    if (limit !== undefined && this.stepsThisSitting >= limit) this.stopRequested = true;
  }

  /** True when `step` (a position in the run) is a multiple of `saveEvery`. */
  isDue(step: number): boolean {
    const every = this.#opts.saveEvery ?? 0;
    return every > 0 && step > 0 && step % every === 0;
  }

  /**
   * Saves the modules with `meta` (where the run is: epoch, step...), the run's options, the
   * random stream's state, the training seconds and the time. `at` names the place for
   * messages ("epoch 2, step 5"). Throws {@link NonFiniteWeightsError}, saving nothing, when
   * a weight is NaN or infinite.
   */
  async save(meta: Record<string, unknown>, at: string): Promise<void> {
    const modules = Object.entries(this.#opts.modules);
    // Wait for queued (GPU) work first, so it counts as training time, not saving: reading
    // each network's last (small) parameter waits for every step before it.
    for (const [, m] of modules) await m.parameters().at(-1)?.value.data();
    const seconds = this.seconds;
    const saveStart = performance.now();
    for (const [name, m] of modules) {
      if (!(await allFinite(m))) {
        throw new NonFiniteWeightsError(this.path, at, name, await exists(this.path));
      }
    }
    await saveCheckpoint(this.path, {
      modules: this.#opts.modules,
      meta: {
        ...this.#opts.options,
        ...meta,
        seconds,
        rng: getRngState(),
        savedAt: new Date().toISOString(),
      },
    });
    // The time spent saving is not training time.
    if (this.#clockSince !== null) this.#clockSince += performance.now() - saveStart;
  }

  /** Stops listening for Ctrl-C. */
  close(): void {
    if (this.#listening) Deno.removeSignalListener("SIGINT", this.#onSigint);
    this.#listening = false;
  }

  /** {@link close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** The error text for a checkpoint made with other options than `opts.options`, or "". */
function optionMismatch(opts: ResumableRunOptions, meta: Record<string, unknown>): string {
  const theirs = (k: string) => (k in meta ? meta[k] : opts.legacy?.[k]) ?? null;
  const mine = (k: string) => opts.options[k] ?? null;
  const keys = Object.keys(opts.options).filter((k) => theirs(k) !== mine(k));
  if (!keys.length) return "";
  const show = (v: unknown) => v === null ? "none" : String(v);
  const diffs = keys.map((k) => `${k} ${show(theirs(k))} (this run: ${show(mine(k))})`);
  const fixes = keys.map((k) => {
    const flag = opts.flags?.[k];
    if (!flag) return `${k} ${show(theirs(k))}`;
    const v = theirs(k);
    return v === null || v === false ? `no ${flag}` : v === true ? flag : `${flag} ${v}`;
  });
  return `was made with ${diffs.join(", ")}: to resume it, run with ${fixes.join(", ")}; ` +
    `or pass --fresh (or another --out) to start again`;
}

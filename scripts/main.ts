/**
 * The main job (`deno task main`): trains the book's improved MNIST GAN
 * (notebook 08) with a progress bar, a fixed-seed sample grid per epoch and a
 * strip of all of them, loss charts, a checkpoint per epoch (and on Ctrl-C)
 * that resumes exactly, and a summary with quality numbers (digits covered,
 * classifier score, Frechet distance) in `<out>/summary.json`.
 *
 * It reads top to bottom like a training script: the options, then `runMain` (set-up, the
 * epoch loop, the report), then the small steps it calls and the pictures. Resuming, saving
 * (every epoch and on Ctrl-C, weights checked finite first) and the training time summed over
 * sittings are lib/book/resumable.ts's `ResumableRun`, shared with `deno task face-epoch`.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import {
  epochOrder,
  type EpochResult,
  Figure,
  initBackend,
  judgeGenerator,
  manualSeed,
  MNIST_GAN_LR,
  MNIST_PIXELS,
  MNIST_SIDE,
  MNIST_TRAIN_CSV,
  MnistDataset,
  MnistDiscriminator,
  MnistGenerator,
  noGrad,
  NonFiniteLossError,
  normalArray,
  parseBackendOrder,
  progressBar,
  QUICK,
  scheduledLr,
  SEED_SIZE,
  stepsPerEpoch,
  tensorData,
  trainEpoch,
} from "../mod.ts";
import { NonFiniteWeightsError, ResumableRun } from "../lib/book/mod.ts";
import { exists, writeAtomic } from "../lib/data/mod.ts";
import { decodePng, encodePng, tileImages, toRgb, upscale } from "../lib/display/mod.ts";
import { getRngState, setRngState, syncReads } from "../lib/engine/mod.ts";
import { ADAM_OPTIONS, adamSettings, wholeNumber } from "./_cli.ts";

// ---------------------------------------------------------------------------------------------
// Options

/** Images per epoch in quick mode (`GAN_QUICK=1`). */
export const QUICK_IMAGES = 300;
/** Rows and columns of the per-epoch sample grid. */
export const GRID_ROWS = 3, GRID_COLS = 4;
const PIXEL_SCALE = 3;
const GAP = 2;

/** Settings of one run. */
export interface MainConfig {
  /** Total epochs to reach (a resumed run continues up to this). */
  epochs: number;
  /** Seed of the weights, the seeds and the data order. */
  seed: number;
  /** Backend order for initBackend(), e.g. "wasm,cpu"; default TFJS_BACKEND or wasm, cpu. */
  backend?: string;
  /** Images per step: 1 is the book's loop. */
  batchSize: number;
  /** Adam learning rate of both networks (the book: 0.0001). */
  lr: number;
  /** With it, the learning rate falls linearly from `lr` at the first step to this at the last. */
  lrEnd?: number;
  /** Adam's beta1 for both networks (PyTorch's default 0.9; GANs often use 0.5 with batches). */
  beta1?: number;
  /** Output folder. */
  out: string;
  /** Ignore an existing checkpoint and start again. */
  fresh: boolean;
  /** Images per epoch (default all 60,000; quick mode 300). */
  limit?: number;
  /** Samples for the final quality numbers (default 1000; quick mode 200). */
  evalSamples?: number;
  /** Skip the quality numbers (no classifier needed). */
  noEval?: boolean;
  /** Stop as Ctrl-C would after this many steps of this run (for tests). */
  stopAfterSteps?: number;
  /** Train on this dataset instead of MNIST's training CSV (for tests). */
  dataset?: MnistDataset;
  /** Where messages go (default console.log). */
  log?: (line: string) => void;
}

/** How a run ended. */
export interface MainResult {
  /** "done": all epochs trained; "interrupted": stopped and checkpointed; "nonfinite": a loss went NaN/Inf. */
  status: "done" | "interrupted" | "nonfinite";
  /** Epoch and step reached (steps done within the epoch). */
  epoch: number;
  step: number;
  /** The summary written at the end, when status is "done". */
  summary?: Record<string, unknown>;
}

const HELP = `Trains the book's improved MNIST GAN (notebook 08) and reports its quality.

Usage: deno task main [options]

  --epochs N       epochs to train in all (default 1; quick mode 1); a resumed run continues to N
  --seed N         seed of weights, generator seeds and data order (default 42)
  --batch-size N   images per step: 1 is the book's per-sample loop (default 1)
  --lr X           Adam learning rate of D and G (default ${MNIST_GAN_LR}, the book's)
  --lr-end X       let the learning rate fall linearly from --lr to X over all the epochs asked for
  --beta1 X        Adam beta1 of D and G (default 0.9, PyTorch's; 0.5 steadies batched runs)
  --backend LIST   TF.js backends to try in order, e.g. wasm,cpu (default TFJS_BACKEND or wasm,cpu)
  --out DIR        output folder (default out/main)
  --fresh          ignore an existing checkpoint and start again
  --limit N        images per epoch (default 60000; quick mode ${QUICK_IMAGES})
  --no-eval        skip the quality numbers (no classifier)
  --help           show this text

Writes <out>/samples/epoch_NNN.png|svg (fixed seeds), <out>/samples_strip.png|svg,
<out>/loss_D.png|svg, <out>/loss_G.png|svg, <out>/checkpoint.ckpt and <out>/summary.json.
Ctrl-C saves a checkpoint at the current step; running again resumes exactly where it stopped.
Set GAN_QUICK=1 for a tiny epoch.`;

/** Parses command-line arguments; returns null after printing help. */
export function parseMainArgs(args: string[]): MainConfig | null {
  const { values } = parseArgs({
    args,
    options: {
      epochs: { type: "string" },
      seed: { type: "string" },
      "batch-size": { type: "string" },
      ...ADAM_OPTIONS,
      backend: { type: "string" },
      out: { type: "string" },
      fresh: { type: "boolean" },
      limit: { type: "string" },
      "no-eval": { type: "boolean" },
      "stop-after-steps": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return null;
  }
  const { lr, lrEnd, beta1 } = adamSettings(values, MNIST_GAN_LR);
  if (values.backend !== undefined) parseBackendOrder(values.backend);
  return {
    epochs: wholeNumber("epochs", values.epochs, 1, 1),
    seed: wholeNumber("seed", values.seed, 42),
    batchSize: wholeNumber("batch-size", values["batch-size"], 1, 1),
    lr,
    lrEnd,
    beta1,
    backend: values.backend,
    out: values.out ?? "out/main",
    fresh: values.fresh ?? false,
    limit: values.limit === undefined ? undefined : wholeNumber("limit", values.limit, 0, 1),
    noEval: values["no-eval"] ?? false,
    stopAfterSteps: values["stop-after-steps"] === undefined
      ? undefined
      : wholeNumber("stop-after-steps", values["stop-after-steps"], 0),
  };
}

// ---------------------------------------------------------------------------------------------
// The run: set-up, the epoch loop, the report

/** Trains (or resumes) the MNIST GAN as configured; see the module doc. */
export async function runMain(config: MainConfig): Promise<MainResult> {
  const log = config.log ?? ((line: string) => console.log(line));
  const out = config.out;

  // Set-up: backend, data, networks, and the checkpoint to resume from.
  const backend = await initBackend(
    config.backend ? { order: parseBackendOrder(config.backend) } : {},
  );
  log(`Backend: ${backend.device}`);
  await Deno.mkdir(`${out}/samples`, { recursive: true });
  const { dataset, images } = await trainingData(config);
  const steps = stepsPerEpoch(images, config.batchSize);
  manualSeed(config.seed);
  using nets = makeNetworks(config);
  const { D, G } = nets;
  using run = await ResumableRun.open({
    path: `${out}/checkpoint.ckpt`,
    modules: { D, G },
    options: {
      seed: config.seed,
      batchSize: config.batchSize,
      lr: config.lr,
      lrEnd: config.lrEnd ?? null,
      beta1: config.beta1 ?? 0.9,
      images,
    },
    flags: OPTION_FLAGS,
    // Checkpoints from before --beta1 and --lr-end existed used PyTorch's 0.9 and no schedule.
    legacy: { beta1: 0.9, lrEnd: null },
    fresh: config.fresh,
    stopAfterSteps: config.stopAfterSteps,
    log,
  });
  if (run.resumed) {
    log(
      `Resuming from ${run.path}: epoch ${run.resumed.epoch}, step ${run.resumed.step} of ${steps}`,
    );
  }
  // epochStart: the training seconds (summed over sittings) when the current epoch began.
  let { epoch, step, epochSeconds, epochStart } = resumePoint(run, steps);
  const seeds = gridSeeds(config.seed);
  const t: Training = { config, D, G, dataset, images, steps, run };
  const checkpointMeta = () => ({
    epoch,
    step,
    stepsPerEpoch: steps,
    dataOrderSeed: config.seed,
    backend: backend.backend,
    device: backend.device,
    epochSeconds,
    epochStartSeconds: epochStart,
  });

  // The epoch loop: train, draw, save.
  try {
    for (; epoch <= config.epochs; epoch++, step = 0) {
      const result = await run.timed(() => trainOneEpoch(t, epoch, step));
      step = result.step;
      if (result.stopped) {
        await run.save(checkpointMeta(), `epoch ${epoch}, step ${step}`);
        log(`Saved ${run.path} at epoch ${epoch}, step ${step} of ${steps}: run again to resume`);
        return { status: "interrupted", epoch, step };
      }
      const seconds = run.seconds - epochStart;
      epochSeconds.push(seconds);
      epochStart = run.seconds;
      await saveEpochFigures(out, epoch, D, G, seeds);
      await run.save(checkpointMeta(), `the end of epoch ${epoch}`);
      log(
        `Epoch ${epoch}: ${seconds.toFixed(1)} s, D loss ${D.lastLoss?.toFixed(4)}, G loss ${
          G.lastLoss?.toFixed(4)
        }`,
      );
    }
  } catch (e) {
    if (e instanceof NonFiniteLossError) {
      log(`Training stopped: ${e.message}. The last good checkpoint ${run.path} is kept.`);
      return { status: "nonfinite", epoch, step: e.step };
    }
    if (e instanceof NonFiniteWeightsError) {
      log(e.message);
      return { status: "nonfinite", epoch, step };
    }
    throw e;
  }

  // The report: the strip of grids, the summary, the quality numbers.
  await saveStrip(out, config.epochs);
  const summary: Record<string, unknown> = {
    epochs: config.epochs,
    imagesPerEpoch: images,
    stepsPerEpoch: steps,
    batchSize: config.batchSize,
    lr: config.lr,
    beta1: config.beta1 ?? 0.9,
    seed: config.seed,
    backend: backend.backend,
    device: backend.device,
    epochSeconds,
    finalLoss: { D: D.lastLoss ?? null, G: G.lastLoss ?? null },
    lrEnd: config.lrEnd ?? null,
    lastStepLr: learningRate(config, steps, config.epochs * steps - 1),
  };
  if (!config.noEval) Object.assign(summary, await judge(G, config, log));
  await writeAtomic(`${out}/summary.json`, JSON.stringify(summary, null, 2) + "\n");
  log(`Wrote ${out}/summary.json`);
  return { status: "done", epoch: config.epochs, step: steps, summary };
}

// ---------------------------------------------------------------------------------------------
// The steps of the run

/** The command-line flag of each option a checkpoint must match. */
const OPTION_FLAGS = {
  seed: "--seed",
  batchSize: "--batch-size",
  lr: "--lr",
  lrEnd: "--lr-end",
  beta1: "--beta1",
  images: "--limit",
};

/** What one epoch's training needs. */
interface Training {
  config: MainConfig;
  D: MnistDiscriminator;
  G: MnistGenerator;
  dataset: MnistDataset;
  /** Images per epoch. */
  images: number;
  steps: number;
  run: ResumableRun;
}

/** MNIST's training images (or the test's dataset) and how many of them make an epoch. */
async function trainingData(
  config: MainConfig,
): Promise<{ dataset: MnistDataset; images: number }> {
  const dataset = config.dataset ?? await MnistDataset.load(MNIST_TRAIN_CSV, {
    limit: config.limit ?? (QUICK ? QUICK_IMAGES : undefined),
  });
  const images = Math.min(dataset.length, config.limit ?? (QUICK ? QUICK_IMAGES : Infinity));
  return { dataset, images };
}

/** The book's discriminator and generator with the run's Adam settings, freed by `using`. */
function makeNetworks(config: MainConfig) {
  const betas: [number, number] = [config.beta1 ?? 0.9, 0.999];
  const D = new MnistDiscriminator({ lr: config.lr, betas });
  const G = new MnistGenerator({ lr: config.lr, betas });
  D.printEvery = 0;
  G.printEvery = 0;
  return {
    D,
    G,
    [Symbol.dispose]() {
      D.dispose();
      G.dispose();
    },
  };
}

/** Where training starts: epoch 1, or just after the checkpoint's step. */
function resumePoint(run: ResumableRun, steps: number) {
  const meta = run.resumed;
  if (!meta) return { epoch: 1, step: 0, epochSeconds: [] as number[], epochStart: 0 };
  let epoch = meta.epoch as number, step = meta.step as number;
  if (step >= steps) {
    epoch += 1;
    step = 0;
  }
  return {
    epoch,
    step,
    epochSeconds: [...((meta.epochSeconds as number[] | undefined) ?? [])],
    // Checkpoints from before the time was summed over sittings: this sitting's time only.
    epochStart: (meta.epochStartSeconds as number | undefined) ?? run.seconds,
  };
}

/** The learning rate at a global step: it depends on that alone, so a resumed run follows it. */
function learningRate(config: MainConfig, steps: number, globalStep: number): number {
  return scheduledLr(config.lr, config.lrEnd, globalStep, config.epochs * steps);
}

/** One epoch, or the rest of one, with a progress bar, the learning-rate schedule and a leak check. */
async function trainOneEpoch(t: Training, epoch: number, step: number): Promise<EpochResult> {
  const { config, D, G, run, steps } = t;
  const setLr = (s: number) => {
    D.optimiser.lr = G.optimiser.lr = learningRate(config, steps, (epoch - 1) * steps + s);
  };
  const bar = progressBar(steps, { label: `epoch ${epoch}/${config.epochs}` });
  const leaks = new LeakCheck(epoch);
  setLr(step);
  try {
    return await trainEpoch(D, G, t.dataset, {
      batchSize: config.batchSize,
      order: epochOrder(t.dataset.length, { seed: config.seed, epoch }),
      limit: t.images,
      startStep: step,
      shouldStop: () => run.stopRequested,
      onStep: (info) => {
        run.stepDone();
        setLr(info.step);
        leaks.check(info.step, info.steps);
        bar.update(info.step, { D: D.lastLoss, G: G.lastLoss });
      },
    });
  } finally {
    bar.done();
  }
}

/** Fails an epoch whose steps leave tensors behind (a training step missing a tf.tidy). */
class LeakCheck {
  #before = -1;
  constructor(readonly epoch: number) {}

  /** Call after each step. */
  check(step: number, steps: number): void {
    // On a GPU backend loss values arrive later and hold a tensor until then, so the count is
    // only exact where reads are synchronous.
    if (!syncReads()) return;
    // Measured after the first step: first use of a kernel may keep a few constants for good.
    if (this.#before < 0) this.#before = tf.memory().numTensors;
    else if (step === steps) {
      const leaked = tf.memory().numTensors - this.#before;
      if (leaked !== 0) {
        throw new Error(
          `Epoch ${this.epoch} leaked ${leaked} tensors: a training step is missing a tf.tidy`,
        );
      }
    }
  }
}

const gridPath = (out: string, epoch: number) =>
  `${out}/samples/epoch_${String(epoch).padStart(3, "0")}`;

/** The epoch's sample grid and the two loss charts so far. */
async function saveEpochFigures(
  out: string,
  epoch: number,
  D: MnistDiscriminator,
  G: MnistGenerator,
  seeds: Float32Array,
): Promise<void> {
  await (await sampleGrid(G, seeds, `epoch ${epoch}`)).save(gridPath(out, epoch));
  await lossChart(D, "discriminator loss").save(`${out}/loss_D`);
  await lossChart(G, "generator loss").save(`${out}/loss_G`);
}

/** The grids of all the epochs side by side, when any were drawn. */
async function saveStrip(out: string, epochs: number): Promise<void> {
  const grids: string[] = [];
  for (let e = 1; e <= epochs; e++) {
    if (await exists(`${gridPath(out, e)}.png`)) grids.push(`${gridPath(out, e)}.png`);
  }
  if (grids.length) await (await samplesStrip(grids)).save(`${out}/samples_strip`);
}

/** The quality numbers by two judges: the book's MLP classifier (notebook 04) and notebook 13's CNN. */
async function judge(
  G: MnistGenerator,
  config: MainConfig,
  log: (line: string) => void,
): Promise<Record<string, unknown>> {
  const report: Record<string, unknown> = {};
  for (const [kind, key] of [["mlp", "quality"], ["cnn", "qualityCnn"]] as const) {
    // Judged on the CPU whatever the backend (see judgeGenerator).
    const q = await judgeGenerator(G, {
      kind,
      n: config.evalSamples ?? (QUICK ? 200 : 1000),
      verbose: true,
    });
    report[key] = {
      judge: kind,
      samples: q.n,
      digitsCovered: q.coverage.covered,
      counts: q.coverage.counts,
      entropyNats: q.coverage.entropy,
      classifierScore: q.score,
      frechetDistance: q.fid,
    };
    log(
      `Quality on ${q.n} samples, judged by the ${kind.toUpperCase()}: ${q.coverage.covered}/10 ` +
        `digits (entropy ${q.coverage.entropy.toFixed(3)} nats, max ln 10 = 2.303), ` +
        `classifier score ${q.score.toFixed(2)} (max 10), Frechet distance ${q.fid.toFixed(2)}`,
    );
    log(`Digit counts 0-9: ${q.coverage.counts.join(" ")}`);
  }
  return report;
}

// ---------------------------------------------------------------------------------------------
// Pictures

/** The fixed grid seeds: drawn from their own seed so they never disturb training's random stream. */
function gridSeeds(seed: number): Float32Array {
  const saved = getRngState();
  try {
    manualSeed(seed + 7919);
    return normalArray(GRID_ROWS * GRID_COLS * SEED_SIZE);
  } finally {
    setRngState(saved);
  }
}

/** Draws 3x4 generated digits as one PNG figure (Blues, as the book's plots). */
async function sampleGrid(G: MnistGenerator, seeds: Float32Array, title: string): Promise<Figure> {
  const n = GRID_ROWS * GRID_COLS;
  // An asynchronous read: GPU backends cannot read synchronously.
  const pixels = await tensorData(() =>
    noGrad(() => G.forward(tf.tensor2d(seeds, [n, SEED_SIZE])))
  );
  const digits = Array.from({ length: n }, (_, k) => ({
    width: MNIST_SIDE,
    height: MNIST_SIDE,
    channels: 1,
    data: pixels.subarray(k * MNIST_PIXELS, (k + 1) * MNIST_PIXELS),
  }));
  const { data: mosaic, width: w, height: h } = tileImages(digits, { cols: GRID_COLS, gap: GAP });
  const rgb = toRgb(mosaic, { width: w, height: h, cmap: "Blues", vmin: 0, vmax: 1 });
  const big = upscale(rgb, { width: w, height: h, channels: 3, factor: PIXEL_SCALE });
  const png = encodePng(big, { width: w * PIXEL_SCALE, height: h * PIXEL_SCALE, channels: 3 });
  return Figure.fromPng(png, { width: w * PIXEL_SCALE, height: h * PIXEL_SCALE, title });
}

/** Puts the per-epoch grid PNGs side by side, in epoch order, with white gaps. */
async function samplesStrip(paths: string[]): Promise<Figure> {
  const images = await Promise.all(paths.map(async (p) => decodePng(await Deno.readFile(p))));
  const strip = tileImages(images, {
    cols: images.length,
    gap: GAP * PIXEL_SCALE * 2,
    background: 255,
  });
  const { width, height } = strip;
  return Figure.fromPng(encodePng(strip.data, { width, height, channels: 3 }), {
    width,
    height,
    title: "samples per epoch",
  });
}

/** The book's BCE loss chart; the y range always includes the book's top tick, 5.0. */
function lossChart(model: MnistDiscriminator | MnistGenerator, title: string): Figure {
  // Workaround: resvg aborts ("unreachable") on a titled chart whose y ticks lie above its range.
  const top = Math.max(5.5, ...model.progress.filter(Number.isFinite).map((v) => v * 1.05));
  return model.plotProgress({ title, ylim: [0, top] });
}

// ---------------------------------------------------------------------------------------------
// The command

if (import.meta.main) {
  try {
    const config = parseMainArgs(Deno.args);
    if (config) {
      const result = await runMain(config);
      if (result.status === "interrupted") Deno.exit(130);
      if (result.status === "nonfinite") Deno.exit(1);
    }
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}

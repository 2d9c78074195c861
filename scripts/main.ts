/**
 * The main job (`deno task main`): trains the book's improved MNIST GAN
 * (notebook 08) with a progress bar, a fixed-seed sample grid per epoch and a
 * strip of all of them, loss charts, a checkpoint per epoch (and on Ctrl-C)
 * that resumes exactly, and a summary with quality numbers (digits covered,
 * classifier score, Frechet distance) in `<out>/summary.json`.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import {
  allFinite,
  CheckpointError,
  epochOrder,
  Figure,
  getRngState,
  initBackend,
  judgeGenerator,
  loadCheckpoint,
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
  type RngState,
  saveCheckpoint,
  scheduledLr,
  SEED_SIZE,
  setRngState,
  stepsPerEpoch,
  tensorData,
  trainEpoch,
} from "../mod.ts";
import { decodePng, encodePng, toRgb, upscale } from "../lib/display/mod.ts";
import { syncReads } from "../lib/engine/mod.ts";
import { positiveNumber } from "./_cli.ts";

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
      lr: { type: "string" },
      "lr-end": { type: "string" },
      beta1: { type: "string" },
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
  const int = (name: string, v: string | undefined, dflt: number, min: number) => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) {
      throw new Error(`--${name} must be a whole number of at least ${min}, got "${v}"`);
    }
    return n;
  };
  const lr = positiveNumber("lr", values.lr, MNIST_GAN_LR);
  const lrEnd = values["lr-end"] === undefined
    ? undefined
    : positiveNumber("lr-end", values["lr-end"], 0);
  const beta1 = values.beta1 === undefined ? 0.9 : Number(values.beta1);
  if (!(beta1 >= 0 && beta1 < 1)) {
    throw new Error(`--beta1 must be a number from 0 to below 1, got "${values.beta1}"`);
  }
  if (values.backend !== undefined) parseBackendOrder(values.backend);
  return {
    epochs: int("epochs", values.epochs, 1, 1),
    seed: int("seed", values.seed, 42, 0),
    batchSize: int("batch-size", values["batch-size"], 1, 1),
    lr,
    lrEnd,
    beta1,
    backend: values.backend,
    out: values.out ?? "out/main",
    fresh: values.fresh ?? false,
    limit: values.limit === undefined ? undefined : int("limit", values.limit, 0, 1),
    noEval: values["no-eval"] ?? false,
    stopAfterSteps: values["stop-after-steps"] === undefined
      ? undefined
      : int("stop-after-steps", values["stop-after-steps"], 0, 0),
  };
}

/** The fixed grid seeds: drawn from their own seed so they never disturb training's random stream. */
function gridSeeds(seed: number): tf.Tensor2D {
  const saved = getRngState();
  try {
    manualSeed(seed + 7919);
    const n = GRID_ROWS * GRID_COLS;
    return tf.tensor2d(normalArray(n * SEED_SIZE), [n, SEED_SIZE]);
  } finally {
    setRngState(saved);
  }
}

/** Draws 3x4 generated digits as one PNG figure (Blues, as the book's plots). */
async function sampleGrid(G: MnistGenerator, seeds: tf.Tensor2D, title: string): Promise<Figure> {
  // An asynchronous read: GPU backends cannot read synchronously.
  const pixels = await tensorData(() => noGrad(() => G.forward(seeds)));
  const s = MNIST_SIDE;
  const w = GRID_COLS * s + (GRID_COLS - 1) * GAP, h = GRID_ROWS * s + (GRID_ROWS - 1) * GAP;
  const mosaic = new Float32Array(w * h);
  for (let k = 0; k < GRID_ROWS * GRID_COLS; k++) {
    const x0 = (k % GRID_COLS) * (s + GAP), y0 = Math.floor(k / GRID_COLS) * (s + GAP);
    for (let y = 0; y < s; y++) {
      for (let x = 0; x < s; x++) {
        mosaic[(y0 + y) * w + x0 + x] = pixels[k * MNIST_PIXELS + y * s + x];
      }
    }
  }
  const rgb = toRgb(mosaic, { width: w, height: h, cmap: "Blues", vmin: 0, vmax: 1 });
  const big = upscale(rgb, { width: w, height: h, channels: 3, factor: PIXEL_SCALE });
  const png = encodePng(big, { width: w * PIXEL_SCALE, height: h * PIXEL_SCALE, channels: 3 });
  return Figure.fromPng(png, { width: w * PIXEL_SCALE, height: h * PIXEL_SCALE, title });
}

/** Puts the per-epoch grid PNGs side by side, in epoch order, with white gaps. */
async function samplesStrip(paths: string[]): Promise<Figure> {
  const images = await Promise.all(paths.map(async (p) => decodePng(await Deno.readFile(p))));
  const gap = GAP * PIXEL_SCALE * 2;
  const height = Math.max(...images.map((i) => i.height));
  const width = images.reduce((a, i) => a + i.width, 0) + gap * (images.length - 1);
  const out = new Uint8Array(width * height * 3).fill(255);
  let x0 = 0;
  for (const img of images) {
    for (let y = 0; y < img.height; y++) {
      for (let x = 0; x < img.width; x++) {
        for (let c = 0; c < 3; c++) {
          out[(y * width + x0 + x) * 3 + c] = img.data[(y * img.width + x) * img.channels + c];
        }
      }
    }
    x0 += img.width + gap;
  }
  return Figure.fromPng(encodePng(out, { width, height, channels: 3 }), {
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

async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(value, null, 2) + "\n");
  await Deno.rename(tmp, path);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

const pad3 = (n: number) => String(n).padStart(3, "0");

/** Trains (or resumes) the MNIST GAN as configured; see the module doc. */
export async function runMain(config: MainConfig): Promise<MainResult> {
  const log = config.log ?? ((line: string) => console.log(line));
  const backend = await initBackend(
    config.backend ? { order: parseBackendOrder(config.backend) } : {},
  );
  log(`Backend: ${backend.device}`);
  const out = config.out;
  const ckptPath = `${out}/checkpoint.ckpt`;
  await Deno.mkdir(`${out}/samples`, { recursive: true });

  const dataset = config.dataset ?? await MnistDataset.load(MNIST_TRAIN_CSV, {
    limit: config.limit ?? (QUICK ? QUICK_IMAGES : undefined),
  });
  const n = Math.min(dataset.length, config.limit ?? (QUICK ? QUICK_IMAGES : Infinity));
  const steps = stepsPerEpoch(n, config.batchSize);

  manualSeed(config.seed);
  const betas: [number, number] = [config.beta1 ?? 0.9, 0.999];
  const D = new MnistDiscriminator({ lr: config.lr, betas });
  const G = new MnistGenerator({ lr: config.lr, betas });
  D.printEvery = 0;
  G.printEvery = 0;
  const modules = { D, G };

  let epoch = 1, step = 0;
  let epochSeconds: number[] = [];
  if (!config.fresh && await exists(ckptPath)) {
    const meta = await loadCheckpoint(ckptPath, { modules });
    const mismatch = (["seed", "batchSize", "lr", "lrEnd", "beta1", "images"] as const).filter(
      (k) => {
        const mine = {
          seed: config.seed,
          batchSize: config.batchSize,
          lr: config.lr,
          lrEnd: config.lrEnd ?? null,
          beta1: betas[0],
          images: n,
        }[k];
        // Checkpoints from before --beta1 existed used PyTorch's 0.9.
        const theirs = k === "beta1" ? meta[k] ?? 0.9 : k === "lrEnd" ? meta[k] ?? null : meta[k];
        return theirs !== mine;
      },
    );
    if (mismatch.length) {
      throw new CheckpointError(
        ckptPath,
        `was trained with ${
          mismatch.map((k) => `${k} ${meta[k]}`).join(", ")
        }: pass the same options to resume, or --fresh to start again`,
      );
    }
    setRngState(meta.rng as RngState);
    epoch = meta.epoch as number;
    step = meta.step as number;
    epochSeconds = (meta.epochSeconds as number[]) ?? [];
    log(`Resuming from ${ckptPath}: epoch ${epoch}, step ${step} of ${steps}`);
    if (step >= steps) {
      epoch += 1;
      step = 0;
    }
  }

  const seeds = gridSeeds(config.seed);
  const metaAt = (e: number, s: number) => ({
    epoch: e,
    step: s,
    stepsPerEpoch: steps,
    images: n,
    seed: config.seed,
    dataOrderSeed: config.seed,
    batchSize: config.batchSize,
    lr: config.lr,
    lrEnd: config.lrEnd ?? null,
    beta1: betas[0],
    backend: backend.backend,
    device: backend.device,
    rng: getRngState(),
    epochSeconds,
    savedAt: new Date().toISOString(),
  });
  const save = async (e: number, s: number) => {
    // Never replace a good checkpoint with NaN weights.
    if (!(await allFinite(D, G))) {
      log(
        `Not saving a checkpoint at epoch ${e} step ${s}: weights are not finite; ${ckptPath} is kept`,
      );
      return false;
    }
    await saveCheckpoint(ckptPath, { modules, meta: metaAt(e, s) });
    return true;
  };

  let interrupted = false;
  let stepsThisRun = 0;
  const onSigint = () => {
    if (interrupted) {
      log("Second Ctrl-C: exiting without saving; the last checkpoint is kept");
      Deno.exit(130);
    }
    interrupted = true;
    log("\nCtrl-C: saving a checkpoint at the current step (press again to quit at once)");
  };
  let listening = false;
  try {
    Deno.addSignalListener("SIGINT", onSigint);
    listening = true;
  } catch {
    // Signals are not available (e.g. Windows without a console): Ctrl-C simply quits.
  }

  const gridPath = (e: number) => `${out}/samples/epoch_${pad3(e)}`;
  try {
    for (; epoch <= config.epochs; epoch++, step = 0) {
      const order = epochOrder(dataset.length, { seed: config.seed, epoch });
      const bar = progressBar(steps, { label: `epoch ${epoch}/${config.epochs}` });
      // Measured after the first step: first use of a kernel may keep a few constants for good.
      let tensorsBefore = -1;
      const t0 = performance.now();
      // The schedule depends on the global step alone, so a resumed run follows it exactly.
      const setLr = (s: number) => {
        const lr = scheduledLr(
          config.lr,
          config.lrEnd,
          (epoch - 1) * steps + s,
          config.epochs * steps,
        );
        D.optimiser.lr = lr;
        G.optimiser.lr = lr;
      };
      setLr(step);
      let result;
      try {
        result = await trainEpoch(D, G, dataset, {
          batchSize: config.batchSize,
          order,
          limit: n,
          startStep: step,
          shouldStop: () => interrupted,
          onStep: (info) => {
            stepsThisRun++;
            setLr(info.step);
            // On a GPU backend loss values arrive later and hold a tensor until then, so the
            // count is only exact where reads are synchronous.
            const check = syncReads();
            if (check && tensorsBefore < 0) tensorsBefore = tf.memory().numTensors;
            else if (check && info.step === info.steps) {
              const leaked = tf.memory().numTensors - tensorsBefore;
              if (leaked !== 0) {
                throw new Error(
                  `Epoch ${epoch} leaked ${leaked} tensors: a training step is missing a tf.tidy`,
                );
              }
            }
            if (config.stopAfterSteps !== undefined && stepsThisRun >= config.stopAfterSteps) {
              interrupted = true;
            }
            bar.update(info.step, {
              D: D.progress.at(-1),
              G: G.progress.at(-1),
            });
          },
        });
      } catch (e) {
        bar.done();
        if (e instanceof NonFiniteLossError) {
          log(`Training stopped: ${e.message}. The last good checkpoint ${ckptPath} is kept.`);
          return { status: "nonfinite", epoch, step: e.step };
        }
        throw e;
      }
      bar.done();
      const seconds = (performance.now() - t0) / 1000;
      if (result.stopped) {
        const ok = await save(epoch, result.step);
        log(
          ok
            ? `Saved ${ckptPath} at epoch ${epoch}, step ${result.step} of ${steps}: run again to resume`
            : "Stopped without a new checkpoint",
        );
        return { status: "interrupted", epoch, step: result.step };
      }
      epochSeconds = [...epochSeconds, seconds];
      await (await sampleGrid(G, seeds, `epoch ${epoch}`)).save(gridPath(epoch));
      await lossChart(D, "discriminator loss").save(`${out}/loss_D`);
      await lossChart(G, "generator loss").save(`${out}/loss_G`);
      if (!(await save(epoch, steps))) {
        return { status: "nonfinite", epoch, step: steps };
      }
      log(
        `Epoch ${epoch}: ${seconds.toFixed(1)} s, D loss ${D.progress.at(-1)?.toFixed(4)}, G loss ${
          G.progress.at(-1)?.toFixed(4)
        }`,
      );
    }
    const lastEpoch = config.epochs;
    const grids: string[] = [];
    for (let e = 1; e <= lastEpoch; e++) {
      if (await exists(`${gridPath(e)}.png`)) grids.push(`${gridPath(e)}.png`);
    }
    if (grids.length) await (await samplesStrip(grids)).save(`${out}/samples_strip`);

    const summary: Record<string, unknown> = {
      epochs: lastEpoch,
      imagesPerEpoch: n,
      stepsPerEpoch: steps,
      batchSize: config.batchSize,
      lr: config.lr,
      beta1: betas[0],
      seed: config.seed,
      backend: backend.backend,
      device: backend.device,
      epochSeconds,
      finalLoss: { D: D.progress.at(-1) ?? null, G: G.progress.at(-1) ?? null },
      lrEnd: config.lrEnd ?? null,
      lastStepLr: scheduledLr(
        config.lr,
        config.lrEnd,
        config.epochs * steps - 1,
        config.epochs * steps,
      ),
    };
    if (!config.noEval) {
      // Two judges: the book's MLP classifier (notebook 04) and the CNN of notebook 13.
      for (const [kind, key] of [["mlp", "quality"], ["cnn", "qualityCnn"]] as const) {
        // Judged on the CPU whatever the backend (see judgeGenerator).
        const q = await judgeGenerator(G, {
          kind,
          n: config.evalSamples ?? (QUICK ? 200 : 1000),
          verbose: true,
        });
        summary[key] = {
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
    }
    await writeJsonAtomic(`${out}/summary.json`, summary);
    log(`Wrote ${out}/summary.json`);
    return { status: "done", epoch: lastEpoch, step: steps, summary };
  } finally {
    seeds.dispose();
    if (listening) Deno.removeSignalListener("SIGINT", onSigint);
    D.dispose();
    G.dispose();
  }
}

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

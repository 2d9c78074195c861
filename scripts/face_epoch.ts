/**
 * One full epoch of a book face GAN (notebook 12's fully connected one, 14's convolutional
 * one, or 15's GELU variant) on the embedded synthetic faces, per sample as in the book.
 * Faces are drawn in-process by lib/data/faces.ts (the same pixels the HDF5 file holds), so the
 * script needs no data file and can be bundled for a GPU machine. Writes loss charts, a 2x3
 * grid of generated faces (SVG and PNG) and summary.json to the output folder.
 *
 *   deno task face-epoch --kind conv [--count 20000] [--out out/face_epoch_conv]
 *   TFJS_BACKEND=webgpu,wasm deno task face-epoch --kind fc
 *
 * A CPU epoch of the convolutional GAN takes hours, so the run saves a checkpoint
 * (`<out>/checkpoint.ckpt`, atomic, weights checked finite first) every `--save-every` images
 * and on Ctrl-C, and a rerun with the same options resumes from it; the time reported is the
 * sum of the training time of all the sittings. Resuming, saving and the time are
 * lib/book/resumable.ts's, shared with the main job.
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import {
  type Discriminator,
  type Generator,
  manualSeed,
  noGrad,
  normalArray,
} from "../lib/engine/mod.ts";
import { initBackend } from "../lib/backends/mod.ts";
import {
  ConvFaceDiscriminator,
  ConvFaceGenerator,
  CROP_SIZE,
  FcFaceDiscriminator,
  FcFaceGenerator,
  ResumableRun,
  trainFaceGan,
} from "../lib/book/mod.ts";
import {
  DEFAULT_FACE_COUNT,
  FACE_HEIGHT,
  FACE_WIDTH,
  FacePrefetch,
  SYNTHETIC_NOTE,
} from "../lib/data/faces.ts";
import {
  encodePng,
  imageGrid,
  type ProgressBar,
  progressBar,
  tileImages,
  toRgb,
} from "../lib/display/mod.ts";
import { writeAtomic } from "../lib/data/atomic.ts";
import { wholeNumber } from "./_cli.ts";

const USAGE = "Usage: deno task face-epoch --kind fc|conv|gelu [--count N] [--seed N] [--out DIR]" +
  " [--save-every N] [--workers N] [--fresh]";

/** Settings of one face epoch. */
interface FaceEpochConfig {
  kind: "fc" | "conv" | "gelu";
  count: number;
  seed: number;
  out: string;
  saveEvery: number;
  /** Threads drawing faces ahead of training; null: 2-4 on a GPU backend, none on the CPU. */
  workers: number | null;
  fresh: boolean;
}

/**
 * Parses the command line; null with the reason when it is not valid, or with no reason when it
 * asks for help (USAGE is printed).
 */
function parseFaceArgs(args: string[]): { config: FaceEpochConfig | null; error?: string } {
  try {
    const { values } = parseArgs({
      args,
      options: {
        kind: { type: "string", default: "conv" },
        count: { type: "string" },
        seed: { type: "string" },
        out: { type: "string" },
        "save-every": { type: "string" },
        workers: { type: "string" },
        fresh: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) return { config: null };
    const kind = values.kind!;
    if (!(kind === "fc" || kind === "conv" || kind === "gelu")) {
      throw new Error(`--kind must be fc, conv or gelu, got "${kind}"`);
    }
    return {
      config: {
        kind,
        count: wholeNumber("count", values.count, DEFAULT_FACE_COUNT, 1),
        seed: wholeNumber("seed", values.seed, 42),
        out: values.out ?? `out/face_epoch_${kind}`,
        saveEvery: wholeNumber("save-every", values["save-every"], 100),
        workers: values.workers === undefined ? null : wholeNumber("workers", values.workers, 0),
        fresh: values.fresh ?? false,
      },
    };
  } catch (e) {
    return { config: null, error: (e as Error).message };
  }
}

/** Trains one epoch (or the rest of one) and writes the outputs; returns the exit code. */
async function runFaceEpoch(config: FaceEpochConfig): Promise<number> {
  const { kind, count, seed, out } = config;

  // Set-up: backend, networks, and the checkpoint to resume from.
  await Deno.mkdir(out, { recursive: true });
  const info = await initBackend();
  console.log(`${kind} face GAN, 1 epoch of ${count} ${SYNTHETIC_NOTE}; ${info.device}`);
  manualSeed(seed);
  const conv = kind !== "fc";
  const { D, G } = makeNetworks(kind);
  using run = await ResumableRun.open({
    path: `${out}/checkpoint.ckpt`,
    modules: { D, G },
    options: { kind, count, seed },
    flags: { kind: "--kind", count: "--count", seed: "--seed" },
    fresh: config.fresh,
    saveEvery: config.saveEvery,
  });
  const start = (run.resumed?.done as number | undefined) ?? 0;
  if (run.resumed) {
    console.log(
      `Resuming from ${run.path}: ${start} of ${count} images done in ${run.seconds.toFixed(1)} s`,
    );
  }

  // The epoch: one face at a time, as the book trains. On a GPU a step records in a few ms and
  // drawing a face takes about as long, so worker threads draw the next faces meanwhile.
  const workers = config.workers ?? (/^(wasm|cpu)$/.test(info.backend) ? 0 : faceWorkers());
  using faces = new FacePrefetch({ workers, count, crop: conv ? CROP_SIZE : 0 });
  if (faces.fallback) console.log(`Faces drawn in this thread: ${faces.fallback}`);
  else if (workers > 0) console.log(`Faces drawn ahead by ${workers} worker threads`);
  const bar = progressBar(count, { label: `${kind} epoch`, initial: start });
  const done = await run.timed(() =>
    trainFaces({ D, G, faces, run, bar, start, count, backend: info.backend })
  );
  bar.done();
  if (done < count) {
    await run.save({ done, backend: info.backend }, `image ${done} of ${count}`);
    console.log(`Stopped after ${done} of ${count} images; rerun the same command to resume.`);
    return 130;
  }

  // The report: faces, loss charts, the summary.
  const seconds = run.seconds;
  await writeOutputs(out, D, G, conv);
  const summary = {
    kind,
    images: count,
    resumedAt: start || undefined,
    seconds: Math.round(seconds * 10) / 10,
    msPerIteration: Math.round((seconds * 1000) / count),
    backend: info.backend,
    device: info.device,
    data: SYNTHETIC_NOTE,
    lastLossD: D.lastLoss,
    lastLossG: G.lastLoss,
  };
  await writeAtomic(`${out}/summary.json`, JSON.stringify(summary, null, 2) + "\n");
  // The epoch is complete and written: a rerun starts afresh.
  await Deno.remove(run.path).catch(() => {});
  console.log(JSON.stringify(summary));
  return 0;
}

/** The book's discriminator and generator of this kind. */
function makeNetworks(kind: FaceEpochConfig["kind"]): { D: Discriminator; G: Generator } {
  const activation = kind === "gelu" ? "gelu" as const : "leakyReLU" as const;
  const D = kind === "fc" ? new FcFaceDiscriminator() : new ConvFaceDiscriminator({ activation });
  const G = kind === "fc" ? new FcFaceGenerator() : new ConvFaceGenerator({ activation });
  D.printEvery = 0;
  return { D, G };
}

/**
 * Trains on faces `start` to `count - 1` until done or stopped (Ctrl-C), saving when due;
 * returns how many faces are done.
 */
async function trainFaces(t: {
  D: Discriminator;
  G: Generator;
  faces: FacePrefetch;
  run: ResumableRun;
  bar: ProgressBar;
  start: number;
  count: number;
  backend: string;
}): Promise<number> {
  const { D, G, faces, run, bar, count, backend } = t;
  let i = t.start;
  for (; i < count && !run.stopRequested; i++) {
    // Scaled and cropped on the CPU: three fewer GPU dispatches a step, the same values.
    const image = tf.tensor3d(await faces.get(i), faces.shape);
    trainFaceGan(D, G, image);
    image.dispose();
    run.stepDone();
    // GPU backends queue work: wait now and then so the timing is honest and memory bounded.
    if (i % 50 === 49) await D.parameters()[0].value.data();
    // A macrotask turn lets Deno deliver Ctrl-C to its listener.
    await new Promise((resolve) => setTimeout(resolve, 0));
    bar.update(i + 1, { D: D.lastLoss, G: G.lastLoss });
    if (i + 1 < count && run.isDue(i + 1)) {
      await run.save({ done: i + 1, backend }, `image ${i + 1} of ${count}`);
    }
  }
  // Wait for queued work, so it counts as training time.
  await G.parameters()[0].value.data();
  return i;
}

/** A 2x3 grid of generated faces (PNG and SVG) and the two loss charts. */
async function writeOutputs(out: string, D: Discriminator, G: Generator, conv: boolean) {
  const [h, w] = conv ? [CROP_SIZE, CROP_SIZE] : [FACE_HEIGHT, FACE_WIDTH];
  const images: Float32Array[] = [];
  for (let k = 0; k < 6; k++) {
    const t = noGrad(() => G.forward(tf.tensor1d(normalArray(100))));
    images.push(new Float32Array(await t.data()));
    t.dispose();
  }
  const grid = tileImages(images.map((data) => ({ width: w, height: h, channels: 3, data })), {
    rows: 2,
    cols: 3,
  });
  const size = { width: grid.width, height: grid.height, channels: 3 } as const;
  await writeAtomic(`${out}/generated.png`, encodePng(toRgb(grid.data, size), size));
  await writeAtomic(
    `${out}/generated.svg`,
    imageGrid(images, { rows: 2, cols: 3, width: w, height: h, channels: 3 }).svg,
  );
  await writeAtomic(`${out}/loss_D.svg`, D.plotProgress().svg);
  await writeAtomic(`${out}/loss_G.svg`, G.plotProgress().svg);
}

/** Face-drawing threads on a GPU backend: the cores left after this thread and the GPU's, 2-4. */
function faceWorkers(): number {
  return Math.min(4, Math.max(2, navigator.hardwareConcurrency - 2));
}

if (import.meta.main) {
  const { config, error } = parseFaceArgs(Deno.args);
  if (!config) {
    if (error) console.error(`error: ${error}`);
    console.error(USAGE);
    Deno.exit(error ? 2 : 0);
  }
  try {
    Deno.exit(await runFaceEpoch(config));
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}

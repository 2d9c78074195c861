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
 * (`<out>/checkpoint.ckpt`, atomic) every `--save-every` images and on Ctrl-C, and a
 * rerun with the same options resumes from it; the time reported is the sum of the
 * training time of all the sittings.
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import {
  CheckpointError,
  type Discriminator,
  type Generator,
  getRngState,
  loadCheckpoint,
  manualSeed,
  noGrad,
  normalArray,
  type RngState,
  saveCheckpoint,
  setRngState,
} from "../lib/engine/mod.ts";
import { initBackend } from "../lib/backends/mod.ts";
import {
  ConvFaceDiscriminator,
  ConvFaceGenerator,
  CROP_SIZE,
  FcFaceDiscriminator,
  FcFaceGenerator,
  trainFaceGan,
} from "../lib/book/mod.ts";
import {
  DEFAULT_FACE_COUNT,
  FACE_HEIGHT,
  FACE_WIDTH,
  generateFace,
  SYNTHETIC_NOTE,
} from "../lib/data/faces.ts";
import { encodePng, imageGrid, progressBar } from "../lib/display/mod.ts";
import { writeAtomic } from "../lib/data/atomic.ts";

const USAGE = "Usage: deno task face-epoch --kind fc|conv|gelu [--count N] [--seed N] [--out DIR]" +
  " [--save-every N] [--fresh]";

/** One face as the network's input: [218, 178, 3] floats, or the 128x128 centre crop. */
function faceTensor(index: number, crop: boolean): tf.Tensor3D {
  return tf.tidy(() => {
    const img = tf.tensor3d(generateFace(index).pixels, [FACE_HEIGHT, FACE_WIDTH, 3], "int32")
      .toFloat().div(255) as tf.Tensor3D;
    if (!crop) return img;
    // The book's crop_centre: width//2 - new_width//2.
    const y = Math.floor(FACE_HEIGHT / 2) - CROP_SIZE / 2,
      x = Math.floor(FACE_WIDTH / 2) - CROP_SIZE / 2;
    return img.slice([y, x, 0], [CROP_SIZE, CROP_SIZE, 3]);
  });
}

/** Tiles `images` (each h x w x 3, values 0-1) into a rows x cols PNG. */
function gridPng(
  images: Float32Array[],
  h: number,
  w: number,
  rows: number,
  cols: number,
): Uint8Array {
  const W = cols * w, out = new Uint8Array(rows * h * W * 3);
  images.forEach((img, k) => {
    const r0 = Math.floor(k / cols) * h, c0 = (k % cols) * w;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w * 3; x++) {
        out[((r0 + y) * W + c0) * 3 + x] = Math.round(
          Math.min(1, Math.max(0, img[y * w * 3 + x])) * 255,
        );
      }
    }
  });
  return encodePng(out, { width: W, height: rows * h, channels: 3 });
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      kind: { type: "string", default: "conv" },
      count: { type: "string", default: String(DEFAULT_FACE_COUNT) },
      seed: { type: "string", default: "42" },
      out: { type: "string" },
      "save-every": { type: "string", default: "100" },
      fresh: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  const kind = values.kind!;
  const count = Number(values.count), seed = Number(values.seed);
  const saveEvery = Number(values["save-every"]);
  if (
    values.help || !["fc", "conv", "gelu"].includes(kind) || !(count > 0) ||
    !Number.isInteger(seed) || !(Number.isInteger(saveEvery) && saveEvery >= 0)
  ) {
    console.error(USAGE);
    Deno.exit(values.help ? 0 : 2);
  }
  const out = values.out ?? `out/face_epoch_${kind}`;
  await Deno.mkdir(out, { recursive: true });
  const info = await initBackend();
  console.log(`${kind} face GAN, 1 epoch of ${count} ${SYNTHETIC_NOTE}; ${info.device}`);
  manualSeed(seed);
  const conv = kind !== "fc";
  const activation = kind === "gelu" ? "gelu" as const : "leakyReLU" as const;
  const D: Discriminator = conv
    ? new ConvFaceDiscriminator({ activation })
    : new FcFaceDiscriminator();
  const G: Generator = conv ? new ConvFaceGenerator({ activation }) : new FcFaceGenerator();
  D.printEvery = 0;
  const ckptPath = `${out}/checkpoint.ckpt`;
  let start = 0, before = 0;
  const resume = !values.fresh && await Deno.stat(ckptPath).then(() => true, () => false);
  if (resume) {
    const meta = await loadCheckpoint(ckptPath, { modules: { D, G } });
    if (meta.kind !== kind || meta.count !== count || meta.seed !== seed) {
      throw new CheckpointError(
        ckptPath,
        `is a ${meta.kind} run of ${meta.count} images with seed ${meta.seed}: pass the same ` +
          `options to resume, or --fresh to start again`,
      );
    }
    start = meta.done as number;
    before = meta.seconds as number;
    setRngState(meta.rng as RngState);
    console.log(
      `Resuming from ${ckptPath}: ${start} of ${count} images done in ${before.toFixed(1)} s`,
    );
  }
  const bar = progressBar(count, { label: `${kind} epoch`, initial: start });
  let t0 = performance.now();
  const save = async (done: number) => {
    await G.parameters()[0].value.data();
    const seconds = before + (performance.now() - t0) / 1000;
    await saveCheckpoint(ckptPath, {
      modules: { D, G },
      meta: { kind, count, seed, done, seconds, rng: getRngState(), backend: info.backend },
    });
    // The time spent saving is not training time.
    before = seconds;
    t0 = performance.now();
  };
  let stop = false;
  const onSignal = () => {
    stop = true;
  };
  Deno.addSignalListener("SIGINT", onSignal);
  let i = start;
  for (; i < count && !stop; i++) {
    const image = faceTensor(i, conv);
    trainFaceGan(D, G, image);
    image.dispose();
    // GPU backends queue work: wait now and then so the timing is honest and memory bounded.
    if (i % 50 === 49) await D.parameters()[0].value.data();
    // A macrotask turn lets Deno deliver Ctrl-C to its listener.
    await new Promise((resolve) => setTimeout(resolve, 0));
    bar.update(i + 1, { D: D.progress.at(-1), G: G.progress.at(-1) });
    if (saveEvery > 0 && (i + 1) % saveEvery === 0 && i + 1 < count) await save(i + 1);
  }
  Deno.removeSignalListener("SIGINT", onSignal);
  if (stop) {
    await save(i);
    bar.done();
    console.log(`Stopped after ${i} of ${count} images; rerun the same command to resume.`);
    Deno.exit(130);
  }
  await G.parameters()[0].value.data();
  bar.done();
  const seconds = before + (performance.now() - t0) / 1000;
  const [h, w] = conv ? [CROP_SIZE, CROP_SIZE] : [FACE_HEIGHT, FACE_WIDTH];
  const images: Float32Array[] = [];
  for (let k = 0; k < 6; k++) {
    const t = noGrad(() => G.forward(tf.tensor1d(normalArray(100))));
    images.push(new Float32Array(await t.data()));
    t.dispose();
  }
  await writeAtomic(`${out}/generated.png`, gridPng(images, h, w, 2, 3));
  await writeAtomic(
    `${out}/generated.svg`,
    imageGrid(images, { rows: 2, cols: 3, width: w, height: h, channels: 3 }).svg,
  );
  await writeAtomic(`${out}/loss_D.svg`, D.plotProgress().svg);
  await writeAtomic(`${out}/loss_G.svg`, G.plotProgress().svg);
  const summary = {
    kind,
    images: count,
    resumedAt: start || undefined,
    seconds: Math.round(seconds * 10) / 10,
    msPerIteration: Math.round((seconds * 1000) / count),
    backend: info.backend,
    device: info.device,
    data: SYNTHETIC_NOTE,
    lastLossD: D.progress.at(-1),
    lastLossG: G.progress.at(-1),
  };
  await writeAtomic(`${out}/summary.json`, JSON.stringify(summary, null, 2) + "\n");
  // The epoch is complete and written: a rerun starts afresh.
  await Deno.remove(ckptPath).catch(() => {});
  console.log(JSON.stringify(summary));
}

/**
 * The library's side of the notebook-14 dynamics comparison with PyTorch
 * (scripts/pytorch_conv_gan_run.py; report in docs/conv_gan_dynamics.md). Two commands:
 *
 *   deno run --allow-read --allow-write --allow-env scripts/conv_gan_dynamics.ts data
 *       --iters N --out DIR [--seed 42] [--face-seed 2020]
 *     writes DIR/images.f32 (synthetic faces 0..N-1 of lib/data/faces.ts, centre-cropped to
 *     128x128 as notebook 14 and scripts/face_epoch.ts crop them; NHWC float32 in 0..1),
 *     DIR/seeds.f32 (per iteration the two 100-number seeds trainFaceGan draws after
 *     manualSeed(seed): D's fake step, then G's), DIR/probe.f32 (one fixed seed) and
 *     DIR/meta.json. Both sides train on these numbers.
 *
 *   deno run --allow-read --allow-write --allow-env scripts/conv_gan_dynamics.ts train
 *       --data DIR --init FILE --features F --iters N --out FILE.jsonl [--backend wasm|cpu]
 *     loads PyTorch's initial weights (FILE and FILE.json, written by the Python script's
 *     --save-init; layouts converted by scripts/_pytorch.ts, as in tests/golden_test.ts), then
 *     runs the library's own trainFaceGan on image i at iteration i, after manualSeed(seed) so
 *     that it draws the very seeds of seeds.f32, and writes the Python script's jsonl: a meta
 *     line, the three BCE losses of every iteration, and every 50 iterations the mean and
 *     (unbiased) standard deviation of G's output on the probe seed.
 *
 *     Longer runs: `--count C` cycles through the first C images (image i % C at iteration i)
 *     and lets trainFaceGan draw its seeds from the library's generator (the first ones are
 *     seeds.f32's); `--checkpoint FILE --chunk K` runs in sittings of K iterations, resumed
 *     from FILE when run again (lib/book/resumable.ts: D, G, their Adam states, the random
 *     stream); `--save-output FILE` writes G's output on the probe and on 5 more seeds at the
 *     end, [6, 128, 128, 3] float32. docs/runs/conv_gan_dynamics_f32_tfjs_wasm_8000.jsonl came
 *     from `--count 2000 --iters 8000 --checkpoint FILE --chunk 1000`.
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import { manualSeed, type Module, noGrad, normalArray } from "../lib/engine/mod.ts";
import { initBackend } from "../lib/backends/mod.ts";
import {
  CONV_FEATURES,
  ConvFaceDiscriminator,
  ConvFaceGenerator,
  CROP_SIZE,
  ResumableRun,
  trainFaceGan,
} from "../lib/book/mod.ts";
import { DEFAULT_FACE_SEED, faceFloats } from "../lib/data/faces.ts";
import { fromTorchLayout, recordingLoss, torchState } from "./_pytorch.ts";
import { wholeNumber } from "./_cli.ts";

const SEED_SIZE = 100;
const PROBE_EVERY = 50;

function writeF32(path: string, data: Float32Array): void {
  // Float32Array is little-endian on every platform Deno runs on.
  Deno.writeFileSync(path, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

function readF32(path: string): Float32Array {
  const b = Deno.readFileSync(path);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

function makeData(dir: string, iters: number, seed: number, faceSeed: number): void {
  Deno.mkdirSync(dir, { recursive: true });
  const n = CROP_SIZE * CROP_SIZE * 3;
  const images = new Float32Array(iters * n);
  for (let i = 0; i < iters; i++) {
    images.set(faceFloats(i, { seed: faceSeed, crop: CROP_SIZE }).data, i * n);
  }
  writeF32(`${dir}/images.f32`, images);
  // trainFaceGan draws generateRandomSeed(100) for D's fake step, then for G's step.
  manualSeed(seed);
  const seeds = new Float32Array(iters * 2 * SEED_SIZE);
  for (let i = 0; i < 2 * iters; i++) seeds.set(normalArray(SEED_SIZE), i * SEED_SIZE);
  writeF32(`${dir}/seeds.f32`, seeds);
  manualSeed(seed + 1_000_003);
  writeF32(`${dir}/probe.f32`, normalArray(SEED_SIZE));
  const meta = {
    generator: "scripts/conv_gan_dynamics.ts data",
    iterations: iters,
    faces: `lib/data/faces.ts generateFace(i, {seed: ${faceSeed}}), i = 0..${iters - 1}`,
    crop: "128x128 centre crop, rows 45-172, columns 25-152 (notebook 14's crop_centre)",
    layout: "images.f32 [N, 128, 128, 3] NHWC; seeds.f32 [N, 2, 100]; probe.f32 [100]",
    rng_seed: seed,
    face_seed: faceSeed,
  };
  Deno.writeTextFileSync(`${dir}/meta.json`, JSON.stringify(meta, null, 1) + "\n");
  console.log(`${dir}: ${iters} images, ${2 * iters} seeds`);
}

/** The PyTorch layout of each notebook-14 state tensor, by "<net>/<index>.<name>". */
const LAYOUTS: Record<string, string> = {
  "D/0.weight": "OIHW",
  "D/3.weight": "OIHW",
  "D/6.weight": "OIHW",
  // Linear(300, 1) reads View(3*10*10) of NCHW maps
  "D/9.weight": "cols:3,10,10",
  // Linear(100, 363) whose output View makes (1, 3, 11, 11)
  "G/0.weight": "rows:3,11,11",
  "G/0.bias": "rows:3,11,11",
  "G/3.weight": "IOHW",
  "G/6.weight": "IOHW",
  "G/9.weight": "IOHW",
};

function loadInit(path: string, nets: Record<string, Module>): number {
  const manifest = JSON.parse(Deno.readTextFileSync(`${path}.json`)) as {
    tensors: { key: string; shape: number[]; offset: number }[];
  };
  const flat = readF32(path);
  const byKey = new Map(manifest.tensors.map((e) => [e.key, e]));
  let loaded = 0;
  for (const [who, m] of Object.entries(nets)) {
    for (const [k, p] of torchState(m)) {
      const e = byKey.get(`${who}/${k}`);
      if (!e) throw new Error(`${path} has no ${who}/${k}`);
      const n = e.shape.reduce((a, b) => a * b, 1);
      const v = tf.tidy(() =>
        fromTorchLayout(
          tf.tensor(flat.slice(e.offset, e.offset + n), e.shape),
          LAYOUTS[`${who}/${k}`],
        )
      );
      if (v.shape.join() !== p.value.shape.join()) {
        throw new Error(`${who}/${k}: shape ${v.shape} from ${path}, ${p.value.shape} here`);
      }
      p.assign(v);
      loaded++;
    }
  }
  if (loaded !== manifest.tensors.length) {
    throw new Error(`${path} holds ${manifest.tensors.length} tensors, ${loaded} were used`);
  }
  return loaded;
}

async function train(o: {
  data: string;
  init: string;
  features: number;
  iters: number;
  out: string;
  backend: string;
  count?: number;
  checkpoint?: string;
  chunk?: number;
  saveOutput?: string;
}): Promise<void> {
  const info = await initBackend({ order: [o.backend], log: () => {} });
  const meta = JSON.parse(Deno.readTextFileSync(`${o.data}/meta.json`));
  const images = readF32(`${o.data}/images.f32`);
  const n = CROP_SIZE * CROP_SIZE * 3;
  const probe = readF32(`${o.data}/probe.f32`);
  const seeds = readF32(`${o.data}/seeds.f32`);
  const count = o.count ?? o.iters;
  if (images.length < count * n) throw new Error(`${o.data} holds fewer than ${count} images`);
  if (!o.count && seeds.length < o.iters * 2 * SEED_SIZE) {
    throw new Error(`${o.data} holds fewer than ${o.iters} seed pairs`);
  }
  const D = new ConvFaceDiscriminator({ features: o.features });
  const G = new ConvFaceGenerator({ features: o.features });
  D.printEvery = 0;
  loadInit(o.init, { D: D.model, G: G.model });
  const losses: tf.Tensor[] = [];
  D.lossFunction = recordingLoss(D.lossFunction, losses);
  const probeStats = () => {
    const [m, s] = tf.tidy(() => {
      const y = noGrad(() => G.forward(tf.tensor1d(probe)));
      const mean = y.mean();
      // unbiased, as torch.std
      const std = tf.sqrt(tf.div(tf.sum(tf.square(tf.sub(y, mean))), y.size - 1));
      return [mean, std];
    });
    const r = [m.dataSync()[0], s.dataSync()[0]];
    tf.dispose([m, s]);
    return r;
  };
  // trainFaceGan's seeds come from the shared generator: the same ones as seeds.f32.
  manualSeed(meta.rng_seed);
  const check = normalArray(SEED_SIZE);
  for (let k = 0; k < SEED_SIZE; k++) {
    if (check[k] !== seeds[k]) {
      throw new Error(`seeds.f32 was not drawn with seed ${meta.rng_seed}`);
    }
  }
  manualSeed(meta.rng_seed);
  // With --checkpoint, a run in sittings: resumes D, G, their Adam states and the random stream.
  using run = o.checkpoint
    ? await ResumableRun.open({
      path: o.checkpoint,
      modules: { D, G },
      options: { features: o.features, count, init: o.init, data: o.data },
      stopAfterSteps: o.chunk,
      signals: false,
    })
    : null;
  const first = (run?.resumed?.done as number | undefined) ?? 0;
  const [m0, s0] = probeStats();
  const lines = first ? [] : [JSON.stringify({
    meta: {
      side: "tfjs",
      backend: info.backend,
      device: info.device,
      features: o.features,
      iterations: o.iters,
      images: count,
      init: o.init,
      data: meta,
      g_mean_start: m0,
      g_std_start: s0,
    },
  })];
  const start = performance.now();
  let it = first;
  for (; it < o.iters && !run?.stopRequested; it++) {
    const k = it % count;
    const image = tf.tensor3d(images.subarray(k * n, (k + 1) * n), [CROP_SIZE, CROP_SIZE, 3]);
    trainFaceGan(D, G, image);
    image.dispose();
    if (losses.length !== 3) {
      throw new Error(`expected 3 losses per iteration, got ${losses.length}`);
    }
    const [dReal, dFake, g] = losses.map((l) => l.dataSync()[0]);
    tf.dispose(losses.splice(0));
    const row: Record<string, number> = { it, d_real: dReal, d_fake: dFake, g };
    if ((it + 1) % PROBE_EVERY === 0) {
      // the probe reads no random numbers, so the training seeds stay in step
      [row.g_mean, row.g_std] = probeStats();
      const s = (performance.now() - start) / 1000;
      console.log(
        `${it + 1}/${o.iters} ${(s / (it + 1 - first)).toFixed(3)} s/it d_real ${
          dReal.toPrecision(3)
        } ` +
          `d_fake ${dFake.toPrecision(3)} g ${g.toPrecision(3)}`,
      );
    }
    lines.push(JSON.stringify(row));
    run?.stepDone();
  }
  if (lines.length) Deno.writeTextFileSync(o.out, lines.join("\n") + "\n", { append: first > 0 });
  if (run) await run.save({ done: it }, `iteration ${it}`);
  if (o.saveOutput) {
    // G on the probe and 5 more seeds (drawn after the checkpoint was saved): [6, 128, 128, 3]
    const out = new Float32Array(6 * n);
    for (let j = 0; j < 6; j++) {
      const z = j === 0 ? tf.tensor1d(probe) : tf.tensor1d(normalArray(SEED_SIZE));
      const y = noGrad(() => G.forward(z));
      out.set(y.dataSync() as Float32Array, j * n);
      tf.dispose([z, y]);
    }
    writeF32(o.saveOutput, out);
  }
  if (it < o.iters) console.log(`stopped after ${it} of ${o.iters} iterations: rerun to resume`);
  console.log(
    `${o.out}: iterations ${first}-${it} in ${((performance.now() - start) / 1000).toFixed(1)} s`,
  );
  D.dispose();
  G.dispose();
}

if (import.meta.main) {
  const [cmd, ...rest] = Deno.args;
  const { values: v } = parseArgs({
    args: rest,
    options: {
      iters: { type: "string" },
      out: { type: "string" },
      seed: { type: "string" },
      "face-seed": { type: "string" },
      data: { type: "string" },
      init: { type: "string" },
      features: { type: "string" },
      backend: { type: "string", default: "wasm" },
      count: { type: "string" },
      checkpoint: { type: "string" },
      chunk: { type: "string" },
      "save-output": { type: "string" },
    },
  });
  const iters = wholeNumber("iters", v.iters, 400, 1);
  if (cmd === "data" && v.out) {
    makeData(
      v.out,
      iters,
      wholeNumber("seed", v.seed, 42),
      wholeNumber("face-seed", v["face-seed"], DEFAULT_FACE_SEED),
    );
  } else if (cmd === "train" && v.data && v.init && v.out) {
    await train({
      data: v.data,
      init: v.init,
      features: wholeNumber("features", v.features, CONV_FEATURES, 1),
      iters,
      out: v.out,
      backend: v.backend!,
      count: v.count === undefined ? undefined : wholeNumber("count", v.count, 0, 1),
      checkpoint: v.checkpoint,
      chunk: v.chunk === undefined ? undefined : wholeNumber("chunk", v.chunk, 0, 1),
      saveOutput: v["save-output"],
    });
  } else {
    console.error(
      "Usage: conv_gan_dynamics.ts data --iters N --out DIR [--seed 42] [--face-seed 2020]\n" +
        "       conv_gan_dynamics.ts train --data DIR --init FILE --features F --iters N " +
        "--out FILE.jsonl [--backend wasm|cpu] [--count N] [--checkpoint FILE --chunk STEPS] " +
        "[--save-output FILE]",
    );
    Deno.exit(2);
  }
}

/**
 * Speed of the book's face GANs: milliseconds per training iteration (D on a real image,
 * D on a generated one, G through D) at batch size 1, on the current backend.
 *
 *   deno run --allow-read --allow-env bench/faces.ts [--iters 3] [--only fc|conv]
 *
 * Stored PyTorch reference (bench/pytorch.ts: PyTorch 1.13, CPU, 1 thread, project VM, 2026-11,
 * not this run): notebook 12's fully connected GAN 0.49 s, notebook 14's convolutional GAN 5.06 s
 * per iteration; `deno task bench faces --pytorch` times both in one run.
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
// scripts/gpu_check.ts bundles this file for the GPU machine: it imports the modules it runs,
// not ../mod.ts, which would add the HDF5 and chart libraries to the bundle.
import { initBackend } from "../lib/backends/mod.ts";
import {
  CELEBA_IMAGE,
  ConvFaceDiscriminator,
  ConvFaceGenerator,
  type ConvFaceOptions,
  CROP_SIZE,
  FcFaceDiscriminator,
  FcFaceGenerator,
  trainFaceGan,
} from "../lib/book/face_gan.ts";
import { type Discriminator, type Generator, manualSeed } from "../lib/engine/mod.ts";
import { TORCH_CONV_MS, TORCH_FC_MS, TORCH_REFERENCE_SOURCE } from "./pytorch.ts";

export { TORCH_CONV_MS, TORCH_FC_MS, TORCH_REFERENCE_SOURCE };

/** Median and spread of a face GAN's iteration time. */
export interface FaceBenchResult {
  name: string;
  medianMs: number;
  minMs: number;
  maxMs: number;
  iterations: number;
  referenceMs: number;
}

/** Options of the face benchmarks. */
export interface FaceBenchOptions {
  /** Timed iterations after one warm-up (default 3). */
  iters?: number;
  /** Seed for the weights and inputs (default 2020). */
  seed?: number;
}

/** A pixel image whose values round-trip through the backend before timing starts. */
async function ready(t: tf.Tensor): Promise<tf.Tensor> {
  await t.data();
  return t;
}

async function timeIterations(
  name: string,
  D: Discriminator,
  G: Generator,
  image: tf.Tensor,
  referenceMs: number,
  iters: number,
): Promise<FaceBenchResult> {
  if (!(Number.isInteger(iters) && iters > 0)) {
    throw new Error(`iters must be a positive whole number, got ${iters}`);
  }
  D.printEvery = 0;
  // No loss read-backs: they are synchronous, which webgpu does not allow.
  for (const m of [D, G]) m.progressEvery = Number.MAX_SAFE_INTEGER;
  // Warm-up: allocates gradients and optimiser state, compiles shaders on webgpu.
  trainFaceGan(D, G, image);
  await D.parameters()[0].value.data();
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    trainFaceGan(D, G, image);
    // Wait for the last update, so asynchronous backends (webgpu) are timed fully.
    await G.parameters()[0].value.data();
    times.push(performance.now() - t0);
  }
  const s = [...times].sort((a, b) => a - b);
  return {
    name,
    medianMs: s[Math.floor(s.length / 2)],
    minMs: s[0],
    maxMs: s[s.length - 1],
    iterations: iters,
    referenceMs,
  };
}

/** Notebook 12's fully connected GAN on a full 218x178 image: ms per iteration. */
export async function benchFcFaceGan(options: FaceBenchOptions = {}): Promise<FaceBenchResult> {
  manualSeed(options.seed ?? 2020);
  const D = new FcFaceDiscriminator();
  const G = new FcFaceGenerator();
  const image = await ready(tf.randomUniform([...CELEBA_IMAGE], 0, 1, "float32", 1));
  try {
    return await timeIterations(
      "face GAN 12 (fully connected) iteration",
      D,
      G,
      image,
      TORCH_FC_MS,
      options.iters ?? 3,
    );
  } finally {
    image.dispose();
    D.dispose();
    G.dispose();
  }
}

/** Notebook 14's convolutional GAN (15's with `activation: "gelu"`) on a 128x128 crop: ms per iteration. */
export async function benchConvFaceGan(
  options: FaceBenchOptions & ConvFaceOptions = {},
): Promise<FaceBenchResult> {
  manualSeed(options.seed ?? 2020);
  const D = new ConvFaceDiscriminator(options);
  const G = new ConvFaceGenerator(options);
  const image = await ready(tf.randomUniform([1, CROP_SIZE, CROP_SIZE, 3], 0, 1, "float32", 1));
  const name = `face GAN ${options.activation === "gelu" ? "15" : "14"} (convolutional${
    options.features ? `, ${options.features} features` : ""
  }) iteration`;
  try {
    return await timeIterations(name, D, G, image, TORCH_CONV_MS, options.iters ?? 3);
  } finally {
    image.dispose();
    D.dispose();
    G.dispose();
  }
}

/** One Markdown table row for a result. */
export function formatFaceResult(r: FaceBenchResult): string {
  const ratio = r.medianMs / r.referenceMs;
  return `| ${r.name} | ${r.medianMs.toFixed(0)} ms (${r.minMs.toFixed(0)}-${
    r.maxMs.toFixed(0)
  }, n=${r.iterations}) | ${r.referenceMs} ms | ${ratio.toFixed(2)}x |`;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      iters: { type: "string", default: "3" },
      only: { type: "string" },
    },
  });
  const iters = Number(values.iters);
  const info = await initBackend();
  console.log(`${info.device}\n`);
  console.log(`| benchmark | median (min-max) | ${TORCH_REFERENCE_SOURCE} | ratio |`);
  console.log("|---|---|---|---|");
  if (values.only !== "conv") console.log(formatFaceResult(await benchFcFaceGan({ iters })));
  if (values.only !== "fc") console.log(formatFaceResult(await benchConvFaceGan({ iters })));
}

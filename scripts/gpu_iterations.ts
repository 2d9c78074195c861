/**
 * Per-iteration cost of the book's GANs on each backend, for the GPU job (scripts/gpu_job.sh):
 * milliseconds per batch-1 iteration (D on a real sample, D on a generated one, G through D)
 * for notebooks 08, 12, 14 and 15, with WebGPU dispatches and queue submissions per
 * iteration, or wasm kernels per iteration. Writes a JSON file and prints a Markdown table.
 *
 *   deno run -A scripts/gpu_iterations.ts [--backends webgpu,wasm] [--iters 20] [--out FILE]
 *                                         [--conv-iters 5] [--features N]
 *                                         [--notebooks 08,12,14,15] [--conv-mm]
 *
 * `--conv-mm` times webgpu's transposed convolutions (G's layers, D's input gradients) with
 * TF.js's tiled matrix-product shader instead of its default naive loop
 * (WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE=false). Both agree with the cpu backend to ~1e-6 here; on
 * Mesa's software adapter the tiled one is 2.5-10x slower, on a GPU it is not measured yet.
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
// Folder modules, not ../mod.ts: the script is bundled for the GPU machine, and mod.ts would
// pull in HDF5, charts and the rest (11 MB instead of 5).
import { type Discriminator, type Generator, manualSeed, uniformArray } from "../lib/engine/mod.ts";
import {
  countGpuWork,
  initBackend,
  parseBackendOrder,
  WEBGPU_WARM_UP_STEPS,
} from "../lib/backends/mod.ts";
import {
  CELEBA_IMAGE,
  ConvFaceDiscriminator,
  ConvFaceGenerator,
  CROP_SIZE,
  FcFaceDiscriminator,
  FcFaceGenerator,
  MnistDiscriminator,
  MnistGenerator,
  trainFaceGan,
} from "../lib/book/mod.ts";
import { writeAtomic } from "../lib/data/atomic.ts";

/** One workload's measurement on one backend. */
export interface IterationResult {
  notebook: string;
  backend: string;
  /** Median milliseconds per iteration, or null when it failed. */
  medianMs: number | null;
  minMs: number | null;
  iterations: number;
  /** WebGPU dispatches / queue submissions / bind groups made / buffer writes per iteration. */
  dispatches?: number;
  submits?: number;
  bindGroups?: number;
  writes?: number;
  /** Median CPU ms to record an iteration: the floor on any GPU (webgpu only). */
  recordMs?: number;
  /** TF.js kernels per iteration (other backends). */
  kernels?: number;
  error?: string;
}

interface Workload {
  notebook: string;
  make: (features?: number) => [Discriminator, Generator, number[]];
  conv: boolean;
}

const WORKLOADS: Workload[] = [
  {
    notebook: "08 MNIST GAN",
    make: () => [new MnistDiscriminator(), new MnistGenerator(), [784]],
    conv: false,
  },
  {
    notebook: "12 face GAN (fully connected)",
    make: () => [new FcFaceDiscriminator(), new FcFaceGenerator(), [...CELEBA_IMAGE]],
    conv: false,
  },
  {
    notebook: "14 face GAN (convolutional)",
    make: (features) => [
      new ConvFaceDiscriminator({ features }),
      new ConvFaceGenerator({ features }),
      [1, CROP_SIZE, CROP_SIZE, 3],
    ],
    conv: true,
  },
  {
    notebook: "15 face GAN (GELU)",
    make: (features) => [
      new ConvFaceDiscriminator({ features, activation: "gelu" }),
      new ConvFaceGenerator({ features, activation: "gelu" }),
      [1, CROP_SIZE, CROP_SIZE, 3],
    ],
    conv: true,
  },
];

/** Times `iters` iterations of one workload on the active backend, after a warm-up. */
export async function measure(
  w: Workload,
  iters: number,
  features?: number,
): Promise<IterationResult> {
  const backend = tf.getBackend();
  manualSeed(2020);
  const [D, G, shape] = w.make(features);
  for (const m of [D, G]) m.progressEvery = Number.MAX_SAFE_INTEGER;
  D.printEvery = 0;
  const image = tf.tensor(uniformArray(shape.reduce((a, b) => a * b, 1)), shape);
  const done = () => G.parameters()[0].value.data();
  try {
    // Warm-up: shaders, optimiser state and (webgpu) the caches' steady state.
    for (let i = 0; i < (backend === "webgpu" ? WEBGPU_WARM_UP_STEPS : 2); i++) {
      trainFaceGan(D, G, image);
      await done();
    }
    const result: IterationResult = {
      notebook: w.notebook,
      backend,
      medianMs: null,
      minMs: null,
      iterations: iters,
    };
    const times: number[] = [], record: number[] = [];
    for (let i = 0; i < iters; i++) {
      const t0 = performance.now();
      trainFaceGan(D, G, image);
      record.push(performance.now() - t0);
      await done();
      times.push(performance.now() - t0);
    }
    // Counted last, when the caches have reached their steady state.
    if (backend === "webgpu") {
      const work = await countGpuWork(async () => {
        trainFaceGan(D, G, image);
        await done();
      });
      // The read-back above costs a submission of its own: count the iteration's.
      result.dispatches = work.dispatches;
      result.submits = work.submits - 1;
      result.bindGroups = work.bindGroups;
      result.writes = work.writes;
    } else {
      result.kernels = (await tf.profile(() => trainFaceGan(D, G, image))).kernels.length;
    }
    const median = (a: number[]) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)];
    result.medianMs = median(times);
    result.minMs = Math.min(...times);
    if (backend === "webgpu") result.recordMs = median(record);
    return result;
  } finally {
    image.dispose();
    D.dispose();
    G.dispose();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      backends: { type: "string", default: "webgpu,wasm" },
      iters: { type: "string", default: "20" },
      "conv-iters": { type: "string", default: "5" },
      features: { type: "string" },
      out: { type: "string" },
      notebooks: { type: "string", default: "08,12,14,15" },
      "conv-mm": { type: "boolean", default: false },
    },
  });
  const wanted = values.notebooks.split(",").map((n) => n.trim());
  const workloads = WORKLOADS.filter((w) => wanted.includes(w.notebook.slice(0, 2)));
  if (workloads.length !== wanted.length) {
    console.error(`--notebooks: choose from ${WORKLOADS.map((w) => w.notebook.slice(0, 2))}`);
    Deno.exit(2);
  }
  const iters = Number(values.iters), convIters = Number(values["conv-iters"]);
  const features = values.features ? Number(values.features) : undefined;
  const results: IterationResult[] = [];
  for (const backend of parseBackendOrder(values.backends)) {
    let device = "";
    try {
      device = (await initBackend({ order: [backend], log: () => {} })).device;
    } catch (e) {
      console.error(`${backend}: did not start: ${(e as Error).message}`);
      continue;
    }
    if (backend === "webgpu") tf.env().set("WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE", !values["conv-mm"]);
    console.error(`${backend}: ${device}`);
    for (const w of workloads) {
      // On CPU backends the convolutional GANs take seconds an iteration: time a few.
      const n = w.conv ? (backend === "webgpu" ? iters : convIters) : iters;
      const r = await measure(w, n, features).catch((e): IterationResult => ({
        notebook: w.notebook,
        backend,
        medianMs: null,
        minMs: null,
        iterations: n,
        error: (e as Error).message,
      }));
      console.error(`  ${w.notebook}: ${r.medianMs?.toFixed(1) ?? r.error} ms`);
      results.push(r);
      // Saved after each workload, so a job stopped by its time limit keeps what it measured.
      if (values.out) {
        const convMm = values["conv-mm"];
        await writeAtomic(
          values.out,
          JSON.stringify({ features, convMm, results }, null, 2) + "\n",
          {
            mkdir: true,
          },
        );
      }
    }
  }
  const f = (x: number | null | undefined, d = 1) => (x == null ? "-" : x.toFixed(d));
  console.log(
    "| notebook | backend | ms per iteration (median, min) | CPU recording ms | " +
      "dispatches / submits / bind groups / writes | kernels |",
  );
  console.log("|---|---|---|---|---|---|");
  for (const r of results) {
    const time = r.error ? `failed: ${r.error}` : `${f(r.medianMs)} (${f(r.minMs)})`;
    const gpu = r.dispatches === undefined
      ? "-"
      : [r.dispatches, r.submits, r.bindGroups, r.writes].join(" / ");
    console.log(
      `| ${r.notebook} | ${r.backend} | ${time} | ${f(r.recordMs, 2)} | ${gpu} | ${
        r.kernels ?? "-"
      } |`,
    );
  }
}

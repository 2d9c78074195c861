/**
 * A prepared check to run on a machine with a GPU: times one training iteration of the
 * book's face GANs (notebook 12 fully connected, notebook 14 convolutional) on every
 * TF.js backend that starts there, and checks that a few convolutional GAN steps on the
 * GPU backend agree with the same steps on wasm from the same seed.
 *
 *   deno run -A scripts/gpu_check.ts [--iters 3] [--backends webgpu,tensorflow,wasm]
 *                                   [--check-steps 2] [--tolerance 1e-3]
 *
 * Backends that fail to start are listed with their one-line reason. The plain-JS cpu backend
 * is left out by default (notebook 12 takes ~30 s per iteration there); list it to include
 * it, and it times only notebook 12 (its convolutions take minutes) unless `--cpu-conv`.
 * Prints a Markdown table; exits 1 if the agreement check fails.
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
// Bundled for the GPU machine (scripts/pack_gpu_check.sh): it imports the few modules it runs, not
// ../mod.ts, which would add the HDF5 and chart libraries to the bundle (5 MB more).
import { manualSeed, type Module, noGrad, normalArray, uniformArray } from "../lib/engine/mod.ts";
import { type BackendName, initBackend, parseBackendOrder } from "../lib/backends/mod.ts";
import {
  ConvFaceDiscriminator,
  ConvFaceGenerator,
  CROP_SIZE,
  FACE_LR,
  trainFaceGan,
} from "../lib/book/face_gan.ts";
import {
  benchConvFaceGan,
  benchFcFaceGan,
  type FaceBenchResult,
  TORCH_CONV_MS,
  TORCH_FC_MS,
  TORCH_REFERENCE_SOURCE,
} from "../bench/faces.ts";

const USAGE = `Usage: deno run -A scripts/gpu_check.ts [--iters N] [--backends LIST] ` +
  `[--check-steps N] [--tolerance X] [--cpu-conv] [--no-timing]`;

/** What the convolutional GAN looks like after a few steps, read back to JS. */
interface Snapshot {
  params: Float32Array[];
  gOutput: Float32Array;
  dOutput: number;
}

/** Trains the conv GAN `steps` iterations from `seed` on the active backend and reads it back. */
async function convSnapshot(steps: number, seed: number, features?: number): Promise<Snapshot> {
  manualSeed(seed);
  const D = new ConvFaceDiscriminator({ features });
  const G = new ConvFaceGenerator({ features });
  // Inputs come from the JS generator, so every backend sees the same numbers.
  const image = tf.tensor4d(uniformArray(CROP_SIZE * CROP_SIZE * 3), [1, CROP_SIZE, CROP_SIZE, 3]);
  for (const m of [D, G]) m.progressEvery = Number.MAX_SAFE_INTEGER; // no sync reads (webgpu)
  D.printEvery = 0;
  try {
    for (let i = 0; i < steps; i++) trainFaceGan(D, G, image);
    const fixedSeed = tf.tensor1d(normalArray(100));
    const g = noGrad(() => G.forward(fixedSeed));
    const d = noGrad(() => D.forward(image));
    const read = (m: Module) =>
      Promise.all(m.parameters().map(async (p) => new Float32Array(await p.value.data())));
    const snap = {
      params: [...await read(D), ...await read(G)],
      gOutput: new Float32Array(await g.data()),
      dOutput: (await d.data())[0],
    };
    tf.dispose([fixedSeed, g, d]);
    return snap;
  } finally {
    image.dispose();
    D.dispose();
    G.dispose();
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Largest differences between two snapshots: parameters, G's output, D's output. */
function compare(a: Snapshot, b: Snapshot): { params: number; gOutput: number; dOutput: number } {
  return {
    params: Math.max(...a.params.map((p, i) => maxAbsDiff(p, b.params[i]))),
    gOutput: maxAbsDiff(a.gOutput, b.gOutput),
    dOutput: Math.abs(a.dOutput - b.dOutput),
  };
}

const ms = (r: FaceBenchResult | string) =>
  typeof r === "string"
    ? r
    : `${r.medianMs.toFixed(0)} (${r.minMs.toFixed(0)}-${r.maxMs.toFixed(0)})`;

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      iters: { type: "string", default: "3" },
      backends: { type: "string", default: "webgpu,tensorflow,wasm" },
      "check-steps": { type: "string", default: "2" },
      tolerance: { type: "string", default: "1e-3" },
      "cpu-conv": { type: "boolean", default: false },
      // The GPU job times iterations with scripts/gpu_iterations.ts and wants only the check.
      "no-timing": { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  const iters = Number(values.iters);
  const steps = Number(values["check-steps"]);
  const tolerance = Number(values.tolerance);
  if (
    values.help || !(Number.isInteger(iters) && iters > 0) ||
    !(Number.isInteger(steps) && steps > 0) || !(tolerance > 0)
  ) {
    console.error(USAGE);
    Deno.exit(values.help ? 0 : 2);
  }
  const order = parseBackendOrder(values.backends);

  const rows: string[] = [];
  const skipped: string[] = [];
  const working: BackendName[] = [];
  for (const backend of order) {
    const t0 = performance.now();
    let device: string;
    let reason = "failed to start";
    try {
      device = (await initBackend({ order: [backend], log: (line) => (reason = line) })).device;
    } catch {
      skipped.push(`- ${backend}: ${reason}`);
      continue;
    }
    working.push(backend);
    if (values["no-timing"]) continue;
    console.error(`timing ${backend} (${device}) ...`);
    const fc = await benchFcFaceGan({ iters }).catch((e) => `failed: ${(e as Error).message}`);
    const conv = backend === "cpu" && !values["cpu-conv"]
      ? "skipped (minutes per step; --cpu-conv)"
      : await benchConvFaceGan({ iters }).catch((e) => `failed: ${(e as Error).message}`);
    rows.push(
      `| ${backend} | ${device} | ${ms(fc)} | ${ms(conv)} | ${
        ((performance.now() - t0) / 1000).toFixed(0)
      } s |`,
    );
  }

  if (!values["no-timing"]) {
    console.log(`## Face GAN iteration times (batch 1, median of ${iters} after 1 warm-up)\n`);
    console.log("| backend | device | notebook 12 FC, ms | notebook 14 conv, ms | wall |");
    console.log("|---|---|---|---|---|");
    for (const r of rows) console.log(r);
    console.log(
      `| PyTorch (stored reference) | ${TORCH_REFERENCE_SOURCE} | ${TORCH_FC_MS} | ${TORCH_CONV_MS} | |`,
    );
  }
  if (skipped.length) console.log(`\nBackends that did not start:\n${skipped.join("\n")}`);

  // Agreement: the first working backend other than wasm against wasm, same seed and inputs.
  const other = working.find((b) => b !== "wasm");
  let ok = true;
  if (!working.includes("wasm") || other === undefined) {
    console.log("\nAgreement check skipped: it needs wasm and one other working backend.");
  } else {
    // The cpu backend's 256-map convolutions take minutes: compare it on a narrower network.
    const features = other === "cpu" ? 8 : undefined;
    const seed = 7;
    const snapshots = async (backend: BackendName) => {
      await initBackend({ order: [backend], log: () => {} });
      return [await convSnapshot(0, seed, features), await convSnapshot(steps, seed, features)];
    };
    const [a0, a] = await snapshots(other);
    const [b0, b] = await snapshots("wasm");
    // Before any update the two backends compute the same function: forward outputs must agree
    // to float rounding. After Adam steps, a near-zero gradient whose sign differs by rounding
    // moves its parameter by up to lr either way, and that shows in G's 49k outputs: looser.
    const d0 = compare(a0, b0), d = compare(a, b);
    const paramTolerance = tolerance + 2 * FACE_LR * steps;
    const trainedTolerance = 20 * tolerance;
    const okInit = d0.gOutput <= tolerance && d0.dOutput <= tolerance;
    const okTrained = d.params <= paramTolerance && d.gOutput <= trainedTolerance &&
      d.dOutput <= trainedTolerance;
    ok = okInit && okTrained;
    console.log(
      `\n## Agreement: ${other} vs wasm, conv GAN${
        features ? ` (${features} feature maps)` : ""
      }, from seed ${seed}\n`,
    );
    console.log(
      "| max abs difference | untrained (tolerance) | after " + steps +
        " iterations (tolerance) |\n|---|---|---|",
    );
    const e = (x: number) => x.toExponential(2);
    console.log(`| parameters | ${e(d0.params)} | ${e(d.params)} (${e(paramTolerance)}) |`);
    console.log(
      `| G output (128x128x3) | ${e(d0.gOutput)} (${e(tolerance)}) | ${e(d.gOutput)} (${
        e(trainedTolerance)
      }) |`,
    );
    console.log(
      `| D output | ${e(d0.dOutput)} (${e(tolerance)}) | ${e(d.dOutput)} (${
        e(trainedTolerance)
      }) |`,
    );
    console.log(`\n${ok ? "PASS" : "FAIL"}`);
  }
  Deno.exit(ok ? 0 : 1);
}

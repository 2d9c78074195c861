import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backends/backend.ts";
import { benchGpuWork, gpuTable } from "./webgpu.ts";

Deno.test("without an adapter the webgpu rows say so and still count wasm's kernels", async () => {
  await initBackend({ order: ["wasm"], log: () => {} });
  await benchGpuWork(["mnist"], null, () => {}); // the first run caches a constant or two
  const before = tf.memory().numTensors;
  const rows = await benchGpuWork(["mnist"], null, () => {});
  assert.equal(rows.length, 1);
  assert.equal(rows[0].webgpu, "no adapter");
  assert.ok(typeof rows[0].wasmKernels === "number" && rows[0].wasmKernels > 10);
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
  const table = gpuTable(rows, null);
  assert.match(table, /webgpu: no adapter/);
  assert.match(
    table,
    /\| MNIST GAN iteration, per sample \(08\) \| no adapter \| - \| - \| \d+ \|/,
  );
});

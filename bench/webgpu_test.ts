import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backends/backend.ts";
import { benchGpuWork, copyBandwidth, gpuTable, webgpuAdapter } from "./webgpu.ts";

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
    /\| MNIST GAN iteration, per sample \(08\) \| no adapter \| - \| - \| - \| - \| - \| \d+ \|/,
  );
});

const adapter = await webgpuAdapter();

Deno.test({
  name: "with an adapter: the MNIST row's time, recording, GPU work and the copy bandwidth",
  ignore: !adapter,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const [row] = await benchGpuWork(["mnist"], adapter, () => {});
    const g = row.webgpu;
    assert.ok(typeof g !== "string", `webgpu failed: ${g}`);
    assert.ok(g.recordMs > 0 && g.recordMs < g.ms, `recording ${g.recordMs} of ${g.ms} ms`);
    assert.ok(g.dispatches > 40 && g.dispatches <= (row.wasmKernels as number));
    // After the warm-up every bind group comes from the cache; writes are per optimiser step.
    assert.equal(g.bindGroups, 0);
    assert.ok(g.writes <= 5, `${g.writes} writes`);
    const bw = await copyBandwidth();
    assert.ok(bw.gpu > 0 && bw.cpu > 0);
    const table = gpuTable([row], adapter!.name, bw);
    assert.match(table, /Copy bandwidth \(read \+ write\): [\d.]+ GB\/s on the adapter/);
    const cells = table.split("\n").find((l) => l.startsWith("| MNIST"))!.split(" | ");
    const counts = [g.dispatches, g.submits, g.bindGroups, g.writes].map((x) => x.toFixed(1));
    assert.deepEqual(cells.slice(3, 7), counts);
    await tf.setBackend("wasm");
  },
});

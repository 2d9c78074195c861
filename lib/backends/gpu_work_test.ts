import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "./backend.ts";
import { countGpuWork } from "./gpu_work.ts";

const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
const adapter = gpu ? await gpu.requestAdapter().catch(() => null) : null;

Deno.test("countGpuWork() counts nothing for work that never reaches a GPU", async () => {
  await tf.setBackend("cpu");
  const work = await countGpuWork(() => tf.tidy(() => void tf.add(tf.ones([3]), 1).dataSync()));
  assert.deepEqual(work, { dispatches: 0, submits: 0, bindGroups: 0, writes: 0 });
});

Deno.test({
  name: "countGpuWork() counts webgpu dispatches and submissions, and unwraps after a throw",
  ignore: !adapter,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await initBackend({ order: ["webgpu"], log: () => {} });
    // Computed on the GPU, so the ops below run there (TF.js runs small CPU-held tensors on the CPU).
    const x = tf.tidy(() => tf.mul(tf.ones([100_000]), 3));
    const work = await countGpuWork(async () => {
      const y = tf.tidy(() => tf.mul(tf.add(x, 1), 2));
      await y.data();
      y.dispose();
    });
    assert.equal(work.dispatches, 2);
    assert.ok(work.submits >= 1);
    await assert.rejects(countGpuWork(() => {
      throw new Error("boom");
    }));
    const after = await countGpuWork(() => {});
    assert.deepEqual(after, { dispatches: 0, submits: 0, bindGroups: 0, writes: 0 });
    x.dispose();
    await tf.setBackend("cpu");
  },
});

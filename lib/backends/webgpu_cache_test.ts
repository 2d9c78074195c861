/**
 * The webgpu backend's caches: a repeated training step makes no bind groups and writes no
 * repeated uniforms, keys keep distinct values apart, and the pool hands out the oldest free
 * buffer. Skipped without a WebGPU adapter (`bash scripts/setup.sh --webgpu`).
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "./backend.ts";
import { countGpuWork } from "./gpu_work.ts";
import { type CachedBackendLike, installWebGpuCaches } from "./webgpu_cache.ts";
import { MnistDiscriminator, MnistGenerator } from "../book/mnist_gan.ts";
import { trainFaceGan } from "../book/face_gan.ts";
import { manualSeed } from "../engine/random.ts";

const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
const adapter = gpu ? await gpu.requestAdapter().catch(() => null) : null;
const opts = { ignore: !adapter, sanitizeOps: false, sanitizeResources: false };

async function webgpu(): Promise<CachedBackendLike> {
  await initBackend({ order: ["webgpu"], log: () => {} });
  return tf.backend() as unknown as CachedBackendLike;
}

Deno.test({
  name: "webgpu caches: a repeated notebook-08 step makes no bind group and writes only per step",
  ...opts,
  async fn() {
    await webgpu();
    manualSeed(8);
    const D = new MnistDiscriminator(), G = new MnistGenerator();
    for (const m of [D, G]) m.progressEvery = Number.MAX_SAFE_INTEGER;
    D.printEvery = 0;
    const image = tf.tensor1d(Float32Array.from({ length: 784 }, (_, i) => (i % 7) / 7));
    const step = async () => {
      trainFaceGan(D, G, image);
      await G.parameters()[0].value.data();
    };
    const first = await countGpuWork(step);
    assert.ok(first.bindGroups > 40, `the first step makes its bind groups: ${first.bindGroups}`);
    for (let i = 0; i < 3; i++) await step();
    const work = await countGpuWork(step);
    assert.ok(work.dispatches > 40, `${work.dispatches} dispatches`);
    assert.equal(work.bindGroups, 0, "every bind group comes from the cache");
    // What is left: Adam's bias corrections, new every step, written once for each of the three
    // optimiser steps (D on a real image, D on a generated one, G), and at most the two seeds.
    assert.ok(work.writes <= 5, `${work.writes} writes`);
    image.dispose();
    for (const p of [...D.parameters(), ...G.parameters()]) p.value.dispose();
    await tf.setBackend("wasm");
  },
});

Deno.test({
  name: "webgpu caches: uniforms are kept from their second use, NaN, Infinity and -0 apart",
  ...opts,
  async fn() {
    const b = await webgpu();
    const stats = installWebGpuCaches(b); // installed already: the same stats back
    const u = (v: number) => [{ type: "float32", data: [v] }, { type: "int32", data: [7, 1] }];
    const first = b.makeUniforms(u(0.25)), second = b.makeUniforms(u(0.25));
    const hits = stats.uniformHits;
    const third = b.makeUniforms(u(0.25));
    assert.equal(stats.uniformHits, hits + 1);
    assert.equal(third, second, "the second use's buffer is kept");
    assert.notEqual(first.buffer, second.buffer);
    assert.ok(!b.uniformPendingDisposal.includes(second.buffer), "a kept buffer is not released");
    const seen = new Set<GPUBuffer>();
    for (const v of [NaN, Infinity, -Infinity, 0, -0]) {
      b.makeUniforms(u(v));
      seen.add(b.makeUniforms(u(v)).buffer);
    }
    assert.equal(seen.size, 5, "each value has a buffer of its own");
    // Values in a typed array too: -0 and 0 apart.
    const typed = (
      v: number,
    ) => [{ type: "float32", data: new Float32Array([v]) as unknown as number[] }];
    b.makeUniforms(typed(-0));
    b.makeUniforms(typed(0));
    assert.notEqual(b.makeUniforms(typed(-0)).buffer, b.makeUniforms(typed(0)).buffer);
    await tf.setBackend("wasm");
  },
});

Deno.test({
  name: "webgpu caches: the pool hands out the oldest free buffer whatever the release order",
  ...opts,
  async fn() {
    const b = await webgpu();
    const pool = b.bufferManager as unknown as CachedBackendLike["bufferManager"] & {
      acquireBuffer(size: number, usage: number): GPUBuffer;
    };
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const size = 4 * 12_345; // a size no other tensor here has
    const made = [0, 1, 2, 3].map(() => pool.acquireBuffer(size, usage));
    for (const i of [2, 0, 3, 1]) pool.releaseBuffer(made[i]);
    const again = [0, 1, 2, 3].map(() => pool.acquireBuffer(size, usage));
    // (Indices: deepEqual would find any two GPUBuffers equal.)
    assert.deepEqual(again.map((x) => made.indexOf(x)), [0, 1, 2, 3], "oldest first");
    for (const x of again) pool.releaseBuffer(x);
    await tf.setBackend("wasm");
  },
});

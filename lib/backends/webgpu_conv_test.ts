/**
 * webgpu's convolution gradients as matrix products (filter: im2col + matMul; input, which is
 * also conv2dTranspose: matMul + col2im), against the cpu backend: notebook 14's layers (at 16
 * feature maps), padding, stride 1 and batches; small products left to the stock kernels.
 * Skipped without a WebGPU adapter (`bash scripts/setup.sh --webgpu`).
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "./backend.ts";
import { countGpuWork } from "./gpu_work.ts";
import { MIN_MULTIPLY_ADDS } from "./webgpu_conv.ts";

const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
const adapter = gpu ? await gpu.requestAdapter().catch(() => null) : null;
const opts = { ignore: !adapter, sanitizeOps: false, sanitizeResources: false };

function rnd(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  });
}

type Pad = "valid" | [[number, number], [number, number], [number, number], [number, number]];
interface Case {
  name: string;
  x: [number, number, number, number];
  filter: [number, number, number, number];
  stride: number;
  pad: Pad;
}

const p1: Pad = [[0, 0], [1, 1], [1, 1], [0, 0]];
const CASES: Case[] = [
  { name: "D's first layer", x: [1, 128, 128, 3], filter: [8, 8, 3, 16], stride: 2, pad: "valid" },
  { name: "D's second layer", x: [1, 61, 61, 16], filter: [8, 8, 16, 16], stride: 2, pad: "valid" },
  {
    name: "G's last layer (padding 1)",
    x: [1, 128, 128, 3],
    filter: [8, 8, 3, 16],
    stride: 2,
    pad: p1,
  },
  {
    name: "stride 1, padding, batch 3",
    x: [3, 40, 36, 8],
    filter: [3, 3, 8, 32],
    stride: 1,
    pad: p1,
  },
];

/** dW on `backend`, with the dispatches it took on webgpu. */
async function filterGrad(c: Case, backend: "cpu" | "webgpu") {
  if (backend === "cpu") await tf.setBackend("cpu");
  else await initBackend({ order: ["webgpu"], log: () => {} });
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const x = tf.tensor4d(rnd(size(c.x), 1), c.x);
  const pt = c.pad === "valid" ? 0 : c.pad[1][0];
  const out = (n: number, k: number) => Math.floor((n + 2 * pt - k) / c.stride) + 1;
  const dyShape = [c.x[0], out(c.x[1], c.filter[0]), out(c.x[2], c.filter[1]), c.filter[3]];
  const dy = tf.tensor4d(rnd(size(dyShape), 2), dyShape as [number, number, number, number]);
  const before = tf.memory().numTensors;
  let values: Float32Array = new Float32Array();
  const work = await countGpuWork(async () => {
    const dW = tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
      strides: [c.stride, c.stride],
      pad: c.pad,
      dataFormat: "NHWC",
      filterShape: c.filter,
    }) as tf.Tensor;
    assert.deepEqual(dW.shape, c.filter);
    values = (await dW.data()) as Float32Array;
    dW.dispose();
  });
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
  tf.dispose([x, dy]);
  return { values, dispatches: work.dispatches };
}

Deno.test({
  name: "webgpu filter gradient: im2col + matMul equals cpu on the book's convolutions",
  ...opts,
  async fn(t) {
    for (const c of CASES) {
      await t.step(c.name, async () => {
        const want = (await filterGrad(c, "cpu")).values;
        const got = await filterGrad(c, "webgpu");
        const scale = Math.max(...want.map(Math.abs));
        want.forEach((w, i) => {
          assert.ok(Math.abs(got.values[i] - w) <= 2e-6 * scale, `${i}: ${got.values[i]} vs ${w}`);
        });
        // im2col, then TF.js's matMul (one dispatch or a few): not the stock kernel's one.
        assert.ok(got.dispatches >= 2, `${got.dispatches} dispatches`);
      });
    }
    await tf.setBackend("wasm");
  },
});

Deno.test({
  name: "webgpu filter gradient: a small product keeps the stock kernel (one dispatch)",
  ...opts,
  async fn() {
    // D's last layer: 100 x 1024 x 3 multiply-adds, under the threshold.
    const c: Case = {
      name: "",
      x: [1, 27, 27, 16],
      filter: [8, 8, 16, 3],
      stride: 2,
      pad: "valid",
    };
    assert.ok(100 * 1024 * 3 < MIN_MULTIPLY_ADDS);
    const want = (await filterGrad(c, "cpu")).values;
    const got = await filterGrad(c, "webgpu");
    assert.equal(got.dispatches, 1);
    const scale = Math.max(...want.map(Math.abs));
    want.forEach((w, i) => assert.ok(Math.abs(got.values[i] - w) <= 2e-6 * scale));
    await tf.setBackend("wasm");
  },
});

interface TransposeCase {
  name: string;
  /** The transposed convolution's input (the convolution's dy) and output (its x). */
  x: [number, number, number, number];
  out: [number, number, number, number];
  filter: [number, number, number, number];
  stride: number;
  pad: "valid" | number;
}

const TRANSPOSE_CASES: TransposeCase[] = [
  {
    name: "G's second layer",
    x: [1, 28, 28, 16],
    out: [1, 62, 62, 16],
    filter: [8, 8, 16, 16],
    stride: 2,
    pad: "valid",
  },
  {
    name: "G's last layer (padding 1)",
    x: [1, 62, 62, 16],
    out: [1, 128, 128, 3],
    filter: [8, 8, 3, 16],
    stride: 2,
    pad: 1,
  },
  {
    name: "D's input gradient, second layer",
    x: [1, 27, 27, 16],
    out: [1, 61, 61, 16],
    filter: [8, 8, 16, 16],
    stride: 2,
    pad: "valid",
  },
  {
    name: "stride 1, padding 1, batch 3",
    x: [3, 40, 36, 32],
    out: [3, 40, 36, 8],
    filter: [3, 3, 8, 32],
    stride: 1,
    pad: 1,
  },
];

/** conv2dTranspose on `backend`, with the dispatches it took on webgpu. */
async function transposed(c: TransposeCase, backend: "cpu" | "webgpu") {
  if (backend === "cpu") await tf.setBackend("cpu");
  else await initBackend({ order: ["webgpu"], log: () => {} });
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const x = tf.tensor4d(rnd(size(c.x), 3), c.x), w = tf.tensor4d(rnd(size(c.filter), 4), c.filter);
  const before = tf.memory().numTensors;
  let values: Float32Array = new Float32Array();
  const work = await countGpuWork(async () => {
    const y = tf.conv2dTranspose(x, w, c.out, c.stride, c.pad);
    assert.deepEqual(y.shape, c.out);
    values = (await y.data()) as Float32Array;
    y.dispose();
  });
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
  tf.dispose([x, w]);
  return { values, dispatches: work.dispatches };
}

Deno.test({
  name: "webgpu input gradient (conv2dTranspose): matMul + col2im equals cpu",
  ...opts,
  async fn(t) {
    for (const c of TRANSPOSE_CASES) {
      await t.step(c.name, async () => {
        const want = (await transposed(c, "cpu")).values;
        const got = await transposed(c, "webgpu");
        const scale = Math.max(...want.map(Math.abs));
        want.forEach((w, i) => {
          assert.ok(Math.abs(got.values[i] - w) <= 2e-6 * scale, `${i}: ${got.values[i]} vs ${w}`);
        });
        assert.ok(got.dispatches >= 2, `${got.dispatches} dispatches: the stock kernel ran`);
      });
    }
    await tf.setBackend("wasm");
  },
});

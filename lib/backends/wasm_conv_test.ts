import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "./backend.ts";
import {
  registerWasmConvKernels,
  unregisterWasmConvKernels,
  wasmConvKernelsRegistered,
} from "./wasm_conv.ts";

type Shape4 = [number, number, number, number];
type Pad = "valid" | "same" | number;

/** Deterministic uniform(-1, 1) values, so both backends see the same data. */
function random(shape: number[], seed: number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** max |a - b| / max |b|: the error relative to the reference's scale. */
function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

/** Value and gradients of sum(f(x, w) * r) for a fixed random r, on one backend. */
function valueAndGrads(
  backend: string,
  f: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D,
  xShape: Shape4,
  wShape: Shape4,
): Float32Array[] {
  tf.setBackend(backend);
  return tf.tidy(() => {
    const x = tf.tensor4d(random(xShape, 1), xShape);
    const w = tf.tensor4d(random(wShape, 2), wShape);
    const y = f(x, w);
    const r = tf.tensor(random(y.shape, 3), y.shape);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      f(a as tf.Tensor4D, b as tf.Tensor4D).mul(r).sum()
    )([x, w]);
    return [y, ...g].map((t) => t.dataSync() as Float32Array);
  });
}

function assertSameOnWasmAndCpu(
  label: string,
  f: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D,
  xShape: Shape4,
  wShape: Shape4,
): void {
  const cpu = valueAndGrads("cpu", f, xShape, wShape);
  const wasm = valueAndGrads("wasm", f, xShape, wShape);
  tf.setBackend("wasm");
  ["y", "dx", "dw"].forEach((name, i) => {
    const e = relError(wasm[i], cpu[i]);
    assert.ok(e < 2e-6, `${label} ${name}: relative error ${e.toExponential(2)}`);
  });
}

const CONV_CASES: [string, Shape4, Shape4, number, Pad][] = [
  // The book's MNIST CNN discriminator (notebook 13), batch 1 and 2.
  ["mnist conv1 1->10 k5 s2", [1, 28, 28, 1], [5, 5, 1, 10], 2, "valid"],
  ["mnist conv2 10->10 k3 s2", [2, 12, 12, 10], [3, 3, 10, 10], 2, "valid"],
  // CelebA CNN discriminator layers with fewer channels.
  ["celeba conv1 3->4 k8 s2", [1, 40, 40, 3], [8, 8, 3, 4], 2, "valid"],
  ["celeba conv2 4->4 k8 s2", [1, 19, 19, 4], [8, 8, 4, 4], 2, "valid"],
  ["same s1", [1, 9, 9, 3], [3, 3, 3, 4], 1, "same"],
  ["same s2 odd", [2, 10, 11, 3], [3, 3, 3, 2], 2, "same"],
  ["numeric pad 1 k4 s2", [1, 10, 10, 2], [4, 4, 2, 3], 2, 1],
  // 32+ output channels take the im2col matMul path for dW.
  ["matMul dW 3->32 k4 s2 batch 3", [3, 14, 14, 3], [4, 4, 3, 32], 2, "valid"],
  ["matMul dW same s2", [2, 9, 9, 4], [3, 3, 4, 40], 2, "same"],
];

for (const [label, xShape, wShape, stride, pad] of CONV_CASES) {
  Deno.test(`conv2d gradients on wasm match cpu for ${label}`, async () => {
    await initBackend({ order: ["wasm"] });
    // stockBelowMacs 0 tests our dX even where the stock kernel would be used; the small
    // im2col limit makes the matMul dW run one batch element per chunk.
    registerWasmConvKernels({ stockBelowMacs: 0, im2colMaxFloats: 1000 });
    try {
      assertSameOnWasmAndCpu(label, (x, w) => tf.conv2d(x, w, stride, pad), xShape, wShape);
    } finally {
      registerWasmConvKernels();
    }
  });
}

// conv2dTranspose(x, filter [kh, kw, out, in], outShape): the CelebA CNN generator.
const TRANSPOSE_CASES: [string, Shape4, Shape4, Shape4, number, Pad][] = [
  ["G convT1 3->4 k8 s2 11->28", [1, 11, 11, 3], [8, 8, 4, 3], [1, 28, 28, 4], 2, "valid"],
  ["G convT3 4->3 k8 s2 p1 13->30", [1, 13, 13, 4], [8, 8, 3, 4], [1, 30, 30, 3], 2, 1],
  ["stride 1 3->2 k3", [2, 5, 5, 3], [3, 3, 2, 3], [2, 7, 7, 2], 1, "valid"],
  ["same s2", [1, 5, 5, 3], [3, 3, 2, 3], [1, 10, 10, 2], 2, "same"],
];

for (const [label, xShape, wShape, outShape, stride, pad] of TRANSPOSE_CASES) {
  Deno.test(`conv2dTranspose value and gradients on wasm match cpu for ${label}`, async () => {
    await initBackend({ order: ["wasm"] });
    registerWasmConvKernels({ stockBelowMacs: 0 });
    assertSameOnWasmAndCpu(
      label,
      (x, w) => tf.conv2dTranspose(x, w, outShape, stride, pad),
      xShape,
      wShape,
    );
  });
}

/** Float64 sums for a few entries of dW and dX of y = conv2d(x, w, stride, 'valid'-or-pad). */
function referenceEntries(
  x: Float32Array,
  xShape: Shape4,
  w: Float32Array,
  wShape: Shape4,
  dy: Float32Array,
  dyShape: Shape4,
  stride: number,
  padTop: number,
) {
  const [, h, wd, ci] = xShape;
  const [kh, kw, , co] = wShape;
  const [, ho, wo] = dyShape;
  const xAt = (r: number, c: number, ch: number) =>
    r < 0 || c < 0 || r >= h || c >= wd ? 0 : x[(r * wd + c) * ci + ch];
  const dW = (a: number, b: number, c: number, o: number) => {
    let s = 0;
    for (let i = 0; i < ho; i++) {
      for (let j = 0; j < wo; j++) {
        s += xAt(i * stride + a - padTop, j * stride + b - padTop, c) * dy[(i * wo + j) * co + o];
      }
    }
    return s;
  };
  const dX = (r: number, cc: number, c: number) => {
    let s = 0;
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        const i = (r + padTop - a) / stride;
        const j = (cc + padTop - b) / stride;
        if (!Number.isInteger(i) || !Number.isInteger(j) || i < 0 || j < 0 || i >= ho || j >= wo) {
          continue;
        }
        for (let o = 0; o < co; o++) {
          s += dy[(i * wo + j) * co + o] * w[((a * kw + b) * ci + c) * co + o];
        }
      }
    }
    return s;
  };
  return { dW, dX };
}

Deno.test("conv gradient kernels match float64 sums at the book's full CelebA size (sampled)", async () => {
  await initBackend({ order: ["wasm"] });
  // D conv1: Conv2d(3, 256, kernel 8, stride 2) on 128x128 (and, as dX, the G's last
  // ConvTranspose2d(256, 3, 8, 2, padding 1) from 62x62 to 128x128 with pad 1).
  for (const pad of [0, 1]) {
    const xShape: Shape4 = [1, 128, 128, 3];
    const wShape: Shape4 = [8, 8, 3, 256];
    const ho = Math.floor((128 + 2 * pad - 8) / 2) + 1;
    const dyShape: Shape4 = [1, ho, ho, 256];
    const [xv, wv, dyv] = [random(xShape, 4), random(wShape, 5), random(dyShape, 6)];
    const [dw, dx] = tf.tidy(() => {
      const x = tf.tensor4d(xv, xShape);
      const w = tf.tensor4d(wv, wShape);
      const dy = tf.tensor4d(dyv, dyShape);
      const attrs = { strides: 2, pad, dataFormat: "NHWC", filterShape: wShape };
      const dw = tf.engine().runKernel(
        "Conv2DBackpropFilter",
        { x, dy },
        attrs as unknown as tf.NamedAttrMap,
      ) as tf.Tensor;
      const dx = tf.conv2dTranspose(dy, w, xShape, 2, pad);
      return [dw.dataSync(), dx.dataSync()];
    });
    const ref = referenceEntries(xv, xShape, wv, wShape, dyv, dyShape, 2, pad);
    const got: number[] = [];
    const want: number[] = [];
    for (let k = 0; k < 40; k++) {
      const [a, b, c, o] = [(k * 3) % 8, (k * 5) % 8, k % 3, (k * 37) % 256];
      got.push(dw[((a * 8 + b) * 3 + c) * 256 + o]);
      want.push(ref.dW(a, b, c, o));
      const [r, cc] = [(k * 29) % 128, (k * 53 + 127) % 128];
      got.push(dx[(r * 128 + cc) * 3 + (k % 3)]);
      want.push(ref.dX(r, cc, k % 3));
    }
    const e = relError(got, want);
    assert.ok(e < 2e-6, `pad ${pad}: relative error ${e.toExponential(2)}`);
  }
});

Deno.test("the default registration hands small input gradients to the stock kernel, same values", async () => {
  await initBackend({ order: ["wasm"] });
  registerWasmConvKernels();
  assertSameOnWasmAndCpu(
    "mnist conv1 via stock dX",
    (x, w) => tf.conv2d(x, w, 2, "valid"),
    [1, 28, 28, 1],
    [5, 5, 1, 10],
  );
});

Deno.test("conv gradient kernels leak no tensors or wasm buffers", async () => {
  await initBackend({ order: ["wasm"] });
  const backend = tf.engine().backend;
  const x = tf.tensor4d(random([2, 12, 12, 3], 7), [2, 12, 12, 3]);
  // 32 output channels: dW takes the chunked im2col matMul path too.
  const w = tf.tensor4d(random([5, 5, 3, 32], 8), [5, 5, 3, 32]);
  const step = () =>
    tf.tidy(() => {
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.conv2dTranspose(
          tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 1),
          b as tf.Tensor4D,
          [2, 12, 12, 3],
          2,
          1,
        )
          .square().sum()
      )([x, w]);
      return g[0].sum().add(g[1].sum());
    }).dispose();
  // IS_TEST makes the engine throw if a kernel leaves data behind.
  registerWasmConvKernels({ stockBelowMacs: 0, im2colMaxFloats: 1000 });
  const wasTest = tf.env().getBool("IS_TEST");
  tf.env().set("IS_TEST", true);
  try {
    step();
    const tensors = tf.memory().numTensors;
    const buffers = backend.numDataIds();
    for (let i = 0; i < 5; i++) step();
    assert.equal(tf.memory().numTensors, tensors);
    assert.equal(backend.numDataIds(), buffers);
  } finally {
    tf.env().set("IS_TEST", wasTest);
    tf.dispose([x, w]);
    registerWasmConvKernels();
  }
});

Deno.test("unregisterWasmConvKernels() restores the stock kernels and register is idempotent", async () => {
  await initBackend({ order: ["wasm"] });
  const stockInput = () => tf.getKernel("Conv2DBackpropInput", "wasm")?.kernelFunc;
  registerWasmConvKernels();
  const ours = stockInput();
  registerWasmConvKernels();
  assert.equal(stockInput(), ours);
  unregisterWasmConvKernels();
  try {
    assert.ok(!wasmConvKernelsRegistered());
    assert.notEqual(stockInput(), ours);
    // Why the kernels exist: stock wasm cannot train a conv layer.
    assert.equal(tf.getKernel("Conv2DBackpropFilter", "wasm"), undefined);
  } finally {
    registerWasmConvKernels();
  }
  assert.ok(wasmConvKernelsRegistered());
});

/**
 * Times the convolution kernels for the book's CNN shapes on wasm (stock kernels vs the
 * project's lib/backends/wasm_conv.ts) and on cpu.
 *
 *   deno run --allow-read --allow-env bench/conv_kernels.ts [--skip-slow]
 *
 * `--skip-slow` leaves out runs expected to take over ~2 s per call (stock wasm dX and
 * cpu dX on the 256->256 layers, cpu dW on all CelebA layers).
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { registerWasmConvKernels, unregisterWasmConvKernels } from "../lib/backends/mod.ts";

type Shape4 = [number, number, number, number];

/** One convolution layer: NHWC input, filter [kh, kw, in, out], stride, pad. */
interface Layer {
  name: string;
  x: Shape4;
  filter: Shape4;
  stride: number;
  pad: "valid" | number;
}

// Book chapter 13 (MNIST CNN) and 16 (CelebA CNN). The CelebA generator's
// ConvTranspose2d layers are the dX kernel of the conv that maps their output back.
const LAYERS: Layer[] = [
  {
    name: "mnist D conv1 1->10 k5 s2 28",
    x: [1, 28, 28, 1],
    filter: [5, 5, 1, 10],
    stride: 2,
    pad: "valid",
  },
  {
    name: "mnist D conv2 10->10 k3 s2 12",
    x: [1, 12, 12, 10],
    filter: [3, 3, 10, 10],
    stride: 2,
    pad: "valid",
  },
  {
    name: "celeba D conv1 3->256 k8 s2 128",
    x: [1, 128, 128, 3],
    filter: [8, 8, 3, 256],
    stride: 2,
    pad: "valid",
  },
  {
    name: "celeba D conv2 256->256 k8 s2 61",
    x: [1, 61, 61, 256],
    filter: [8, 8, 256, 256],
    stride: 2,
    pad: "valid",
  },
  {
    name: "celeba D conv3 256->3 k8 s2 27",
    x: [1, 27, 27, 256],
    filter: [8, 8, 256, 3],
    stride: 2,
    pad: "valid",
  },
  // G: ConvTranspose2d(3, 256, 8, 2) 11 -> 28 is dX of conv 256->3 on 28x28.
  {
    name: "celeba G convT1 3->256 k8 s2 11->28",
    x: [1, 28, 28, 256],
    filter: [8, 8, 256, 3],
    stride: 2,
    pad: "valid",
  },
  {
    name: "celeba G convT2 256->256 k8 s2 28->62",
    x: [1, 62, 62, 256],
    filter: [8, 8, 256, 256],
    stride: 2,
    pad: "valid",
  },
  {
    name: "celeba G convT3 256->3 k8 s2 p1 62->128",
    x: [1, 128, 128, 3],
    filter: [8, 8, 3, 256],
    stride: 2,
    pad: 1,
  },
];

function timeIt(f: () => tf.Tensor, maxMs = 1500): number {
  const first = performance.now();
  f().dispose();
  const once = performance.now() - first;
  const reps = Math.max(1, Math.min(50, Math.floor(maxMs / Math.max(once, 1e-3))));
  const start = performance.now();
  for (let i = 0; i < reps; i++) f().dispose();
  return (performance.now() - start) / reps;
}

function measure(layer: Layer, backend: string, skipSlow: boolean, slow: boolean) {
  tf.setBackend(backend);
  const x = tf.randomUniform(layer.x, -1, 1, "float32", 1) as tf.Tensor4D;
  const w = tf.randomUniform(layer.filter, -0.1, 0.1, "float32", 2) as tf.Tensor4D;
  const y = tf.conv2d(x, w, layer.stride, layer.pad);
  const dy = tf.randomUniform(y.shape, -1, 1, "float32", 3) as tf.Tensor4D;
  const fwd = timeIt(() => tf.conv2d(x, w, layer.stride, layer.pad));
  const dx = skipSlow && slow
    ? NaN
    : timeIt(() => tf.conv2dTranspose(dy, w, layer.x, layer.stride, layer.pad));
  const attrs = {
    strides: layer.stride,
    pad: layer.pad,
    dataFormat: "NHWC",
    dimRoundingMode: undefined,
    filterShape: layer.filter,
  } as unknown as tf.NamedAttrMap;
  let dw = NaN;
  // The cpu backend's dW is a scalar loop: 2-40 s a call on every CelebA layer.
  const slowDw = backend === "cpu" && layer.filter.reduce((a, b) => a * b) > 10_000;
  if (tf.getKernel("Conv2DBackpropFilter", backend) && !(skipSlow && slowDw)) {
    dw = timeIt(() => tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, attrs) as tf.Tensor);
  }
  tf.dispose([x, w, y, dy]);
  return { fwd, dx, dw };
}

const skipSlow = Deno.args.includes("--skip-slow");
await tf.setBackend("wasm");
await tf.ready();
const fmt = (ms: number) => Number.isNaN(ms) ? "-" : ms < 10 ? ms.toFixed(2) : ms.toFixed(0);
console.log(
  "| layer | fwd wasm | dX wasm stock | dX wasm new | dW wasm new | fwd cpu | dX cpu | dW cpu |",
);
console.log("|---|---|---|---|---|---|---|---|");
for (const layer of LAYERS) {
  const big = layer.filter[2] * layer.filter[3] > 256 * 3;
  unregisterWasmConvKernels();
  const stock = measure(layer, "wasm", skipSlow, big);
  registerWasmConvKernels();
  const fast = measure(layer, "wasm", skipSlow, false);
  const cpu = measure(layer, "cpu", skipSlow, big);
  console.log(
    `| ${layer.name} | ${fmt(fast.fwd)} | ${fmt(stock.dx)} | ${fmt(fast.dx)} | ${fmt(fast.dw)} | ` +
      `${fmt(cpu.fwd)} | ${fmt(cpu.dx)} | ${fmt(cpu.dw)} |`,
  );
}
console.log("milliseconds per call, batch 1; numTensors at end:", tf.memory().numTensors);

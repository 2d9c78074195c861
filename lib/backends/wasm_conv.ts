/**
 * Convolution gradient kernels for the TF.js wasm backend.
 *
 * TF.js 4.22's wasm backend has no `Conv2DBackpropFilter` kernel (so training any
 * convolution fails there) and its `Conv2DBackpropInput` is a plain scalar loop (so
 * training, and `conv2dTranspose` in the book's CNN generators, crawl). This module
 * registers replacements built from fast existing wasm kernels (the XNNPACK `Conv2D`
 * and `BatchMatMul`, 3-D/4-D `Transpose`, `Slice`, `PadV2`) plus plain memory copies
 * on the wasm heap where the matching wasm kernel is a slow scalar loop.
 *
 * - dW (filter gradient), many output channels: one matrix product of the transposed
 *   im2col matrix (filled in JS) with dy. Few output channels: a stride-1 convolution
 *   of the input, batch and channels swapped, by dy as a filter dilated by the stride.
 * - dX (input gradient, = `conv2dTranspose`): the stride-s transposed convolution
 *   split into s*s phases ("sub-pixel" form). All phases run as ONE stride-1 `Conv2D`
 *   with a rearranged, flipped filter that has s*s times the channels, then a
 *   depth-to-space transpose interleaves them. Unlike dilating dy with zeros, this
 *   wastes no multiplications on zeros. Tiny problems go to the stock kernel.
 *
 * Checked against the cpu backend to ~2e-7 relative error (lib/backends/wasm_conv_test.ts);
 * timings in bench/conv_kernels.ts.
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";

type Info = tf.TensorInfo;
type Backend = tf.KernelBackend & { disposeData(dataId: object): boolean };
type Pad = "valid" | "same" | number | tf.backend_util.ExplicitPadding;

const BACKEND = "wasm";

/** Runs another registered wasm kernel on tensor infos, without the engine. */
function run(
  name: string,
  inputs: Record<string, Info>,
  attrs: Record<string, unknown>,
  backend: Backend,
): Info {
  const kernel = tf.getKernel(name, BACKEND);
  if (kernel === undefined) {
    throw new Error(
      `Kernel ${name} is not registered for wasm: import @tensorflow/tfjs-backend-wasm first`,
    );
  }
  return kernel.kernelFunc({
    inputs,
    attrs: attrs as tf.NamedAttrMap,
    backend,
  }) as Info;
}

/** Frees intermediates; reshape shares buffers by ref count, so this is safe. */
function free(backend: Backend, ...infos: Info[]): void {
  for (const t of infos) backend.disposeData(t.dataId);
}

function reshape(x: Info, shape: number[], backend: Backend): Info {
  return run("Reshape", { x }, { shape }, backend);
}

function transpose(x: Info, perm: number[], backend: Backend): Info {
  return run("Transpose", { x }, { perm }, backend);
}

function conv2d(
  x: Info,
  filter: Info,
  pads: [number, number, number, number],
  dilations: [number, number],
  backend: Backend,
): Info {
  const [top, bottom, left, right] = pads;
  return run("Conv2D", { x, filter }, {
    strides: [1, 1],
    pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
    dataFormat: "NHWC",
    dilations,
    dimRoundingMode: undefined,
  }, backend);
}

function convInfo(
  xShape: number[],
  filterShape: number[],
  attrs: Record<string, unknown>,
  kernelName: string,
): tf.backend_util.Conv2DInfo {
  const dataFormat = (attrs.dataFormat ?? "NHWC") as "NHWC" | "NCHW";
  if (dataFormat !== "NHWC") {
    throw new Error(
      `${kernelName} on wasm supports only NHWC data: transpose NCHW tensors to NHWC first`,
    );
  }
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as number | [number, number],
    1,
    attrs.pad as Pad,
    attrs.dimRoundingMode as "floor" | "round" | "ceil" | undefined,
    false,
    "channelsLast",
  );
}

/** Default largest im2col matrix built at once, in floats (64 MiB). */
export const IM2COL_MAX_FLOATS = 16 * 1024 * 1024;
let im2colMaxFloats = IM2COL_MAX_FLOATS;
const MATMUL_MIN_CHANNELS = 32;

/**
 * dW as one matrix product per batch chunk: P^T [kh*kw*ci, n*ho*wo] @ dy [n*ho*wo, co].
 * P^T (the transposed im2col matrix) is filled by a plain JS loop from a channels-first
 * copy of x, because no wasm kernel gathers strided windows quickly; dy is the small,
 * packed operand, and no transposed matMul (a slow scalar path on wasm) is needed.
 */
function filterGradMatMul(
  x: Info,
  dy: Info,
  info: tf.backend_util.Conv2DInfo,
  backend: Backend,
): Info {
  const heap = backend as HeapBackend;
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outChannels: co } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const { outHeight: ho, outWidth: wo } = info;
  const { top, left } = info.padInfo;
  const k = kh * kw * ci;
  const chunk = Math.max(1, Math.min(n, Math.floor(im2colMaxFloats / (k * ho * wo))));
  const xc = transpose(x, [0, 3, 1, 2], backend); // [n, ci, h, w]
  const dy2 = reshape(dy, [n * ho * wo, co], backend);
  let sum: Info | undefined;
  for (let n0 = 0; n0 < n; n0 += chunk) {
    const nc = Math.min(chunk, n - n0);
    const m = nc * ho * wo;
    const pT = heap.makeOutput([1, k, m], "float32");
    // Views after makeOutput: a heap growth detaches older views.
    const src = heap.typedArrayFromHeap(xc);
    const dst = heap.typedArrayFromHeap(pT);
    let d = 0;
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        for (let c = 0; c < ci; c++) {
          for (let b0 = n0; b0 < n0 + nc; b0++) {
            const plane = (b0 * ci + c) * h * w;
            for (let i = 0; i < ho; i++) {
              const r = i * sh + a - top;
              if (r < 0 || r >= h) {
                dst.fill(0, d, d + wo);
                d += wo;
                continue;
              }
              const row = plane + r * w;
              for (let j = 0; j < wo; j++, d++) {
                const col = j * sw + b - left;
                dst[d] = col >= 0 && col < w ? src[row + col] : 0;
              }
            }
          }
        }
      }
    }
    // A copy, not a reshape, of dy: XNNPACK caches the packed matMul operand by buffer
    // id, and reusing an id with another shape corrupts that cache.
    const dyc = run("Slice", { x: dy2 }, { begin: [n0 * ho * wo, 0], size: [m, co] }, backend);
    const dyc3 = reshape(dyc, [1, m, co], backend);
    const part = run("BatchMatMul", { a: pT, b: dyc3 }, {
      transposeA: false,
      transposeB: false,
    }, backend);
    free(backend, pT, dyc, dyc3);
    if (sum === undefined) {
      sum = part;
    } else {
      const next = run("Add", { a: sum, b: part }, {}, backend);
      free(backend, sum, part);
      sum = next;
    }
  }
  free(backend, xc, dy2);
  const dw = reshape(sum!, [kh, kw, ci, co], backend);
  free(backend, sum!);
  return dw;
}

/** Conv2DBackpropFilter for wasm: dW = correlation of x with dy dilated by the stride. */
export function conv2DBackpropFilterWasm(
  args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap },
): Info {
  const backend = args.backend as Backend;
  const { x, dy } = args.inputs as { x: Info; dy: Info };
  const attrs = (args.attrs ?? {}) as Record<string, unknown>;
  const info = convInfo(x.shape, attrs.filterShape as number[], attrs, "Conv2DBackpropFilter");
  const { inChannels: ci, outChannels: co, filterHeight: kh, filterWidth: kw } = info;
  const { strideHeight: sh, strideWidth: sw, outHeight: ho, outWidth: wo } = info;
  const { top, left } = info.padInfo;
  // Measured on the CelebA layers: the matMul form is ~2x faster for 256 output
  // channels; for 3 or 10 channels the skinny product loses to the conv form.
  if (co >= MATMUL_MIN_CHANNELS) return filterGradMatMul(x, dy, info, backend);

  // Batch and channels swap roles: x becomes Ci images with N channels, dy becomes a
  // filter [Ho, Wo, N, Co], so the output pixel (a, b) of image c is dW[a, b, c, :].
  const xT = transpose(x, [3, 1, 2, 0], backend);
  const dyT = transpose(dy, [1, 2, 0, 3], backend);
  // Pad the far edges only as far as the last filter tap reaches; rows beyond that
  // (floor in the output size) never met the filter and give extra outputs we crop.
  const bottom = Math.max(0, (ho - 1) * sh + kh - info.inHeight - top);
  const right = Math.max(0, (wo - 1) * sw + kw - info.inWidth - left);
  const out = conv2d(xT, dyT, [top, bottom, left, right], [sh, sw], backend);
  free(backend, xT, dyT);
  let cropped = out;
  if (out.shape[1] !== kh || out.shape[2] !== kw) {
    cropped = run("Slice", { x: out }, { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] }, backend);
    free(backend, out);
  }
  const dw = transpose(cropped, [1, 2, 0, 3], backend);
  free(backend, cropped);
  return dw;
}

/**
 * Rearranges a filter [kh, kw, ci, co] into the phase filter [mh, mw, co, sh*sw*ci]:
 * F[qh, qw, o, (rh*sw + rw)*ci + c] = w[rh + sh*(mh-1-qh), rw + sw*(mw-1-qw), c, o],
 * zero where the tap falls past the kernel.
 *
 * Only 3-D and 4-D transposes that keep a contiguous inner block and plain memory
 * copies are used: the wasm Reverse, Gather, Concat and 5-D+ Transpose kernels are
 * scalar loops, 50-100x slower on a 8x8x256x256 filter.
 */
function phaseFilter(
  filter: Info,
  [mh, mw, sh, sw]: [number, number, number, number],
  backend: Backend,
): Info {
  const [kh, kw, ci, co] = filter.shape;
  let w = filter;
  if (mh * sh !== kh || mw * sw !== kw) {
    const paddings = [[0, mh * sh - kh], [0, mw * sw - kw], [0, 0], [0, 0]];
    w = run("PadV2", { x: filter }, { paddings, constantValue: 0 }, backend);
  }
  const steps: Array<[number[], number[]]> = [
    [[mh * sh * mw * sw, ci, co], [0, 2, 1]], // [.., co, ci]
    [[mh, sh, mw, sw * co * ci], [0, 2, 1, 3]], // [mh, mw, sh, (sw, co, ci)]
    [[mh * mw, sh * sw, co, ci], [0, 2, 1, 3]], // [(mh, mw), co, (sh, sw), ci]
  ];
  for (const [shape, perm] of steps) {
    const r = reshape(w, shape, backend);
    if (w !== filter) free(backend, w);
    w = transpose(r, perm, backend);
    free(backend, r);
  }
  const flipped = reverseRows(w, mh * mw, backend);
  free(backend, w);
  const out = reshape(flipped, [mh, mw, co, sh * sw * ci], backend);
  free(backend, flipped);
  return out;
}

type HeapBackend = Backend & {
  makeOutput(shape: number[], dtype: string): Info;
  typedArrayFromHeap(t: Info): Float32Array;
};

/** Reverses the order of the `rows` equal leading blocks of x: mh*mw flips both tap axes. */
function reverseRows(x: Info, rows: number, backend: Backend): Info {
  const heap = backend as HeapBackend;
  const out = heap.makeOutput(x.shape, "float32");
  // Views are taken after makeOutput: a heap growth detaches older views.
  const src = heap.typedArrayFromHeap(x);
  const dst = heap.typedArrayFromHeap(out);
  const size = src.length / rows;
  for (let i = 0; i < rows; i++) {
    dst.set(src.subarray((rows - 1 - i) * size, (rows - i) * size), i * size);
  }
  return out;
}

// Below this many multiply-adds the stock scalar loop beats the ~8 kernel calls here
// (MNIST CNN layers: 0.05 ms vs 0.2 ms).
/** Default `stockBelowMacs`: smaller input gradients use the stock wasm kernel. */
export const STOCK_BELOW_MACS = 200_000;
let stockBelow = STOCK_BELOW_MACS;
// Backends on which the stock kernel's setup (its cwrap of the wasm function) has run.
const stockSetUp = new WeakSet<object>();

/** Conv2DBackpropInput for wasm (also conv2dTranspose): s*s sub-pixel phases in one Conv2D. */
export function conv2DBackpropInputWasm(
  args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap },
): Info {
  const backend = args.backend as Backend;
  const { dy, filter } = args.inputs as { dy: Info; filter: Info };
  const attrs = (args.attrs ?? {}) as Record<string, unknown>;
  const info = convInfo(attrs.inputShape as number[], filter.shape, attrs, "Conv2DBackpropInput");
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const { outHeight: ho, outWidth: wo } = info;
  const { top, left } = info.padInfo;
  const stock = replaced.get("Conv2DBackpropInput");
  if (stock !== undefined && n * ho * wo * kh * kw * ci * info.outChannels < stockBelow) {
    if (!stockSetUp.has(backend)) {
      // Harmless to repeat; needed when the wasm backend started after the swap.
      stock.setupFunc?.(backend);
      stockSetUp.add(backend);
    }
    return stock.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as Info;
  }

  // Input row h + top = sh*u + r takes filter rows r, r + sh, r + 2*sh, ... (mh taps)
  // against dy rows u, u - 1, u - 2, ...: a stride-1 correlation with the taps flipped.
  const mh = Math.ceil(kh / sh);
  const mw = Math.ceil(kw / sw);
  const f = phaseFilter(filter, [mh, mw, sh, sw], backend);

  const uh = Math.floor((h - 1 + top) / sh) + 1;
  const uw = Math.floor((w - 1 + left) / sw) + 1;
  const pads: [number, number, number, number] = [
    mh - 1,
    Math.max(0, uh - ho),
    mw - 1,
    Math.max(0, uw - wo),
  ];
  const phases = conv2d(dy, f, pads, [1, 1], backend);
  free(backend, f);

  let full = phases;
  if (sh > 1 || sw > 1) {
    // Depth to space as one 4-D transpose: the wasm DepthToSpace kernel is a scalar
    // loop (41 ms vs 0.45 ms for a 31x31x1024 map).
    const [, ph, pw] = phases.shape;
    const p4 = reshape(phases, [n * ph, pw, sh, sw * ci], backend);
    const t4 = transpose(p4, [0, 2, 1, 3], backend);
    full = reshape(t4, [n, ph * sh, pw * sw, ci], backend);
    free(backend, phases, p4, t4);
  }
  if (top === 0 && left === 0 && full.shape[1] === h && full.shape[2] === w) return full;
  const dx = run("Slice", { x: full }, { begin: [0, top, left, 0], size: [n, h, w, ci] }, backend);
  free(backend, full);
  return dx;
}

const CONFIGS: tf.KernelConfig[] = [
  {
    kernelName: "Conv2DBackpropFilter",
    backendName: BACKEND,
    kernelFunc: conv2DBackpropFilterWasm as unknown as tf.KernelFunc,
  },
  {
    kernelName: "Conv2DBackpropInput",
    backendName: BACKEND,
    kernelFunc: conv2DBackpropInputWasm as unknown as tf.KernelFunc,
  },
];

// The stock kernels replaced, kept so unregisterWasmConvKernels() can put them back.
const replaced = new Map<string, tf.KernelConfig>();

/** True when the project's conv gradient kernels are the ones registered on wasm. */
export function wasmConvKernelsRegistered(): boolean {
  return CONFIGS.every((c) => tf.getKernel(c.kernelName, BACKEND)?.kernelFunc === c.kernelFunc);
}

/** Options for registerWasmConvKernels(). */
export interface RegisterWasmConvOptions {
  /** Input gradients smaller than this many multiply-adds use the stock kernel (0: never). */
  stockBelowMacs?: number;
  /** Largest im2col matrix for dW in floats; bigger batches run in chunks (default 16 Mi). */
  im2colMaxFloats?: number;
}

/** Registers the fast Conv2DBackpropFilter and Conv2DBackpropInput kernels on wasm (idempotent). */
export function registerWasmConvKernels(opts: RegisterWasmConvOptions = {}): void {
  stockBelow = opts.stockBelowMacs ?? STOCK_BELOW_MACS;
  im2colMaxFloats = opts.im2colMaxFloats ?? IM2COL_MAX_FLOATS;
  for (const config of CONFIGS) {
    const current = tf.getKernel(config.kernelName, BACKEND);
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current !== undefined) {
      replaced.set(config.kernelName, current);
      tf.unregisterKernel(config.kernelName, BACKEND);
    }
    tf.registerKernel(config);
  }
}

/** Puts back the stock wasm kernels (for benchmarks and tests of the "before" state). */
export function unregisterWasmConvKernels(): void {
  for (const config of CONFIGS) {
    if (tf.getKernel(config.kernelName, BACKEND)?.kernelFunc !== config.kernelFunc) continue;
    tf.unregisterKernel(config.kernelName, BACKEND);
    const original = replaced.get(config.kernelName);
    if (original !== undefined) tf.registerKernel(original);
  }
}

/**
 * The convolution filter gradient for the TF.js webgpu backend, as a matrix product.
 *
 * TF.js 4.22's webgpu `Conv2DBackpropFilter` is a naive loop: a thread per filter weight sums
 * over every output position, re-reading the input with no tiling. Measured on Mesa's software
 * adapter, notebook 14's second discriminator layer at 32 feature maps: 587 ms, against 17 ms
 * on wasm. Here it is one im2col pass (the input's patches as rows of a matrix, zero where the
 * kernel overhangs the padding) and TF.js's tiled batched matMul: dW = cols^T dy. There: 170 ms
 * for D's first layer (454 stock), 315 ms for its second (943), with the same results to 1e-6 of
 * their size. The stock kernel stays for small products, NCHW data and patch matrices too big
 * to bind.
 *
 * `GAN_WEBGPU_CONV_FILTER=stock` keeps TF.js's kernel (the GPU job times both).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  bindingLimit,
  dispatch,
  GRID,
  gridGroups,
  type WebGpuBackendLike,
} from "./webgpu_kernels.ts";

/** Environment variable: `stock` keeps TF.js's naive webgpu filter gradient. */
export const WEBGPU_CONV_FILTER_ENV = "GAN_WEBGPU_CONV_FILTER";

type Info = tf.TensorInfo;

/** Below this many multiply-adds the stock kernel runs (it is faster on small products). */
export const MIN_MULTIPLY_ADDS = 2 ** 22;

/** Runs another registered webgpu kernel on tensor infos. */
function run(name: string, inputs: Record<string, Info>, attrs: object, backend: unknown): Info {
  return tf.getKernel(name, "webgpu")!.kernelFunc({
    inputs,
    attrs: attrs as tf.NamedAttrMap,
    backend: backend as tf.KernelBackend,
  }) as Info;
}

/**
 * dW [fh, fw, inC, outC] of the convolution of x [B, H, W, inC] that gave dy [B, oh, ow, outC],
 * or null where the stock kernel should run.
 */
function filterGradMM(
  b: WebGpuBackendLike,
  x: Info,
  dy: Info,
  attrs: tf.NamedAttrMap,
): Info | null {
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as {
    strides: [number, number];
    pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
    dataFormat: "NHWC" | "NCHW";
    dimRoundingMode?: "floor" | "round" | "ceil";
    filterShape: [number, number, number, number];
  };
  if (dataFormat === "NCHW") return null;
  const c = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const P = c.batchSize * c.outHeight * c.outWidth;
  const K = c.filterHeight * c.filterWidth * c.inChannels;
  // Small products gain nothing from tiling (D's last layer: 0.6 M multiply-adds, 95 ms this way
  // on the software adapter against 26 ms stock); patch matrices must fit one binding.
  if (P * K * c.outChannels < MIN_MULTIPLY_ADDS || 4 * P * K > bindingLimit(b)) return null;
  const [cols] = dispatch(b, {
    key: "im2col",
    names: ["cols", "x"],
    outputs: [[1, P, K]],
    inputs: [x],
    uniforms: [
      ["u32", "n", P * K],
      ["u32", "K", K],
      ["u32", "inC", c.inChannels],
      ["u32", "fw", c.filterWidth],
      ["u32", "ow", c.outWidth],
      ["u32", "oh", c.outHeight],
      ["u32", "ih", c.inHeight],
      ["u32", "iw", c.inWidth],
      ["u32", "sh", c.strideHeight],
      ["u32", "sw", c.strideWidth],
      ["u32", "pt", c.padInfo.top],
      ["u32", "pl", c.padInfo.left],
    ],
    groups: gridGroups(P * K),
    // Row p is output position (batch, oy, ox); column k is (ky, kx, channel) as in the filter.
    body: `${GRID}
    let k = i % u.K;
    let p = i / u.K;
    let ch = k % u.inC;
    let kx = (k / u.inC) % u.fw;
    let ky = k / (u.inC * u.fw);
    let ox = p % u.ow;
    let oy = (p / u.ow) % u.oh;
    let bb = p / (u.ow * u.oh);
    let iy = i32(oy * u.sh + ky) - i32(u.pt);
    let ix = i32(ox * u.sw + kx) - i32(u.pl);
    var v = 0.0;
    if (iy >= 0 && iy < i32(u.ih) && ix >= 0 && ix < i32(u.iw)) {
      v = x[((bb * u.ih + u32(iy)) * u.iw + u32(ix)) * u.inC + ch];
    }
    cols[i] = v;
  }
}`,
  });
  const d = run("Reshape", { x: dy }, { shape: [1, P, c.outChannels] }, b);
  const prod = run("BatchMatMul", { a: cols, b: d }, { transposeA: true, transposeB: false }, b);
  const dW = run("Reshape", { x: prod }, { shape: filterShape }, b);
  for (const t of [cols, d, prod]) b.disposeData(t.dataId);
  return dW;
}

let registered = false;

/** Replaces webgpu's Conv2DBackpropFilter (after tfjs-backend-webgpu is loaded); idempotent. */
export function registerWebGpuConvKernels(): void {
  if (registered) return;
  let mode: string | undefined;
  try {
    mode = Deno.env.get(WEBGPU_CONV_FILTER_ENV);
  } catch {
    mode = undefined; // no env permission: the default
  }
  if (mode === "stock") return;
  const stock = tf.getKernel("Conv2DBackpropFilter", "webgpu");
  if (!stock) return;
  registered = true;
  tf.unregisterKernel("Conv2DBackpropFilter", "webgpu");
  tf.registerKernel({
    kernelName: "Conv2DBackpropFilter",
    backendName: "webgpu",
    kernelFunc: (args) =>
      filterGradMM(
        args.backend as unknown as WebGpuBackendLike,
        args.inputs.x as Info,
        args.inputs.dy as Info,
        args.attrs as tf.NamedAttrMap,
      ) ?? stock.kernelFunc(args),
  });
}

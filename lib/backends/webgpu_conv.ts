/**
 * The convolution gradients for the TF.js webgpu backend, as matrix products.
 *
 * TF.js 4.22's webgpu `Conv2DBackpropFilter` and (by default) `Conv2DBackpropInput`, which is
 * also `conv2dTranspose`, are naive loops: a thread per output value re-reads its inputs with no
 * tiling. Here each is TF.js's tiled batched matMul plus one gather pass:
 * - filter: im2col (the input's patches as rows, zero where the kernel overhangs the padding),
 *   then dW = cols^T dy;
 * - input: cols = dy W^T (every kernel tap's contribution), then col2im adds the taps that land
 *   on each input pixel.
 * Measured on Mesa's software adapter (where TF.js's matMul runs at only 0.4 GFLOPS), notebook
 * 14 at 32 feature maps: D's first-layer filter gradient 170 ms against 454 stock, its second
 * 315 against 943; G's last transposed convolution 235 against 497 ms; a whole iteration 6.6 s
 * against 10.4 s. Each replaced kernel is two dispatches instead of one (notebook 14: 191 a step
 * at 16 maps, against 174 stock and 186 wasm kernels). Results equal the cpu backend's to 1e-6
 * of their size. The stock kernels stay for products under MIN_MULTIPLY_ADDS, NCHW data and
 * matrices too big to bind; `GAN_WEBGPU_CONV=stock` keeps them everywhere (the GPU job times both).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  bindingLimit,
  dispatch,
  GRID,
  gridGroups,
  type Uniform,
  type WebGpuBackendLike,
} from "./webgpu_kernels.ts";

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

/** A convolution's geometry and its patch matrix [P, K], or null where the stock kernel runs. */
interface Plan {
  c: tf.backend_util.Conv2DInfo;
  P: number;
  K: number;
  /** The geometry as uniforms, after `n` (the pass's element count). */
  uniforms: (n: number) => Uniform[];
}

/** Plans a gradient of the convolution of `xShape` by `filterShape` with these attributes. */
function plan(
  b: WebGpuBackendLike,
  xShape: number[],
  filterShape: number[],
  attrs: tf.NamedAttrMap,
): Plan | null {
  const { strides, pad, dataFormat, dimRoundingMode } = attrs as unknown as {
    strides: [number, number];
    pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
    dataFormat: "NHWC" | "NCHW";
    dimRoundingMode?: "floor" | "round" | "ceil";
  };
  if (dataFormat === "NCHW") return null;
  const c = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
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
  const uniforms = (n: number): Uniform[] => [
    ["u32", "n", n],
    ["u32", "K", K],
    ["u32", "inC", c.inChannels],
    ["u32", "fh", c.filterHeight],
    ["u32", "fw", c.filterWidth],
    ["u32", "ow", c.outWidth],
    ["u32", "oh", c.outHeight],
    ["u32", "ih", c.inHeight],
    ["u32", "iw", c.inWidth],
    ["u32", "sh", c.strideHeight],
    ["u32", "sw", c.strideWidth],
    ["u32", "pt", c.padInfo.top],
    ["u32", "pl", c.padInfo.left],
  ];
  return { c, P, K, uniforms };
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
  const filterShape = (attrs as unknown as { filterShape: number[] }).filterShape;
  const p = plan(b, x.shape, filterShape, attrs);
  if (!p) return null;
  const { c, P, K } = p;
  const [cols] = dispatch(b, {
    key: "im2col",
    names: ["cols", "x"],
    outputs: [[1, P, K]],
    inputs: [x],
    uniforms: p.uniforms(P * K),
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

/**
 * dx [B, H, W, C] of the convolution by filter [fh, fw, C, outC] that gave dy [B, oh, ow, outC]
 * (also `conv2dTranspose`), or null where the stock kernel should run: TF.js's tiled matMul makes
 * every kernel tap's contribution, cols = dy W^T [P, fh fw C], and one gather pass (col2im) adds
 * the taps that land on each input pixel.
 */
function inputGradMM(
  b: WebGpuBackendLike,
  dy: Info,
  filter: Info,
  attrs: tf.NamedAttrMap,
): Info | null {
  const inputShape = (attrs as unknown as { inputShape: number[] }).inputShape;
  const p = plan(b, inputShape, filter.shape, attrs);
  if (!p) return null;
  const { c, P, K } = p;
  const d = run("Reshape", { x: dy }, { shape: [1, P, c.outChannels] }, b);
  const w = run("Reshape", { x: filter }, { shape: [1, K, c.outChannels] }, b);
  const cols = run("BatchMatMul", { a: d, b: w }, { transposeA: false, transposeB: true }, b);
  const n = c.batchSize * c.inHeight * c.inWidth * c.inChannels;
  const [dx] = dispatch(b, {
    key: "col2im",
    names: ["dx", "cols"],
    outputs: [inputShape],
    inputs: [cols],
    uniforms: p.uniforms(n),
    groups: gridGroups(n),
    // Input pixel (bb, y, x, ch) takes tap (ky, kx) of output (oy, ox) where y + pt = oy sh + ky.
    body: `${GRID}
    let ch = i % u.inC;
    let x = (i / u.inC) % u.iw;
    let y = (i / (u.inC * u.iw)) % u.ih;
    let bb = i / (u.inC * u.iw * u.ih);
    var s = 0.0;
    for (var ky = 0u; ky < u.fh; ky = ky + 1u) {
      let ty = i32(y + u.pt) - i32(ky);
      if (ty < 0 || ty % i32(u.sh) != 0) { continue; }
      let oy = u32(ty) / u.sh;
      if (oy >= u.oh) { continue; }
      for (var kx = 0u; kx < u.fw; kx = kx + 1u) {
        let tx = i32(x + u.pl) - i32(kx);
        if (tx < 0 || tx % i32(u.sw) != 0) { continue; }
        let ox = u32(tx) / u.sw;
        if (ox >= u.ow) { continue; }
        s = s + cols[((bb * u.oh + oy) * u.ow + ox) * u.K + (ky * u.fw + kx) * u.inC + ch];
      }
    }
    dx[i] = s;
  }
}`,
  });
  for (const t of [d, w, cols]) b.disposeData(t.dataId);
  return dx;
}

let registered = false;

/**
 * Replaces webgpu's Conv2DBackpropFilter and Conv2DBackpropInput (after tfjs-backend-webgpu is
 * loaded), each falling back to the stock kernel where it does not apply; idempotent.
 */
export function registerWebGpuConvKernels(): void {
  if (registered) return;
  registered = true;
  const mm = {
    Conv2DBackpropFilter: (a: Parameters<tf.KernelFunc>[0]) =>
      filterGradMM(
        a.backend as unknown as WebGpuBackendLike,
        a.inputs.x as Info,
        a.inputs.dy as Info,
        a.attrs as tf.NamedAttrMap,
      ),
    Conv2DBackpropInput: (a: Parameters<tf.KernelFunc>[0]) =>
      inputGradMM(
        a.backend as unknown as WebGpuBackendLike,
        a.inputs.dy as Info,
        a.inputs.filter as Info,
        a.attrs as tf.NamedAttrMap,
      ),
  };
  for (const [kernelName, ours] of Object.entries(mm)) {
    const stock = tf.getKernel(kernelName, "webgpu");
    if (!stock) continue;
    tf.unregisterKernel(kernelName, "webgpu");
    tf.registerKernel({
      kernelName,
      backendName: "webgpu",
      kernelFunc: (args) => ours(args) ?? stock.kernelFunc(args),
    });
  }
}

/**
 * Fused SIMD kernels for the book's batch-1 training on the wasm backend.
 *
 * A per-sample step is dominated by a few passes over the big weight
 * matrices. TF.js spends several generic kernels on each (a broadcast
 * multiply by the learning rate, a subtract, a scalar-loop sqrt for Adam...),
 * so these fuse each pass into one SIMD loop (lib/backends/simd.wat) that runs on the
 * backend's own memory. They are registered as ordinary TF.js kernels, so
 * `tf.tidy`, memory accounting and tensor immutability all hold. On other
 * backends the same functions fall back to plain TF.js ops.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { SIMD_WASM_BASE64 } from "./_simd_wasm.ts";

interface SimdExports {
  matvec(W: number, x: number, b: number, y: number, rows: number, cols: number): void;
  matvec_t(W: number, d: number, y: number, rows: number, cols: number): void;
  outer(u: number, x: number, A: number, G: number, rows: number, cols: number): void;
  axpy(p: number, g: number, out: number, n: number, a: number): void;
  adam(
    p: number,
    g: number,
    m: number,
    v: number,
    pOut: number,
    mOut: number,
    vOut: number,
    n: number,
    b1: number,
    b2: number,
    a: number,
    e: number,
  ): void;
  gemm_nt(X: number, W: number, b: number, Y: number, n: number, rows: number, cols: number): void;
  gemm_sa(
    A: number,
    sam: number,
    sak: number,
    B: number,
    C: number,
    M: number,
    K: number,
    N: number,
  ): void;
}

interface WasmBackendLike {
  wasm: { asm: { memory: WebAssembly.Memory } };
  dataIdMap: { get(id: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: "float32"): tf.TensorInfo;
}

let compiled: WebAssembly.Module | null = null;
const instances = new WeakMap<object, SimdExports>();

function kernelsFor(backend: WasmBackendLike): SimdExports {
  let k = instances.get(backend);
  if (!k) {
    if (!compiled) {
      compiled = new WebAssembly.Module(
        Uint8Array.from(atob(SIMD_WASM_BASE64), (c) => c.charCodeAt(0)),
      );
    }
    const inst = new WebAssembly.Instance(compiled, { env: { memory: backend.wasm.asm.memory } });
    k = inst.exports as unknown as SimdExports;
    instances.set(backend, k);
  }
  return k;
}

const off = (b: WasmBackendLike, t: tf.TensorInfo) => b.dataIdMap.get(t.dataId).memoryOffset;

/** Names of the kernels this module registers on the wasm backend. */
export const SIMD_KERNELS = {
  matVec: "MyoganMatVec",
  matVecT: "MyoganMatVecT",
  outer: "MyoganOuter",
  axpy: "MyoganAxpy",
  adam: "MyoganAdam",
  sigmoidGrad: "MyoganSigmoidGrad",
  leakyGrad: "MyoganLeakyGrad",
  layerNorm: "MyoganLayerNorm",
  layerNormGrad: "MyoganLayerNormGrad",
  bce: "MyoganBce",
  mse: "MyoganMse",
  batchNorm: "MyoganBatchNorm",
  matMulNT: "MyoganMatMulNT",
  matMulNN: "MyoganMatMulNN",
  matMulTN: "MyoganMatMulTN",
  batchNormGrad: "MyoganBatchNormGrad",
  columnSum: "MyoganColumnSum",
  /** GELU and its gradient: fused on webgpu only (on wasm TF.js's ops are fast enough). */
  gelu: "MyoganGelu",
  geluGrad: "MyoganGeluGrad",
  /** BatchNorm2d then LeakyReLU, forward and backward: webgpu only (it saves dispatches). */
  batchNormLeaky: "MyoganBatchNormLeaky",
  batchNormLeakyGrad: "MyoganBatchNormLeakyGrad",
  /** Adam over many parameters in one dispatch: webgpu only (wasm has no dispatches to save). */
  adamAll: "MyoganAdamAll",
} as const;

/** A Float32Array over a tensor's bytes in the wasm heap (valid until the heap grows). */
function view(b: WasmBackendLike, t: tf.TensorInfo): Float32Array {
  return new Float32Array(b.wasm.asm.memory.buffer, off(b, t), sizeOf(t));
}

let registered = false;

/** Registers the SIMD kernels on the wasm backend (idempotent; called by initBackend). */
export function registerSimdKernels(): void {
  if (registered) return;
  registered = true;
  const reg = (
    kernelName: string,
    kernelFunc: (
      b: WasmBackendLike,
      inputs: Record<string, tf.TensorInfo>,
      attrs: tf.NamedAttrMap,
    ) => tf.TensorInfo | tf.TensorInfo[],
  ) =>
    tf.registerKernel({
      kernelName,
      backendName: "wasm",
      kernelFunc: ({ inputs, backend, attrs }) =>
        kernelFunc(
          backend as unknown as WasmBackendLike,
          inputs as Record<string, tf.TensorInfo>,
          attrs ?? {},
        ),
    });

  reg(SIMD_KERNELS.matVec, (b, { W, x, bias }) => {
    const [rows, cols] = W.shape;
    const y = b.makeOutput([rows], "float32");
    kernelsFor(b).matvec(off(b, W), off(b, x), bias ? off(b, bias) : 0, off(b, y), rows, cols);
    return y;
  });
  reg(SIMD_KERNELS.matVecT, (b, { W, d }) => {
    const [rows, cols] = W.shape;
    const y = b.makeOutput([cols], "float32");
    kernelsFor(b).matvec_t(off(b, W), off(b, d), off(b, y), rows, cols);
    return y;
  });
  reg(SIMD_KERNELS.outer, (b, { u, x, acc }) => {
    const rows = u.shape[0], cols = x.shape[0];
    const G = b.makeOutput([rows, cols], "float32");
    kernelsFor(b).outer(off(b, u), off(b, x), acc ? off(b, acc) : 0, off(b, G), rows, cols);
    return G;
  });
  reg(SIMD_KERNELS.axpy, (b, { p, g }, { a }) => {
    const out = b.makeOutput(p.shape, "float32");
    kernelsFor(b).axpy(off(b, p), off(b, g), off(b, out), sizeOf(p), a as number);
    return out;
  });
  reg(SIMD_KERNELS.adam, (b, { p, g, m, v }, { b1, b2, a, e }) => {
    // The moments belong to the optimiser alone, so they are updated in place; the
    // parameter gets a fresh buffer, since XNNPACK may cache packed weights by tensor id.
    const p2 = b.makeOutput(p.shape, "float32");
    kernelsFor(b).adam(
      off(b, p),
      off(b, g),
      off(b, m),
      off(b, v),
      off(b, p2),
      off(b, m),
      off(b, v),
      sizeOf(p),
      b1 as number,
      b2 as number,
      a as number,
      e as number,
    );
    return p2;
  });
  // Mini-batches: register-tiled GEMM kernels (fused multiply-add). They read the weight
  // where it lies, so there are no transposes and no weight re-packing each step for a
  // weight that just changed (TF.js's matMul does both). Shapes the tiles cannot cover
  // (fewer than 2 samples or 4 rows, or 8 columns; a width not a multiple of 4) go row by
  // row through the per-sample kernels.
  reg(SIMD_KERNELS.matMulNT, (b, { x, W, bias }) => {
    const [n, cols] = x.shape, rows = W.shape[0];
    const y = b.makeOutput([n, rows], "float32");
    const k = kernelsFor(b), X = off(b, x), Y = off(b, y), w = off(b, W);
    const bb = bias ? off(b, bias) : 0;
    if (n >= 2 && rows >= 4 && cols % 4 === 0) k.gemm_nt(X, w, bb, Y, n, rows, cols);
    else {
      for (let i = 0; i < n; i++) k.matvec(w, X + 4 * i * cols, bb, Y + 4 * i * rows, rows, cols);
    }
    return y;
  });
  reg(SIMD_KERNELS.matMulNN, (b, { d, W }) => {
    const n = d.shape[0], [rows, cols] = W.shape;
    const gx = b.makeOutput([n, cols], "float32");
    const k = kernelsFor(b), D = off(b, d), G = off(b, gx), w = off(b, W);
    // gx[i, :] = sum_r d[i, r] W[r, :]
    if (n >= 4 && cols >= 8) k.gemm_sa(D, rows, 1, w, G, n, rows, cols);
    else for (let i = 0; i < n; i++) k.matvec_t(w, D + 4 * i * rows, G + 4 * i * cols, rows, cols);
    return gx;
  });
  reg(SIMD_KERNELS.matMulTN, (b, { d, x }) => {
    const [n, rows] = d.shape, cols = x.shape[1];
    const gw = b.makeOutput([rows, cols], "float32");
    const k = kernelsFor(b), D = off(b, d), X = off(b, x), G = off(b, gw);
    // gw[r, :] = sum_i d[i, r] x[i, :]
    if (rows >= 4 && cols >= 8) k.gemm_sa(D, 1, rows, X, G, rows, n, cols);
    else {
      for (let i = 0; i < n; i++) {
        k.outer(D + 4 * i * rows, X + 4 * i * cols, i === 0 ? 0 : G, G, rows, cols);
      }
    }
    return gw;
  });
  reg(SIMD_KERNELS.columnSum, (b, { d }) => {
    const [n, cols] = d.shape;
    const out = b.makeOutput([cols], "float32");
    const [D, O] = [view(b, d), view(b, out)];
    O.set(D.subarray(0, cols));
    for (let i = 1; i < n; i++) {
      const row = i * cols;
      for (let j = 0; j < cols; j++) O[j] += D[row + j];
    }
    return out;
  });
  // Small-vector work (activations' gradients, LayerNorm, losses) is a handful of
  // numbers per sample: plain JS loops over heap views beat several generic kernels.
  reg(SIMD_KERNELS.sigmoidGrad, (b, { y, dy }) => {
    const out = b.makeOutput(y.shape, "float32");
    const [Y, D, O] = [view(b, y), view(b, dy), view(b, out)];
    for (let i = 0; i < O.length; i++) O[i] = D[i] * Y[i] * (1 - Y[i]);
    return out;
  });
  reg(SIMD_KERNELS.leakyGrad, (b, { x, dy }, { slope }) => {
    const out = b.makeOutput(x.shape, "float32");
    const [X, D, O] = [view(b, x), view(b, dy), view(b, out)];
    const s = slope as number;
    for (let i = 0; i < O.length; i++) O[i] = X[i] > 0 ? D[i] : D[i] * s;
    return out;
  });
  reg(SIMD_KERNELS.layerNorm, (b, { x, w, bias }, { eps }) => {
    const n = x.shape[x.shape.length - 1], rows = sizeOf(x) / n;
    const y = b.makeOutput(x.shape, "float32"), xhat = b.makeOutput(x.shape, "float32");
    const rstd = b.makeOutput([rows], "float32");
    const [X, W, B, Y, H, R] = [x, w, bias, y, xhat, rstd].map((t) => view(b, t));
    for (let r = 0; r < rows; r++) {
      const o = r * n;
      let mean = 0;
      for (let i = 0; i < n; i++) mean += X[o + i];
      mean /= n;
      let v = 0;
      for (let i = 0; i < n; i++) v += (X[o + i] - mean) ** 2;
      const rs = 1 / Math.sqrt(v / n + (eps as number));
      R[r] = rs;
      for (let i = 0; i < n; i++) {
        const h = (X[o + i] - mean) * rs;
        H[o + i] = h;
        Y[o + i] = h * W[i] + B[i];
      }
    }
    return [y, xhat, rstd];
  });
  reg(SIMD_KERNELS.layerNormGrad, (b, { dy, xhat, rstd, w }) => {
    const n = dy.shape[dy.shape.length - 1], rows = sizeOf(dy) / n;
    const dx = b.makeOutput(dy.shape, "float32");
    const dw = b.makeOutput([n], "float32"), db = b.makeOutput([n], "float32");
    const [D, H, R, W, DX, DW, DB] = [dy, xhat, rstd, w, dx, dw, db].map((t) => view(b, t));
    DW.fill(0);
    DB.fill(0);
    for (let r = 0; r < rows; r++) {
      const o = r * n;
      let mg = 0, mgx = 0;
      for (let i = 0; i < n; i++) {
        const g = D[o + i] * W[i];
        mg += g;
        mgx += g * H[o + i];
        DW[i] += D[o + i] * H[o + i];
        DB[i] += D[o + i];
      }
      mg /= n;
      mgx /= n;
      for (let i = 0; i < n; i++) DX[o + i] = R[r] * (D[o + i] * W[i] - mg - H[o + i] * mgx);
    }
    return [dx, dw, db];
  });
  reg(SIMD_KERNELS.bce, (b, { y, t }) => {
    const loss = b.makeOutput([], "float32"), grad = b.makeOutput(y.shape, "float32");
    const [Y, T, L, G] = [y, t, loss, grad].map((u) => view(b, u));
    const n = Y.length;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const yi = Y[i], ti = T[i];
      sum += ti * Math.max(Math.log(yi), -100) + (1 - ti) * Math.max(Math.log(1 - yi), -100);
      G[i] = (yi - ti) / Math.max(yi * (1 - yi), 1e-12) / n;
    }
    L[0] = -sum / n;
    return [loss, grad];
  });
  reg(SIMD_KERNELS.mse, (b, { y, t }) => {
    const loss = b.makeOutput([], "float32"), grad = b.makeOutput(y.shape, "float32");
    const [Y, T, L, G] = [y, t, loss, grad].map((u) => view(b, u));
    const n = Y.length;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const d = Y[i] - T[i];
      sum += d * d;
      G[i] = (2 * d) / n;
    }
    L[0] = sum / n;
    return [loss, grad];
  });
  // BatchNorm2d in training mode: per-channel statistics over every other axis (NHWC rows).
  reg(SIMD_KERNELS.batchNorm, (b, { x, w, bias, rm, rv }, { eps, momentum }) => {
    const c = x.shape[x.shape.length - 1], rows = sizeOf(x) / c;
    const y = b.makeOutput(x.shape, "float32"), xhat = b.makeOutput(x.shape, "float32");
    const rstd = b.makeOutput([c], "float32");
    const rm2 = b.makeOutput([c], "float32"), rv2 = b.makeOutput([c], "float32");
    const [X, W, B, RM, RV, Y, H, R, RM2, RV2] = [x, w, bias, rm, rv, y, xhat, rstd, rm2, rv2]
      .map((t) => view(b, t));
    const mean = new Float64Array(c), vars = new Float64Array(c);
    for (let r = 0; r < rows; r++) for (let k = 0; k < c; k++) mean[k] += X[r * c + k];
    for (let k = 0; k < c; k++) mean[k] /= rows;
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < c; k++) vars[k] += (X[r * c + k] - mean[k]) ** 2;
    }
    const mom = momentum as number;
    for (let k = 0; k < c; k++) {
      const v = vars[k] / rows;
      R[k] = 1 / Math.sqrt(v + (eps as number));
      RM2[k] = (1 - mom) * RM[k] + mom * mean[k];
      // The running variance uses the unbiased estimate, as PyTorch does.
      RV2[k] = (1 - mom) * RV[k] + mom * (rows > 1 ? v * rows / (rows - 1) : v);
    }
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < c; k++) {
        const h = (X[r * c + k] - mean[k]) * R[k];
        H[r * c + k] = h;
        Y[r * c + k] = h * W[k] + B[k];
      }
    }
    return [y, xhat, rstd, rm2, rv2];
  });
  reg(SIMD_KERNELS.batchNormGrad, (b, { dy, xhat, rstd, w }) => {
    const c = dy.shape[dy.shape.length - 1], rows = sizeOf(dy) / c;
    const dx = b.makeOutput(dy.shape, "float32");
    const dw = b.makeOutput([c], "float32"), db = b.makeOutput([c], "float32");
    const [D, H, R, W, DX, DW, DB] = [dy, xhat, rstd, w, dx, dw, db].map((t) => view(b, t));
    const sg = new Float64Array(c), sgx = new Float64Array(c);
    const sdw = new Float64Array(c), sdb = new Float64Array(c);
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < c; k++) {
        const d = D[r * c + k], h = H[r * c + k];
        sdw[k] += d * h;
        sdb[k] += d;
      }
    }
    for (let k = 0; k < c; k++) {
      DW[k] = sdw[k];
      DB[k] = sdb[k];
      sg[k] = (sdb[k] * W[k]) / rows;
      sgx[k] = (sdw[k] * W[k]) / rows;
    }
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < c; k++) {
        const i = r * c + k;
        DX[i] = R[k] * (D[i] * W[k] - sg[k] - H[i] * sgx[k]);
      }
    }
    return [dx, dw, db];
  });
  // The fused forward kernels can sit under TF.js's own autodiff (tf.grad of a model).
  tf.registerGradient({
    kernelName: SIMD_KERNELS.layerNorm,
    inputsToSave: ["w"],
    outputsToSave: [false, true, true],
    gradFunc: (dys, saved) => {
      const dy = (dys as tf.Tensor[])[0];
      const [w, xhat, rstd] = saved;
      const [dx, dw, db] = layerNormGrad(dy, xhat, rstd, w);
      return { x: () => dx, w: () => dw, bias: () => db };
    },
  });
  tf.registerGradient({
    kernelName: SIMD_KERNELS.matMulNT,
    inputsToSave: ["x", "W"],
    gradFunc: (dy, saved) => {
      const [x, W] = saved;
      const d = dy as tf.Tensor2D;
      return {
        x: () => tf.matMul(d, W),
        W: () => tf.matMul(tf.transpose(d), x),
        bias: () => tf.sum(d, 0),
      };
    },
  });
  tf.registerGradient({
    kernelName: SIMD_KERNELS.batchNorm,
    inputsToSave: ["w"],
    outputsToSave: [false, true, true, false, false],
    gradFunc: (dys, saved) => {
      const dy = (dys as tf.Tensor[])[0];
      const [w, xhat, rstd] = saved;
      const [dx, dw, db] = batchNormGrad(dy, xhat, rstd, w);
      return { x: () => dx, w: () => dw, bias: () => db };
    },
  });
  for (const name of [SIMD_KERNELS.bce, SIMD_KERNELS.mse]) {
    tf.registerGradient({
      kernelName: name,
      outputsToSave: [false, true],
      gradFunc: (dys, saved) => {
        const dLoss = (dys as tf.Tensor[])[0];
        return { y: () => tf.mul(saved[0], dLoss) };
      },
    });
  }
  // So can the forward product can sit under TF.js's own autodiff (tf.grad of a model).
  tf.registerGradient({
    kernelName: SIMD_KERNELS.matVec,
    inputsToSave: ["W", "x"],
    gradFunc: (dy, saved) => {
      const [W, x] = saved;
      const d = dy as tf.Tensor1D;
      return {
        W: () => tf.mul(d.reshape([-1, 1]), x.reshape([1, -1])),
        x: () => tf.matMul(d.reshape([1, -1]), W).reshape([-1]),
        bias: () => d,
      };
    },
  });
}

const sizeOf = (t: tf.TensorInfo) => t.shape.reduce((a, b) => a * b, 1);

registerSimdKernels();

/** True when the fused kernels serve the current backend (wasm, and webgpu once registered). */
export function simdActive(): boolean {
  return tf.getKernel(SIMD_KERNELS.matVec, tf.getBackend()) !== undefined;
}

/** True when kernel `name` has a fused version on the current backend. */
function fused(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/** `W @ x + bias` for W [rows, cols] and x [cols]: a 1-D result. */
export function matVec(W: tf.Tensor2D, x: tf.Tensor1D, bias?: tf.Tensor1D | null): tf.Tensor1D {
  if (fused(SIMD_KERNELS.matVec)) {
    const inputs: tf.NamedTensorMap = bias ? { W, x, bias } : { W, x };
    return tf.engine().runKernel(SIMD_KERNELS.matVec, inputs) as tf.Tensor1D;
  }
  return tf.tidy(() => {
    const y = tf.matMul(W, x.reshape([-1, 1])).reshape([-1]) as tf.Tensor1D;
    return bias ? tf.add(y, bias) : y;
  });
}

/** `W^T @ d` for W [rows, cols] and d [rows]: the input gradient of a linear layer. */
export function matVecT(W: tf.Tensor2D, d: tf.Tensor1D): tf.Tensor1D {
  if (fused(SIMD_KERNELS.matVecT)) {
    return tf.engine().runKernel(SIMD_KERNELS.matVecT, { W, d }) as tf.Tensor1D;
  }
  return tf.tidy(() => tf.matMul(d.reshape([1, -1]), W).reshape([-1]) as tf.Tensor1D);
}

/** `u x^T (+ acc)`: the weight gradient of a linear layer for one sample. */
export function outer(u: tf.Tensor1D, x: tf.Tensor1D, acc?: tf.Tensor2D | null): tf.Tensor2D {
  if (fused(SIMD_KERNELS.outer)) {
    const inputs: tf.NamedTensorMap = acc ? { u, x, acc } : { u, x };
    return tf.engine().runKernel(SIMD_KERNELS.outer, inputs) as tf.Tensor2D;
  }
  return tf.tidy(() => {
    const g = tf.mul(u.reshape([-1, 1]), x.reshape([1, -1])) as tf.Tensor2D;
    return acc ? tf.add(acc, g) : g;
  });
}

/** `p + a * g`, one fused pass (SGD with a = -lr). */
export function axpy<T extends tf.Tensor>(p: T, g: tf.Tensor, a: number): T {
  if (fused(SIMD_KERNELS.axpy)) {
    return tf.engine().runKernel(SIMD_KERNELS.axpy, { p, g }, { a }) as T;
  }
  return tf.tidy(() => tf.add(p, tf.mul(g, a)) as T);
}

/**
 * Adam's update as one pass: returns new [p, m, v]; `a` and `e` carry the bias corrections.
 * On wasm the returned m and v are the given tensors, updated in place.
 */
export function adamUpdate(
  p: tf.Tensor,
  g: tf.Tensor,
  state: { m: tf.Tensor; v: tf.Tensor; b1: number; b2: number; a: number; e: number },
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const { m, v, b1, b2, a, e } = state;
  if (fused(SIMD_KERNELS.adam)) {
    const p2 = tf.engine().runKernel(SIMD_KERNELS.adam, { p, g, m, v }, { b1, b2, a, e });
    return [p2 as tf.Tensor, m, v];
  }
  return tf.tidy(() => {
    const m2 = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
    const v2 = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2));
    const p2 = tf.sub(p, tf.div(tf.mul(m2, a), tf.add(tf.sqrt(v2), e)));
    return [p2, m2, v2];
  });
}

/**
 * Adam's update of every parameter of an optimiser step: returns the new p's, and the moments
 * `ms` and `vs` (arrays, changed where a moment is replaced by a new tensor). On webgpu all
 * parameters go in as few dispatches as the adapter allows, moments updated in place;
 * elsewhere it is `adamUpdate` per parameter.
 */
export function adamUpdateAll(
  ps: tf.Tensor[],
  gs: tf.Tensor[],
  state: { ms: tf.Tensor[]; vs: tf.Tensor[]; b1: number; b2: number; a: number; e: number },
): tf.Tensor[] {
  const { ms, vs, b1, b2, a, e } = state;
  if (ps.length > 1 && fused(SIMD_KERNELS.adamAll)) {
    const inputs: tf.NamedTensorMap = {};
    ps.forEach((p, j) => {
      inputs[`p${j}`] = p;
      inputs[`g${j}`] = gs[j];
      inputs[`m${j}`] = ms[j];
      inputs[`v${j}`] = vs[j];
    });
    const attrs = { b1, b2, a, e, k: ps.length };
    return tf.engine().runKernel(SIMD_KERNELS.adamAll, inputs, attrs) as unknown as tf.Tensor[];
  }
  return ps.map((p, j) => {
    const [p2, m2, v2] = adamUpdate(p, gs[j], { m: ms[j], v: vs[j], b1, b2, a, e });
    ms[j] = m2;
    vs[j] = v2;
    return p2;
  });
}

/** `dy * y * (1 - y)`: the sigmoid's input gradient from its output. */
export function sigmoidGrad(y: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  if (fused(SIMD_KERNELS.sigmoidGrad)) {
    return tf.engine().runKernel(SIMD_KERNELS.sigmoidGrad, { y, dy }) as tf.Tensor;
  }
  return tf.tidy(() => tf.mul(dy, tf.mul(y, tf.sub(1, y))));
}

/** `dy` where x > 0, else `slope * dy`: the leaky ReLU's input gradient. */
export function leakyReluGrad(x: tf.Tensor, dy: tf.Tensor, slope: number): tf.Tensor {
  if (fused(SIMD_KERNELS.leakyGrad)) {
    return tf.engine().runKernel(SIMD_KERNELS.leakyGrad, { x, dy }, { slope }) as tf.Tensor;
  }
  return tf.tidy(() => tf.mul(dy, tf.step(x, slope)));
}

/**
 * What LayerNorm and BatchNorm2d compute from their statistics (unfused):
 * [xhat * w + bias, xhat, rstd] with xhat = (x - mean) * rstd and rstd = 1 / sqrt(variance + eps).
 */
function normalise(
  x: tf.Tensor,
  mean: tf.Tensor,
  variance: tf.Tensor,
  eps: number,
  w: tf.Tensor,
  bias: tf.Tensor,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const rstd = tf.rsqrt(tf.add(variance, eps));
  const xhat = tf.mul(tf.sub(x, mean), rstd);
  return [tf.add(tf.mul(xhat, w), bias), xhat, rstd];
}

/**
 * The input gradient LayerNorm and BatchNorm2d share (unfused), with g = dy * w and the means
 * over the normalised `axes`: rstd * (g - mean(g) - xhat * mean(g * xhat)).
 */
function normInputGrad(
  dy: tf.Tensor,
  xhat: tf.Tensor,
  rstd: tf.Tensor,
  w: tf.Tensor,
  axes: number | number[],
): tf.Tensor {
  const g = tf.mul(dy, w);
  const meanG = tf.mean(g, axes, true);
  const meanGX = tf.mean(tf.mul(g, xhat), axes, true);
  return tf.mul(rstd, tf.sub(tf.sub(g, meanG), tf.mul(xhat, meanGX)));
}

/** Layer normalisation over the last axis: returns [y, xhat, rstd per row]. */
export function layerNorm(
  x: tf.Tensor,
  w: tf.Tensor,
  bias: tf.Tensor,
  eps: number,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  if (fused(SIMD_KERNELS.layerNorm)) {
    return tf.engine().runKernel(SIMD_KERNELS.layerNorm, { x, w, bias }, { eps }) as [
      tf.Tensor,
      tf.Tensor,
      tf.Tensor,
    ];
  }
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, x.rank - 1, true);
    const [y, xhat, rstd] = normalise(x, mean, variance, eps, w, bias);
    return [y, xhat, rstd.reshape([-1])];
  });
}

/** LayerNorm's backward: returns [dx, dweight, dbias] (parameter gradients summed over rows). */
export function layerNormGrad(
  dy: tf.Tensor,
  xhat: tf.Tensor,
  rstd: tf.Tensor,
  w: tf.Tensor,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  if (fused(SIMD_KERNELS.layerNormGrad)) {
    return tf.engine().runKernel(SIMD_KERNELS.layerNormGrad, { dy, xhat, rstd, w }) as [
      tf.Tensor,
      tf.Tensor,
      tf.Tensor,
    ];
  }
  return tf.tidy(() => {
    const axis = dy.rank - 1;
    const n = dy.shape[axis];
    const rows = dy.size / n;
    const d2 = dy.reshape([rows, n]), h2 = xhat.reshape([rows, n]);
    const dx = normInputGrad(d2, h2, rstd.reshape([rows, 1]), w, 1);
    return [dx.reshape(dy.shape), tf.sum(tf.mul(d2, h2), 0), tf.sum(d2, 0)];
  });
}

/** PyTorch's BCELoss (mean, logs clamped at -100) and its gradient: returns [loss, dL/dy]. */
export function bceWithGrad(y: tf.Tensor, t: tf.Tensor): [tf.Scalar, tf.Tensor] {
  if (fused(SIMD_KERNELS.bce)) {
    return tf.engine().runKernel(SIMD_KERNELS.bce, { y, t }) as [tf.Scalar, tf.Tensor];
  }
  return tf.tidy(() => {
    const logY = tf.maximum(tf.log(y), -100);
    const log1mY = tf.maximum(tf.log(tf.sub(1, y)), -100);
    const loss = tf.neg(
      tf.mean(tf.add(tf.mul(t, logY), tf.mul(tf.sub(1, t), log1mY))),
    ) as tf.Scalar;
    const denom = tf.maximum(tf.mul(y, tf.sub(1, y)), 1e-12);
    return [loss, tf.div(tf.div(tf.sub(y, t), denom), y.size)];
  });
}

/** Mean squared error and its gradient: returns [loss, dL/dy]. */
export function mseWithGrad(y: tf.Tensor, t: tf.Tensor): [tf.Scalar, tf.Tensor] {
  if (fused(SIMD_KERNELS.mse)) {
    return tf.engine().runKernel(SIMD_KERNELS.mse, { y, t }) as [tf.Scalar, tf.Tensor];
  }
  return tf.tidy(() => {
    const diff = tf.sub(y, t);
    return [tf.mean(tf.square(diff)) as tf.Scalar, tf.mul(diff, 2 / y.size)];
  });
}

/** BatchNorm2d's training-mode forward over NHWC: [y, xhat, rstd, new running mean, new running var]. */
export function batchNormTrain(
  x: tf.Tensor,
  w: tf.Tensor,
  bias: tf.Tensor,
  rm: tf.Tensor,
  rv: tf.Tensor,
  opts: { eps: number; momentum: number },
): [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor] {
  const { eps, momentum } = opts;
  if (fused(SIMD_KERNELS.batchNorm)) {
    return tf.engine().runKernel(
      SIMD_KERNELS.batchNorm,
      { x, w, bias, rm, rv },
      { eps, momentum },
    ) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
  }
  return tf.tidy(() => {
    const axes = x.shape.slice(0, -1).map((_, i) => i);
    const m = x.size / x.shape[x.rank - 1];
    const { mean, variance } = tf.moments(x, axes);
    const unbiased = m > 1 ? tf.mul(variance, m / (m - 1)) : variance;
    return [
      ...normalise(x, mean, variance, eps, w, bias),
      tf.add(tf.mul(rm, 1 - momentum), tf.mul(mean, momentum)),
      tf.add(tf.mul(rv, 1 - momentum), tf.mul(unbiased, momentum)),
    ];
  });
}

/** BatchNorm2d's training-mode backward: [dx, dweight, dbias]. */
export function batchNormGrad(
  dy: tf.Tensor,
  xhat: tf.Tensor,
  rstd: tf.Tensor,
  w: tf.Tensor,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  if (fused(SIMD_KERNELS.batchNormGrad)) {
    return tf.engine().runKernel(SIMD_KERNELS.batchNormGrad, { dy, xhat, rstd, w }) as [
      tf.Tensor,
      tf.Tensor,
      tf.Tensor,
    ];
  }
  return tf.tidy(() => {
    const axes = dy.shape.slice(0, -1).map((_, i) => i);
    const dx = normInputGrad(dy, xhat, rstd, w, axes);
    return [dx, tf.sum(tf.mul(dy, xhat), axes), tf.sum(dy, axes)];
  });
}

/**
 * BatchNorm2d's training forward followed by LeakyReLU(`slope`) as one kernel where the backend
 * has it (webgpu): [y, xhat, rstd, runningMean, runningVar] as batchNormTrain's, y activated;
 * null elsewhere (run the two layers apart).
 */
export function batchNormLeakyTrain(
  x: tf.Tensor,
  w: tf.Tensor,
  bias: tf.Tensor,
  rm: tf.Tensor,
  rv: tf.Tensor,
  opts: { eps: number; momentum: number; slope: number },
): [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor] | null {
  if (!fused(SIMD_KERNELS.batchNormLeaky) || !fused(SIMD_KERNELS.batchNormLeakyGrad)) return null;
  return tf.engine().runKernel(SIMD_KERNELS.batchNormLeaky, { x, w, bias, rm, rv }, opts) as [
    tf.Tensor,
    tf.Tensor,
    tf.Tensor,
    tf.Tensor,
    tf.Tensor,
  ];
}

/** The backward of {@link batchNormLeakyTrain} (only where it ran): [dx, dweight, dbias]. */
export function batchNormLeakyGrad(
  dy: tf.Tensor,
  xhat: tf.Tensor,
  rstd: tf.Tensor,
  w: tf.Tensor,
  bias: tf.Tensor,
  slope: number,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  return tf.engine().runKernel(
    SIMD_KERNELS.batchNormLeakyGrad,
    { dy, xhat, rstd, w, bias },
    { slope },
  ) as [tf.Tensor, tf.Tensor, tf.Tensor];
}

/** `x W^T + bias` for a batch x [n, in] and W [out, in]. */
export function linearBatch(x: tf.Tensor2D, W: tf.Tensor2D, bias?: tf.Tensor | null): tf.Tensor2D {
  if (fused(SIMD_KERNELS.matMulNT)) {
    const inputs: tf.NamedTensorMap = bias ? { x, W, bias } : { x, W };
    return tf.engine().runKernel(SIMD_KERNELS.matMulNT, inputs) as tf.Tensor2D;
  }
  // One fused op (a single dispatch on webgpu): the product with W transposed, plus bias.
  return tf.fused.matMul({ a: x, b: W, transposeB: true, bias: bias ?? undefined }) as tf.Tensor2D;
}

/** `d W` for d [n, out]: a linear layer's input gradient for a batch. */
export function linearBatchGradInput(d: tf.Tensor2D, W: tf.Tensor2D): tf.Tensor2D {
  if (fused(SIMD_KERNELS.matMulNN)) {
    return tf.engine().runKernel(SIMD_KERNELS.matMulNN, { d, W }) as tf.Tensor2D;
  }
  return tf.matMul(d, W);
}

/** Sums the rows of d [n, cols] (a linear layer's bias gradient for a batch). */
export function columnSum(d: tf.Tensor2D): tf.Tensor1D {
  if (fused(SIMD_KERNELS.columnSum)) {
    return tf.engine().runKernel(SIMD_KERNELS.columnSum, { d }) as tf.Tensor1D;
  }
  return tf.sum(d, 0);
}

/** `d^T x`: a linear layer's weight gradient for a batch. */
export function linearBatchGradWeight(d: tf.Tensor2D, x: tf.Tensor2D): tf.Tensor2D {
  if (fused(SIMD_KERNELS.matMulTN)) {
    return tf.engine().runKernel(SIMD_KERNELS.matMulTN, { d, x }) as tf.Tensor2D;
  }
  return tf.matMul(d, x, true, false);
}

/** GELU (exact, erf form) of x, and a function giving its input gradient from `dy`. */
export function gelu(x: tf.Tensor): [tf.Tensor, (dy: tf.Tensor) => tf.Tensor] {
  if (fused(SIMD_KERNELS.gelu)) {
    return [
      tf.engine().runKernel(SIMD_KERNELS.gelu, { x }) as tf.Tensor,
      (dy) => tf.engine().runKernel(SIMD_KERNELS.geluGrad, { x, dy }) as tf.Tensor,
    ];
  }
  const cdf = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
  const y = tf.mul(x, cdf);
  return [y, (dy) => {
    const pdf = tf.mul(1 / Math.sqrt(2 * Math.PI), tf.exp(tf.mul(-0.5, tf.square(x))));
    return tf.mul(dy, tf.add(cdf, tf.mul(x, pdf)));
  }];
}

/**
 * Fused SIMD kernels for the book's batch-1 training on the wasm backend.
 *
 * A per-sample step is dominated by a few passes over the big weight
 * matrices. TF.js spends several generic kernels on each (a broadcast
 * multiply by the learning rate, a subtract, a scalar-loop sqrt for Adam...),
 * so these fuse each pass into one SIMD loop (lib/simd.wat) that runs on the
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
} as const;

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
    const [p2, m2, v2] = [p, m, v].map((t) => b.makeOutput(t.shape, "float32"));
    kernelsFor(b).adam(
      off(b, p),
      off(b, g),
      off(b, m),
      off(b, v),
      off(b, p2),
      off(b, m2),
      off(b, v2),
      sizeOf(p),
      b1 as number,
      b2 as number,
      a as number,
      e as number,
    );
    return [p2, m2, v2];
  });
  // The forward product can sit under TF.js's own autodiff (tf.grad of a model).
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

/** True when the fused kernels serve the current backend. */
export function simdActive(): boolean {
  return tf.getBackend() === "wasm";
}

/** `W @ x + bias` for W [rows, cols] and x [cols]: a 1-D result. */
export function matVec(W: tf.Tensor2D, x: tf.Tensor1D, bias?: tf.Tensor1D | null): tf.Tensor1D {
  if (simdActive()) {
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
  if (simdActive()) return tf.engine().runKernel(SIMD_KERNELS.matVecT, { W, d }) as tf.Tensor1D;
  return tf.tidy(() => tf.matMul(d.reshape([1, -1]), W).reshape([-1]) as tf.Tensor1D);
}

/** `u x^T (+ acc)`: the weight gradient of a linear layer for one sample. */
export function outer(u: tf.Tensor1D, x: tf.Tensor1D, acc?: tf.Tensor2D | null): tf.Tensor2D {
  if (simdActive()) {
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
  if (simdActive()) return tf.engine().runKernel(SIMD_KERNELS.axpy, { p, g }, { a }) as T;
  return tf.tidy(() => tf.add(p, tf.mul(g, a)) as T);
}

/** Adam's update as one pass: returns new [p, m, v]; `a` and `e` carry the bias corrections. */
export function adamUpdate(
  p: tf.Tensor,
  g: tf.Tensor,
  state: { m: tf.Tensor; v: tf.Tensor; b1: number; b2: number; a: number; e: number },
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const { m, v, b1, b2, a, e } = state;
  if (simdActive()) {
    return tf.engine().runKernel(SIMD_KERNELS.adam, { p, g, m, v }, { b1, b2, a, e }) as [
      tf.Tensor,
      tf.Tensor,
      tf.Tensor,
    ];
  }
  return tf.tidy(() => {
    const m2 = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
    const v2 = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2));
    const p2 = tf.sub(p, tf.div(tf.mul(m2, a), tf.add(tf.sqrt(v2), e)));
    return [p2, m2, v2];
  });
}

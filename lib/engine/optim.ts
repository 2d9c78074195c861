/**
 * Optimisers with PyTorch's update rules and defaults.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Parameter } from "./nn.ts";
import { adamUpdateAll, axpy } from "../backends/simd.ts";

/** Serializable optimiser state, for checkpoints. */
export interface OptimizerState {
  step: number;
  slots: Record<string, { shape: number[]; data: Float32Array }[]>;
}

/** Common optimiser surface, like `torch.optim.Optimizer`. */
export abstract class Optimizer {
  /** Learning rate; may be changed between steps for a schedule (PyTorch: `param_groups[0]["lr"]`). */
  abstract lr: number;
  /** Updates are applied to these parameters. */
  constructor(readonly params: Parameter[]) {
    if (params.length === 0) {
      throw new Error("Optimizer got no parameters: pass model.parameters()");
    }
  }
  /** Drops every gradient (`optimiser.zero_grad()`). */
  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }
  /** Applies one update from the accumulated gradients (`optimiser.step()`). */
  abstract step(): void;
  /** State for checkpoints. */
  abstract stateDict(): OptimizerState;
  /** `stateDict()` with asynchronous reads (for GPU backends); by default the same. */
  stateDictAsync(): Promise<OptimizerState> {
    return Promise.resolve(this.stateDict());
  }
  /** Restores `stateDict()` output. */
  abstract loadStateDict(state: OptimizerState): void;
  /** Frees internal tensors. */
  dispose(): void {}
}

/** Stochastic gradient descent `p -= lr * grad`, like `torch.optim.SGD(params, lr)`. */
export class SGD extends Optimizer {
  lr: number;
  /** `lr` is required, as in PyTorch. */
  constructor(params: Parameter[], opts: { lr: number }) {
    super(params);
    this.lr = opts.lr;
  }
  /** One SGD update. */
  step(): void {
    tf.tidy(() => {
      for (const p of this.params) {
        if (p.grad) p.assign(axpy(p.value, p.grad, -this.lr));
      }
    });
  }
  /** SGD keeps no state besides its learning rate. */
  stateDict(): OptimizerState {
    return { step: 0, slots: {} };
  }
  /** Nothing to restore. */
  loadStateDict(_state: OptimizerState): void {}
}

/** Adam, like `torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)`. */
export class Adam extends Optimizer {
  lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  #t = 0;
  #m: tf.Tensor[];
  #v: tf.Tensor[];
  /** PyTorch's defaults unless given. */
  constructor(
    params: Parameter[],
    opts: { lr?: number; betas?: [number, number]; eps?: number } = {},
  ) {
    super(params);
    this.lr = opts.lr ?? 1e-3;
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    // Uploaded zeros, not a fill kernel: on webgpu a fill binds the whole tensor, which for
    // notebook 12's 133 MiB weight is more than a software adapter allows.
    const zeros = (p: Parameter) =>
      tf.keep(tf.tensor(new Float32Array(p.value.size), p.value.shape));
    this.#m = params.map(zeros);
    this.#v = params.map(zeros);
  }
  /** Number of updates applied so far. */
  get stepCount(): number {
    return this.#t;
  }
  /** One Adam update with bias correction. */
  step(): void {
    this.#t += 1;
    const [b1, b2] = this.betas;
    const bc1 = 1 - b1 ** this.#t;
    const bc2 = 1 - b2 ** this.#t;
    // p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps), written as
    // p -= a * m / (sqrt(v) + e) with a = lr sqrt(bc2) / bc1 and e = eps sqrt(bc2),
    // one fused pass per parameter, or on webgpu one dispatch for many (lib/backends/simd.ts).
    const a = this.lr * Math.sqrt(bc2) / bc1;
    const e = this.eps * Math.sqrt(bc2);
    tf.tidy(() => {
      const live = this.params.flatMap((p, i) => p.grad ? [i] : []);
      const ms = live.map((i) => this.#m[i]), vs = live.map((i) => this.#v[i]);
      const updated = adamUpdateAll(
        live.map((i) => this.params[i].value),
        live.map((i) => this.params[i].grad as tf.Tensor),
        { ms, vs, b1, b2, a, e },
      );
      live.forEach((i, j) => {
        this.params[i].assign(updated[j]);
        // On wasm and webgpu the moments were updated in place and are the same tensors.
        for (const [slots, now] of [[this.#m, ms], [this.#v, vs]]) {
          if (now[j] !== slots[i]) {
            slots[i].dispose();
            slots[i] = tf.keep(now[j]);
          }
        }
      });
    });
  }
  /** Moments and step count, for checkpoints. */
  stateDict(): OptimizerState {
    const dump = (ts: tf.Tensor[]) =>
      ts.map((t) => ({ shape: t.shape, data: t.dataSync() as Float32Array }));
    return { step: this.#t, slots: { m: dump(this.#m), v: dump(this.#v) } };
  }
  /** Moments and step count, read asynchronously (for GPU backends). */
  override async stateDictAsync(): Promise<OptimizerState> {
    const dump = (ts: tf.Tensor[]) =>
      Promise.all(
        ts.map(async (t) => ({ shape: t.shape, data: await t.data() as Float32Array })),
      );
    return { step: this.#t, slots: { m: await dump(this.#m), v: await dump(this.#v) } };
  }
  /** Restores moments and step count. */
  loadStateDict(state: OptimizerState): void {
    const { m, v } = state.slots;
    if (
      !m || !v || m.length !== this.params.length ||
      v.length !== this.params.length
    ) {
      throw new Error(
        "Adam state does not match these parameters: was it saved from the same network?",
      );
    }
    this.params.forEach((p, i) => {
      if (m[i].data.length !== p.size || v[i].data.length !== p.size) {
        throw new Error(
          `Adam state for parameter ${i} has the wrong size: expected ${p.size}`,
        );
      }
      this.#m[i].dispose();
      this.#v[i].dispose();
      this.#m[i] = tf.keep(
        tf.tensor(Float32Array.from(m[i].data), p.value.shape),
      );
      this.#v[i] = tf.keep(
        tf.tensor(Float32Array.from(v[i].data), p.value.shape),
      );
    });
    this.#t = state.step;
  }
  override dispose(): void {
    for (const t of [...this.#m, ...this.#v]) t.dispose();
  }
}

/**
 * The learning rate at global step `g` (0-based) of `total`: `lr`, or with `lrEnd` a
 * straight line from `lr` at the first step to `lrEnd` at the last.
 */
export function scheduledLr(
  lr: number,
  lrEnd: number | undefined,
  g: number,
  total: number,
): number {
  if (lrEnd === undefined || total <= 1) return lr;
  return lr + (lrEnd - lr) * Math.min(1, g / (total - 1));
}

/**
 * Optimisers with PyTorch's update rules and defaults.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Parameter } from "./nn.ts";

/** Serializable optimiser state, for checkpoints. */
export interface OptimizerState {
  step: number;
  slots: Record<string, { shape: number[]; data: Float32Array }[]>;
}

/** Common optimiser surface, like `torch.optim.Optimizer`. */
export abstract class Optimizer {
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
  /** Restores `stateDict()` output. */
  abstract loadStateDict(state: OptimizerState): void;
  /** Frees internal tensors. */
  dispose(): void {}
}

/** Stochastic gradient descent `p -= lr * grad`, like `torch.optim.SGD(params, lr)`. */
export class SGD extends Optimizer {
  readonly lr: number;
  #lr: tf.Scalar;
  /** `lr` is required, as in PyTorch. */
  constructor(params: Parameter[], opts: { lr: number }) {
    super(params);
    this.lr = opts.lr;
    // A scalar made from a JS number is uploaded on every op: keep one.
    this.#lr = tf.keep(tf.scalar(opts.lr));
  }
  /** One SGD update. */
  step(): void {
    tf.tidy(() => {
      for (const p of this.params) {
        if (p.grad) p.assign(tf.sub(p.value, tf.mul(p.grad, this.#lr)));
      }
    });
  }
  /** SGD keeps no state besides its learning rate. */
  stateDict(): OptimizerState {
    return { step: 0, slots: {} };
  }
  /** Nothing to restore. */
  loadStateDict(_state: OptimizerState): void {}
  override dispose(): void {
    this.#lr.dispose();
  }
}

/** Adam, like `torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)`. */
export class Adam extends Optimizer {
  readonly lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  #t = 0;
  #m: tf.Tensor[];
  #v: tf.Tensor[];
  #b1: tf.Scalar;
  #b2: tf.Scalar;
  #c1: tf.Scalar;
  #c2: tf.Scalar;
  /** PyTorch's defaults unless given. */
  constructor(
    params: Parameter[],
    opts: { lr?: number; betas?: [number, number]; eps?: number } = {},
  ) {
    super(params);
    this.lr = opts.lr ?? 1e-3;
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.#m = params.map((p) => tf.keep(tf.zerosLike(p.value)));
    this.#v = params.map((p) => tf.keep(tf.zerosLike(p.value)));
    this.#b1 = tf.keep(tf.scalar(this.betas[0]));
    this.#b2 = tf.keep(tf.scalar(this.betas[1]));
    this.#c1 = tf.keep(tf.scalar(1 - this.betas[0]));
    this.#c2 = tf.keep(tf.scalar(1 - this.betas[1]));
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
    tf.tidy(() => {
      // p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps), written as
      // p -= a * m / (sqrt(v) + e) with a = lr sqrt(bc2) / bc1 and e = eps sqrt(bc2).
      const a = tf.scalar(this.lr * Math.sqrt(bc2) / bc1);
      const e = tf.scalar(this.eps * Math.sqrt(bc2));
      this.params.forEach((p, i) => {
        const g = p.grad;
        if (!g) return;
        const m = tf.add(tf.mul(this.#m[i], this.#b1), tf.mul(g, this.#c1));
        const v = tf.add(
          tf.mul(this.#v[i], this.#b2),
          tf.mul(tf.square(g), this.#c2),
        );
        p.assign(tf.sub(p.value, tf.div(tf.mul(m, a), tf.add(tf.sqrt(v), e))));
        this.#m[i].dispose();
        this.#v[i].dispose();
        this.#m[i] = tf.keep(m);
        this.#v[i] = tf.keep(v);
      });
    });
  }
  /** Moments and step count, for checkpoints. */
  stateDict(): OptimizerState {
    const dump = (ts: tf.Tensor[]) =>
      ts.map((t) => ({ shape: t.shape, data: t.dataSync() as Float32Array }));
    return { step: this.#t, slots: { m: dump(this.#m), v: dump(this.#v) } };
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
    for (
      const t of [
        ...this.#m,
        ...this.#v,
        this.#b1,
        this.#b2,
        this.#c1,
        this.#c2,
      ]
    ) t.dispose();
  }
}

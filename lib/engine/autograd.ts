/**
 * Layer-level automatic differentiation.
 *
 * PyTorch records every elementary op; TF.js's tape does too, but on the wasm
 * backend the tape's bookkeeping (cloning saved tensors, generic gradient
 * kernels) costs more than the maths of a batch-1 step. Here each module
 * records ONE node with an analytic backward, so `loss.backward()` runs a
 * handful of fast kernels, as PyTorch's C++ autograd would.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Computes input gradients from the output gradient; `needs[i]` says if input i wants one. */
export type BackwardFn = (
  dy: tf.Tensor,
  needs: readonly boolean[],
) => (tf.Tensor | null)[];

interface Node {
  parents: (Node | null)[];
  backward: BackwardFn;
}

const nodes = new WeakMap<tf.Tensor, Node>();

let one: tf.Scalar | null = null;

/** The gradient `backward()` starts a scalar loss from; losses recognise it to skip a multiply. */
export function seedGradient(): tf.Scalar {
  // Made on first use, once a backend is chosen (not at import time).
  if (!one || one.isDisposed) one = tf.keep(tf.scalar(1));
  return one;
}
let enabled = true;

/** True while operations are recorded for `backward()` (the default, as in PyTorch). */
export function isGradEnabled(): boolean {
  return enabled;
}

/** Runs `fn` without recording gradients, like `with torch.no_grad():`. */
export function noGrad<T>(fn: () => T): T {
  const before = enabled;
  enabled = false;
  try {
    return fn();
  } finally {
    enabled = before;
  }
}

/** True when `t` carries gradient history (it was made by a recorded module). */
export function requiresGrad(t: tf.Tensor): boolean {
  return nodes.has(t);
}

/**
 * Records that `output` was computed from `inputs`, with its backward function.
 * `leaf` is true when the op owns parameters, so it must run even if no input
 * needs a gradient (the first layer of a network).
 */
export function record<T extends tf.Tensor>(
  output: T,
  inputs: readonly tf.Tensor[],
  backward: BackwardFn,
  leaf = false,
): T {
  if (!enabled) return output;
  const parents = inputs.map((t) => nodes.get(t) ?? null);
  if (!leaf && parents.every((p) => p === null)) return output;
  nodes.set(output, { parents, backward });
  return output;
}

/** A copy of `t` with no gradient history, like PyTorch's `tensor.detach()`. */
export function detach<T extends tf.Tensor>(t: T): T {
  // clone() shares the data buffer, so this costs no copy.
  return t.clone();
}

/**
 * Back-propagates from `output` (a scalar loss unless `dy` is given), adding
 * gradients into every recorded parameter's `.grad`, like `loss.backward()`.
 */
export function backward(output: tf.Tensor, dy?: tf.Tensor): void {
  const root = nodes.get(output);
  if (!root) {
    throw new Error(
      "Tensor has no gradient history: compute it with recorded modules outside noGrad(), and do not detach() it",
    );
  }
  if (!dy && output.size !== 1) {
    throw new Error(
      `backward() needs a gradient for a non-scalar tensor of shape [${output.shape}]: pass dy`,
    );
  }
  const order: Node[] = [];
  const seen = new Set<Node>();
  const visit = (n: Node) => {
    if (seen.has(n)) return;
    seen.add(n);
    for (const p of n.parents) if (p) visit(p);
    order.push(n);
  };
  visit(root);
  tf.tidy(() => {
    const grads = new Map<Node, tf.Tensor>();
    const seed = seedGradient();
    grads.set(root, dy ?? (output.rank === 0 ? seed : seed.reshape(output.shape)));
    for (let i = order.length - 1; i >= 0; i--) {
      const node = order[i];
      const g = grads.get(node);
      if (!g) continue;
      grads.delete(node);
      const needs = node.parents.map((p) => p !== null);
      const inGrads = node.backward(g, needs);
      node.parents.forEach((p, j) => {
        const gj = inGrads[j];
        if (!p || !gj) return;
        const prev = grads.get(p);
        grads.set(p, prev ? tf.add(prev, gj) : gj);
      });
    }
  });
}

/**
 * Helpers for running the library on numbers PyTorch wrote, shared by tests/golden_test.ts
 * (fixtures from scripts/pytorch_golden.py) and scripts/conv_gan_dynamics.ts (initial weights
 * from scripts/pytorch_conv_gan_run.py).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Loss, LossFunction, Module, Parameter } from "../lib/engine/mod.ts";

/**
 * A PyTorch-layout tensor in the library's layout, converted explicitly by name:
 * - `undefined`: unchanged;
 * - `"NCHW"`: images and maps to NHWC;
 * - `"OIHW"` (Conv2d weight [out, in, kh, kw]) -> [kh, kw, in, out], `"IOHW"` (ConvTranspose2d
 *   weight [in, out, kh, kw]) -> [kh, kw, out, in];
 * - `"cols:C,H,W"`: a Linear weight [out, C*H*W] reading flattened maps, columns (c, h, w) ->
 *   (h, w, c);
 * - `"rows:C,H,W"`: a Linear weight [C*H*W, in] or bias [C*H*W] feeding a View into maps,
 *   rows (c, h, w) -> (h, w, c).
 */
export function fromTorchLayout(x: tf.Tensor, layout: string | undefined): tf.Tensor {
  if (layout === undefined) return x;
  if (layout === "NCHW") return tf.transpose(x, [0, 2, 3, 1]);
  if (layout === "OIHW" || layout === "IOHW") return tf.transpose(x, [2, 3, 1, 0]);
  const m = layout.match(/^(cols|rows):(\d+),(\d+),(\d+)$/);
  if (m) {
    const [c, h, w] = [+m[2], +m[3], +m[4]];
    if (m[1] === "cols") {
      const out = x.shape[0];
      return tf.transpose(x.reshape([out, c, h, w]), [0, 2, 3, 1]).reshape(x.shape);
    }
    const rest = x.size / (c * h * w);
    return tf.transpose(x.reshape([c, h, w, rest]), [1, 2, 0, 3]).reshape(x.shape);
  }
  throw new Error(`unknown layout ${layout}`);
}

/** Parameters and buffers of a module by PyTorch's state_dict key (Sequential: "0.weight"). */
export function torchState(m: Module): Map<string, Parameter> {
  return new Map(
    [...m.namedParameters(), ...m.namedBuffers()].map(([k, p]) => [k.replace(/^layers\./, ""), p]),
  );
}

/** A loss function that also keeps a copy of every loss it computes, in order. */
export function recordingLoss(inner: LossFunction, into: tf.Tensor[]): LossFunction {
  return {
    forward(outputs: tf.Tensor, targets: tf.Tensor): Loss {
      const loss = inner.forward(outputs, targets);
      into.push(tf.keep(loss.value.clone()));
      return loss;
    },
  };
}

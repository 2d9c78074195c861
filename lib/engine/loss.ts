/**
 * Loss functions with PyTorch's definitions (mean reduction).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { backward, record, seedGradient } from "./autograd.ts";
import { bceWithGrad, mseWithGrad } from "../backends/simd.ts";

/** A scalar loss that can back-propagate, like a PyTorch loss tensor. */
export class Loss {
  /** Wraps the scalar tensor produced by a loss function. */
  constructor(readonly value: tf.Scalar) {}
  /** Adds gradients into every parameter that produced it (`loss.backward()`). */
  backward(): void {
    backward(this.value);
  }
  /** The loss as a JS number (`loss.item()`); a synchronous read. */
  item(): number {
    return this.value.dataSync()[0];
  }
}

function checkShapes(
  who: string,
  outputs: tf.Tensor,
  targets: tf.Tensor,
): void {
  if (outputs.shape.join() !== targets.shape.join()) {
    throw new Error(
      `${who} got outputs of shape [${outputs.shape}] and targets of shape [${targets.shape}]: they must match`,
    );
  }
}

/** Wraps a loss and its precomputed gradient as a recorded node. */
function lossNode(outputs: tf.Tensor, [loss, grad]: [tf.Scalar, tf.Tensor]): Loss {
  // loss.backward() starts from exactly 1, so the gradient needs no scaling then.
  return new Loss(
    record(loss, [outputs], (dy) => [dy === seedGradient() ? grad : tf.mul(grad, dy)]),
  );
}

/** Mean squared error, like `nn.MSELoss()`. */
export class MSELoss {
  /** mean((outputs - targets)^2). */
  forward(outputs: tf.Tensor, targets: tf.Tensor): Loss {
    checkShapes("MSELoss", outputs, targets);
    return lossNode(outputs, mseWithGrad(outputs, targets));
  }
}

/** PyTorch clamps each log term of BCELoss at -100 so a saturated output never gives Infinity. */
export const BCE_LOG_CLAMP = -100;

/** Binary cross-entropy on probabilities, like `nn.BCELoss()` (logs clamped at -100). */
export class BCELoss {
  /** -mean(t log y + (1 - t) log(1 - y)). */
  forward(outputs: tf.Tensor, targets: tf.Tensor): Loss {
    checkShapes("BCELoss", outputs, targets);
    return lossNode(outputs, bceWithGrad(outputs, targets));
  }
}

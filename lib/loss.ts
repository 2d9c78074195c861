/**
 * Loss functions with PyTorch's definitions (mean reduction).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { backward, record } from "./autograd.ts";

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

/** Mean squared error, like `nn.MSELoss()`. */
export class MSELoss {
  /** mean((outputs - targets)^2). */
  forward(outputs: tf.Tensor, targets: tf.Tensor): Loss {
    checkShapes("MSELoss", outputs, targets);
    const diff = tf.sub(outputs, targets);
    const loss = tf.mean(tf.square(diff)) as tf.Scalar;
    const scale = 2 / outputs.size;
    return new Loss(
      record(loss, [outputs], (dy) => [tf.mul(diff, tf.mul(dy, scale))]),
    );
  }
}

/** PyTorch clamps each log term of BCELoss at -100 so a saturated output never gives Infinity. */
export const BCE_LOG_CLAMP = -100;
/** PyTorch's BCELoss backward divides by max(y (1 - y), 1e-12). */
const BCE_GRAD_EPS = 1e-12;

/** Binary cross-entropy on probabilities, like `nn.BCELoss()` (logs clamped at -100). */
export class BCELoss {
  /** -mean(t log y + (1 - t) log(1 - y)). */
  forward(outputs: tf.Tensor, targets: tf.Tensor): Loss {
    checkShapes("BCELoss", outputs, targets);
    const logY = tf.maximum(tf.log(outputs), BCE_LOG_CLAMP);
    const log1mY = tf.maximum(tf.log(tf.sub(1, outputs)), BCE_LOG_CLAMP);
    const loss = tf.neg(
      tf.mean(
        tf.add(tf.mul(targets, logY), tf.mul(tf.sub(1, targets), log1mY)),
      ),
    ) as tf.Scalar;
    const n = outputs.size;
    return new Loss(record(loss, [outputs], (dy) => {
      const denom = tf.maximum(
        tf.mul(outputs, tf.sub(1, outputs)),
        BCE_GRAD_EPS,
      );
      return [tf.mul(tf.div(tf.sub(outputs, targets), denom), tf.div(dy, n))];
    }));
  }
}

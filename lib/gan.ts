/**
 * The book's GAN pattern: a discriminator trained like a classifier, and a
 * generator trained through the discriminator, which it does not update.
 * The same classes serve the 1010, MNIST and face GANs; the conditional GAN
 * adds a label tensor to every call.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { detach } from "./autograd.ts";
import { cat } from "./nn.ts";
import { Model, Trainable } from "./model.ts";
import type { Figure, ProgressOptions } from "./plot.ts";

/** The book's y-ticks for BCE loss charts. */
export const BCE_YTICKS = [0, 0.25, 0.5, 1.0, 5.0];

/**
 * Runs a generator step in a tidy with D's parameters frozen: their gradients would be
 * zeroed before D's next update anyway, so skipping them changes nothing but the time.
 */
function withFrozen(D: Trainable, step: () => void): void {
  tf.tidy(() => {
    D.requiresGrad_(false);
    try {
      step();
    } finally {
      D.requiresGrad_(true);
    }
  });
}

/** Discriminator: `train(inputs, targets)` as a classifier, with the book's BCE loss chart. */
export class Discriminator extends Model {
  override plotProgress(options: ProgressOptions = {}): Figure {
    return super.plotProgress({ ylim: 0, yticks: BCE_YTICKS, ...options });
  }
}

/**
 * Generator: `train(D, inputs, targets)` back-propagates D's loss on G's
 * output through D into G, and steps only G's optimiser.
 */
export class Generator extends Trainable {
  /** The book's generator does not print its counter. */
  override printEvery = 0;

  /** One generator step: D judges G(inputs) against `targets` (the book uses 1.0). */
  train(D: Trainable, inputs: tf.Tensor, targets: tf.Tensor): void {
    withFrozen(
      D,
      () => this.optimise(D.lossFunction.forward(D.forward(this.forward(inputs)), targets)),
    );
  }

  override plotProgress(options: ProgressOptions = {}): Figure {
    return super.plotProgress({ ylim: 0, yticks: BCE_YTICKS, ...options });
  }
}

/** Conditional discriminator: the label is concatenated to the image (the book's chapter 3.2). */
export class ConditionalDiscriminator extends Trainable {
  /** D(image, label) = model(cat(image, label)). */
  override forward(inputs: tf.Tensor, labels: tf.Tensor): tf.Tensor {
    return this.model.forward(cat([inputs, labels]));
  }

  /** One step on an image with its label. */
  train(inputs: tf.Tensor, labels: tf.Tensor, targets: tf.Tensor): void {
    tf.tidy(() => this.optimise(this.lossFunction.forward(this.forward(inputs, labels), targets)));
  }

  override plotProgress(options: ProgressOptions = {}): Figure {
    return super.plotProgress({ ylim: 0, yticks: BCE_YTICKS, ...options });
  }
}

/** Conditional generator: the label is concatenated to the seed. */
export class ConditionalGenerator extends Trainable {
  /** The book's generator does not print its counter. */
  override printEvery = 0;

  /** G(seed, label) = model(cat(seed, label)). */
  override forward(seed: tf.Tensor, labels: tf.Tensor): tf.Tensor {
    return this.model.forward(cat([seed, labels]));
  }

  /** One step: D judges G(seed, label) with the same label against `targets`. */
  train(
    D: ConditionalDiscriminator,
    inputs: tf.Tensor,
    labels: tf.Tensor,
    targets: tf.Tensor,
  ): void {
    withFrozen(
      D,
      () =>
        this.optimise(
          D.lossFunction.forward(D.forward(this.forward(inputs, labels), labels), targets),
        ),
    );
  }

  override plotProgress(options: ProgressOptions = {}): Figure {
    return super.plotProgress({ ylim: 0, yticks: BCE_YTICKS, ...options });
  }
}

export { detach };

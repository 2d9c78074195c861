/**
 * The book's GAN pattern: a discriminator trained like a classifier, and a
 * generator trained through the discriminator, which it does not update.
 * The same classes serve the 1010, MNIST and face GANs; the conditional GAN
 * adds a label tensor to every call. {@link sampleGenerator} draws samples
 * from any generator network.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { detach, noGrad } from "./autograd.ts";
import { cat, type Module } from "./nn.ts";
import { Model, Trainable } from "./model.ts";
import type { Figure, ProgressOptions } from "../display/plot.ts";
import { generateRandomSeed } from "./random.ts";

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

/** Options of {@link sampleGenerator}. */
export interface SampleOptions {
  /** Length of one seed; default 100 (the book's MNIST generator). */
  seedSize?: number;
  /** Run all seeds as one batch (default true); false calls the generator once per seed, as the book does. */
  batch?: boolean;
}

/** `n` generated images [n, outputs] from normal seeds drawn from the shared random stream; the caller disposes. */
export function sampleGenerator(G: Module, n: number, opts: SampleOptions = {}): tf.Tensor2D {
  if (!(Number.isInteger(n) && n >= 1)) {
    throw new RangeError(`sampleGenerator needs a whole number of samples of 1 or more, got ${n}`);
  }
  const seedSize = opts.seedSize ?? 100;
  return tf.tidy(() =>
    noGrad(() => {
      if (opts.batch !== false) {
        const out = G.forward(generateRandomSeed([n, seedSize]));
        return out.reshape([n, out.size / n]) as tf.Tensor2D;
      }
      const rows: tf.Tensor[] = [];
      for (let i = 0; i < n; i++) rows.push(G.forward(generateRandomSeed(seedSize)).flatten());
      return tf.stack(rows) as tf.Tensor2D;
    })
  );
}

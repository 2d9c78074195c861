/**
 * The book's model pattern: a network, a loss function and an optimiser in one
 * class with `forward()`, `train(inputs, targets)`, a counter, a progress list
 * and `plotProgress()`. The classifier and the discriminators extend it as is.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Module } from "./nn.ts";
import type { Loss } from "./loss.ts";
import type { Optimizer } from "./optim.ts";
import { type Figure, plotProgress, type ProgressOptions } from "../display/plot.ts";

/** Anything with PyTorch's loss-function shape. */
export interface LossFunction {
  /** Computes a scalar loss that can back-propagate. */
  forward(outputs: tf.Tensor, targets: tf.Tensor): Loss;
}

/** False on backends whose tensors live on a GPU and can only be read with `await data()`. */
export function syncReads(): boolean {
  return tf.getBackend() !== "webgpu";
}

/** The book records the loss every 10 training calls. */
export const PROGRESS_EVERY = 10;
/** The book prints the counter every 10,000 training calls. */
export const PRINT_EVERY = 10_000;

/** Thrown when a loss becomes NaN or infinite, naming the step. */
export class NonFiniteLossError extends Error {
  /** The counter value at which the loss went bad. */
  constructor(readonly step: number, readonly value: number, who: string) {
    super(
      `${who} loss became ${value} at step ${step}: lower the learning rate or check the inputs for NaN`,
    );
    this.name = "NonFiniteLossError";
  }
}

/**
 * What every model of the book shares: a network, a loss function, an
 * optimiser, a counter and a progress list. Subclasses set `model`,
 * `lossFunction` and `optimiser` in their constructor, as the book's
 * `__init__` does, and add a `train()` method.
 */
export class Trainable extends Module {
  /** The network. */
  model!: Module;
  /** The loss function (MSELoss, BCELoss). */
  lossFunction!: LossFunction;
  /** The optimiser over `this.parameters()`. */
  optimiser!: Optimizer;
  /** Number of `train()` calls so far. */
  counter = 0;
  /**
   * Loss every `progressEvery` calls. On a GPU backend a value is read asynchronously: its
   * slot holds NaN until it arrives (a real NaN loss throws NonFiniteLossError instead).
   */
  progress: number[] = [];
  /** How often the loss is recorded (the book: 10). */
  progressEvery = PROGRESS_EVERY;
  /** How often the counter is printed (the book: 10,000); 0 turns it off. */
  printEvery = PRINT_EVERY;

  /** The latest recorded loss that has arrived (see `progress`); undefined before any. */
  get lastLoss(): number | undefined {
    return this.progress.findLast((v) => !Number.isNaN(v));
  }

  /** Runs the network, like the book's `forward()`. */
  forward(...inputs: tf.Tensor[]): tf.Tensor {
    return this.model.forward(inputs[0]);
  }

  /** A non-finite loss seen by an asynchronous read, thrown at the next step. */
  #pendingError: NonFiniteLossError | null = null;

  /** Records the loss every `progressEvery` calls and prints every `printEvery`. */
  protected track(loss: Loss): void {
    if (this.#pendingError) throw this.#pendingError;
    this.counter += 1;
    if (this.counter % this.progressEvery === 0) {
      if (syncReads()) {
        const v = loss.item();
        if (!Number.isFinite(v)) {
          throw new NonFiniteLossError(this.counter, v, this.constructor.name);
        }
        this.progress.push(v);
      } else {
        // GPU backends (webgpu) cannot read synchronously: fill the slot when the value arrives.
        const slot = this.progress.push(NaN) - 1;
        const step = this.counter;
        const kept = tf.keep(loss.value.clone());
        kept.data().then((d) => {
          this.progress[slot] = d[0];
          if (!Number.isFinite(d[0]) && !this.#pendingError) {
            this.#pendingError = new NonFiniteLossError(step, d[0], this.constructor.name);
          }
        }).finally(() => kept.dispose());
      }
    }
    if (this.printEvery > 0 && this.counter % this.printEvery === 0) {
      console.log("counter = ", this.counter);
    }
  }

  /** The book's update from a computed loss: record it, zero-grad, backward, step. */
  protected optimise(loss: Loss): void {
    this.track(loss);
    this.optimiser.zeroGrad();
    loss.backward();
    this.optimiser.step();
  }

  /** The loss chart, like the book's `plot_progress()`. */
  plotProgress(options: ProgressOptions = {}): Figure {
    return plotProgress(this.progress, {
      title: `${this.constructor.name} loss`,
      ...options,
    });
  }

  override dispose(): void {
    super.dispose();
    this.optimiser?.dispose();
  }
}

/** The classifier and discriminator pattern: `train(inputs, targets)`. */
export class Model extends Trainable {
  /** One training step on one sample (or batch): forward, loss, zero-grad, backward, step. */
  train(inputs: tf.Tensor, targets: tf.Tensor): void {
    tf.tidy(() => this.optimise(this.lossFunction.forward(this.forward(inputs), targets)));
  }
}

/**
 * The book's MNIST classifier (notebooks 03 and 04) as library code: the six
 * variants of chapter 1, per-sample training epochs and test accuracy, for
 * the scripts that reproduce the book's accuracy table and train the
 * classifier the GAN notebooks use to judge generated digits.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { noGrad } from "../engine/autograd.ts";
import { tensorData } from "../backends/backend.ts";
import { loadCheckpoint, readCheckpoint } from "../engine/checkpoint.ts";
import { BCELoss, MSELoss } from "../engine/loss.ts";
import { MNIST_CLASSES, MNIST_PIXELS, type MnistDataset } from "../data/mnist.ts";
import { Model } from "../engine/model.ts";
import { LayerNorm, LeakyReLU, Linear, type Module, Sequential, Sigmoid } from "../engine/nn.ts";
import { Adam, SGD } from "../engine/optim.ts";
import { type ProgressBar, progressBar } from "../display/progress.ts";
import { classifierCheckpoint } from "../settings.ts";

/** The book's classifier variants: notebook 03's network and the refinements of notebook 04. */
export type ClassifierVariant =
  | "mse_sigmoid_sgd"
  | "bce"
  | "leaky_relu"
  | "adam"
  | "layer_norm"
  | "combined";

/** Every variant, in the order the book introduces them. */
export const CLASSIFIER_VARIANTS: readonly ClassifierVariant[] = [
  "mse_sigmoid_sgd",
  "bce",
  "leaky_relu",
  "adam",
  "layer_norm",
  "combined",
];

/** What each variant changes, in words. */
export const VARIANT_DESCRIPTIONS: Record<ClassifierVariant, string> = {
  mse_sigmoid_sgd: "MSE loss, sigmoid, SGD lr 0.01 (notebook 03)",
  bce: "BCE loss instead of MSE",
  leaky_relu: "LeakyReLU(0.02) instead of sigmoid",
  adam: "Adam instead of SGD",
  layer_norm: "LayerNorm(200) before the last layer",
  combined: "BCE + LeakyReLU(0.02) + LayerNorm(200) + Adam, sigmoid output",
};

/** Test accuracy the book reports for each variant after 3 epochs, batch size 1 (sections 1.2.9-1.3.5). */
export const BOOK_ACCURACY: Record<ClassifierVariant, number> = {
  mse_sigmoid_sgd: 0.87,
  bce: 0.91,
  leaky_relu: 0.97,
  adam: 0.97,
  layer_norm: 0.91,
  combined: 0.97,
};

/** Hidden layer size of the book's classifier (carried over from *Make Your Own Neural Network*). */
export const HIDDEN_SIZE = 200;
/** The book's LeakyReLU slope for negative inputs. */
export const LEAKY_SLOPE = 0.02;
/** The book's SGD learning rate. */
export const SGD_LR = 0.01;

/** Throws a clear error for a name that is not a variant; returns it typed. */
export function parseVariant(name: string): ClassifierVariant {
  if (!(CLASSIFIER_VARIANTS as readonly string[]).includes(name)) {
    throw new Error(
      `Unknown classifier variant "${name}": use one of ${CLASSIFIER_VARIANTS.join(", ")}`,
    );
  }
  return name as ClassifierVariant;
}

function network(variant: ClassifierVariant): Sequential {
  const hidden = variant === "leaky_relu" || variant === "combined"
    ? new LeakyReLU(LEAKY_SLOPE)
    : new Sigmoid();
  // LeakyReLU on the output only in the leaky_relu step: BCE needs outputs in
  // 0-1, so the combined network keeps a sigmoid there (section 1.3.5).
  const output = variant === "leaky_relu" ? new LeakyReLU(LEAKY_SLOPE) : new Sigmoid();
  // Section 1.3.4's text resets to MSE + sigmoid + SGD and adds only the
  // LayerNorm; its listing shows LeakyReLU, copied from the step before. We
  // follow the text: the book's 91 % (vs 97 % for LeakyReLU alone) fits it.
  const norm = variant === "layer_norm" || variant === "combined"
    ? [new LayerNorm(HIDDEN_SIZE)]
    : [];
  return new Sequential(
    new Linear(MNIST_PIXELS, HIDDEN_SIZE),
    hidden,
    ...norm,
    new Linear(HIDDEN_SIZE, MNIST_CLASSES),
    output,
  );
}

/** The book's `Classifier`: a 784-200-10 network, its loss function and its optimiser for one variant. */
export class Classifier extends Model {
  /** Builds the network of `variant` (default: notebook 03's) with PyTorch's initialisation. */
  constructor(readonly variant: ClassifierVariant = "mse_sigmoid_sgd") {
    super();
    parseVariant(variant);
    this.model = network(variant);
    this.lossFunction = variant === "bce" || variant === "combined" ? new BCELoss() : new MSELoss();
    this.optimiser = variant === "adam" || variant === "combined"
      ? new Adam(this.parameters())
      : new SGD(this.parameters(), { lr: SGD_LR });
  }
}

/** Makes a fresh classifier of one of the book's variants (seed first with `manualSeed` to repeat a run). */
export function makeClassifier(variant: ClassifierVariant): Classifier {
  return new Classifier(variant);
}

/** Options of {@link trainEpochs}. */
export interface TrainEpochsOptions {
  /** Passes over the data (the book: 3). */
  epochs?: number;
  /** Train on only the first `limit` items of each epoch (quick mode). */
  limit?: number;
  /** Show a progress bar per epoch with the latest recorded loss (default false). */
  progress?: boolean;
  /** Called after every training step with the step count (from 1) and the epoch (from 1). */
  onStep?: (step: number, epoch: number) => void;
  /** Called after every epoch (from 1). */
  onEpoch?: (epoch: number) => void | Promise<void>;
}

/**
 * Trains `model` one sample at a time over the dataset in order, `epochs` times,
 * as the book's training cell does (`for label, image, target in mnist_dataset`).
 */
export async function trainEpochs(
  model: Model,
  dataset: MnistDataset,
  opts: TrainEpochsOptions = {},
): Promise<void> {
  const epochs = opts.epochs ?? 3;
  if (!(Number.isInteger(epochs) && epochs >= 0)) {
    throw new RangeError(
      `epochs must be a whole number, got ${epochs}: pass e.g. 3`,
    );
  }
  const n = Math.min(dataset.length, opts.limit ?? Infinity);
  let step = 0;
  for (let epoch = 1; epoch <= epochs; epoch++) {
    let bar: ProgressBar | undefined;
    if (opts.progress) {
      bar = progressBar(n, { label: `epoch ${epoch} of ${epochs}` });
    }
    for (let i = 0; i < n; i++) {
      const [, image, target] = dataset.get(i);
      try {
        model.train(image, target);
      } finally {
        image.dispose();
        target.dispose();
      }
      step++;
      opts.onStep?.(step, epoch);
      if (bar) {
        const last = model.lastLoss;
        bar.update(i + 1, last === undefined ? undefined : { loss: last });
      }
    }
    bar?.done();
    await opts.onEpoch?.(epoch);
  }
}

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** Score only the first `limit` items (quick mode). */
  limit?: number;
  /** Images per forward pass; 1 is the book's loop, larger is faster and scores the same. Default 1000. */
  batchSize?: number;
}

/** Number of test items that `model` labels correctly (argmax of the output equals the label). */
export async function score(
  model: Module,
  dataset: MnistDataset,
  opts: EvaluateOptions = {},
): Promise<number> {
  const n = Math.min(dataset.length, opts.limit ?? Infinity);
  const batchSize = opts.batchSize ?? 1000;
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) {
    throw new RangeError(
      `batchSize must be a whole number of 1 or more, got ${batchSize}`,
    );
  }
  return await countCorrect(
    dataset,
    n,
    batchSize,
    (images) => tensorData(() => noGrad(() => tf.argMax(model.forward(images), 1))),
  );
}

/**
 * How many of the first `n` items of `dataset` `labelsOf` labels correctly, given their images
 * `batchSize` at a time: the scoring loop of the MLP ({@linkcode score}) and CNN classifiers.
 */
export async function countCorrect(
  dataset: MnistDataset,
  n: number,
  batchSize: number,
  labelsOf: (images: tf.Tensor2D) => Promise<ArrayLike<number>>,
): Promise<number> {
  let correct = 0;
  for (let start = 0; start < n; start += batchSize) {
    const indices = Array.from({ length: Math.min(batchSize, n - start) }, (_, k) => start + k);
    const batch = dataset.batch(indices);
    try {
      const labels = await labelsOf(batch.images);
      batch.labels.forEach((label, k) => {
        if (labels[k] === label) correct++;
      });
    } finally {
      tf.dispose([batch.images, batch.targets]);
    }
  }
  return correct;
}

/** Fraction of test items that `model` labels correctly, like the book's `score / items`. */
export async function evaluate(
  model: Module,
  dataset: MnistDataset,
  opts: EvaluateOptions = {},
): Promise<number> {
  const n = Math.min(dataset.length, opts.limit ?? Infinity);
  if (n === 0) {
    throw new Error("Cannot evaluate on an empty dataset: pass test images");
  }
  return await score(model, dataset, opts) / n;
}

/**
 * Where `deno task train-classifier` saves the trained classifier, the file the GAN quality
 * metrics load too: `data/classifier.ckpt` (`data/classifier_quick.ckpt` in quick mode).
 */
export const CLASSIFIER_CHECKPOINT: string = classifierCheckpoint();

/** Name of the classifier inside its checkpoint file. */
export const CHECKPOINT_MODULE = "classifier";

/** Loads a classifier saved by `scripts/train_classifier.ts`, with its variant from the checkpoint's metadata. */
export async function loadClassifier(
  path: string = CLASSIFIER_CHECKPOINT,
): Promise<Classifier> {
  const { header } = await readCheckpoint(path);
  const variant = header.meta.variant;
  if (typeof variant !== "string") {
    throw new Error(
      `Checkpoint ${path} names no classifier variant: save it with scripts/train_classifier.ts`,
    );
  }
  const C = new Classifier(parseVariant(variant));
  try {
    await loadCheckpoint(path, { modules: { [CHECKPOINT_MODULE]: C } });
  } catch (e) {
    C.dispose();
    throw e;
  }
  return C;
}

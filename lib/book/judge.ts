/**
 * The judge of the GAN quality metrics: the book's combined MNIST classifier
 * (or notebook 13's CNN), loaded from its checkpoint, or trained on first use
 * and saved there.
 * @module
 */
import { CheckpointError, loadCheckpoint, saveCheckpoint } from "../engine/checkpoint.ts";
import { Classifier, evaluate, trainEpochs } from "./classifier.ts";
import {
  CNN_CHECKPOINT,
  CNN_QUICK_CHECKPOINT,
  CnnClassifier,
  evaluateCnn,
  saveCnn,
} from "./cnn.ts";
import { MNIST_TEST_CSV, MNIST_TRAIN_CSV, MnistDataset } from "../data/mnist.ts";
import type { Model } from "../engine/model.ts";
import { QUICK } from "../quick.ts";
import { classifierCheckpoint } from "../settings.ts";
import { exists } from "../data/atomic.ts";
import { getRngState, manualSeed, setRngState } from "../engine/random.ts";

/**
 * Where {@link getMnistClassifier} keeps the full classifier (trained on all 60,000 images), the
 * file `deno task train-classifier` writes: `data/classifier.ckpt` (see settings.ts).
 */
export const CLASSIFIER_PATH: string = classifierCheckpoint(false);
/** Where quick mode keeps its small classifier, so quick and full never mix. */
export const CLASSIFIER_QUICK_PATH: string = classifierCheckpoint(true);
/** Training images for the quick-mode classifier. */
export const QUICK_CLASSIFIER_SAMPLES = 3000;
/** Seed of the classifier's initial weights, so every machine trains the same one. */
export const CLASSIFIER_SEED = 2020;

/** Options of {@link getMnistClassifier}. */
export interface ClassifierOptions {
  /** "mlp" (default): the book's combined classifier of notebook 04; "cnn": notebook 13's CNN. */
  kind?: "mlp" | "cnn";
  /**
   * Checkpoint file; default `data/classifier.ckpt` (`data/classifier_quick.ckpt` in quick mode),
   * for the CNN `data/cnn_classifier.ckpt` (what `deno task train-cnn` writes; `_quick` likewise).
   */
  path?: string;
  /** true retrains even if the file exists; false never trains (throws if it is missing); default: train when missing. */
  train?: boolean;
  /** Print what it does (default true). */
  verbose?: boolean;
  /** Training images when it trains (default all 60,000; a few thousand in quick mode). */
  limit?: number;
}

/**
 * The book's combined MNIST classifier (Linear 784-200, LeakyReLU 0.02,
 * LayerNorm 200, Linear 200-10, sigmoid; BCE; Adam), loaded from its
 * checkpoint, or trained for one epoch over the 60,000 training images one
 * at a time (a few thousand in quick mode) and saved when missing. The shared
 * random stream is left as it was.
 */
export async function getMnistClassifier(opts: ClassifierOptions = {}): Promise<Model> {
  const kind = opts.kind ?? "mlp";
  if (kind !== "mlp" && kind !== "cnn") {
    throw new Error(`Unknown classifier kind "${kind}": use "mlp" or "cnn"`);
  }
  const cnn = kind === "cnn";
  const path = opts.path ??
    (cnn
      ? (QUICK ? CNN_QUICK_CHECKPOINT : CNN_CHECKPOINT)
      : (QUICK ? CLASSIFIER_QUICK_PATH : CLASSIFIER_PATH));
  const what = cnn ? "the MNIST CNN classifier" : "the MNIST classifier";
  const log = opts.verbose === false ? () => {} : (s: string) => console.log(s);
  const saved = getRngState();
  try {
    manualSeed(CLASSIFIER_SEED);
    const classifier = cnn ? new CnnClassifier() : new Classifier("combined");
    const moduleName = cnn ? "cnn" : "classifier";
    classifier.printEvery = 0;
    if (opts.train !== true && await exists(path)) {
      const meta = await loadCheckpoint(path, { modules: { [moduleName]: classifier } });
      const acc = typeof meta.testAccuracy === "number"
        ? ` (test accuracy ${(100 * meta.testAccuracy).toFixed(1)} %)`
        : "";
      log(`Loaded ${what} from ${path}${acc}`);
      return classifier;
    }
    if (opts.train === false) {
      throw new CheckpointError(
        path,
        "does not exist: call getMnistClassifier() without train: false to train it (one epoch, a few minutes)",
      );
    }
    const limit = opts.limit ?? (QUICK ? QUICK_CLASSIFIER_SAMPLES : Infinity);
    const train = await MnistDataset.load(MNIST_TRAIN_CSV);
    const n = Math.min(train.length, limit);
    log(
      `Training ${cnn ? "notebook 13's CNN" : "the book's combined MNIST classifier"} on ${n} ` +
        `images for 1 epoch -> ${path}`,
    );
    const t0 = performance.now();
    await trainEpochs(classifier, train, { epochs: 1, limit, progress: opts.verbose !== false });
    const test = await MnistDataset.load(MNIST_TEST_CSV);
    const testAccuracy = cnn
      ? await evaluateCnn(classifier as CnnClassifier, test)
      : await evaluate(classifier as Classifier, test);
    const seconds = (performance.now() - t0) / 1000;
    log(
      `Classifier test accuracy ${(100 * testAccuracy).toFixed(2)} % after ${seconds.toFixed(0)} s`,
    );
    const meta = { trainImages: n, epochs: 1, testAccuracy, seed: CLASSIFIER_SEED };
    if (cnn) await saveCnn(classifier as CnnClassifier, path, { meta });
    else {
      await saveCheckpoint(path, {
        modules: { classifier },
        meta: { variant: "combined", ...meta },
      });
    }
    return classifier;
  } finally {
    setRngState(saved);
  }
}

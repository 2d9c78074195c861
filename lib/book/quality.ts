/**
 * GAN quality as numbers, judged by the book's combined MNIST classifier (or,
 * with `getMnistClassifier({ kind: "cnn" })`, notebook 13's CNN; see judge.ts):
 * which digits a generator draws and how evenly (mode coverage), how clear
 * and varied its digits are (an Inception-style score over 10 classes), and
 * how far its digits are from real ones in the classifier's hidden features
 * (a Frechet distance, like FID). The book judges by eye; these let a test
 * or a script tell a collapsed generator from a good one.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { noGrad } from "../engine/autograd.ts";
import { tensorData } from "../backends/backend.ts";
import { MNIST_CLASSES, MNIST_PIXELS, MNIST_TEST_CSV, MnistDataset } from "../data/mnist.ts";
import { sampleGenerator } from "../engine/gan.ts";
import { argmaxRows, meanAndCovariance, traceSqrtProduct } from "../engine/linalg.ts";
import { LayerNorm, type Module, Sequential } from "../engine/nn.ts";
import { getMnistClassifier } from "./judge.ts";

/** A digit counts as drawn when at least this fraction of samples is classified as it. */
export const COVERAGE_MIN_FRACTION = 0.01;

function checkImages(images: tf.Tensor, who: string): void {
  if (images.rank !== 2 || images.shape[1] !== MNIST_PIXELS || images.shape[0] < 1) {
    throw new Error(
      `${who} needs images of shape [N, ${MNIST_PIXELS}] with N >= 1, got [${images.shape}]: stack samples with tf.stack or sampleGenerator()`,
    );
  }
}

/** A classifier that scores images its own way (the CNN: one image at a time). */
interface Judge {
  predict(images: tf.Tensor): Promise<tf.Tensor2D>;
  features(images: tf.Tensor): Promise<tf.Tensor2D>;
}

function isJudge(c: unknown): c is Judge {
  const j = c as Partial<Judge>;
  return typeof j.predict === "function" && typeof j.features === "function";
}

/**
 * Classifier outputs [N, 10] for images [N, 784] as a JS array, row after row, read
 * asynchronously (every backend allows that, webgpu included).
 */
async function outputsOf(classifier: Module, images: tf.Tensor2D): Promise<Float32Array> {
  if (isJudge(classifier)) return await tensorData(await classifier.predict(images));
  return await tensorData(() => noGrad(() => classifier.forward(images)));
}

/** How many of each digit the classifier sees, how many digits appear, and the entropy of the mix. */
export interface Coverage {
  /** Samples classified as each digit 0-9. */
  counts: number[];
  /** Digits given to at least `minFraction` of the samples (default 1 %): 10 is full coverage, 1 is collapse. */
  covered: number;
  /** Entropy of the class histogram in nats: ln 10 = 2.303 for equal counts, 0 for one digit. */
  entropy: number;
}

/**
 * Class histogram of generated images (argmax of the classifier), the number
 * of digits that appear (at least `minFraction` of the samples, default 1 %,
 * so a stray misclassification does not count as a mode) and its entropy in nats.
 */
export async function modeCoverage(
  classifier: Module,
  images: tf.Tensor2D,
  opts: { minFraction?: number } = {},
): Promise<Coverage> {
  checkImages(images, "modeCoverage");
  const n = images.shape[0];
  const counts = new Array<number>(MNIST_CLASSES).fill(0);
  for (const c of argmaxRows(await outputsOf(classifier, images), MNIST_CLASSES)) counts[c]++;
  const min = Math.max(1, (opts.minFraction ?? COVERAGE_MIN_FRACTION) * n);
  const covered = counts.filter((c) => c >= min).length;
  let entropy = 0;
  for (const c of counts) if (c > 0) entropy -= (c / n) * Math.log(c / n);
  return { counts, covered, entropy };
}

/** Sigmoid outputs normalised to a distribution per row (the book's classifier has no softmax). */
async function distributions(classifier: Module, images: tf.Tensor2D): Promise<Float64Array> {
  const out = await outputsOf(classifier, images);
  const p = new Float64Array(out.length);
  for (let r = 0; r < out.length / MNIST_CLASSES; r++) {
    let sum = 0;
    for (let c = 0; c < MNIST_CLASSES; c++) sum += Math.max(out[r * MNIST_CLASSES + c], 1e-12);
    for (let c = 0; c < MNIST_CLASSES; c++) {
      p[r * MNIST_CLASSES + c] = Math.max(out[r * MNIST_CLASSES + c], 1e-12) / sum;
    }
  }
  return p;
}

/**
 * Inception-style score exp(E_x KL(p(y|x) || p(y))) with the classifier's
 * sigmoid outputs normalised per sample: 10 for confident, evenly spread
 * digits, 1 for a single repeated digit (or outputs that are all unsure).
 */
export async function classifierScore(
  classifier: Module,
  images: tf.Tensor2D,
): Promise<number> {
  checkImages(images, "classifierScore");
  const k = MNIST_CLASSES;
  const p = await distributions(classifier, images);
  const n = p.length / k;
  const marginal = new Float64Array(k);
  for (let i = 0; i < p.length; i++) marginal[i % k] += p[i] / n;
  let kl = 0;
  for (let i = 0; i < p.length; i++) kl += p[i] * Math.log(p[i] / marginal[i % k]);
  return Math.exp(kl / n);
}

/** Fraction of images whose classifier digit equals `labels` (for the conditional GAN). */
export async function labelAccuracy(
  classifier: Module,
  images: tf.Tensor2D,
  labels: readonly number[],
): Promise<number> {
  checkImages(images, "labelAccuracy");
  if (labels.length !== images.shape[0]) {
    throw new Error(
      `labelAccuracy got ${
        images.shape[0]
      } images and ${labels.length} labels: pass one label per image`,
    );
  }
  const guess = argmaxRows(await outputsOf(classifier, images), MNIST_CLASSES);
  return guess.filter((g, i) => g === labels[i]).length / labels.length;
}

/**
 * The classifier's hidden features [N, d] for images [N, 784]: the output of
 * its last LayerNorm (the 200-d layer of the combined classifier), or of
 * every layer but the last two when it has none; the CNN's own `features()`
 * (the 250 values before its last layer).
 */
export async function classifierFeatures(
  classifier: Module,
  images: tf.Tensor2D,
): Promise<tf.Tensor2D> {
  checkImages(images, "classifierFeatures");
  if (isJudge(classifier)) return await classifier.features(images);
  const net = (classifier as { model?: Module }).model ?? classifier;
  if (!(net instanceof Sequential)) {
    throw new Error(
      "classifierFeatures needs a Sequential network (or a model whose .model is one)",
    );
  }
  let last = -1;
  net.layers.forEach((l, i) => {
    if (l instanceof LayerNorm) last = i;
  });
  const upTo = last >= 0 ? last + 1 : net.layers.length - 2;
  return tf.tidy(() =>
    noGrad(() => {
      let y: tf.Tensor = images;
      for (let i = 0; i < upTo; i++) y = net.layers[i].forward(y);
      return y as tf.Tensor2D;
    })
  );
}

/** Frechet distance between Gaussians N(mu1, C1) and N(mu2, C2): |mu1-mu2|^2 + Tr(C1 + C2 - 2 sqrt(C1 C2)). */
export function frechetFromStats(
  a: { mean: ArrayLike<number>; cov: ArrayLike<number> },
  b: { mean: ArrayLike<number>; cov: ArrayLike<number> },
): number {
  const d = a.mean.length;
  let dist = 0, trace = 0;
  for (let i = 0; i < d; i++) {
    dist += (a.mean[i] - b.mean[i]) ** 2;
    trace += a.cov[i * d + i] + b.cov[i * d + i];
  }
  // Rounding can push the difference a hair below 0 for identical sets.
  return Math.max(0, dist + trace - 2 * traceSqrtProduct(a.cov, b.cov, d));
}

/**
 * Frechet distance (FID-style) between Gaussian fits of the classifier's
 * hidden features (the 200-d layer after LayerNorm) of `real` and `fake`
 * images: near 0 for two samples of real digits, large for a collapsed generator.
 */
export async function frechetDistance(
  classifier: Module,
  real: tf.Tensor2D,
  fake: tf.Tensor2D,
): Promise<number> {
  checkImages(real, "frechetDistance");
  checkImages(fake, "frechetDistance");
  const stats = async (images: tf.Tensor2D) => {
    const f = await classifierFeatures(classifier, images);
    const [rows, cols] = f.shape;
    // tensorData() disposes f.
    return meanAndCovariance(await tensorData(f), rows, cols);
  };
  return frechetFromStats(await stats(real), await stats(fake));
}

/** Quality of a generator in numbers. */
export interface GanQuality {
  /** Which digits it draws and how evenly. */
  coverage: Coverage;
  /** Inception-style classifier score, 1 to 10. */
  score: number;
  /** Frechet distance to real test digits in the classifier's features. */
  fid: number;
  /** Samples used. */
  n: number;
}

/** Reads the first `n` images of the MNIST test set as a tensor [n, 784]; the caller disposes. */
export async function realTestImages(n: number): Promise<tf.Tensor2D> {
  const test = await MnistDataset.load(MNIST_TEST_CSV);
  const count = Math.min(n, test.length);
  return tf.tensor2d(test.images.slice(0, count * MNIST_PIXELS), [count, MNIST_PIXELS]);
}

/**
 * Judges a generator on `n` samples (default 1000): coverage, score and the
 * Frechet distance to `real` images (default: the first `n` MNIST test images).
 */
export async function evaluateGan(
  G: Module,
  classifier: Module,
  opts: { n?: number; real?: tf.Tensor2D; seedSize?: number } = {},
): Promise<GanQuality> {
  const n = opts.n ?? 1000;
  const real = opts.real ?? await realTestImages(n);
  const fake = sampleGenerator(G, n, { seedSize: opts.seedSize });
  try {
    return await quality(classifier, real, fake);
  } finally {
    fake.dispose();
    if (!opts.real) real.dispose();
  }
}

async function quality(
  classifier: Module,
  real: tf.Tensor2D,
  fake: tf.Tensor2D,
): Promise<GanQuality> {
  return {
    coverage: await modeCoverage(classifier, fake),
    score: await classifierScore(classifier, fake),
    fid: await frechetDistance(classifier, real, fake),
    n: fake.shape[0],
  };
}

/** Options of {@link judgeGenerator}. */
export interface JudgeOptions {
  /** Which classifier judges: "mlp" (default) or "cnn"; see {@link getMnistClassifier}. */
  kind?: "mlp" | "cnn";
  /** Its checkpoint (default: the kind's usual file, trained on first use). */
  classifierPath?: string;
  /** Samples (default 1000). */
  n?: number;
  /** Real images as pixels 0-1, n rows of 784 (default: the first n MNIST test images). */
  real?: Float32Array;
  /** Generator seed size (default 100). */
  seedSize?: number;
  /** Print what the classifier loading does (default false). */
  verbose?: boolean;
}

/**
 * {@link evaluateGan} for a generator on any backend: samples on the generator's backend,
 * reads them asynchronously, and judges them on the CPU (wasm, else cpu) with a classifier
 * loaded there, then switches back. The metrics themselves run on any backend (webgpu
 * too); judging on the CPU gives the same numbers whatever backend trained the generator,
 * and a missing classifier trains there (one image at a time, which a GPU does slowly).
 */
export async function judgeGenerator(G: Module, opts: JudgeOptions = {}): Promise<GanQuality> {
  const n = opts.n ?? 1000;
  const pixels = await tensorData(() => sampleGenerator(G, n, { seedSize: opts.seedSize }));
  const before = tf.getBackend();
  const onCpu = before === "wasm" || before === "cpu";
  if (!onCpu && !(await tf.setBackend("wasm"))) await tf.setBackend("cpu");
  try {
    const classifier = await getMnistClassifier({
      kind: opts.kind,
      path: opts.classifierPath,
      verbose: opts.verbose ?? false,
    });
    const fakeT = tf.tensor2d(pixels, [n, pixels.length / n]);
    const real = opts.real
      ? tf.tensor2d(opts.real, [opts.real.length / MNIST_PIXELS, MNIST_PIXELS])
      : await realTestImages(n);
    try {
      return await quality(classifier, real, fakeT);
    } finally {
      tf.dispose([fakeT, real]);
      classifier.dispose();
    }
  } finally {
    if (!onCpu) await tf.setBackend(before);
  }
}

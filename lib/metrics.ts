/**
 * GAN quality as numbers, judged by the book's combined MNIST classifier (or,
 * with `getMnistClassifier({ kind: "cnn" })`, notebook 13's CNN):
 * which digits a generator draws and how evenly (mode coverage), how clear
 * and varied its digits are (an Inception-style score over 10 classes), and
 * how far its digits are from real ones in the classifier's hidden features
 * (a Frechet distance, like FID). The book judges by eye; these let a test
 * or a script tell a collapsed generator from a good one.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { noGrad } from "./autograd.ts";
import { tensorData } from "./backend.ts";
import { CheckpointError, loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { Classifier, evaluate, trainEpochs } from "./classifier.ts";
import {
  CNN_CHECKPOINT,
  CNN_QUICK_CHECKPOINT,
  CnnClassifier,
  evaluateCnn,
  saveCnn,
} from "./cnn.ts";
import {
  MNIST_CLASSES,
  MNIST_PIXELS,
  MNIST_TEST_CSV,
  MNIST_TRAIN_CSV,
  MnistDataset,
} from "./mnist.ts";
import type { Model } from "./model.ts";
import { LayerNorm, type Module, Sequential } from "./nn.ts";
import { QUICK } from "./quick.ts";
import { generateRandomSeed, getRngState, manualSeed, setRngState } from "./random.ts";

const DATA_DIR = new URL("../data/", import.meta.url);
/** Where {@link getMnistClassifier} keeps the full classifier (trained on all 60,000 images). */
export const CLASSIFIER_PATH: string = decodeURIComponent(
  new URL("classifier.ckpt", DATA_DIR).pathname,
);
/** Where quick mode keeps its small classifier, so quick and full never mix. */
export const CLASSIFIER_QUICK_PATH: string = decodeURIComponent(
  new URL("classifier_quick.ckpt", DATA_DIR).pathname,
);
/** Training images for the quick-mode classifier. */
export const QUICK_CLASSIFIER_SAMPLES = 3000;
/** Seed of the classifier's initial weights, so every machine trains the same one. */
export const CLASSIFIER_SEED = 2020;
/** A digit counts as drawn when at least this fraction of samples is classified as it. */
export const COVERAGE_MIN_FRACTION = 0.01;

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

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
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
      ? evaluateCnn(classifier as CnnClassifier, test)
      : evaluate(classifier as Classifier, test);
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

function checkImages(images: tf.Tensor, who: string): void {
  if (images.rank !== 2 || images.shape[1] !== MNIST_PIXELS || images.shape[0] < 1) {
    throw new Error(
      `${who} needs images of shape [N, ${MNIST_PIXELS}] with N >= 1, got [${images.shape}]: stack samples with tf.stack or sampleGenerator()`,
    );
  }
}

/** A classifier that scores images its own way (the CNN: one image at a time). */
interface Judge {
  predict(images: tf.Tensor): tf.Tensor2D;
  features(images: tf.Tensor): tf.Tensor2D;
}

function isJudge(c: unknown): c is Judge {
  const j = c as Partial<Judge>;
  return typeof j.predict === "function" && typeof j.features === "function";
}

/** Classifier outputs [N, 10] for images [N, 784] as a JS array, row after row. */
function outputsOf(classifier: Module, images: tf.Tensor2D): Float32Array {
  return tf.tidy(() =>
    (isJudge(classifier) ? classifier.predict(images) : noGrad(() => classifier.forward(images)))
      .dataSync() as Float32Array
  );
}

function argmaxRows(p: Float32Array, k: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < p.length / k; r++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (p[r * k + c] > p[r * k + best]) best = c;
    out.push(best);
  }
  return out;
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
export function modeCoverage(
  classifier: Module,
  images: tf.Tensor2D,
  opts: { minFraction?: number } = {},
): Coverage {
  checkImages(images, "modeCoverage");
  const n = images.shape[0];
  const counts = new Array<number>(MNIST_CLASSES).fill(0);
  for (const c of argmaxRows(outputsOf(classifier, images), MNIST_CLASSES)) counts[c]++;
  const min = Math.max(1, (opts.minFraction ?? COVERAGE_MIN_FRACTION) * n);
  const covered = counts.filter((c) => c >= min).length;
  let entropy = 0;
  for (const c of counts) if (c > 0) entropy -= (c / n) * Math.log(c / n);
  return { counts, covered, entropy };
}

/** Sigmoid outputs normalised to a distribution per row (the book's classifier has no softmax). */
function distributions(classifier: Module, images: tf.Tensor2D): Float64Array {
  const out = outputsOf(classifier, images);
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
export function classifierScore(classifier: Module, images: tf.Tensor2D): number {
  checkImages(images, "classifierScore");
  const k = MNIST_CLASSES;
  const p = distributions(classifier, images);
  const n = p.length / k;
  const marginal = new Float64Array(k);
  for (let i = 0; i < p.length; i++) marginal[i % k] += p[i] / n;
  let kl = 0;
  for (let i = 0; i < p.length; i++) kl += p[i] * Math.log(p[i] / marginal[i % k]);
  return Math.exp(kl / n);
}

/** Fraction of images whose classifier digit equals `labels` (for the conditional GAN). */
export function labelAccuracy(
  classifier: Module,
  images: tf.Tensor2D,
  labels: readonly number[],
): number {
  checkImages(images, "labelAccuracy");
  if (labels.length !== images.shape[0]) {
    throw new Error(
      `labelAccuracy got ${
        images.shape[0]
      } images and ${labels.length} labels: pass one label per image`,
    );
  }
  const guess = argmaxRows(outputsOf(classifier, images), MNIST_CLASSES);
  return guess.filter((g, i) => g === labels[i]).length / labels.length;
}

/**
 * The classifier's hidden features [N, d] for images [N, 784]: the output of
 * its last LayerNorm (the 200-d layer of the combined classifier), or of
 * every layer but the last two when it has none; the CNN's own `features()`
 * (the 250 values before its last layer).
 */
export function classifierFeatures(classifier: Module, images: tf.Tensor2D): tf.Tensor2D {
  checkImages(images, "classifierFeatures");
  if (isJudge(classifier)) return classifier.features(images);
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

/** Mean [d] and covariance [d*d] (divided by n - 1) of `n` rows of `d` values, in float64. */
export function meanAndCovariance(
  x: ArrayLike<number>,
  n: number,
  d: number,
): { mean: Float64Array; cov: Float64Array } {
  if (n < 2 || x.length !== n * d) {
    throw new Error(
      `meanAndCovariance needs at least 2 rows of ${d} values, got ${x.length} values for ${n} rows`,
    );
  }
  const mean = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let c = 0; c < d; c++) mean[c] += x[r * d + c];
  for (let c = 0; c < d; c++) mean[c] /= n;
  const cov = new Float64Array(d * d);
  const row = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < d; c++) row[c] = x[r * d + c] - mean[c];
    for (let i = 0; i < d; i++) {
      const ri = row[i];
      if (ri === 0) continue;
      const base = i * d;
      for (let j = i; j < d; j++) cov[base + j] += ri * row[j];
    }
  }
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      const v = cov[i * d + j] / (n - 1);
      cov[i * d + j] = v;
      cov[j * d + i] = v;
    }
  }
  return { mean, cov };
}

/**
 * Eigenvalues and eigenvectors of a symmetric n x n matrix (row-major) by
 * cyclic Jacobi rotations in float64: `a = V diag(values) V^T`, eigenvector
 * k is column k of `vectors`. The input is not changed.
 */
export function symmetricEigen(
  a: ArrayLike<number>,
  n: number,
  opts: { tolerance?: number; maxSweeps?: number } = {},
): { values: Float64Array; vectors: Float64Array } {
  if (a.length !== n * n) {
    throw new Error(`symmetricEigen needs ${n * n} values for a ${n}x${n} matrix, got ${a.length}`);
  }
  const A = Float64Array.from(a);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const s = 0.5 * (A[i * n + j] + A[j * n + i]);
      A[i * n + j] = s;
      A[j * n + i] = s;
    }
  }
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  const tol = opts.tolerance ?? 1e-12;
  const maxSweeps = opts.maxSweeps ?? 100;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += A[i] * A[i];
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += A[i * n + j] ** 2;
    if (off <= tol * tol * total || off === 0) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q];
        if (apq === 0) continue;
        const app = A[p * n + p], aqq = A[q * n + q];
        // Rotation angle that zeroes A[p][q] (Golub & Van Loan, symmetric Schur).
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p], akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k], aqk = A[q * n + k];
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        A[p * n + q] = 0;
        A[q * n + p] = 0;
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p], vkq = V[k * n + q];
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = A[i * n + i];
  return { values, vectors: V };
}

/** Square root of a symmetric positive semi-definite matrix (negative eigenvalues from rounding count as 0). */
export function sqrtmSymmetric(a: ArrayLike<number>, n: number): Float64Array {
  const { values, vectors: V } = symmetricEigen(a, n);
  const root = values.map((v) => Math.sqrt(Math.max(v, 0)));
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += V[i * n + k] * root[k] * V[j * n + k];
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
  return out;
}

function matMul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k];
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += aik * b[k * n + j];
    }
  }
  return out;
}

/** Tr sqrt(C1 C2) for covariance matrices, computed as Tr sqrt(C1^1/2 C2 C1^1/2), which is symmetric. */
export function traceSqrtProduct(c1: ArrayLike<number>, c2: ArrayLike<number>, n: number): number {
  const s = sqrtmSymmetric(c1, n);
  const m = matMul(matMul(s, Float64Array.from(c2), n), s, n);
  const { values } = symmetricEigen(m, n);
  return values.reduce((acc, v) => acc + Math.sqrt(Math.max(v, 0)), 0);
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
export function frechetDistance(classifier: Module, real: tf.Tensor2D, fake: tf.Tensor2D): number {
  checkImages(real, "frechetDistance");
  checkImages(fake, "frechetDistance");
  const stats = (images: tf.Tensor2D) => {
    const f = classifierFeatures(classifier, images);
    try {
      return meanAndCovariance(f.dataSync(), f.shape[0], f.shape[1]);
    } finally {
      f.dispose();
    }
  };
  return frechetFromStats(stats(real), stats(fake));
}

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
    return quality(classifier, real, fake);
  } finally {
    fake.dispose();
    if (!opts.real) real.dispose();
  }
}

function quality(classifier: Module, real: tf.Tensor2D, fake: tf.Tensor2D): GanQuality {
  return {
    coverage: modeCoverage(classifier, fake),
    score: classifierScore(classifier, fake),
    fid: frechetDistance(classifier, real, fake),
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
 * loaded there, then switches back. A GPU backend such as WebGPU cannot read big tensors
 * synchronously in Deno, which the metrics need.
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
      return quality(classifier, real, fakeT);
    } finally {
      tf.dispose([fakeT, real]);
      classifier.dispose();
    }
  } finally {
    if (!onCpu) await tf.setBackend(before);
  }
}

import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  classifierFeatures,
  classifierScore,
  evaluateGan,
  frechetDistance,
  frechetFromStats,
  getMnistClassifier,
  judgeGenerator,
  labelAccuracy,
  meanAndCovariance,
  modeCoverage,
  sampleGenerator,
  sqrtmSymmetric,
  symmetricEigen,
  traceSqrtProduct,
} from "./metrics.ts";
import { Module } from "./nn.ts";
import { manualSeed } from "./random.ts";

await tf.setBackend("cpu");

const close = (a: number, b: number, tol = 1e-9) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} != ${b}`);

/** A stand-in classifier: the label of image i is encoded in its first pixel. */
class FakeClassifier extends Module {
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const label = tf.cast(tf.slice(x, [0, 0], [-1, 1]).reshape([-1]), "int32");
      // Confident sigmoid-like outputs: 0.9999 for the label, 0.0001 elsewhere.
      return tf.add(tf.mul(tf.oneHot(label, 10), 0.9998), 0.0001);
    });
  }
}

const imagesOf = (labels: number[]) => {
  const px = new Float32Array(labels.length * 784);
  labels.forEach((l, i) => (px[i * 784] = l));
  return tf.tensor2d(px, [labels.length, 784]);
};

Deno.test("symmetricEigen() reconstructs a symmetric matrix", () => {
  const a = [4, 1, 2, 1, 3, 0, 2, 0, 5];
  const { values, vectors: V } = symmetricEigen(a, 3);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += V[i * 3 + k] * values[k] * V[j * 3 + k];
      close(s, a[i * 3 + j], 1e-10);
    }
  }
  close(values.reduce((x, y) => x + y, 0), 12, 1e-12);
});

Deno.test("sqrtmSymmetric() squares back to the matrix", () => {
  const a = [2, 1, 1, 2];
  const s = sqrtmSymmetric(a, 2);
  close(s[0] * s[0] + s[1] * s[2], 2, 1e-10);
  close(s[0] * s[1] + s[1] * s[3], 1, 1e-10);
  // Known closed form: sqrt([[2,1],[1,2]]) = [[(sqrt3+1)/2, (sqrt3-1)/2], ...].
  close(s[0], (Math.sqrt(3) + 1) / 2, 1e-10);
  close(s[1], (Math.sqrt(3) - 1) / 2, 1e-10);
});

Deno.test("traceSqrtProduct() matches known matrices", () => {
  // Diagonal: Tr sqrt(diag(1,4,9) diag(4,1,16)) = 2 + 2 + 12.
  const c1 = [1, 0, 0, 0, 4, 0, 0, 0, 9], c2 = [4, 0, 0, 0, 1, 0, 0, 0, 16];
  close(traceSqrtProduct(c1, c2, 3), 16, 1e-10);
  // Same matrix: Tr sqrt(C^2) = Tr C.
  const c = [2, 1, 0.5, 1, 3, 0.2, 0.5, 0.2, 1];
  close(traceSqrtProduct(c, c, 3), 6, 1e-9);
  // Commuting: C and C^2 give Tr C^1.5 = sum of eigenvalues^1.5.
  const { values } = symmetricEigen(c, 3);
  const c2b = new Float64Array(9);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      for (let k = 0; k < 3; k++) c2b[i * 3 + j] += c[i * 3 + k] * c[k * 3 + j];
    }
  }
  close(traceSqrtProduct(c, c2b, 3), values.reduce((s, v) => s + v ** 1.5, 0), 1e-9);
});

Deno.test("frechetFromStats() is 0 for equal Gaussians and the 1-D formula otherwise", () => {
  const x = [1, 2, 3, 4, 2, 7, 1, 0];
  const s = meanAndCovariance(x, 4, 2);
  close(frechetFromStats(s, s), 0, 1e-9);
  // 1-D: (m1-m2)^2 + (s1 - s2)^2 for variances s1^2, s2^2.
  const a = { mean: [1], cov: [4] }, b = { mean: [3], cov: [9] };
  close(frechetFromStats(a, b), 4 + 1, 1e-12);
});

Deno.test("meanAndCovariance() matches the n-1 sample covariance", () => {
  const { mean, cov } = meanAndCovariance([1, 2, 3, 6], 2, 2);
  assert.deepEqual(Array.from(mean), [2, 4]);
  assert.deepEqual(Array.from(cov), [2, 4, 4, 8]);
});

Deno.test("modeCoverage() and classifierScore() tell spread digits from a collapsed generator", () => {
  const c = new FakeClassifier();
  const spread = imagesOf(Array.from({ length: 1000 }, (_, i) => i % 10));
  const collapsed = imagesOf(Array.from({ length: 1000 }, () => 3));
  const before = tf.memory().numTensors;
  const cov = modeCoverage(c, spread);
  assert.equal(cov.covered, 10);
  assert.deepEqual(cov.counts, Array(10).fill(100));
  close(cov.entropy, Math.log(10), 1e-12);
  const one = modeCoverage(c, collapsed);
  assert.equal(one.covered, 1);
  assert.equal(one.entropy, 0);
  const good = classifierScore(c, spread), bad = classifierScore(c, collapsed);
  assert.ok(good > 9.8 && good <= 10, `${good}`);
  close(bad, 1, 1e-9);
  assert.equal(labelAccuracy(c, spread, Array.from({ length: 1000 }, (_, i) => i % 10)), 1);
  assert.equal(tf.memory().numTensors, before);
  spread.dispose();
  collapsed.dispose();
});

Deno.test("modeCoverage() ignores digits below 1 % of the samples", () => {
  const c = new FakeClassifier();
  const labels = Array.from({ length: 1000 }, (_, i) => (i < 5 ? 7 : 2));
  const images = imagesOf(labels);
  assert.equal(modeCoverage(c, images).covered, 1);
  assert.equal(modeCoverage(c, images, { minFraction: 0 }).covered, 2);
  images.dispose();
});

Deno.test("sampleGenerator() gives the same samples batched or one by one", () => {
  class Lin extends Module {
    forward(x: tf.Tensor): tf.Tensor {
      return tf.sigmoid(x.rank === 1 ? x.slice(0, 4) : x.slice([0, 0], [-1, 4]));
    }
  }
  manualSeed(1);
  const a = sampleGenerator(new Lin(), 5, { seedSize: 8 });
  manualSeed(1);
  const b = sampleGenerator(new Lin(), 5, { seedSize: 8, batch: false });
  assert.deepEqual(a.shape, [5, 4]);
  assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()));
  a.dispose();
  b.dispose();
  assert.throws(() => sampleGenerator(new Lin(), 0), /whole number/);
});

Deno.test({
  name: "metrics separate real MNIST digits from a collapsed generator with a trained classifier",
  fn: async () => {
    const { MnistDataset, MNIST_TEST_CSV } = await import("./mnist.ts");
    const { initBackend } = await import("./backend.ts");
    const before = tf.getBackend();
    // Training a classifier takes seconds on wasm and minutes on the plain-JS cpu backend.
    await initBackend({ order: ["wasm"], verbose: false });
    const dir = await Deno.makeTempDir();
    try {
      const classifier = await getMnistClassifier({
        path: `${dir}/c.ckpt`,
        limit: 4000,
        verbose: false,
      });
      const test = await MnistDataset.load(MNIST_TEST_CSV, { limit: 1000 });
      const n = 500;
      const real = tf.tensor2d(test.images.slice(0, n * 784), [n, 784]);
      const other = tf.tensor2d(test.images.slice(n * 784, 2 * n * 784), [n, 784]);
      // A collapsed generator: the first "1" in the test set, repeated.
      const one = test.labels.indexOf(1);
      const collapsed = tf.tile(tf.tensor2d(test.image(one), [1, 784]), [n, 1]) as tf.Tensor2D;
      const realCov = modeCoverage(classifier, real), colCov = modeCoverage(classifier, collapsed);
      assert.equal(realCov.covered, 10);
      assert.ok(realCov.entropy > 2.1, `real entropy ${realCov.entropy}`);
      assert.equal(colCov.covered, 1);
      assert.ok(colCov.entropy < 1e-9);
      const realScore = classifierScore(classifier, real);
      assert.ok(realScore > 5, `real score ${realScore}`);
      assert.ok(classifierScore(classifier, collapsed) < 1.01);
      const fidReal = frechetDistance(classifier, real, other);
      const fidCollapsed = frechetDistance(classifier, real, collapsed);
      assert.ok(fidCollapsed > 5 * fidReal, `FID real ${fidReal}, collapsed ${fidCollapsed}`);
      tf.dispose([real, other, collapsed]);
      classifier.dispose();
    } finally {
      await Deno.remove(dir, { recursive: true });
      await tf.setBackend(before);
    }
  },
});

Deno.test({
  name: "the CNN judge (notebook 13) also separates real digits from a collapsed generator",
  fn: async () => {
    const { MnistDataset, MNIST_TEST_CSV } = await import("./mnist.ts");
    const { initBackend } = await import("./backend.ts");
    const before = tf.getBackend();
    await initBackend({ order: ["wasm"], verbose: false });
    const dir = await Deno.makeTempDir();
    try {
      const opts = { kind: "cnn" as const, path: `${dir}/cnn.ckpt`, verbose: false };
      const cnn = await getMnistClassifier({ ...opts, limit: 3000 });
      // Saved on first use and loaded, not retrained, the second time.
      const again = await getMnistClassifier({ ...opts, train: false });
      const test = await MnistDataset.load(MNIST_TEST_CSV, { limit: 600 });
      const n = 300;
      const real = tf.tensor2d(test.images.slice(0, n * 784), [n, 784]);
      const other = tf.tensor2d(test.images.slice(n * 784, 2 * n * 784), [n, 784]);
      const one = test.labels.indexOf(1);
      const collapsed = tf.tile(tf.tensor2d(test.image(one), [1, 784]), [n, 1]) as tf.Tensor2D;
      const features = classifierFeatures(again, real);
      assert.deepEqual(features.shape, [n, 250]);
      features.dispose();
      const numTensors = tf.memory().numTensors;
      assert.equal(modeCoverage(again, real).covered, 10);
      assert.equal(tf.memory().numTensors, numTensors, "scoring leaks no tensors");
      assert.equal(modeCoverage(again, collapsed).covered, 1);
      assert.ok(classifierScore(again, real) > 5);
      assert.ok(classifierScore(again, collapsed) < 1.05);
      const fidReal = frechetDistance(again, real, other);
      const fidCollapsed = frechetDistance(again, real, collapsed);
      assert.ok(fidCollapsed > 5 * fidReal, `FID real ${fidReal}, collapsed ${fidCollapsed}`);
      await assert.rejects(
        () => getMnistClassifier({ kind: "rnn" as "cnn", path: `${dir}/x.ckpt` }),
        /Unknown classifier kind "rnn"/,
      );
      tf.dispose([real, other, collapsed]);
      cnn.dispose();
      again.dispose();
    } finally {
      await Deno.remove(dir, { recursive: true });
      await tf.setBackend(before);
    }
  },
});

Deno.test("judgeGenerator() gives evaluateGan()'s numbers on the CPU backends", async () => {
  const { initBackend } = await import("./backend.ts");
  const { MnistGenerator } = await import("./mnist_gan.ts");
  const before = tf.getBackend();
  await initBackend({ order: ["wasm"], verbose: false });
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/c.ckpt`;
    const classifier = await getMnistClassifier({ path, limit: 500, verbose: false });
    manualSeed(8);
    const G = new MnistGenerator();
    const real = tf.randomUniform([50, 784]) as tf.Tensor2D;
    manualSeed(9);
    const want = await evaluateGan(G, classifier, { n: 50, real });
    manualSeed(9);
    const got = await judgeGenerator(G, {
      classifierPath: path,
      n: 50,
      real: real.dataSync() as Float32Array,
    });
    assert.deepEqual(got, want);
    assert.equal(tf.getBackend(), "wasm");
    tf.dispose([real]);
    G.dispose();
    classifier.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
    await tf.setBackend(before);
  }
});

import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  classifierScore,
  evaluateGan,
  frechetDistance,
  frechetFromStats,
  judgeGenerator,
  labelAccuracy,
  modeCoverage,
} from "./quality.ts";
import { getMnistClassifier } from "./judge.ts";
import { meanAndCovariance } from "../engine/linalg.ts";
import { Module } from "../engine/nn.ts";
import { manualSeed } from "../engine/random.ts";

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

Deno.test("frechetFromStats() is 0 for equal Gaussians and the 1-D formula otherwise", () => {
  const x = [1, 2, 3, 4, 2, 7, 1, 0];
  const s = meanAndCovariance(x, 4, 2);
  close(frechetFromStats(s, s), 0, 1e-9);
  // 1-D: (m1-m2)^2 + (s1 - s2)^2 for variances s1^2, s2^2.
  const a = { mean: [1], cov: [4] }, b = { mean: [3], cov: [9] };
  close(frechetFromStats(a, b), 4 + 1, 1e-12);
});

Deno.test("modeCoverage() and classifierScore() tell spread digits from a collapsed generator", async () => {
  const c = new FakeClassifier();
  const spread = imagesOf(Array.from({ length: 1000 }, (_, i) => i % 10));
  const collapsed = imagesOf(Array.from({ length: 1000 }, () => 3));
  const before = tf.memory().numTensors;
  const cov = await modeCoverage(c, spread);
  assert.equal(cov.covered, 10);
  assert.deepEqual(cov.counts, Array(10).fill(100));
  close(cov.entropy, Math.log(10), 1e-12);
  const one = await modeCoverage(c, collapsed);
  assert.equal(one.covered, 1);
  assert.equal(one.entropy, 0);
  const good = await classifierScore(c, spread), bad = await classifierScore(c, collapsed);
  assert.ok(good > 9.8 && good <= 10, `${good}`);
  close(bad, 1, 1e-9);
  assert.equal(await labelAccuracy(c, spread, Array.from({ length: 1000 }, (_, i) => i % 10)), 1);
  await assert.rejects(() => labelAccuracy(c, spread, [1, 2]), /1000 images and 2 labels/);
  assert.equal(tf.memory().numTensors, before);
  spread.dispose();
  collapsed.dispose();
});

Deno.test("modeCoverage() ignores digits below 1 % of the samples", async () => {
  const c = new FakeClassifier();
  const labels = Array.from({ length: 1000 }, (_, i) => (i < 5 ? 7 : 2));
  const images = imagesOf(labels);
  assert.equal((await modeCoverage(c, images)).covered, 1);
  assert.equal((await modeCoverage(c, images, { minFraction: 0 })).covered, 2);
  images.dispose();
});

Deno.test({
  name: "metrics separate real MNIST digits from a collapsed generator with a trained classifier",
  fn: async () => {
    const { MnistDataset, MNIST_TEST_CSV } = await import("../data/mnist.ts");
    const { initBackend } = await import("../backends/backend.ts");
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
      const realCov = await modeCoverage(classifier, real);
      const colCov = await modeCoverage(classifier, collapsed);
      assert.equal(realCov.covered, 10);
      assert.ok(realCov.entropy > 2.1, `real entropy ${realCov.entropy}`);
      assert.equal(colCov.covered, 1);
      assert.ok(colCov.entropy < 1e-9);
      const realScore = await classifierScore(classifier, real);
      assert.ok(realScore > 5, `real score ${realScore}`);
      assert.ok(await classifierScore(classifier, collapsed) < 1.01);
      const fidReal = await frechetDistance(classifier, real, other);
      const fidCollapsed = await frechetDistance(classifier, real, collapsed);
      assert.ok(fidCollapsed > 5 * fidReal, `FID real ${fidReal}, collapsed ${fidCollapsed}`);
      tf.dispose([real, other, collapsed]);
      classifier.dispose();
    } finally {
      await Deno.remove(dir, { recursive: true });
      await tf.setBackend(before);
    }
  },
});

Deno.test("judgeGenerator() gives evaluateGan()'s numbers on the CPU backends", async () => {
  const { initBackend } = await import("../backends/backend.ts");
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

import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { noGrad } from "../engine/autograd.ts";
import { initBackend } from "../backends/backend.ts";
import {
  CNN_FEATURES,
  CNN_SIDE_1,
  CNN_SIDE_2,
  CnnClassifier,
  cnnNetwork,
  evaluateCnn,
  loadCnn,
  saveCnn,
  toImages,
} from "./cnn.ts";
import { MNIST_PIXELS, MnistDataset } from "../data/mnist.ts";
import {
  BatchNorm2d,
  Conv2d,
  LeakyReLU,
  Linear,
  type Sequential,
  Sigmoid,
  View,
} from "../engine/nn.ts";
import { manualSeed, rand } from "../engine/random.ts";

// wasm with the project's conv gradient kernels, as the scripts and notebooks use.
await initBackend({ order: ["wasm"] });

/** A tiny synthetic "MNIST": digit d lights up a band of rows, plus noise. */
function toyDataset(n: number): MnistDataset {
  const labels = new Uint8Array(n);
  const images = new Float32Array(n * MNIST_PIXELS);
  for (let i = 0; i < n; i++) {
    const d = i % 10;
    labels[i] = d;
    for (let p = 0; p < MNIST_PIXELS; p++) {
      const row = Math.floor(p / 28);
      const lit = row >= 2 + 2 * d && row < 4 + 2 * d;
      images[i * MNIST_PIXELS + p] = (lit ? 0.8 : 0) + 0.2 * rand();
    }
  }
  return new MnistDataset(labels, images, "toy");
}

Deno.test("cnnNetwork() has the book's layers and shapes 28 -> 12 -> 5 -> 250 -> 10", () => {
  manualSeed(1);
  const net = cnnNetwork();
  try {
    assert.deepEqual(net.layers.map((l) => l.constructor), [
      Conv2d,
      LeakyReLU,
      BatchNorm2d,
      Conv2d,
      LeakyReLU,
      BatchNorm2d,
      View,
      Linear,
      Sigmoid,
    ]);
    assert.equal(CNN_SIDE_1, 12);
    assert.equal(CNN_SIDE_2, 5);
    assert.equal(CNN_FEATURES, 250);
    const shapes = tf.tidy(() => {
      let y: tf.Tensor = tf.zeros([1, 28, 28, 1]);
      const out: number[][] = [];
      for (const layer of net.layers) {
        y = layer.forward(y);
        out.push(y.shape);
      }
      return out;
    });
    assert.deepEqual(shapes, [
      [1, 12, 12, 10],
      [1, 12, 12, 10],
      [1, 12, 12, 10],
      [1, 5, 5, 10],
      [1, 5, 5, 10],
      [1, 5, 5, 10],
      [250],
      [10],
      [10],
    ]);
    // 1*10*5*5 + 10, 10*10*3*3 + 10, two BatchNorms of 10 + 10, 250*10 + 10
    assert.equal(net.numParameters(), 260 + 910 + 40 + 2510);
  } finally {
    net.dispose();
  }
});

Deno.test("CnnClassifier.forward() takes a 784 vector, a 28x28 image or a batch", () => {
  manualSeed(2);
  const C = new CnnClassifier();
  try {
    tf.tidy(() => {
      const flat = tf.randomUniform([784], 0, 1, "float32", 3);
      const a = C.forward(flat);
      const b = C.forward(flat.reshape([28, 28]));
      assert.deepEqual(a.shape, [10]);
      assert.deepEqual(b.shape, [10]);
      assert.ok(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] < 1e-6);
      C.eval();
      assert.deepEqual(C.forward(tf.zeros([3, 784])).shape, [3, 10]);
      C.trainMode();
    });
    assert.throws(() => toImages(tf.zeros([10])), /expects MNIST images/);
  } finally {
    C.dispose();
  }
});

Deno.test("CnnClassifier.train() lowers the loss without leaking tensors", async () => {
  manualSeed(3);
  const data = toyDataset(300);
  const C = new CnnClassifier();
  C.printEvery = 0;
  try {
    let before = -1;
    for (let epoch = 0; epoch < 2; epoch++) {
      for (let i = 0; i < data.length; i++) {
        const [, image, target] = data.get(i);
        C.train(image, target);
        tf.dispose([image, target]);
      }
      if (epoch === 0) before = tf.memory().numTensors;
    }
    assert.equal(tf.memory().numTensors, before, "live tensors grew during the second epoch");
    const first = C.progress.slice(0, 5).reduce((a, b) => a + b) / 5;
    const last = C.progress.slice(-5).reduce((a, b) => a + b) / 5;
    assert.ok(last < first / 4, `loss fell only from ${first} to ${last}`);
    assert.equal(C.counter, 600);
    assert.ok(await evaluateCnn(C, data) > 0.9);
  } finally {
    C.dispose();
  }
});

Deno.test("evaluateCnn() leaves the BatchNorm running statistics as they were", async () => {
  manualSeed(4);
  const data = toyDataset(20);
  const C = new CnnClassifier();
  try {
    const before = C.stateDict();
    const n = tf.memory().numTensors;
    const sample = await evaluateCnn(C, data);
    const evalMode = await evaluateCnn(C, data, { mode: "eval" });
    assert.ok(sample >= 0 && sample <= 1 && evalMode >= 0 && evalMode <= 1);
    assert.equal(tf.memory().numTensors, n);
    assert.ok(C.training);
    const after = C.stateDict();
    for (const k of Object.keys(before)) assert.deepEqual(after[k].data, before[k].data, k);
    await assert.rejects(() => evaluateCnn(C, toyDataset(0)), /empty dataset/);
  } finally {
    C.dispose();
  }
});

Deno.test("saveCnn() and loadCnn() round-trip weights, statistics and progress", async () => {
  manualSeed(5);
  const data = toyDataset(30);
  const C = new CnnClassifier();
  C.printEvery = 0;
  const path = await Deno.makeTempFile({ suffix: ".ckpt" });
  try {
    for (let i = 0; i < data.length; i++) {
      const [, image, target] = data.get(i);
      C.train(image, target);
      tf.dispose([image, target]);
    }
    await saveCnn(C, path, { meta: { testAccuracy: 0.5 } });
    manualSeed(99);
    const { model, meta } = await loadCnn(path);
    try {
      assert.equal(meta.testAccuracy, 0.5);
      assert.equal(model.counter, 30);
      assert.deepEqual(model.progress, C.progress);
      const a = C.stateDict();
      const b = model.stateDict();
      assert.deepEqual(Object.keys(b), Object.keys(a));
      for (const k of Object.keys(a)) assert.deepEqual(b[k].data, a[k].data, k);
      // Same answers, and training continues identically (Adam's moments came back too).
      const [, image, target] = data.get(0);
      const [y1, y2] = [C.forward(image), model.forward(image)].map((y) => y.dataSync());
      assert.deepEqual(y2, y1);
      C.train(image, target);
      model.train(image, target);
      tf.dispose([image, target]);
      const w1 = (C.model as Sequential).layers[0].parameters()[0].value.dataSync();
      const w2 = (model.model as Sequential).layers[0].parameters()[0].value.dataSync();
      assert.deepEqual(w2, w1);
    } finally {
      model.dispose();
    }
    await assert.rejects(loadCnn(`${path}.missing`), /does not exist/);
  } finally {
    C.dispose();
    await Deno.remove(path);
  }
});

Deno.test("CnnClassifier.predict() scores each image alone and keeps the running statistics", async () => {
  manualSeed(6);
  const data = toyDataset(12);
  const C = new CnnClassifier();
  const batch = data.batch([0, 1, 2, 3]);
  try {
    const before = C.stateDict();
    const n = tf.memory().numTensors;
    const out = await C.predict(batch.images);
    assert.deepEqual(out.shape, [4, 10]);
    assert.equal(tf.memory().numTensors, n + 1);
    const after = C.stateDict();
    for (const k of Object.keys(before)) assert.deepEqual(after[k].data, before[k].data, k);
    // The same answer as the book's one-image forward() in training mode.
    const single = tf.tidy(() =>
      noGrad(() => C.forward(batch.images.slice([2, 0], [1, 784]).reshape([784]))).dataSync()
    );
    const row = out.dataSync().slice(20, 30);
    row.forEach((v, i) => assert.ok(Math.abs(v - single[i]) < 1e-5, `output ${i}`));
    out.dispose();
  } finally {
    tf.dispose([batch.images, batch.targets]);
    C.dispose();
  }
});

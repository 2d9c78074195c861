import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "node:assert/strict";
import {
  BOOK_ACCURACY,
  Classifier,
  CLASSIFIER_VARIANTS,
  evaluate,
  makeClassifier,
  parseVariant,
  score,
  trainEpochs,
} from "./classifier.ts";
import { BCELoss, MSELoss } from "../engine/loss.ts";
import { MNIST_PIXELS, MnistDataset } from "../data/mnist.ts";
import { LayerNorm, LeakyReLU, Linear, Sequential, Sigmoid } from "../engine/nn.ts";
import { Adam, SGD } from "../engine/optim.ts";
import { manualSeed, rand } from "../engine/random.ts";

// wasm, as the scripts use: the cpu backend takes ~25 ms per Adam step.
await tf.setBackend("wasm");

/** A tiny synthetic "MNIST": digit d lights up pixel block d, plus noise. */
function toyDataset(n: number): MnistDataset {
  const labels = new Uint8Array(n);
  const images = new Float32Array(n * MNIST_PIXELS);
  for (let i = 0; i < n; i++) {
    const d = i % 10;
    labels[i] = d;
    for (let p = 0; p < MNIST_PIXELS; p++) {
      const inBlock = Math.floor(p / 78) === d;
      images[i * MNIST_PIXELS + p] = (inBlock ? 0.8 : 0) + 0.2 * rand();
    }
  }
  return new MnistDataset(labels, images, "toy");
}

Deno.test("makeClassifier() builds each book variant with its layers, loss and optimiser", () => {
  const expected = {
    mse_sigmoid_sgd: [[Linear, Sigmoid, Linear, Sigmoid], MSELoss, SGD],
    bce: [[Linear, Sigmoid, Linear, Sigmoid], BCELoss, SGD],
    leaky_relu: [[Linear, LeakyReLU, Linear, LeakyReLU], MSELoss, SGD],
    adam: [[Linear, Sigmoid, Linear, Sigmoid], MSELoss, Adam],
    layer_norm: [[Linear, Sigmoid, LayerNorm, Linear, Sigmoid], MSELoss, SGD],
    combined: [
      [Linear, LeakyReLU, LayerNorm, Linear, Sigmoid],
      BCELoss,
      Adam,
    ],
  } as const;
  for (const v of CLASSIFIER_VARIANTS) {
    const C = makeClassifier(v);
    const [layers, loss, opt] = expected[v];
    const model = C.model as Sequential;
    assert.deepEqual(
      model.layers.map((l) => l.constructor),
      layers,
      `layers of ${v}`,
    );
    assert.ok(C.lossFunction instanceof loss, `loss of ${v}`);
    assert.ok(C.optimiser instanceof opt, `optimiser of ${v}`);
    for (const l of model.layers) {
      if (l instanceof LeakyReLU) assert.equal(l.negativeSlope, 0.02);
    }
    if (C.optimiser instanceof SGD) assert.equal(C.optimiser.lr, 0.01);
    C.dispose();
  }
});

Deno.test("Classifier.forward() maps a 784-pixel image to 10 outputs", () => {
  const C = new Classifier();
  const y = tf.tidy(() => C.forward(tf.zeros([MNIST_PIXELS])));
  assert.deepEqual(y.shape, [10]);
  const batch = tf.tidy(() => C.forward(tf.zeros([3, MNIST_PIXELS])));
  assert.deepEqual(batch.shape, [3, 10]);
  tf.dispose([y, batch]);
  C.dispose();
});

Deno.test("parseVariant() rejects unknown names with the list of variants", () => {
  assert.equal(parseVariant("bce"), "bce");
  assert.throws(
    () => parseVariant("relu"),
    /Unknown classifier variant "relu": use one of mse_sigmoid_sgd/,
  );
});

Deno.test("BOOK_ACCURACY holds the book's numbers", () => {
  assert.deepEqual(Object.values(BOOK_ACCURACY), [0.87, 0.91, 0.97, 0.97, 0.91, 0.97]);
});

Deno.test("trainEpochs() lowers the loss and the trained classifier scores well on easy data", async () => {
  manualSeed(1);
  const data = toyDataset(200);
  const C = makeClassifier("combined");
  C.printEvery = 0;
  const before = await evaluate(C, data);
  let steps = 0;
  const epochsSeen: number[] = [];
  await trainEpochs(C, data, {
    epochs: 2,
    onStep: () => steps++,
    onEpoch: (e) => {
      epochsSeen.push(e);
    },
  });
  assert.equal(steps, 400);
  assert.deepEqual(epochsSeen, [1, 2]);
  assert.equal(C.counter, 400);
  assert.equal(C.progress.length, 40);
  const first = C.progress.slice(0, 5).reduce((a, b) => a + b) / 5;
  const last = C.progress.slice(-5).reduce((a, b) => a + b) / 5;
  assert.ok(last < first / 2, `loss fell from ${first} to ${last}`);
  const after = await evaluate(C, data);
  assert.ok(after > 0.9 && after > before, `accuracy ${before} -> ${after}`);
  C.dispose();
});

Deno.test("trainEpochs() honours limit and rejects bad epochs", async () => {
  manualSeed(2);
  const data = toyDataset(30);
  const C = makeClassifier("mse_sigmoid_sgd");
  await trainEpochs(C, data, { epochs: 1, limit: 12 });
  assert.equal(C.counter, 12);
  await assert.rejects(
    () => trainEpochs(C, data, { epochs: 1.5 }),
    /epochs must be a whole number/,
  );
  C.dispose();
});

Deno.test("evaluate() counts argmax matches, per sample or batched alike", async () => {
  manualSeed(3);
  const data = toyDataset(25);
  const C = makeClassifier("leaky_relu");
  const one = await score(C, data, { batchSize: 1 });
  const many = await score(C, data, { batchSize: 7 });
  assert.equal(one, many);
  assert.equal(await evaluate(C, data), one / 25);
  assert.equal(await evaluate(C, data, { limit: 10 }), await score(C, data, { limit: 10 }) / 10);
  await assert.rejects(() => evaluate(C, data, { limit: 0 }), /empty dataset/);
  await assert.rejects(() => score(C, data, { batchSize: 0 }), /batchSize must be/);
  C.dispose();
});

Deno.test("trainEpochs() and evaluate() leak no tensors", async () => {
  manualSeed(4);
  const data = toyDataset(20);
  for (const v of CLASSIFIER_VARIANTS) {
    const C = makeClassifier(v);
    // One step first: gradients stay allocated between steps, as in PyTorch.
    await trainEpochs(C, data, { epochs: 1, limit: 1 });
    const before = tf.memory().numTensors;
    await trainEpochs(C, data, { epochs: 2 });
    await evaluate(C, data, { batchSize: 8 });
    assert.equal(tf.memory().numTensors, before, `tensors leaked by ${v}`);
    C.dispose();
  }
});

const canWrite = Deno.permissions.querySync({ name: "write" }).state ===
  "granted";

Deno.test({
  name: "loadClassifier() restores the variant, weights and progress saved in a checkpoint",
  ignore: !canWrite,
  fn: async () => {
    const { saveCheckpoint } = await import("../engine/checkpoint.ts");
    const { loadClassifier, CHECKPOINT_MODULE } = await import(
      "./classifier.ts"
    );
    manualSeed(5);
    const data = toyDataset(20);
    const C = makeClassifier("layer_norm");
    await trainEpochs(C, data, { epochs: 1 });
    const dir = await Deno.makeTempDir();
    const path = `${dir}/c.ckpt`;
    await saveCheckpoint(path, {
      modules: { [CHECKPOINT_MODULE]: C },
      meta: { variant: C.variant },
    });
    const D = await loadClassifier(path);
    assert.equal(D.variant, "layer_norm");
    assert.equal(D.counter, 20);
    assert.equal(score(D, data), score(C, data));
    await saveCheckpoint(path, { modules: { [CHECKPOINT_MODULE]: C } });
    await assert.rejects(() => loadClassifier(path), /names no classifier variant/);
    C.dispose();
    D.dispose();
    await Deno.remove(dir, { recursive: true });
  },
});

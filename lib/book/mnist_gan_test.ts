import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { MnistDataset } from "../data/mnist.ts";
import {
  allFinite,
  epochOrder,
  MNIST_GAN_LR,
  MnistDiscriminator,
  MnistGenerator,
  stepsPerEpoch,
  trainEpoch,
} from "./mnist_gan.ts";
import { Adam } from "../engine/optim.ts";
import { getRngState, manualSeed } from "../engine/random.ts";

await tf.setBackend("cpu");

// 20 tiny synthetic "digits": enough to exercise the loop.
const labels = Uint8Array.from({ length: 20 }, (_, i) => i % 10);
const images = Float32Array.from({ length: 20 * 784 }, (_, i) => ((i * 7919) % 255) / 255);
const data = new MnistDataset(labels, images);

Deno.test("MnistDiscriminator and MnistGenerator follow the book's shapes and Adam lr", () => {
  manualSeed(0);
  const D = new MnistDiscriminator(), G = new MnistGenerator();
  assert.equal(D.numParameters(), 784 * 200 + 200 + 200 * 2 + 200 + 1);
  assert.equal(G.numParameters(), 100 * 200 + 200 + 200 * 2 + 200 * 784 + 784);
  assert.ok(D.optimiser instanceof Adam && D.optimiser.lr === MNIST_GAN_LR);
  assert.equal((G.optimiser as Adam).lr, 0.0001);
  tf.tidy(() => {
    assert.deepEqual(G.forward(tf.zeros([100])).shape, [784]);
    assert.deepEqual(D.forward(tf.zeros([784])).shape, [1]);
    assert.deepEqual(D.forward(G.forward(tf.zeros([3, 100]))).shape, [3, 1]);
  });
  D.dispose();
  G.dispose();
});

Deno.test("trainEpoch() trains D twice and G once per image and leaks no tensors", async () => {
  manualSeed(1);
  const D = new MnistDiscriminator(), G = new MnistGenerator();
  await trainEpoch(D, G, data, { limit: 2 });
  const before = tf.memory().numTensors;
  const r = await trainEpoch(D, G, data, { limit: 10 });
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(r, { step: 10, steps: 10, stopped: false });
  assert.equal(D.counter, 24);
  assert.equal(G.counter, 12);
  D.dispose();
  G.dispose();
});

Deno.test("trainEpoch() batched counts one step per batch, the last one smaller", async () => {
  manualSeed(2);
  const D = new MnistDiscriminator(), G = new MnistGenerator();
  await trainEpoch(D, G, data, { batchSize: 8, limit: 8 });
  const before = tf.memory().numTensors;
  const seen: number[] = [];
  const live: number[] = [];
  const r = await trainEpoch(D, G, data, {
    batchSize: 8,
    onStep: (info) => {
      seen.push(info.images);
      live.push(tf.memory().numTensors);
    },
  });
  // Nothing accumulates during the epoch either, the short last batch included.
  assert.equal(new Set(live).size, 1, `live tensors per step: ${live}`);
  assert.equal(tf.memory().numTensors, before);
  assert.equal(r.steps, stepsPerEpoch(20, 8));
  assert.deepEqual(seen, [8, 16, 20]);
  assert.equal(G.counter, 1 + 3);
  D.dispose();
  G.dispose();
});

Deno.test("trainEpoch() rejects a bad batch size or start step", async () => {
  manualSeed(3);
  const D = new MnistDiscriminator(), G = new MnistGenerator();
  await assert.rejects(trainEpoch(D, G, data, { batchSize: 0 }), /batchSize/);
  await assert.rejects(trainEpoch(D, G, data, { startStep: 21 }), /startStep/);
  D.dispose();
  G.dispose();
});

Deno.test("epochOrder() is a seeded permutation that leaves the random stream alone", () => {
  manualSeed(4);
  const state = getRngState();
  const a = epochOrder(100, { seed: 7, epoch: 1 });
  assert.deepEqual(getRngState(), state);
  assert.deepEqual(Array.from(a), Array.from(epochOrder(100, { seed: 7, epoch: 1 })));
  assert.notDeepEqual(Array.from(a), Array.from(epochOrder(100, { seed: 7, epoch: 2 })));
  assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
});

Deno.test("allFinite() finds a NaN or infinite weight in any module and frees what it reads", async () => {
  manualSeed(5);
  const D = new MnistDiscriminator(), G = new MnistGenerator();
  const before = tf.memory().numTensors;
  assert.equal(await allFinite(D, G), true);
  assert.equal(tf.memory().numTensors, before);
  const p = G.parameters().at(-1)!;
  const good = p.value.dataSync() as Float32Array;
  for (const bad of [NaN, Infinity, -Infinity]) {
    // One bad value among finite ones, not the first.
    const values = good.slice();
    values[3] = bad;
    p.assign(tf.tensor(values, p.value.shape));
    assert.equal(await allFinite(D, G), false, `with ${bad}`);
  }
  p.assign(tf.tensor(good, p.value.shape));
  assert.equal(await allFinite(D, G), true);
  assert.equal(tf.memory().numTensors, before);
  D.dispose();
  G.dispose();
});

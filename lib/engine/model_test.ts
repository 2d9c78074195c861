import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { MSELoss } from "./loss.ts";
import { Model, NonFiniteLossError } from "./model.ts";
import { Linear, Sequential, Sigmoid } from "./nn.ts";
import { SGD } from "./optim.ts";

await tf.setBackend("cpu");

class Tiny extends Model {
  constructor(lr = 0.5) {
    super();
    this.model = new Sequential(new Linear(3, 2), new Sigmoid());
    this.lossFunction = new MSELoss();
    this.optimiser = new SGD(this.parameters(), { lr });
  }
}

const x = () => tf.tensor1d([0.2, -0.4, 0.9]);
const t = () => tf.tensor1d([1, 0]);

Deno.test("Model.train() counts calls, records the loss every 10 and prints every printEvery", () => {
  const m = new Tiny();
  m.printEvery = 20;
  const logged: unknown[][] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => logged.push(a);
  try {
    for (let i = 0; i < 45; i++) tf.tidy(() => m.train(x(), t()));
  } finally {
    console.log = log;
  }
  assert.equal(m.counter, 45);
  assert.equal(m.progress.length, 4);
  assert.deepEqual(logged, [["counter = ", 20], ["counter = ", 40]]);
  // Training on one example drives its loss down.
  assert.ok(m.progress[3] < m.progress[0]);
});

Deno.test("Model.lastLoss is the latest loss that has arrived, skipping pending slots", () => {
  const m = new Tiny();
  assert.equal(m.lastLoss, undefined);
  m.progress.push(0.7, 0.5, NaN); // NaN: a GPU read still on its way
  assert.equal(m.lastLoss, 0.5);
  m.progress[2] = 0.4;
  assert.equal(m.lastLoss, 0.4);
});

Deno.test("Model.train() keeps tf.memory().numTensors flat", () => {
  const m = new Tiny();
  tf.tidy(() => m.train(x(), t()));
  const before = tf.memory().numTensors;
  for (let i = 0; i < 100; i++) tf.tidy(() => m.train(x(), t()));
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("Model.train() stops with NonFiniteLossError naming the step when the loss is NaN", () => {
  const m = new Tiny();
  const bad = tf.tensor1d([NaN, 0, 0]);
  for (let i = 0; i < 9; i++) tf.tidy(() => m.train(x(), t()));
  assert.throws(() => tf.tidy(() => m.train(bad, t())), (e: unknown) => {
    assert.ok(e instanceof NonFiniteLossError);
    assert.equal(e.step, 10);
    assert.match(e.message, /step 10/);
    return true;
  });
});

Deno.test("Model.plotProgress() charts the recorded losses", () => {
  const m = new Tiny();
  for (let i = 0; i < 30; i++) tf.tidy(() => m.train(x(), t()));
  const svg = m.plotProgress().svg;
  assert.equal(svg.match(/<circle/g)?.length, 3);
  assert.match(svg, /Tiny loss/);
});

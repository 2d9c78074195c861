import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { detach } from "./autograd.ts";
import {
  ConditionalDiscriminator,
  ConditionalGenerator,
  Discriminator,
  Generator,
  sampleGenerator,
} from "./gan.ts";
import { BCELoss, MSELoss } from "./loss.ts";
import { LayerNorm, LeakyReLU, Linear, Module, Sequential, Sigmoid } from "./nn.ts";
import { Adam, SGD } from "./optim.ts";
import { generateRandomOneHot, generateRandomSeed, manualSeed, rand } from "./random.ts";

await tf.setBackend("cpu");

// The book's 1010 GAN (section 2.2): D is 4-3-1, G is 1-3-4, sigmoids, MSE, SGD 0.01.
class Discriminator1010 extends Discriminator {
  constructor(lr = 0.01) {
    super();
    this.model = new Sequential(new Linear(4, 3), new Sigmoid(), new Linear(3, 1), new Sigmoid());
    this.lossFunction = new MSELoss();
    this.optimiser = new SGD(this.parameters(), { lr });
    this.printEvery = 0;
  }
}

class Generator1010 extends Generator {
  constructor(lr = 0.01) {
    super();
    // No loss function: G learns from D's loss, as in the book.
    this.model = new Sequential(new Linear(1, 3), new Sigmoid(), new Linear(3, 4), new Sigmoid());
    this.optimiser = new SGD(this.parameters(), { lr });
    this.printEvery = 0;
  }
}

// The improved MNIST layers (section 2.3.8) at toy sizes, with BCE.
class SmallDiscriminator extends Discriminator {
  constructor(lr = 0.01) {
    super();
    this.model = new Sequential(
      new Linear(6, 5),
      new LeakyReLU(0.02),
      new LayerNorm(5),
      new Linear(5, 1),
      new Sigmoid(),
    );
    this.lossFunction = new BCELoss();
    this.optimiser = new SGD(this.parameters(), { lr });
    this.printEvery = 0;
  }
}

class SmallGenerator extends Generator {
  constructor(lr = 0.01) {
    super();
    this.model = new Sequential(
      new Linear(3, 5),
      new LeakyReLU(0.02),
      new LayerNorm(5),
      new Linear(5, 6),
      new Sigmoid(),
    );
    this.optimiser = new SGD(this.parameters(), { lr });
    this.printEvery = 0;
  }
}

// The conditional GAN (section 3.2) at toy sizes: 6-pixel images, 3 labels, seeds of 4.
const PIXELS = 6, LABELS = 3, SEED = 4;

class SmallConditionalDiscriminator extends ConditionalDiscriminator {
  constructor(lr = 0.01) {
    super();
    this.model = new Sequential(
      new Linear(PIXELS + LABELS, 5),
      new LeakyReLU(0.02),
      new LayerNorm(5),
      new Linear(5, 1),
      new Sigmoid(),
    );
    this.lossFunction = new BCELoss();
    this.optimiser = new SGD(this.parameters(), { lr });
    this.printEvery = 0;
  }
}

class SmallConditionalGenerator extends ConditionalGenerator {
  constructor(lr = 0.01) {
    super();
    this.model = new Sequential(
      new Linear(SEED + LABELS, 5),
      new LeakyReLU(0.02),
      new LayerNorm(5),
      new Linear(5, PIXELS),
      new Sigmoid(),
    );
    this.optimiser = new SGD(this.parameters(), { lr });
    this.printEvery = 0;
  }
}

/** Copies of every parameter's value, to compare before and after a step. */
function snapshot(m: Module): Float32Array[] {
  return m.parameters().map((p) => p.value.dataSync().slice() as Float32Array);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

function sameValues(a: Float32Array[], b: Float32Array[]): boolean {
  return a.length === b.length && a.every((x, i) => maxAbsDiff(x, b[i]) === 0);
}

/**
 * The same network written with plain TF.js ops on the given parameter tensors,
 * so TF.js's own autodiff can check the library's analytic backward.
 */
function functional(net: Sequential, params: tf.Tensor[], x: tf.Tensor): tf.Tensor {
  let i = 0;
  let y = x;
  for (const layer of net.layers) {
    if (layer instanceof Linear) {
      const W = params[i++], b = params[i++];
      y = tf.add(tf.matMul(W, y.reshape([-1, 1])).reshape([-1]), b);
    } else if (layer instanceof Sigmoid) {
      y = tf.sigmoid(y);
    } else if (layer instanceof LeakyReLU) {
      y = tf.leakyRelu(y, layer.negativeSlope);
    } else if (layer instanceof LayerNorm) {
      const w = params[i++], b = params[i++];
      const { mean, variance } = tf.moments(y, -1, true);
      y = tf.add(tf.mul(tf.div(tf.sub(y, mean), tf.sqrt(tf.add(variance, layer.eps))), w), b);
    } else {
      throw new Error(`functional() does not know ${layer.constructor.name}`);
    }
  }
  return y;
}

function mse(y: tf.Tensor, t: tf.Tensor): tf.Scalar {
  return tf.mean(tf.square(tf.sub(y, t)));
}

function bce(y: tf.Tensor, t: tf.Tensor): tf.Scalar {
  return tf.neg(tf.mean(tf.add(tf.mul(t, tf.log(y)), tf.mul(tf.sub(1, t), tf.log(tf.sub(1, y))))));
}

/** Runs the book's 1010 training loop for `n` iterations. */
function train1010(D: Discriminator1010, G: Generator1010, n: number): void {
  const one = tf.tensor1d([1]), zero = tf.tensor1d([0]), half = tf.tensor1d([0.5]);
  for (let i = 0; i < n; i++) {
    tf.tidy(() => {
      const real = tf.tensor1d([
        0.8 + 0.2 * rand(),
        0.2 * rand(),
        0.8 + 0.2 * rand(),
        0.2 * rand(),
      ]);
      D.train(real, one);
      D.train(detach(G.forward(half)), zero);
      G.train(D, half, one);
    });
  }
  tf.dispose([one, zero, half]);
}

function mean(xs: number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}

Deno.test("Generator.train() steps only G and leaves no gradients in D", () => {
  manualSeed(1);
  const D = new Discriminator1010(), G = new Generator1010();
  const d0 = snapshot(D), g0 = snapshot(G);
  tf.tidy(() => G.train(D, tf.tensor1d([0.5]), tf.tensor1d([1])));
  assert.ok(sameValues(snapshot(D), d0), "D's weights changed during G's step");
  assert.ok(!sameValues(snapshot(G), g0), "G's weights did not change");
  assert.ok(D.parameters().every((p) => p.grad === null), "G's step left gradients in D");
  assert.ok(D.parameters().every((p) => p.requiresGrad), "D stayed frozen after G's step");
  assert.equal(G.counter, 1);
  assert.equal(D.counter, 0);
  D.dispose();
  G.dispose();
});

Deno.test("Generator.train() unfreezes D even when the step throws", () => {
  manualSeed(2);
  const D = new Discriminator1010(), G = new Generator1010();
  // Targets of the wrong shape make D's loss function throw inside the step.
  assert.throws(
    () => tf.tidy(() => G.train(D, tf.tensor1d([0.5]), tf.tensor1d([1, 1]))),
    /must match/,
  );
  assert.ok(D.parameters().every((p) => p.requiresGrad));
  D.dispose();
  G.dispose();
});

Deno.test("Discriminator.train() updates D and counts its calls", () => {
  manualSeed(3);
  const D = new Discriminator1010();
  const d0 = snapshot(D);
  for (let i = 0; i < 10; i++) {
    tf.tidy(() => D.train(tf.tensor1d([1, 0, 1, 0]), tf.tensor1d([1])));
  }
  assert.ok(!sameValues(snapshot(D), d0));
  assert.equal(D.counter, 10);
  assert.equal(D.progress.length, 1);
  D.dispose();
});

Deno.test("Discriminator.train() on detach(G(x)) leaves G untouched", () => {
  manualSeed(4);
  const D = new Discriminator1010(), G = new Generator1010();
  const g0 = snapshot(G);
  tf.tidy(() => D.train(detach(G.forward(tf.tensor1d([0.5]))), tf.tensor1d([0])));
  assert.ok(sameValues(snapshot(G), g0));
  assert.ok(G.parameters().every((p) => p.grad === null), "D's step left gradients in G");
  D.dispose();
  G.dispose();
});

for (
  const [name, makeD, makeG, loss, seedSize] of [
    [
      "the 1010 GAN (MSE, sigmoid)",
      () => new Discriminator1010(1),
      () => new Generator1010(1),
      mse,
      1,
    ],
    [
      "the improved layers (BCE, LeakyReLU, LayerNorm)",
      () => new SmallDiscriminator(1),
      () => new SmallGenerator(1),
      bce,
      3,
    ],
  ] as const
) {
  Deno.test(`Generator.train() follows TF.js autodiff through D for ${name}`, () => {
    manualSeed(5);
    const D = makeD(), G = makeG();
    const seed = generateRandomSeed(seedSize);
    const target = tf.tensor1d([1]);
    const gParams = G.parameters().map((p) => p.value.clone());
    const dParams = D.parameters().map((p) => p.value.clone());
    const gNet = G.model as Sequential, dNet = D.model as Sequential;
    // d loss(D(G(seed))) / d G's parameters, by TF.js's tape.
    const expected = tf.grads((...ps: tf.Tensor[]) =>
      loss(functional(dNet, dParams, functional(gNet, ps, seed)), target)
    )(gParams);
    // With SGD and lr = 1 the step is exactly minus the gradient.
    tf.tidy(() => G.train(D, seed, target));
    G.parameters().forEach((p, i) => {
      const step = tf.sub(gParams[i], p.value);
      const err = maxAbsDiff(step.dataSync(), expected[i].dataSync());
      const scale = Math.max(1e-3, ...Array.from(expected[i].dataSync(), Math.abs));
      assert.ok(err / scale < 1e-4, `parameter ${i}: max |diff| ${err} (scale ${scale})`);
      step.dispose();
    });
    tf.dispose([seed, target, ...gParams, ...dParams, ...expected]);
    D.dispose();
    G.dispose();
  });
}

Deno.test("ConditionalGenerator.forward() concatenates the label to the seed", () => {
  manualSeed(6);
  const G = new SmallConditionalGenerator();
  const seed = generateRandomSeed(SEED), label = generateRandomOneHot(LABELS);
  const out = G.forward(seed, label);
  assert.deepEqual(out.shape, [PIXELS]);
  // Same as running the network on the concatenation by hand.
  const byHand = G.model.forward(tf.concat([seed, label]));
  assert.ok(maxAbsDiff(out.dataSync(), byHand.dataSync()) < 1e-6);
  // A seed without its label is the wrong size for the first layer.
  assert.throws(() => G.model.forward(seed), /last dimension must be 7/);
  tf.dispose([seed, label, out, byHand]);
  G.dispose();
});

Deno.test("ConditionalDiscriminator.forward() concatenates the label to the image", () => {
  manualSeed(7);
  const D = new SmallConditionalDiscriminator();
  const image = tf.randomUniform([PIXELS]), label = generateRandomOneHot(LABELS);
  const out = D.forward(image, label);
  assert.deepEqual(out.shape, [1]);
  const other = tf.tensor1d([0, 0, 1]);
  // The label changes the verdict on the same image.
  const o1 = D.forward(image, tf.tensor1d([1, 0, 0]));
  const o2 = D.forward(image, other);
  assert.notEqual(o1.dataSync()[0], o2.dataSync()[0]);
  tf.dispose([image, label, out, other, o1, o2]);
  D.dispose();
});

Deno.test("ConditionalGenerator.train() steps only G, through D with the same label", () => {
  manualSeed(8);
  const D = new SmallConditionalDiscriminator(1), G = new SmallConditionalGenerator(1);
  const seed = generateRandomSeed(SEED), label = generateRandomOneHot(LABELS);
  const target = tf.tensor1d([1]);
  const d0 = snapshot(D);
  const gParams = G.parameters().map((p) => p.value.clone());
  const dParams = D.parameters().map((p) => p.value.clone());
  const gNet = G.model as Sequential, dNet = D.model as Sequential;
  const expected = tf.grads((...ps: tf.Tensor[]) => {
    const image = functional(gNet, ps, tf.concat([seed, label]));
    return bce(functional(dNet, dParams, tf.concat([image, label])), target);
  })(gParams);
  tf.tidy(() => G.train(D, seed, label, target));
  assert.ok(sameValues(snapshot(D), d0));
  assert.ok(D.parameters().every((p) => p.grad === null && p.requiresGrad));
  G.parameters().forEach((p, i) => {
    const step = tf.sub(gParams[i], p.value);
    const err = maxAbsDiff(step.dataSync(), expected[i].dataSync());
    const scale = Math.max(1e-3, ...Array.from(expected[i].dataSync(), Math.abs));
    assert.ok(err / scale < 1e-4, `parameter ${i}: max |diff| ${err} (scale ${scale})`);
    step.dispose();
  });
  tf.dispose([seed, label, target, ...gParams, ...dParams, ...expected]);
  D.dispose();
  G.dispose();
});

Deno.test("ConditionalDiscriminator.train() updates D and counts its calls", () => {
  manualSeed(9);
  const D = new SmallConditionalDiscriminator();
  const d0 = snapshot(D);
  tf.tidy(() =>
    D.train(tf.randomUniform([PIXELS]), generateRandomOneHot(LABELS), tf.tensor1d([1]))
  );
  assert.ok(!sameValues(snapshot(D), d0));
  assert.equal(D.counter, 1);
  D.dispose();
});

Deno.test("GAN training loops keep tf.memory().numTensors flat", () => {
  manualSeed(10);
  const D = new Discriminator1010(), G = new Generator1010();
  train1010(D, G, 5);
  const before = tf.memory().numTensors;
  train1010(D, G, 200);
  assert.equal(tf.memory().numTensors, before, "the 1010 loop leaks tensors");

  // The conditional loop of the book's notebook 16, with Adam as there.
  const CD = new SmallConditionalDiscriminator(), CG = new SmallConditionalGenerator();
  CD.optimiser = new Adam(CD.parameters(), { lr: 1e-4 });
  CG.optimiser = new Adam(CG.parameters(), { lr: 1e-4 });
  const one = tf.tensor1d([1]), zero = tf.tensor1d([0]);
  const step = () =>
    tf.tidy(() => {
      CD.train(tf.randomUniform([PIXELS]), generateRandomOneHot(LABELS), one);
      const randomLabel = generateRandomOneHot(LABELS);
      CD.train(detach(CG.forward(generateRandomSeed(SEED), randomLabel)), randomLabel, zero);
      CG.train(CD, generateRandomSeed(SEED), generateRandomOneHot(LABELS), one);
    });
  for (let i = 0; i < 5; i++) step();
  const before2 = tf.memory().numTensors;
  for (let i = 0; i < 200; i++) step();
  assert.equal(tf.memory().numTensors, before2, "the conditional loop leaks tensors");
  tf.dispose([one, zero]);
  for (const m of [D, G, CD, CG]) m.dispose();
});

Deno.test("the 1010 GAN learns G(0.5) = 1010 with both MSE losses near 0.25 (book 2.2.6)", () => {
  // 10,000 iterations as in the book, three seeds: ~5-15 s each on 2 busy cores.
  const seeds = [1, 2, 3];
  let good = 0;
  const report: string[] = [];
  for (const s of seeds) {
    manualSeed(s);
    const D = new Discriminator1010(), G = new Generator1010();
    train1010(D, G, 10_000);
    const out = tf.tidy(() => Array.from(G.forward(tf.tensor1d([0.5])).dataSync()));
    // Last 2,000 iterations (the loss is recorded every 10 calls; D is called twice per iteration).
    const dLoss = mean(D.progress.slice(-400)), gLoss = mean(G.progress.slice(-200));
    report.push(
      `seed ${s}: G(0.5) = [${out.map((x) => x.toFixed(3))}], D loss ${dLoss.toFixed(3)}, ` +
        `G loss ${gLoss.toFixed(3)}`,
    );
    const pattern = out[0] > 0.8 && out[2] > 0.8 && out[1] < 0.2 && out[3] < 0.2;
    const balanced = Math.abs(dLoss - 0.25) < 0.05 && Math.abs(gLoss - 0.25) < 0.05;
    if (pattern && balanced) good++;
    D.dispose();
    G.dispose();
  }
  assert.ok(good >= 2, `only ${good} of ${seeds.length} runs learned 1010:\n${report.join("\n")}`);
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

import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../backends/backend.ts";
import {
  CELEBA_IMAGE,
  ConvFaceDiscriminator,
  convFaceDiscriminatorNetwork,
  ConvFaceGenerator,
  convFaceGeneratorNetwork,
  faceGanMemory,
  FcFaceDiscriminator,
  fcFaceDiscriminatorNetwork,
  FcFaceGenerator,
  fcFaceGeneratorNetwork,
  generateImage,
  trainFaceGan,
} from "./face_gan.ts";
import { noGrad } from "../engine/autograd.ts";
import {
  BatchNorm2d,
  Conv2d,
  ConvTranspose2d,
  GELU,
  LayerNorm,
  LeakyReLU,
  Linear,
  type Module,
  type Sequential,
  Sigmoid,
  View,
} from "../engine/nn.ts";
import type { Discriminator, Generator } from "../engine/gan.ts";
import { manualSeed } from "../engine/random.ts";

// wasm, as the notebooks use, with the project's conv gradient kernels.
await initBackend({ order: ["wasm"], log: () => {} });

/** Output shape after every layer of `net` for input `x` (no gradients recorded). */
function layerShapes(net: Sequential, x: tf.Tensor): number[][] {
  return tf.tidy(() =>
    noGrad(() => {
      const shapes: number[][] = [];
      let y = x;
      for (const layer of net.layers) {
        y = layer.forward(y);
        shapes.push(y.shape);
      }
      return shapes;
    })
  );
}

/** A short description of a layer's configuration, PyTorch-style. */
function describe(m: Module): string {
  if (m instanceof Conv2d) {
    return `Conv2d(${m.inChannels},${m.outChannels},k${m.kernelSize[0]},s${m.stride[0]},p${
      m.padding[0]
    })`;
  }
  if (m instanceof ConvTranspose2d) {
    return `ConvTranspose2d(${m.inChannels},${m.outChannels},k${m.kernelSize[0]},s${m.stride[0]},p${
      m.padding[0]
    })`;
  }
  if (m instanceof Linear) return `Linear(${m.inFeatures},${m.outFeatures})`;
  if (m instanceof LeakyReLU) return `LeakyReLU(${m.negativeSlope})`;
  if (m instanceof LayerNorm) return `LayerNorm(${m.normalizedShape})`;
  if (m instanceof BatchNorm2d) return `BatchNorm2d(${m.numFeatures})`;
  if (m instanceof View) return `View(${m.shape})`;
  if (m instanceof GELU) return "GELU";
  if (m instanceof Sigmoid) return "Sigmoid";
  return m.constructor.name;
}

Deno.test("convFaceDiscriminatorNetwork() has the book's layers (notebook 14)", () => {
  const net = convFaceDiscriminatorNetwork();
  assert.deepEqual(net.layers.map(describe), [
    "Conv2d(3,256,k8,s2,p0)",
    "BatchNorm2d(256)",
    "LeakyReLU(0.2)",
    "Conv2d(256,256,k8,s2,p0)",
    "BatchNorm2d(256)",
    "LeakyReLU(0.2)",
    "Conv2d(256,3,k8,s2,p0)",
    "LeakyReLU(0.2)",
    "View(300)",
    "Linear(300,1)",
    "Sigmoid",
  ]);
  net.dispose();
});

Deno.test("convFaceGeneratorNetwork() has the book's layers (notebook 14)", () => {
  const net = convFaceGeneratorNetwork();
  assert.deepEqual(net.layers.map(describe), [
    "Linear(100,363)",
    "LeakyReLU(0.2)",
    "View(1,11,11,3)",
    "ConvTranspose2d(3,256,k8,s2,p0)",
    "BatchNorm2d(256)",
    "LeakyReLU(0.2)",
    "ConvTranspose2d(256,256,k8,s2,p0)",
    "BatchNorm2d(256)",
    "LeakyReLU(0.2)",
    "ConvTranspose2d(256,3,k8,s2,p1)",
    "BatchNorm2d(3)",
    "Sigmoid",
  ]);
  net.dispose();
});

Deno.test("convFace*Network() use GELU everywhere LeakyReLU was when activation is gelu (notebook 15)", () => {
  const d = convFaceDiscriminatorNetwork({ activation: "gelu", features: 4 });
  const g = convFaceGeneratorNetwork({ activation: "gelu", features: 4 });
  for (const net of [d, g]) {
    const names = net.layers.map(describe);
    assert.equal(names.filter((n) => n.startsWith("LeakyReLU")).length, 0);
  }
  assert.equal(d.layers.filter((m) => m instanceof GELU).length, 3);
  assert.equal(g.layers.filter((m) => m instanceof GELU).length, 3);
  d.dispose();
  g.dispose();
  assert.throws(
    () => convFaceDiscriminatorNetwork({ activation: "relu" as "gelu" }),
    /Unknown activation "relu"/,
  );
});

Deno.test("convFaceDiscriminatorNetwork() shrinks 128 -> 61 -> 27 -> 10 then to one output", () => {
  const net = convFaceDiscriminatorNetwork({ features: 4 });
  const x = tf.randomUniform([1, 128, 128, 3]);
  assert.deepEqual(layerShapes(net, x), [
    [1, 61, 61, 4],
    [1, 61, 61, 4],
    [1, 61, 61, 4],
    [1, 27, 27, 4],
    [1, 27, 27, 4],
    [1, 27, 27, 4],
    [1, 10, 10, 3],
    [1, 10, 10, 3],
    [300],
    [1],
    [1],
  ]);
  x.dispose();
  net.dispose();
});

Deno.test("convFaceGeneratorNetwork() grows a seed 11 -> 28 -> 62 -> 128 into a [1, 128, 128, 3] image", () => {
  const net = convFaceGeneratorNetwork({ features: 4 });
  const seed = tf.randomNormal([100]);
  const shapes = layerShapes(net, seed);
  assert.deepEqual(shapes, [
    [363],
    [363],
    [1, 11, 11, 3],
    [1, 28, 28, 4],
    [1, 28, 28, 4],
    [1, 28, 28, 4],
    [1, 62, 62, 4],
    [1, 62, 62, 4],
    [1, 62, 62, 4],
    [1, 128, 128, 3],
    [1, 128, 128, 3],
    [1, 128, 128, 3],
  ]);
  const out = tf.tidy(() => noGrad(() => net.forward(seed)).dataSync());
  assert.ok(out.every((v) => v >= 0 && v <= 1), "sigmoid output is in 0-1");
  seed.dispose();
  net.dispose();
});

Deno.test("fcFace*Network() have the book's layers at full CelebA size (notebook 12)", () => {
  const d = fcFaceDiscriminatorNetwork();
  assert.deepEqual(d.layers.map(describe), [
    "View(116412)",
    "Linear(116412,100)",
    "LeakyReLU(0.01)",
    "LayerNorm(100)",
    "Linear(100,1)",
    "Sigmoid",
  ]);
  d.dispose();
  const g = fcFaceGeneratorNetwork();
  assert.deepEqual(g.layers.map(describe), [
    "Linear(100,300)",
    "LeakyReLU(0.01)",
    "LayerNorm(300)",
    "Linear(300,116412)",
    "Sigmoid",
    "View(218,178,3)",
  ]);
  // The generator's output is an image of CelebA's shape.
  const seed = tf.randomNormal([100]);
  assert.deepEqual(layerShapes(g, seed).at(-1), [...CELEBA_IMAGE]);
  seed.dispose();
  g.dispose();
});

Deno.test("fcFaceDiscriminatorNetwork() flattens an image to a vector and outputs one probability", () => {
  const d = fcFaceDiscriminatorNetwork({ imageShape: [20, 18, 3] });
  const x = tf.randomUniform([20, 18, 3]);
  assert.deepEqual(layerShapes(d, x), [[1080], [100], [100], [100], [1], [1]]);
  x.dispose();
  d.dispose();
});

/** Trains a few iterations and checks losses stay finite and no tensor leaks. */
async function trainsWithoutLeaks(
  D: Discriminator,
  G: Generator,
  image: tf.Tensor,
  iterations: number,
) {
  trainFaceGan(D, G, image); // first step creates gradients and optimiser state
  const before = tf.memory().numTensors;
  for (let i = 1; i < iterations; i++) {
    trainFaceGan(D, G, image);
    assert.equal(tf.memory().numTensors, before, `tensors leaked at iteration ${i}`);
  }
  assert.equal(D.counter, 2 * iterations);
  assert.equal(G.counter, iterations);
  assert.ok(D.progress.length >= 1 && D.progress.every(Number.isFinite), `D ${D.progress}`);
  assert.ok(G.progress.length >= 1 && G.progress.every(Number.isFinite), `G ${G.progress}`);
  // A generated image is a flat array of pixels of the image's size.
  assert.equal((await generateImage(G)).length, image.size);
  assert.equal(tf.memory().numTensors, before);
}

Deno.test("trainFaceGan() trains the fully connected GAN with finite losses and no leaks", async () => {
  manualSeed(12);
  const opts = { imageShape: [20, 18, 3] as const };
  const D = new FcFaceDiscriminator(opts);
  const G = new FcFaceGenerator(opts);
  const image = tf.randomUniform([20, 18, 3]);
  await trainsWithoutLeaks(D, G, image, 10);
  tf.dispose([image]);
  D.dispose();
  G.dispose();
});

for (const activation of ["leakyReLU", "gelu"] as const) {
  Deno.test(`trainFaceGan() trains the convolutional GAN (${activation}) with finite losses and no leaks`, async () => {
    manualSeed(14);
    const opts = { activation, features: 4 };
    const D = new ConvFaceDiscriminator(opts);
    const G = new ConvFaceGenerator(opts);
    const image = tf.randomUniform([1, 128, 128, 3]);
    await trainsWithoutLeaks(D, G, image, 10);
    tf.dispose([image]);
    D.dispose();
    G.dispose();
  });
}

Deno.test("trainFaceGan() updates both networks", () => {
  manualSeed(3);
  const D = new ConvFaceDiscriminator({ features: 4 });
  const G = new ConvFaceGenerator({ features: 4 });
  const snap = (m: Module) => m.parameters().map((p) => Float32Array.from(p.value.dataSync()));
  const d0 = snap(D), g0 = snap(G);
  const image = tf.randomUniform([1, 128, 128, 3]);
  trainFaceGan(D, G, image);
  const changed = (a: Float32Array[], b: Float32Array[]) =>
    a.every((x, i) => x.some((v, j) => v !== b[i][j]));
  assert.ok(changed(d0, snap(D)), "every D parameter changed");
  assert.ok(changed(g0, snap(G)), "every G parameter changed");
  image.dispose();
  D.dispose();
  G.dispose();
});

Deno.test("faceGanMemory() reports a peak above the resting allocation and frees everything", () => {
  const before = tf.memory().numTensors;
  const m = faceGanMemory("conv", { features: 4 });
  assert.ok(m.allocatedBytes > 0);
  assert.ok(m.peakBytes > m.allocatedBytes, JSON.stringify(m));
  assert.equal(tf.memory().numTensors, before);
  // The small fully connected GAN: parameters and Adam state dominate.
  const fc = faceGanMemory("fc", { imageShape: [20, 18, 3] });
  assert.ok(fc.peakBytes > fc.allocatedBytes, JSON.stringify(fc));
  assert.throws(() => faceGanMemory("mlp" as "fc"), /Unknown face GAN "mlp"/);
});

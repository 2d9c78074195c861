import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "node:assert/strict";
import { backward, noGrad, record } from "./autograd.ts";
import {
  BatchNorm2d,
  cat,
  Conv2d,
  ConvTranspose2d,
  GELU,
  LayerNorm,
  LeakyReLU,
  Linear,
  type Module,
  ReLU,
  Sequential,
  Sigmoid,
  Tanh,
  View,
} from "./nn.ts";
import { manualSeed } from "./random.ts";
import { registerWasmConvKernels } from "../backends/wasm_conv.ts";

registerWasmConvKernels();
await tf.setBackend("cpu");

function maxRelDiff(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync(), y = b.dataSync();
  assert.equal(x.length, y.length);
  let m = 0, scale = 1e-6;
  for (let i = 0; i < x.length; i++) {
    m = Math.max(m, Math.abs(x[i] - y[i]));
    scale = Math.max(scale, Math.abs(y[i]));
  }
  return m / scale;
}

/** Compares the module's analytic backward with TF.js autodiff of the same forward. */
function checkGradients(module: Module, xShape: number[], tol = 1e-5): void {
  tf.tidy(() => {
    const x = tf.randomNormal(xShape, 0, 1, "float32", 7);
    const params = module.parameters();
    const originals = params.map((p) => p.value);
    const f = (...args: tf.Tensor[]) => {
      params.forEach((p, i) => (p.value = args[i + 1]));
      try {
        return noGrad(() => module.forward(args[0]));
      } finally {
        params.forEach((p, i) => (p.value = originals[i]));
      }
    };
    const yShape = f(x, ...originals).shape;
    const r = tf.randomNormal(yShape, 0, 1, "float32", 11);
    const ref = tf.grads((...args: tf.Tensor[]) => tf.sum(tf.mul(f(...args), r)))([
      x,
      ...originals,
    ]);

    let dx: tf.Tensor | null = null;
    const probe = record(x.clone(), [], (dy) => {
      dx = tf.keep(dy.clone());
      return [];
    }, true);
    module.zeroGrad();
    const y = module.forward(probe);
    backward(y, r);
    assert.ok(dx, "input gradient computed");
    assert.ok(
      maxRelDiff(dx!, ref[0]) < tol,
      `dx differs by ${maxRelDiff(dx!, ref[0])}`,
    );
    params.forEach((p, i) => {
      assert.ok(p.grad, `gradient of parameter ${i}`);
      const d = maxRelDiff(p.grad!, ref[i + 1]);
      assert.ok(d < tol, `parameter ${i} gradient differs by ${d}`);
    });
    module.zeroGrad();
    tf.dispose(dx!);
  });
}

Deno.test("Linear() draws weights and bias from U(-1/sqrt(in), 1/sqrt(in)) like PyTorch", () => {
  manualSeed(1);
  const layer = new Linear(784, 200);
  const bound = 1 / Math.sqrt(784);
  const w = layer.weight.value.dataSync() as Float32Array;
  const b = layer.bias!.value.dataSync();
  assert.deepEqual(layer.weight.value.shape, [200, 784]);
  assert.ok(w.every((v) => Math.abs(v) <= bound));
  assert.ok(b.every((v) => Math.abs(v) <= bound));
  // A uniform distribution fills the range: min and max near the bounds, mean near 0.
  let lo = Infinity, hi = -Infinity;
  for (const v of w) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
  assert.ok(hi > 0.99 * bound && lo < -0.99 * bound);
  const mean = w.reduce((s, v) => s + v, 0) / w.length;
  assert.ok(Math.abs(mean) < 0.01 * bound);
  // Variance of U(-a, a) is a^2 / 3.
  const variance = w.reduce((s, v) => s + v * v, 0) / w.length;
  assert.ok(Math.abs(variance / (bound * bound / 3) - 1) < 0.02);
  layer.dispose();
});

Deno.test("Linear() computes W x + b for a sample and a batch", () => {
  const layer = new Linear(2, 2);
  layer.weight.assign(tf.tensor2d([[1, 2], [3, 4]]));
  layer.bias!.assign(tf.tensor1d([0.5, -0.5]));
  assert.deepEqual(Array.from(layer.forward(tf.tensor1d([1, 1])).dataSync()), [
    3.5,
    6.5,
  ]);
  const batch = layer.forward(tf.tensor2d([[1, 1], [1, 0]]));
  assert.deepEqual(batch.shape, [2, 2]);
  assert.deepEqual(Array.from(batch.dataSync()), [3.5, 6.5, 1.5, 2.5]);
  assert.throws(() => layer.forward(tf.zeros([3])), /last dimension must be 2/);
  layer.dispose();
});

Deno.test("manualSeed() makes initial weights reproducible", () => {
  manualSeed(42);
  const a = new Linear(10, 5);
  manualSeed(42);
  const b = new Linear(10, 5);
  assert.deepEqual(a.weight.value.dataSync(), b.weight.value.dataSync());
  a.dispose();
  b.dispose();
});

Deno.test("LeakyReLU() defaults to PyTorch's slope 0.01", () => {
  const y = new LeakyReLU().forward(tf.tensor1d([-2, 3]));
  assert.deepEqual(Array.from(y.dataSync()).map((v) => +v.toFixed(6)), [
    -0.02,
    3,
  ]);
});

Deno.test("LayerNorm() normalises the last dimension with eps 1e-5", () => {
  const y = new LayerNorm(4).forward(tf.tensor1d([1, 2, 3, 4]));
  // mean 2.5, biased variance 1.25
  const expected = [1, 2, 3, 4].map((v) => (v - 2.5) / Math.sqrt(1.25 + 1e-5));
  y.dataSync().forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6));
});

Deno.test("GELU() matches x * Phi(x) at hand-computed points", () => {
  const y = new GELU().forward(tf.tensor1d([-1, 0, 1])).dataSync();
  // Phi(1) = 0.841344746
  assert.ok(Math.abs(y[2] - 0.841344746) < 1e-5);
  assert.ok(Math.abs(y[0] + (1 - 0.841344746)) < 1e-5);
  assert.equal(y[1], 0);
});

Deno.test("Conv2d() output size is floor((in + 2p - k) / s) + 1", () => {
  assert.deepEqual(
    new Conv2d(1, 10, 5, { stride: 2 }).forward(tf.zeros([1, 28, 28, 1])).shape,
    [1, 12, 12, 10],
  );
  assert.deepEqual(
    new Conv2d(10, 10, 3, { stride: 2 }).forward(tf.zeros([1, 12, 12, 10]))
      .shape,
    [1, 5, 5, 10],
  );
  assert.deepEqual(
    new Conv2d(3, 4, 8, { stride: 2 }).forward(tf.zeros([128, 128, 3])).shape,
    [61, 61, 4],
  );
  assert.deepEqual(
    new Conv2d(1, 1, 3, { padding: 2 }).forward(tf.zeros([1, 4, 4, 1])).shape,
    [1, 6, 6, 1],
  );
});

Deno.test("ConvTranspose2d() output size is (in - 1) * s - 2p + k, the book's 11 -> 28 -> 62 -> 128", () => {
  const g1 = new ConvTranspose2d(3, 2, 8, { stride: 2 });
  const g2 = new ConvTranspose2d(2, 2, 8, { stride: 2 });
  const g3 = new ConvTranspose2d(2, 3, 8, { stride: 2, padding: 1 });
  const a = g1.forward(tf.zeros([1, 11, 11, 3]));
  assert.deepEqual(a.shape, [1, 28, 28, 2]);
  const b = g2.forward(a);
  assert.deepEqual(b.shape, [1, 62, 62, 2]);
  assert.deepEqual(g3.forward(b).shape, [1, 128, 128, 3]);
});

Deno.test("ConvTranspose2d() init uses fan-in out * k * k like PyTorch", () => {
  const layer = new ConvTranspose2d(256, 3, 8);
  const bound = 1 / Math.sqrt(3 * 8 * 8);
  const w = layer.weight.value.dataSync() as Float32Array;
  assert.deepEqual(layer.weight.value.shape, [8, 8, 3, 256]);
  assert.ok(
    w.every((v) => Math.abs(v) <= bound) && w.some((v) => v > 0.95 * bound),
  );
});

Deno.test("View() reshapes like tensor.view() and keeps a batch dimension when needed", () => {
  // The book's View(250) after a batch-1 convolution gives a plain [250] vector.
  assert.deepEqual(new View(250).forward(tf.zeros([1, 5, 5, 10])).shape, [250]);
  assert.deepEqual(new View(250).forward(tf.zeros([4, 5, 5, 10])).shape, [
    4,
    250,
  ]);
  assert.deepEqual(new View(250).forward(tf.zeros([5, 5, 10])).shape, [250]);
  assert.deepEqual(
    new View(3, 218, 178).forward(tf.zeros([218, 178, 3])).shape,
    [3, 218, 178],
  );
  assert.throws(() => new View(7).forward(tf.zeros([10])), /cannot reshape/);
});

Deno.test("BatchNorm2d() normalises each channel over N, H, W and tracks running stats", () => {
  const bn = new BatchNorm2d(2);
  const x = tf.tensor4d([1, 10, 3, 20], [1, 2, 1, 2]);
  const y = bn.forward(x).dataSync();
  // channel 0: [1, 3], mean 2, var 1 -> [-1, 1] (up to eps)
  assert.ok(Math.abs(y[0] + 1) < 1e-4 && Math.abs(y[2] - 1) < 1e-4);
  // running mean = 0.9 * 0 + 0.1 * 2; running var = 0.9 + 0.1 * unbiased var 2
  const rm = bn.runningMean.value.dataSync(),
    rv = bn.runningVar.value.dataSync();
  assert.ok(Math.abs(rm[0] - 0.2) < 1e-6 && Math.abs(rv[0] - 1.1) < 1e-6);
  bn.eval();
  const z = bn.forward(x).dataSync();
  assert.ok(Math.abs(z[0] - (1 - 0.2) / Math.sqrt(1.1 + 1e-5)) < 1e-5);
});

for (
  const [name, make, shape] of [
    ["Linear sample", () => new Linear(6, 4), [6]],
    ["Linear batch", () => new Linear(6, 4), [3, 6]],
    ["Sigmoid", () => new Sigmoid(), [5]],
    ["Tanh", () => new Tanh(), [5]],
    ["ReLU", () => new ReLU(), [5]],
    ["LeakyReLU(0.02)", () => new LeakyReLU(0.02), [2, 5]],
    ["GELU", () => new GELU(), [7]],
    ["LayerNorm sample", () => new LayerNorm(6), [6]],
    ["LayerNorm batch", () => new LayerNorm(6), [4, 6]],
    ["BatchNorm2d", () => new BatchNorm2d(3), [2, 4, 4, 3]],
    ["BatchNorm2d eval", () => new BatchNorm2d(3).eval(), [2, 4, 4, 3]],
    ["Conv2d k5 s2", () => new Conv2d(2, 3, 5, { stride: 2 }), [1, 12, 12, 2]],
    ["Conv2d k3 s1 p1", () => new Conv2d(2, 3, 3, { padding: 1 }), [
      2,
      6,
      6,
      2,
    ]],
    [
      "ConvTranspose2d k4 s2 p1",
      () => new ConvTranspose2d(3, 2, 4, { stride: 2, padding: 1 }),
      [1, 5, 5, 3],
    ],
    ["ConvTranspose2d k3 s1", () => new ConvTranspose2d(3, 2, 3), [2, 4, 4, 3]],
    ["View", () => new View(12), [3, 4]],
    [
      "Sequential MLP",
      () =>
        new Sequential(
          new Linear(8, 5),
          new LeakyReLU(0.02),
          new LayerNorm(5),
          new Linear(5, 3),
          new Sigmoid(),
        ),
      [8],
    ],
  ] as [string, () => Module, number[]][]
) {
  for (const backend of ["cpu", "wasm"]) {
    Deno.test(`${name} backward matches TF.js autodiff on ${backend}`, async () => {
      await tf.setBackend(backend);
      try {
        const m = make();
        checkGradients(m, shape);
        m.dispose();
      } finally {
        await tf.setBackend("cpu");
      }
    });
  }
}

Deno.test("cat() splits the gradient back to its inputs", () => {
  tf.tidy(() => {
    let ga: tf.Tensor | null = null, gb: tf.Tensor | null = null;
    const a = record(
      tf.tensor1d([1, 2]),
      [],
      (dy) => ((ga = tf.keep(dy.clone())), []),
      true,
    );
    const b = record(
      tf.tensor1d([3]),
      [],
      (dy) => ((gb = tf.keep(dy.clone())), []),
      true,
    );
    const y = cat([a, b]);
    backward(y, tf.tensor1d([10, 20, 30]));
    assert.deepEqual(Array.from(ga!.dataSync()), [10, 20]);
    assert.deepEqual(Array.from(gb!.dataSync()), [30]);
  });
});

Deno.test("training steps keep tf.memory().numTensors flat", async () => {
  const { Adam } = await import("./optim.ts");
  const { BCELoss } = await import("./loss.ts");
  const net = new Sequential(
    new Linear(20, 10),
    new LeakyReLU(0.02),
    new LayerNorm(10),
    new Linear(10, 3),
    new Sigmoid(),
  );
  const opt = new Adam(net.parameters());
  const loss = new BCELoss();
  const x = tf.randomUniform([20]);
  const t = tf.tensor1d([0, 1, 0]);
  const step = () =>
    tf.tidy(() => {
      const l = loss.forward(net.forward(x), t);
      opt.zeroGrad();
      l.backward();
      opt.step();
    });
  step();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 50; i++) step();
  assert.equal(tf.memory().numTensors, before);
  net.dispose();
  opt.dispose();
  tf.dispose([x, t]);
});

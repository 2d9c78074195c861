/**
 * The fused WGSL kernels against the cpu backend's plain TF.js ops, on the book's shapes.
 * Skipped when this machine has no WebGPU adapter (`bash scripts/setup.sh --webgpu`
 * installs Mesa's software one).
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "./backend.ts";
import { countGpuWork } from "./gpu_work.ts";
import {
  adamUpdate,
  adamUpdateAll,
  axpy,
  batchNormGrad,
  batchNormLeakyGrad,
  batchNormLeakyTrain,
  batchNormTrain,
  bceWithGrad,
  columnSum,
  gelu,
  layerNorm,
  layerNormGrad,
  leakyReluGrad,
  linearBatch,
  linearBatchGradInput,
  linearBatchGradWeight,
  matVec,
  matVecT,
  mseWithGrad,
  outer,
  sigmoidGrad,
} from "./simd.ts";
import {
  registerWebGpuKernels,
  setBindingLimitForTesting,
  WEBGPU_KERNEL_NAMES,
} from "./webgpu_kernels.ts";
import { MnistDiscriminator, MnistGenerator } from "../book/mnist_gan.ts";
import { BatchNorm2d, LeakyReLU, Sequential } from "../engine/nn.ts";
import { backward } from "../engine/autograd.ts";
import { trainFaceGan } from "../book/face_gan.ts";
import { manualSeed } from "../engine/random.ts";

const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
const adapter = gpu ? await gpu.requestAdapter().catch(() => null) : null;
const ignore = !adapter;
// The test runner's sanitizers see the GPU device's resources as leaks.
const opts = { ignore, sanitizeOps: false, sanitizeResources: false };

function rnd(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return lo + (hi - lo) * (s / 2147483648);
  });
}

type Make = () => tf.Tensor | tf.Tensor[];

/** Runs `make` on `backend` and reads every output back; checks nothing leaks. */
async function runOn(backend: "cpu" | "webgpu", make: Make): Promise<Float32Array[]> {
  if (backend === "cpu") await tf.setBackend("cpu");
  else await initBackend({ order: ["webgpu"], log: () => {} });
  const before = tf.memory().numTensors;
  const outs = tf.tidy(make);
  const list = Array.isArray(outs) ? outs : [outs];
  const data = await Promise.all(list.map(async (t) => new Float32Array(await t.data())));
  tf.dispose(list);
  assert.equal(tf.memory().numTensors, before, `${backend} leaked tensors`);
  return data;
}

/** Asserts webgpu's outputs match cpu's to `tol` relative to each output's largest value. */
async function agree(make: Make, tol = 1e-5): Promise<void> {
  const want = await runOn("cpu", make);
  const got = await runOn("webgpu", make);
  assert.equal(got.length, want.length);
  want.forEach((w, k) => {
    assert.equal(got[k].length, w.length, `output ${k} length`);
    let scale = 1e-6;
    for (const v of w) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < w.length; i++) {
      assert.ok(
        Math.abs(got[k][i] - w[i]) <= tol * scale,
        `output ${k}, element ${i}: webgpu ${got[k][i]} vs cpu ${w[i]}`,
      );
    }
  });
}

const t1 = (n: number, seed: number, lo?: number, hi?: number) => tf.tensor1d(rnd(n, seed, lo, hi));
const t2 = (r: number, c: number, seed: number) => tf.tensor2d(rnd(r * c, seed), [r, c]);

Deno.test({
  name: "webgpu kernels: every fused kernel is registered for webgpu",
  ...opts,
  fn() {
    registerWebGpuKernels();
    assert.equal(WEBGPU_KERNEL_NAMES.length, 19);
    for (const name of WEBGPU_KERNEL_NAMES) assert.ok(tf.getKernel(name, "webgpu"), name);
  },
});

// The book's linear layers: 08's D (784->200), 08's G (200->784), 12's D (116412->100).
for (const [rows, cols] of [[200, 784], [784, 200], [100, 218 * 178 * 3], [3, 5]]) {
  Deno.test({
    name: `webgpu kernels: matVec, matVecT and outer agree with cpu for W [${rows}, ${cols}]`,
    ...opts,
    async fn() {
      await agree(() => [
        matVec(t2(rows, cols, 1), t1(cols, 2), t1(rows, 3)),
        matVec(t2(rows, cols, 1), t1(cols, 2)),
        matVecT(t2(rows, cols, 1), t1(rows, 4)),
        outer(t1(rows, 4), t1(cols, 2)),
        outer(t1(rows, 4), t1(cols, 2), t2(rows, cols, 5)),
      ], 1e-5);
    },
  });
}

Deno.test({
  name: "webgpu kernels: matVecT sums a tall W (3000 rows, not a multiple of 64) in two passes",
  ...opts,
  async fn() {
    await agree(() => matVecT(t2(3000, 100, 1), t1(3000, 2)), 1e-5);
  },
});

Deno.test({
  name: "webgpu kernels: axpy and Adam agree with cpu, Adam's moments updated in place",
  ...opts,
  async fn() {
    const n = 200 * 784 + 3;
    const state = { b1: 0.9, b2: 0.999, a: 1e-4 / (1 - 0.9), e: 1e-8 / Math.sqrt(1 - 0.999) };
    await agree(() => axpy(t1(n, 1), t1(n, 2), -0.01));
    await agree(() => {
      const m = t1(n, 3, -0.1, 0.1), v = t1(n, 4, 0, 0.1);
      return adamUpdate(t1(n, 1), t1(n, 2), { m, v, ...state });
    }, 1e-5);
    await initBackend({ order: ["webgpu"], log: () => {} });
    const m = t1(4, 3, 0, 0), v = t1(4, 4, 0, 0);
    const [p2, m2, v2] = adamUpdate(t1(4, 1), tf.tensor1d([1, -1, 0, 2]), { m, v, ...state });
    assert.equal(m2, m, "m is updated in place");
    assert.equal(v2, v, "v is updated in place");
    const moments = await m.data();
    [0.1, -0.1, 0, 0.2].forEach((want, i) => assert.ok(Math.abs(moments[i] - want) < 1e-7));
    tf.dispose([p2, m, v]);
  },
});

Deno.test({
  name: "webgpu kernels: Adam over many parameters agrees with cpu in few dispatches",
  ...opts,
  async fn() {
    // Notebook 08's discriminator and generator shapes twice over (12 parameters), sizes that
    // are and are not multiples of 4; the two weights of 784 x 200 are over a lowered binding
    // limit.
    const sizes = [784 * 200, 200, 200, 200, 200, 1, 100 * 200, 200, 199, 3, 200 * 784, 784];
    const state = { b1: 0.5, b2: 0.999, a: 1e-4 / (1 - 0.5), e: 1e-8 / Math.sqrt(1 - 0.999) };
    const make = () => {
      const ms = sizes.map((n, j) => t1(n, 100 + j, -0.1, 0.1));
      const vs = sizes.map((n, j) => t1(n, 200 + j, 0, 0.1));
      const ps = adamUpdateAll(
        sizes.map((n, j) => t1(n, 300 + j)),
        sizes.map((n, j) => t1(n, 400 + j)),
        { ms, vs, ...state },
      );
      return [...ps, ...ms, ...vs];
    };
    setBindingLimitForTesting(256 * 1024);
    try {
      await agree(make, 1e-5);
      // The same numbers as one dispatch per parameter.
      const one = await runOn("webgpu", () =>
        sizes.flatMap((n, j) => {
          const m = t1(n, 100 + j, -0.1, 0.1), v = t1(n, 200 + j, 0, 0.1);
          const [p2] = adamUpdate(t1(n, 300 + j), t1(n, 400 + j), { m, v, ...state });
          return [p2, m, v];
        }));
      const all = await runOn("webgpu", make);
      sizes.forEach((_, j) => {
        assert.deepEqual(all[j], one[3 * j], `parameter ${j}`);
        assert.deepEqual(all[sizes.length + j], one[3 * j + 1], `m ${j}`);
        assert.deepEqual(all[2 * sizes.length + j], one[3 * j + 2], `v ${j}`);
      });
      // 5 storage bindings a parameter: the 10 that fit share dispatches, the big ones
      // (627 KiB > 256 KiB) take 3 chunks each of their own.
      const limits = (tf.backend() as unknown as { device: GPUDevice }).device.limits;
      const perDispatch = Math.floor(
        Math.min(limits.maxStorageBuffersPerShaderStage, limits.maxBindingsPerBindGroup - 1) / 5,
      );
      assert.ok(perDispatch >= 2, `${perDispatch} parameters a dispatch`);
      const inputs = sizes.map((n, j) => [t1(n, j), t1(n, j), t1(n, j, 0, 0), t1(n, j, 0, 0)]);
      let out: tf.Tensor[] = [];
      const work = await countGpuWork(async () => {
        out = adamUpdateAll(inputs.map((x) => x[0]), inputs.map((x) => x[1]), {
          ms: inputs.map((x) => x[2]),
          vs: inputs.map((x) => x[3]),
          ...state,
        });
        await out[0].data();
      });
      assert.equal(work.dispatches, 2 * 3 + Math.ceil(10 / perDispatch));
      tf.dispose([...out, ...inputs.flat()]);
    } finally {
      setBindingLimitForTesting(null);
    }
  },
});

Deno.test({
  name: "webgpu kernels: sigmoid and leaky ReLU gradients agree with cpu (x = 0 takes the slope)",
  ...opts,
  async fn() {
    await agree(() => sigmoidGrad(t1(784, 1, 0, 1), t1(784, 2)));
    await agree(() => leakyReluGrad(t1(200, 1), t1(200, 2), 0.02));
    await agree(() => leakyReluGrad(tf.tensor1d([0, -1, 1]), tf.tensor1d([1, 1, 1]), 0.2));
  },
});

Deno.test({
  name: "webgpu kernels: GELU and its gradient agree with cpu (notebook 15's activation)",
  ...opts,
  async fn() {
    await agree(() => {
      const x = tf.tensor(rnd(61 * 61 * 16, 1, -6, 6), [1, 61, 61, 16]);
      const [y, grad] = gelu(x);
      return [y, grad(tf.tensor(rnd(61 * 61 * 16, 2), [1, 61, 61, 16]))];
    }, 1e-6);
  },
});

for (const shape of [[200], [300], [4, 300], [1, 100]]) {
  Deno.test({
    name: `webgpu kernels: LayerNorm forward and backward agree with cpu on [${shape}]`,
    ...opts,
    async fn() {
      const n = shape.reduce((a, b) => a * b, 1), len = shape[shape.length - 1];
      const x = () => tf.tensor(rnd(n, 1, -3, 5), shape);
      await agree(() => layerNorm(x(), t1(len, 2), t1(len, 3), 1e-5), 1e-5);
      await agree(() => {
        const [, xhat, rstd] = layerNorm(x(), t1(len, 2), t1(len, 3), 1e-5);
        return layerNormGrad(tf.tensor(rnd(n, 4), shape), xhat, rstd, t1(len, 2));
      }, 1e-5);
    },
  });
}

Deno.test({
  name: "webgpu kernels: BCELoss clamps saturated outputs at -100 as PyTorch does; MSE agrees",
  ...opts,
  async fn() {
    const y = () => tf.tensor1d([0, 1, 0.25, 1e-30, 0.999]);
    const t = () => tf.tensor1d([1, 0, 1, 0, 1]);
    await agree(() => bceWithGrad(y(), t()), 1e-6);
    const [loss] = await runOn("webgpu", () => bceWithGrad(y(), t()));
    const want = (100 + 100 - Math.log(0.25) - Math.log1p(-1e-30) - Math.log(0.999)) / 5;
    assert.ok(Math.abs(loss[0] - want) < 1e-4, `loss ${loss[0]}, want ${want}`);
    await agree(() => bceWithGrad(t1(1, 1, 0.01, 0.99), tf.tensor1d([1])), 1e-6);
    await agree(() => bceWithGrad(t1(1000, 1, 0.01, 0.99), t1(1000, 2, 0, 1)), 1e-5);
    await agree(() => mseWithGrad(t1(10, 1), t1(10, 2)), 1e-6);
    await agree(() => mseWithGrad(t1(1000, 1), t1(1000, 2)), 1e-5);
  },
});

// Notebook 14's D normalises [1, 61, 61, 256]; 15 and batches add more rows.
for (const shape of [[1, 61, 61, 16], [2, 5, 5, 3], [1, 1, 1, 4]]) {
  Deno.test({
    name: `webgpu kernels: BatchNorm2d training forward and backward agree with cpu on [${shape}]`,
    ...opts,
    async fn() {
      const n = shape.reduce((a, b) => a * b, 1), c = shape[3];
      const x = () => tf.tensor(rnd(n, 1, -2, 3), shape);
      const bn = () =>
        batchNormTrain(x(), t1(c, 2), t1(c, 3), t1(c, 4), t1(c, 5, 0.5, 1.5), {
          eps: 1e-5,
          momentum: 0.1,
        });
      await agree(bn, 1e-5);
      await agree(() => {
        const [, xhat, rstd] = bn();
        return batchNormGrad(tf.tensor(rnd(n, 6), shape), xhat, rstd, t1(c, 2));
      }, 1e-4);
    },
  });
}

// BatchNorm2d then LeakyReLU: one kernel each way on webgpu, the two layers apart on cpu.
for (const shape of [[1, 61, 61, 16], [2, 5, 5, 3]]) {
  Deno.test({
    name: `webgpu kernels: BatchNorm2d + LeakyReLU fused agree with the layers apart on [${shape}]`,
    ...opts,
    async fn() {
      const n = shape.reduce((a, b) => a * b, 1), c = shape[3], slope = 0.2;
      const x = () => tf.tensor(rnd(n, 1, -2, 3), shape);
      const args = () => [x(), t1(c, 2), t1(c, 3), t1(c, 4), t1(c, 5, 0.5, 1.5)] as const;
      const opts = { eps: 1e-5, momentum: 0.1 };
      const dy = () => tf.tensor(rnd(n, 6), shape);
      const onGpu = () => tf.getBackend() === "webgpu";
      await agree(() => {
        if (onGpu()) {
          const out = batchNormLeakyTrain(...args(), { ...opts, slope });
          assert.ok(out, "the fused kernel runs on webgpu");
          const [y, xhat, rstd, rm, rv] = out;
          return [y, rm, rv, ...batchNormLeakyGrad(dy(), xhat, rstd, t1(c, 2), t1(c, 3), slope)];
        }
        assert.equal(batchNormLeakyTrain(...args(), { ...opts, slope }), null);
        const [pre, xhat, rstd, rm, rv] = batchNormTrain(...args(), opts);
        const dpre = leakyReluGrad(pre, dy(), slope);
        return [tf.leakyRelu(pre, slope), rm, rv, ...batchNormGrad(dpre, xhat, rstd, t1(c, 2))];
      }, 1e-4);
    },
  });
}

Deno.test({
  name: "webgpu kernels: Sequential(BatchNorm2d, LeakyReLU) trains as on cpu, one dispatch fewer",
  ...opts,
  async fn() {
    const shape = [2, 9, 9, 8];
    const run = async (backend: "cpu" | "webgpu") => {
      if (backend === "cpu") await tf.setBackend("cpu");
      else await initBackend({ order: ["webgpu"], log: () => {} });
      const net = new Sequential(new BatchNorm2d(8), new LeakyReLU(0.2));
      const x = tf.tensor(rnd(2 * 9 * 9 * 8, 7, -2, 2), shape);
      let values: Float32Array[] = [];
      const work = await countGpuWork(async () => {
        const y = net.forward(x);
        backward(y, tf.tensor(rnd(y.size, 8), shape));
        const [bn] = net.layers as [BatchNorm2d];
        values = await Promise.all(
          [y, bn.weight.grad!, bn.bias.grad!, bn.runningMean.value].map(
            async (t) => (await t.data()) as Float32Array,
          ),
        );
      });
      return { values, dispatches: work.dispatches };
    };
    const want = await run("cpu"), got = await run("webgpu");
    want.values.forEach((w, k) =>
      w.forEach((v, i) =>
        assert.ok(Math.abs(got.values[k][i] - v) <= 1e-4 * (1 + Math.abs(v)), `${k}/${i}`)
      )
    );
    // Statistics, apply, backward: three dispatches (the layers apart take five).
    assert.ok(got.dispatches <= 4, `${got.dispatches} dispatches`);
    await tf.setBackend("wasm");
  },
});

Deno.test({
  name: "webgpu kernels: batched linear layer (batch 128) and column sums agree with cpu",
  ...opts,
  async fn() {
    await agree(() => [
      linearBatch(t2(128, 784, 1), t2(200, 784, 2), t1(200, 3)),
      linearBatchGradInput(t2(128, 200, 4), t2(200, 784, 2)),
      linearBatchGradWeight(t2(128, 200, 4), t2(128, 784, 1)),
      columnSum(t2(128, 200, 4)),
      columnSum(t2(3721, 16, 5)),
    ], 1e-4);
  },
});

Deno.test({
  name:
    "webgpu: a notebook-08 GAN iteration matches cpu and takes no more dispatches than wasm kernels",
  ...opts,
  async fn() {
    const image = rnd(784, 9, 0, 1);
    const train = async (backend: string, iterations: number) => {
      if (backend === "webgpu") await initBackend({ order: ["webgpu"], log: () => {} });
      else await tf.setBackend(backend);
      manualSeed(2020);
      const D = new MnistDiscriminator(), G = new MnistGenerator();
      for (const m of [D, G]) m.progressEvery = Number.MAX_SAFE_INTEGER;
      D.printEvery = 0;
      const x = tf.tensor1d(image);
      let kernels = 0;
      for (let i = 0; i < iterations; i++) {
        if (backend === "wasm" && i === 1) {
          kernels = (await tf.profile(() => trainFaceGan(D, G, x))).kernels.length;
        } else trainFaceGan(D, G, x);
      }
      const params = await Promise.all(
        [...D.parameters(), ...G.parameters()].map(async (p) => await p.value.data()),
      );
      const counted = backend === "webgpu"
        ? await countGpuWork(async () => {
          trainFaceGan(D, G, x);
          await G.parameters()[0].value.data();
        })
        : null;
      x.dispose();
      D.dispose();
      G.dispose();
      return { params, kernels, counted };
    };
    const cpu = await train("cpu", 3);
    const gpuRun = await train("webgpu", 3);
    cpu.params.forEach((want, k) => {
      for (let i = 0; i < want.length; i++) {
        assert.ok(Math.abs(gpuRun.params[k][i] - want[i]) < 1e-5, `param ${k}[${i}]`);
      }
    });
    const wasm = await train("wasm", 2);
    const { dispatches, submits } = gpuRun.counted!;
    assert.ok(wasm.kernels > 0);
    assert.ok(
      dispatches <= wasm.kernels,
      `${dispatches} webgpu dispatches vs ${wasm.kernels} wasm kernels per iteration`,
    );
    // The iteration's work goes to the GPU in one submission, plus the read's own.
    assert.ok(submits <= 2, `${submits} queue submissions per iteration`);
    await tf.setBackend("wasm");
  },
});

Deno.test({
  name: "webgpu kernels: tensors over the binding limit are split into chunks (notebook 12's G)",
  ...opts,
  async fn() {
    // 256 KiB stands in for the 128 MiB of Mesa's adapter: W [200, 784] takes 627 KiB.
    setBindingLimitForTesting(256 * 1024);
    try {
      const n = 200 * 784;
      const state = { b1: 0.9, b2: 0.999, a: 1e-3, e: 1e-8 };
      await agree(() => [
        matVec(t2(200, 784, 1), t1(784, 2), t1(200, 3)),
        matVec(t2(784, 200, 1), t1(200, 2)),
        matVecT(t2(8000, 16, 1), t1(8000, 4)),
        outer(t1(200, 4), t1(784, 2), t2(200, 784, 5)),
        axpy(t1(n, 1), t1(n, 2), -0.5),
        ...adamUpdate(t1(n, 1), t1(n, 2), { m: t1(n, 3), v: t1(n, 4, 0, 1), ...state }),
      ], 1e-5);
    } finally {
      setBindingLimitForTesting(null);
    }
  },
});

Deno.test({
  name: "webgpu kernels: a kernel that cannot split fails clearly over the binding limit",
  ...opts,
  async fn() {
    setBindingLimitForTesting(64 * 1024);
    try {
      await initBackend({ order: ["webgpu"], log: () => {} });
      const y = t1(20_000, 1, 0, 1), dy = t1(20_000, 2);
      assert.throws(
        () => sigmoidGrad(y, dy),
        /\[20000\] tensor \(0\.1 MiB\) in kernel sigmoidgrad exceeds this adapter's storage binding limit/,
      );
      tf.dispose([y, dy]);
    } finally {
      setBindingLimitForTesting(null);
    }
  },
});

Deno.test({
  name: "webgpu kernels: a repeated kernel reuses its uniform buffer instead of writing one again",
  ...opts,
  async fn() {
    await initBackend({ order: ["webgpu"], log: () => {} });
    const y = t1(300, 1, 0, 1), dy = t1(300, 2);
    const first = sigmoidGrad(y, dy);
    const queue = GPUQueue.prototype, { writeBuffer } = queue;
    let writes = 0;
    queue.writeBuffer = function (...a) {
      writes++;
      return writeBuffer.apply(this, a);
    };
    let second: tf.Tensor;
    try {
      second = sigmoidGrad(y, dy);
    } finally {
      queue.writeBuffer = writeBuffer;
    }
    assert.equal(writes, 0, "the second call writes no uniforms");
    assert.deepEqual(await second.data(), await first.data());
    tf.dispose([first, second, y, dy]);
  },
});

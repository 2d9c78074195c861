import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  BACKEND_ENV,
  describeDevice,
  deviceInfo,
  initBackend,
  item,
  parseBackendOrder,
  tensorData,
} from "./backend.ts";
import { wasmConvKernelsRegistered } from "./wasm_conv.ts";

function collect(): { lines: string[]; log: (line: string) => void } {
  const lines: string[] = [];
  return { lines, log: (line) => lines.push(line) };
}

Deno.test("parseBackendOrder() reads a comma-separated list in order", () => {
  assert.deepEqual(parseBackendOrder(" WebGPU, wasm,cpu "), ["webgpu", "wasm", "cpu"]);
});

Deno.test("parseBackendOrder() rejects unknown names and lists the valid ones", () => {
  assert.throws(
    () => parseBackendOrder("cuda,wasm"),
    /Unknown TF\.js backend "cuda".*wasm, cpu, webgpu, tensorflow/,
  );
  assert.throws(() => parseBackendOrder(" , "), /empty/);
});

Deno.test("initBackend() picks wasm by default, with the conv gradient kernels", async () => {
  const { lines, log } = collect();
  const info = await initBackend({ order: ["wasm", "cpu"], log });
  assert.equal(info.backend, "wasm");
  assert.equal(tf.getBackend(), "wasm");
  assert.deepEqual(lines, []);
  assert.ok(wasmConvKernelsRegistered());
  assert.match(info.device, /^wasm \((no )?SIMD\) on CPU: /);
  assert.deepEqual(deviceInfo(), { backend: "wasm", device: info.device });
  assert.equal(describeDevice(), `using ${info.device}`);
});

Deno.test("initBackend() is idempotent: a second call returns at once and logs nothing", async () => {
  const first = await initBackend({ order: ["wasm"] });
  const { lines, log } = collect();
  const start = performance.now();
  const again = await initBackend({ order: ["wasm"], log });
  assert.ok(performance.now() - start < 5);
  assert.equal(again, first);
  assert.deepEqual(lines, []);
});

Deno.test("initBackend() falls back from a missing tensorflow to wasm with one line saying how to enable it", async () => {
  const { lines, log } = collect();
  const info = await initBackend({ order: ["tensorflow", "wasm"], log });
  assert.equal(info.backend, "wasm");
  assert.equal(lines.length, 1);
  assert.match(lines[0], /tfjs-node-gpu is not installed: run `deno task setup:cuda`/);
  assert.deepEqual(info.skipped.map((s) => s.backend), ["tensorflow"]);
});

Deno.test("initBackend() reads its order from TFJS_BACKEND", async () => {
  const old = Deno.env.get(BACKEND_ENV);
  try {
    Deno.env.set(BACKEND_ENV, "tensorflow,cpu");
    const { lines, log } = collect();
    const info = await initBackend({ log });
    assert.equal(info.backend, "cpu");
    assert.equal(tf.getBackend(), "cpu");
    assert.equal(lines.length, 1);
    Deno.env.set(BACKEND_ENV, "wasm,nonsense");
    await assert.rejects(initBackend({ log }), /Unknown TF\.js backend "nonsense"/);
  } finally {
    if (old === undefined) Deno.env.delete(BACKEND_ENV);
    else Deno.env.set(BACKEND_ENV, old);
    await initBackend({ order: ["wasm"] });
  }
  assert.equal(tf.getBackend(), "wasm");
  assert.ok(wasmConvKernelsRegistered());
});

Deno.test({
  name: "initBackend() uses webgpu when an adapter exists, else falls back with one line",
  // The WebGPU device stays open for the rest of the process.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { lines, log } = collect();
    try {
      const info = await initBackend({ order: ["webgpu", "wasm"], log });
      if (info.backend === "webgpu") {
        assert.deepEqual(lines, []);
        assert.match(info.device, /^webgpu: /);
        // Synchronous reads throw on webgpu: the async one must work.
        const t = tf.tensor([1, 2, 3]).square();
        assert.deepEqual(Array.from(await t.data()), [1, 4, 9]);
        t.dispose();
        // ... and so must the book-style helpers the notebooks use there.
        assert.deepEqual(Array.from(await tensorData(() => tf.tensor([1, 2]).mul(3))), [3, 6]);
        assert.equal(await item(() => tf.tensor([2, 3]).sum()), 5);
      } else {
        assert.equal(info.backend, "wasm");
        assert.equal(lines.length, 1);
        assert.match(lines[0], /webgpu skipped/);
      }
    } finally {
      await initBackend({ order: ["wasm"] });
    }
  },
});

/** Runs f with navigator.gpu replaced by a fake whose requestAdapter() returns `adapter`. */
async function withFakeGpu(adapter: Promise<unknown>, f: () => Promise<void>): Promise<void> {
  Object.defineProperty(navigator, "gpu", {
    value: { requestAdapter: () => adapter },
    configurable: true,
  });
  try {
    await f();
  } finally {
    // Drops the own property so the real getter on Navigator.prototype shows again.
    delete (navigator as unknown as { gpu?: unknown }).gpu;
  }
}

Deno.test("initBackend() falls back to wasm with one line when there is no WebGPU adapter", async () => {
  await withFakeGpu(Promise.resolve(null), async () => {
    const { lines, log } = collect();
    const info = await initBackend({ order: ["webgpu", "wasm"], log });
    assert.equal(info.backend, "wasm");
    assert.equal(lines.length, 1);
    assert.match(lines[0], /no WebGPU adapter: install GPU Vulkan drivers/);
  });
});

Deno.test("initBackend() gives up on a WebGPU adapter request that never answers", async () => {
  await withFakeGpu(new Promise(() => {}), async () => {
    const { lines, log } = collect();
    const start = performance.now();
    const info = await initBackend({ order: ["webgpu", "cpu", "wasm"], log, webgpuTimeoutMs: 50 });
    assert.ok(performance.now() - start < 2000);
    assert.equal(info.backend, "cpu");
    assert.match(lines[0], /no WebGPU adapter within 0\.05 s/);
  });
  await initBackend({ order: ["wasm"] });
});

Deno.test("tensorData() and item() read asynchronously and free the tensor and its intermediates", async () => {
  await initBackend();
  const before = tf.memory().numTensors;
  const x = tf.tensor1d([1, 2, 3]);
  assert.deepEqual(Array.from(await tensorData(() => tf.mul(x, 2).add(1))), [3, 5, 7]);
  assert.equal(await item(() => tf.sum(x)), 6);
  const y = tf.tensor2d([[4]], [1, 1], "int32");
  assert.equal(await item(y), 4);
  assert.ok(y.isDisposed);
  x.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("item() refuses a tensor of more than one element, like PyTorch, and still frees it", async () => {
  await initBackend();
  const before = tf.memory().numTensors;
  await assert.rejects(item(() => tf.ones([3])), /one element, got 3/);
  assert.equal(tf.memory().numTensors, before);
});

import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  formatBytes,
  maxMemoryAllocated,
  memoryAllocated,
  memoryStats,
  memorySummary,
  resetPeakMemoryStats,
} from "./memory.ts";
import { initBackend } from "./backend.ts";

const MB = 1024 * 1024;

Deno.test("memoryAllocated() rises by 1 MiB for a 1 MiB tensor and the peak stays after dispose", async () => {
  await initBackend({ order: ["wasm"] });
  resetPeakMemoryStats();
  const before = memoryAllocated();
  assert.equal(maxMemoryAllocated(), before);
  const t = tf.zeros([MB / 4]); // float32: 4 bytes each
  assert.equal(memoryAllocated() - before, MB);
  assert.equal(maxMemoryAllocated() - before, MB);
  assert.equal(memoryAllocated(), tf.memory().numBytes);
  t.dispose();
  assert.equal(memoryAllocated(), before);
  assert.equal(maxMemoryAllocated() - before, MB);
  resetPeakMemoryStats();
  assert.equal(maxMemoryAllocated(), before);
});

Deno.test("maxMemoryAllocated() sees a peak reached only inside tf.tidy", async () => {
  await initBackend({ order: ["wasm"] });
  resetPeakMemoryStats();
  const before = memoryAllocated();
  tf.tidy(() => {
    const a = tf.ones([MB / 4]);
    const b = a.add(a); // a and b alive together: 2 MiB
    return b.sum(); // + 4 bytes while a and b still live
  }).dispose();
  assert.equal(memoryAllocated(), before);
  assert.equal(maxMemoryAllocated() - before, 2 * MB + 4);
});

Deno.test("memorySummary() lists tensors, buffers, bytes, peak and the wasm heap", async () => {
  await initBackend({ order: ["wasm"] });
  const t = tf.zeros([MB / 4]);
  const text = memorySummary();
  t.dispose();
  for (const word of ["tensors", "data buffers", "allocated", "peak allocated", "wasm heap"]) {
    assert.match(text, new RegExp(word));
  }
  assert.ok(text.split("\n").length >= 6);
  const s = memoryStats();
  assert.equal(s.backend, "wasm");
  assert.ok((s.wasmHeapBytes ?? 0) >= MB);
});

Deno.test("formatBytes() uses binary units", () => {
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(MB), "1.00 MiB");
  assert.equal(formatBytes(1536), "1.50 KiB");
});

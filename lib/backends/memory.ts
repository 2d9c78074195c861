/**
 * Memory statistics in the spirit of `torch.cuda.memory_allocated()`,
 * `max_memory_allocated()`, `reset_peak_memory_stats()` and `memory_summary()`.
 *
 * TF.js counts the bytes of live tensors (`tf.memory().numBytes`) but keeps no peak.
 * Every change to that count goes through one field, `engine.state.numBytes`
 * (`+=` when a tensor is registered, `-=` when disposed), so this module turns the field
 * into an accessor that records the highest value ever written. That catches every
 * allocation, including those inside `tf.tidy` and gradients, at the cost of one
 * compare per tensor. Like TF.js's own count, a reshaped or cloned view counts its bytes
 * again although it shares the buffer; scratch memory inside a kernel is not counted
 * (on wasm, the heap size in memorySummary() bounds it).
 * @module
 */

import * as tf from "@tensorflow/tfjs";

const HOOKED = Symbol("memoryPeakHook");

type EngineState = {
  numBytes: number;
  numTensors: number;
  numDataBuffers: number;
  [HOOKED]?: true;
};

let peak = 0;

/** Makes engine.state.numBytes record its peak; re-done if tf.engine().reset() replaced the state. */
function hookedState(): EngineState {
  const state = tf.engine().state as unknown as EngineState;
  if (state[HOOKED]) return state;
  let value = state.numBytes;
  peak = Math.max(peak, value);
  Object.defineProperty(state, "numBytes", {
    get: () => value,
    set: (v: number) => {
      value = v;
      if (v > peak) peak = v;
    },
    enumerable: true,
    configurable: true,
  });
  state[HOOKED] = true;
  return state;
}

// Start tracking as soon as the module loads, so the first peak is not missed.
hookedState();

/** Bytes held by live tensors now (= tf.memory().numBytes, without starting a backend). */
export function memoryAllocated(): number {
  return hookedState().numBytes;
}

/** Highest memoryAllocated() since this module loaded or resetPeakMemoryStats(). */
export function maxMemoryAllocated(): number {
  hookedState();
  return peak;
}

/** Restarts the peak from the current allocation, like torch.cuda.reset_peak_memory_stats(). */
export function resetPeakMemoryStats(): void {
  peak = hookedState().numBytes;
}

/** All counters at once; `wasmHeapBytes` is null unless the wasm backend is active. */
export interface MemoryStats {
  backend: string | null;
  numTensors: number;
  numDataBuffers: number;
  allocatedBytes: number;
  peakAllocatedBytes: number;
  wasmHeapBytes: number | null;
}

/** Snapshot of the memory counters (never initialises a backend). */
export function memoryStats(): MemoryStats {
  const state = hookedState();
  // tf.getBackend() is null until one is set; tf.memory() would start one.
  const backend = tf.getBackend() ?? null;
  let wasmHeapBytes: number | null = null;
  if (backend === "wasm") {
    const wasm = tf.engine().findBackend("wasm") as unknown as {
      wasm?: { HEAPU8?: Uint8Array };
    };
    wasmHeapBytes = wasm?.wasm?.HEAPU8?.buffer.byteLength ?? null;
  }
  return {
    backend,
    numTensors: state.numTensors,
    numDataBuffers: state.numDataBuffers,
    allocatedBytes: state.numBytes,
    peakAllocatedBytes: peak,
    wasmHeapBytes,
  };
}

/** Formats a byte count with binary units, e.g. "1.00 MiB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(2)} ${units[i]}`;
}

/** A readable multi-line report, like torch.cuda.memory_summary(). */
export function memorySummary(): string {
  const s = memoryStats();
  const rows: [string, string][] = [
    ["backend", s.backend ?? "(none set yet)"],
    ["tensors", String(s.numTensors)],
    ["data buffers", String(s.numDataBuffers)],
    ["allocated", `${formatBytes(s.allocatedBytes)} (${s.allocatedBytes} bytes)`],
    ["peak allocated", `${formatBytes(s.peakAllocatedBytes)} since last reset`],
  ];
  if (s.wasmHeapBytes !== null) {
    rows.push(["wasm heap", `${formatBytes(s.wasmHeapBytes)} (grows, never shrinks)`]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  return ["TF.js memory summary", ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)]
    .join("\n");
}

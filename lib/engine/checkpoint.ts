/**
 * Checkpoints: networks, optimiser state, counters, progress and metadata in
 * one file, written atomically (temp file, fsync, rename) and verified on
 * load (magic, length, CRC-32), so a killed run never leaves a file that
 * loads half-written.
 *
 * Layout: `MYOGAN-CKPT1\n`, a 4-byte little-endian header length, a JSON
 * header, then float32 data.
 * @module
 */
import type { Module } from "./nn.ts";
import type { Optimizer, OptimizerState } from "./optim.ts";
import type { Trainable } from "./model.ts";

const MAGIC = new TextEncoder().encode("MYOGAN-CKPT1\n");

interface TensorEntry {
  key: string;
  shape: number[];
  offset: number;
  length: number;
}

interface Header {
  meta: Record<string, unknown>;
  tensors: TensorEntry[];
  optimizers: Record<string, { step: number; slots: Record<string, number> }>;
  trainables: Record<string, { counter: number; progress: number[] }>;
  dataBytes: number;
  crc32: number;
}

/** What a checkpoint holds: modules by name, optimisers by name, free-form metadata. */
export interface CheckpointContents {
  /** Networks (or whole models) by name. */
  modules: Record<string, Module>;
  /** Optimisers by name, for an exact resume; default: each model's own `optimiser`. */
  optimizers?: Record<string, Optimizer>;
  /** JSON-serialisable metadata: epoch, step, seed, backend, RNG state... */
  meta?: Record<string, unknown>;
}

/** Thrown for a missing, partial or corrupt checkpoint. */
export class CheckpointError extends Error {
  /** `path` names the file. */
  constructor(readonly path: string, reason: string) {
    super(`Checkpoint ${path} ${reason}`);
    this.name = "CheckpointError";
  }
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE), as zip and PNG use. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) {
    c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

function isTrainable(m: Module): m is Trainable {
  return "counter" in m && "progress" in m;
}

function optimizersOf(contents: CheckpointContents): Record<string, Optimizer> {
  if (contents.optimizers) return contents.optimizers;
  const out: Record<string, Optimizer> = {};
  for (const [name, m] of Object.entries(contents.modules)) {
    if (isTrainable(m) && m.optimiser) out[name] = m.optimiser;
  }
  return out;
}

/** Saves `contents` to `path` atomically; returns the number of bytes written. */
export async function saveCheckpoint(
  path: string,
  contents: CheckpointContents,
): Promise<number> {
  const chunks: Float32Array[] = [];
  const tensors: TensorEntry[] = [];
  let offset = 0;
  const add = (key: string, shape: number[], data: Float32Array) => {
    tensors.push({ key, shape, offset, length: data.length });
    chunks.push(data);
    offset += data.length;
  };
  const trainables: Header["trainables"] = {};
  for (const [name, m] of Object.entries(contents.modules)) {
    // Asynchronous reads: a GPU backend cannot read big tensors synchronously.
    for (const [k, v] of Object.entries(await m.stateDictAsync())) {
      add(`${name}/${k}`, v.shape, v.data);
    }
    if (isTrainable(m)) {
      trainables[name] = { counter: m.counter, progress: m.progress };
    }
  }
  const optimizers: Header["optimizers"] = {};
  for (const [name, opt] of Object.entries(optimizersOf(contents))) {
    const st = await opt.stateDictAsync();
    const slots: Record<string, number> = {};
    for (const [slot, list] of Object.entries(st.slots)) {
      slots[slot] = list.length;
      list.forEach((t, i) => add(`opt:${name}/${slot}/${i}`, t.shape, t.data));
    }
    optimizers[name] = { step: st.step, slots };
  }
  const data = new Uint8Array(offset * 4);
  const view = new Float32Array(data.buffer);
  let at = 0;
  for (const c of chunks) {
    view.set(c, at);
    at += c.length;
  }
  const header: Header = {
    meta: contents.meta ?? {},
    tensors,
    optimizers,
    trainables,
    dataBytes: data.length,
    crc32: crc32(data),
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, headerBytes.length, true);
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
  await Deno.mkdir(dir, { recursive: true });
  const tmp = `${path}.tmp`;
  const file = await Deno.open(tmp, {
    write: true,
    create: true,
    truncate: true,
  });
  try {
    for (const part of [MAGIC, len, headerBytes, data]) {
      let written = 0;
      while (written < part.length) {
        written += await file.write(part.subarray(written));
      }
    }
    await file.sync();
  } finally {
    file.close();
  }
  await Deno.rename(tmp, path);
  return MAGIC.length + 4 + headerBytes.length + data.length;
}

/** Reads and verifies a checkpoint without loading it into any network. */
export async function readCheckpoint(
  path: string,
): Promise<{ header: Header; data: Float32Array }> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new CheckpointError(
        path,
        "does not exist: train first, or check the path",
      );
    }
    throw e;
  }
  const fail = (why: string) =>
    new CheckpointError(
      path,
      `${why}: it is not a complete checkpoint; delete it and resume from an earlier one or retrain`,
    );
  if (
    bytes.length < MAGIC.length + 4 || !MAGIC.every((b, i) => bytes[i] === b)
  ) throw fail("has no checkpoint signature");
  const hlen = new DataView(bytes.buffer, bytes.byteOffset + MAGIC.length, 4)
    .getUint32(0, true);
  const start = MAGIC.length + 4;
  if (start + hlen > bytes.length) throw fail("is truncated in its header");
  let header: Header;
  try {
    header = JSON.parse(
      new TextDecoder().decode(bytes.subarray(start, start + hlen)),
    );
  } catch {
    throw fail("has a corrupt header");
  }
  const dataStart = start + hlen;
  if (bytes.length - dataStart !== header.dataBytes) {
    throw fail(
      `holds ${bytes.length - dataStart} data bytes where ${header.dataBytes} were written`,
    );
  }
  const raw = bytes.slice(dataStart);
  if (crc32(raw) !== header.crc32) throw fail("fails its checksum");
  return { header, data: new Float32Array(raw.buffer) };
}

/** Loads a checkpoint into `contents`' modules and optimisers; returns its metadata. */
export async function loadCheckpoint(
  path: string,
  contents: CheckpointContents,
): Promise<Record<string, unknown>> {
  const { header, data } = await readCheckpoint(path);
  const byKey = new Map(header.tensors.map((t) => [t.key, t]));
  const slice = (key: string) => {
    const t = byKey.get(key);
    if (!t) {
      throw new CheckpointError(
        path,
        `has no tensor ${key}: it was saved from a different network`,
      );
    }
    return {
      shape: t.shape,
      data: data.subarray(t.offset, t.offset + t.length),
    };
  };
  // Validate everything before touching any network, so a mismatch loads nothing.
  const plans: (() => void)[] = [];
  for (const [name, m] of Object.entries(contents.modules)) {
    const state: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const k of m.stateKeys()) {
      state[k] = slice(`${name}/${k}`);
    }
    plans.push(() => m.loadStateDict(state));
    const tr = header.trainables[name];
    if (tr && isTrainable(m)) {
      plans.push(() => {
        m.counter = tr.counter;
        m.progress = [...tr.progress];
      });
    }
  }
  for (const [name, opt] of Object.entries(optimizersOf(contents))) {
    const saved = header.optimizers[name];
    if (!saved) throw new CheckpointError(path, `has no optimiser ${name}`);
    const st: OptimizerState = { step: saved.step, slots: {} };
    for (const [slot, n] of Object.entries(saved.slots)) {
      st.slots[slot] = Array.from(
        { length: n },
        (_, i) => slice(`opt:${name}/${slot}/${i}`),
      );
    }
    plans.push(() => opt.loadStateDict(st));
  }
  for (const p of plans) p();
  return header.meta;
}

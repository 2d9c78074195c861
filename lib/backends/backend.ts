/**
 * Explicit TensorFlow.js backend selection: the TypeScript side of the book's
 * `if torch.cuda.is_available(): ... print("using cuda:", ...)` cell.
 *
 * TF.js would pick a backend itself on first use, preferring webgpu, which here runs on a
 * software rasteriser 10-30x slower than wasm. So the project always picks explicitly:
 * `wasm`, then `cpu`, unless `TFJS_BACKEND` (or the `order` option) lists others.
 * `webgpu` and `tensorflow` (tfjs-node-gpu, the CUDA path, or tfjs-node) are opt-in,
 * loaded lazily, and explain in one line why they were skipped when unavailable.
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import os from "node:os";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { registerWasmConvKernels } from "./wasm_conv.ts";
import { registerWebGpuKernels, WEBGPU_SUBMIT_BATCH } from "./webgpu_kernels.ts";
import { type CachedBackendLike, installWebGpuCaches } from "./webgpu_cache.ts";
import { registerWebGpuConvKernels } from "./webgpu_conv.ts";

/** Environment variable holding an ordered, comma-separated list of backends to try. */
export const BACKEND_ENV = "TFJS_BACKEND";

/** Backends initBackend() knows, in no particular order. */
export const KNOWN_BACKENDS = ["wasm", "cpu", "webgpu", "tensorflow"] as const;

/** A backend name initBackend() accepts. */
export type BackendName = typeof KNOWN_BACKENDS[number];

/** The order tried when neither the `order` option nor `TFJS_BACKEND` is given. */
export const DEFAULT_ORDER: readonly BackendName[] = ["wasm", "cpu"];

/** How long to wait for a WebGPU adapter or device before giving up on webgpu. */
export const WEBGPU_TIMEOUT_MS = 10_000;

/** Result of initBackend(): the backend chosen, the device it runs on, what was skipped. */
export interface BackendInfo {
  /** TF.js backend name now active: "wasm", "cpu", "webgpu" or "tensorflow". */
  backend: BackendName;
  /** Human-readable device, e.g. "wasm (SIMD) on CPU: AMD EPYC 7B13". */
  device: string;
  /** Backends tried before this one, each with the one-line reason it was skipped. */
  skipped: { backend: BackendName; reason: string }[];
}

/** Options for initBackend(). */
export interface InitBackendOptions {
  /** Backends to try, first that works wins; default `TFJS_BACKEND`, else wasm, cpu. */
  order?: string[];
  /** Print a "using ..." line once a backend is chosen. */
  verbose?: boolean;
  /** Where skip explanations and the verbose line go (default console.warn / console.log). */
  log?: (line: string) => void;
  /** Give up on webgpu after this long without an adapter or device (default 10 s). */
  webgpuTimeoutMs?: number;
}

let current: { key: string; info: BackendInfo } | undefined;

/** Parses a backend list such as "webgpu, wasm,cpu"; throws on unknown names. */
export function parseBackendOrder(list: string | string[]): BackendName[] {
  const names = (typeof list === "string" ? list.split(",") : list)
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== "");
  for (const name of names) {
    if (!(KNOWN_BACKENDS as readonly string[]).includes(name)) {
      throw new Error(
        `Unknown TF.js backend "${name}": use a comma-separated list of ${
          KNOWN_BACKENDS.join(", ")
        } (e.g. ${BACKEND_ENV}=webgpu,wasm,cpu)`,
      );
    }
  }
  if (names.length === 0) {
    throw new Error(
      `The backend list is empty: name at least one of ${KNOWN_BACKENDS.join(", ")}`,
    );
  }
  return names as BackendName[];
}

function readEnv(name: string): string | undefined {
  if (!granted({ name: "env", variable: name })) return undefined;
  try {
    const v = Deno.env.get(name);
    return v === undefined || v.trim() === "" ? undefined : v;
  } catch {
    // No --allow-env: the defaults apply.
    return undefined;
  }
}

function envOrder(): string | undefined {
  return readEnv(BACKEND_ENV);
}

/** Chooses and initialises a TF.js backend explicitly (idempotent); see the module doc. */
export async function initBackend(opts: InitBackendOptions = {}): Promise<BackendInfo> {
  const order = parseBackendOrder(opts.order ?? envOrder() ?? [...DEFAULT_ORDER]);
  const key = order.join(",");
  if (current?.key === key && tf.getBackend() === current.info.backend) {
    if (current.info.backend === "wasm") registerWasmConvKernels();
    return current.info;
  }
  const log = opts.log ?? ((line: string) => console.warn(line));
  const skipped: BackendInfo["skipped"] = [];
  for (const name of order) {
    const outcome = await TRY[name](opts.webgpuTimeoutMs ?? WEBGPU_TIMEOUT_MS);
    if (typeof outcome === "string") {
      skipped.push({ backend: name, reason: outcome });
      log(outcome);
      continue;
    }
    const info: BackendInfo = { backend: name, device: outcome.device, skipped };
    current = { key, info };
    devices.set(name, outcome.device);
    if (opts.verbose) (opts.log ?? console.log)(describeDevice());
    return info;
  }
  throw new Error(
    `No TF.js backend could start (tried ${key}): see the lines above, or add cpu to ${BACKEND_ENV}`,
  );
}

// Device strings of backends initialised so far, for deviceInfo().
const devices = new Map<string, string>();

/** The active backend and the device it runs on (after initBackend()). */
export function deviceInfo(): { backend: string; device: string } {
  // tf.getBackend() is null until a backend is set; it never triggers auto-selection.
  const backend = tf.getBackend() ?? "none";
  return { backend, device: devices.get(backend) ?? `${backend} (not set up by initBackend)` };
}

/** The book's "using cuda: Tesla T4" line, e.g. "using wasm (SIMD) on CPU: AMD EPYC 7B13". */
export function describeDevice(): string {
  return `using ${deviceInfo().device}`;
}

/** A tensor, or a function making one (run inside `tf.tidy`, so its intermediates are freed). */
export type TensorSource = tf.Tensor | (() => tf.Tensor);

/**
 * The book's `.detach().cpu().numpy()`: a tensor's values read asynchronously, which every
 * backend allows (webgpu cannot read synchronously in Deno). The tensor is disposed after.
 *
 *   const pixels = await tensorData(() => G.forward(generateRandomSeed(100)));
 */
export async function tensorData(x: TensorSource): Promise<Float32Array> {
  const t = typeof x === "function" ? tf.tidy(x) : x;
  try {
    const d = await t.data();
    return d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>);
  } finally {
    t.dispose();
  }
}

/** The book's `.item()`, read asynchronously like `tensorData`: the value of a one-element tensor. */
export async function item(x: TensorSource): Promise<number> {
  const d = await tensorData(x);
  if (d.length !== 1) {
    throw new Error(`item() needs a tensor with one element, got ${d.length}: index it first`);
  }
  return d[0];
}

// Deno prompts for a missing permission on a terminal; asking first keeps a plain run
// quiet and lets it fall back instead.
function granted(desc: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(desc).state === "granted";
  } catch {
    return false;
  }
}

/** CPU model name, or a hint when permissions hide it (Deno reads it with --allow-sys=cpus). */
export function cpuModel(): string {
  if (granted({ name: "sys", kind: "cpus" })) {
    const model = os.cpus()[0]?.model?.trim();
    if (model) return model;
  }
  // Deno lets /proc be read only with --allow-all (e.g. in its Jupyter kernel).
  if (granted({ name: "read", path: "/proc/cpuinfo" })) {
    try {
      const text = Deno.readTextFileSync("/proc/cpuinfo");
      const m = text.match(/^(?:model name|Hardware)\s*:\s*(.+)$/m);
      if (m) return m[1].trim();
    } catch {
      // Not Linux, or /proc needs --allow-all: fall through to the hint.
    }
  }
  return "model unknown (run deno with --allow-sys=cpus to show it)";
}

type Outcome = { device: string } | string;

async function setBackend(name: string): Promise<boolean> {
  // setBackend() logs and returns false on init failure; silence TF.js's own warning
  // so the one-line explanation below is the only one.
  const warn = console.warn;
  console.warn = () => {};
  try {
    return await tf.setBackend(name);
  } catch {
    return false;
  } finally {
    console.warn = warn;
  }
}

/** Folder holding tfjs-backend-wasm's .wasm files, for bundled scripts run without node_modules. */
export const WASM_DIR_ENV = "TFJS_WASM_DIR";

async function tryWasm(): Promise<Outcome> {
  const dir = readEnv(WASM_DIR_ENV);
  if (dir) {
    setWasmPaths(dir.endsWith("/") ? dir : dir + "/");
    // Emscripten's loader reads CommonJS's __dirname, which a bundled ES module lacks.
    const g = globalThis as { __dirname?: string };
    g.__dirname ??= dir;
  }
  if (!(await setBackend("wasm"))) {
    return "wasm backend failed to start: run deno with --allow-read (it loads its .wasm file from node_modules)";
  }
  registerWasmConvKernels();
  const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
  return { device: `wasm (${simd ? "SIMD" : "no SIMD"}) on CPU: ${cpuModel()}` };
}

async function tryCpu(): Promise<Outcome> {
  if (!(await setBackend("cpu"))) return "cpu backend failed to start";
  // The cpu backend greets its first tensor with a banner recommending tfjs-node, which
  // cannot install here; initBackend() already explains the backends, so skip it.
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return { device: `cpu (plain JavaScript) on CPU: ${cpuModel()}` };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
}

/** Environment variable: dispatches per WebGPU queue submission (default WEBGPU_SUBMIT_BATCH). */
export const WEBGPU_SUBMIT_ENV = "GAN_WEBGPU_SUBMIT_BATCH";

/** Environment variable: `off` leaves out webgpu_cache.ts's caches (to measure what they save). */
export const WEBGPU_CACHE_ENV = "GAN_WEBGPU_CACHE";

/** Environment variable: `stock` keeps TF.js's naive convolution gradients (webgpu_conv.ts's). */
export const WEBGPU_CONV_ENV = "GAN_WEBGPU_CONV";

/**
 * WebGPU reports invalid work (a buffer over the adapter's limits, say) as an event and
 * drops it, so training would go on with stale numbers; say so loudly, once per message.
 */
function reportGpuErrors(): void {
  const device = (tf.backend() as unknown as { device?: EventTarget }).device;
  if (!device) return;
  const seen = new Set<string>();
  device.addEventListener("uncapturederror", (e) => {
    const message = (e as Event & { error?: { message?: string } }).error?.message ?? String(e);
    if (seen.has(message)) return;
    seen.add(message);
    console.error(`webgpu error, results after this are wrong: ${message}`);
  });
}

/**
 * Replaces TF.js's webgpu factory (before its first use) by one that asks the adapter for as
 * many storage bindings per shader as it has: WebGPU's default is 8, which leaves one
 * parameter per Adam dispatch; GPUs allow far more (Mesa's adapter 32). The rest is what
 * TF.js 4.22's own factory requests.
 */
function registerWebGpuDevice(
  Backend: new (device: GPUDevice, info?: GPUAdapterInfo) => tf.KernelBackend,
): void {
  const engine = tf.engine() as unknown as { registry: Record<string, unknown> };
  if (engine.registry.webgpu) return;
  tf.removeBackend("webgpu");
  tf.registerBackend("webgpu", async () => {
    // With all the adapter's storage bindings, else (should a driver refuse) TF.js's request.
    const open = async (allBindings: boolean) => {
      const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
      if (!adapter) throw new Error("webgpu: no adapter");
      const l = adapter.limits;
      const device = await adapter.requestDevice({
        requiredFeatures: adapter.features.has("timestamp-query") ? ["timestamp-query"] : [],
        requiredLimits: {
          maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
          maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
          maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
          maxBufferSize: l.maxBufferSize,
          maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
          maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
          ...(allBindings
            ? { maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage }
            : {}),
        },
      });
      return new Backend(device, adapter.info);
    };
    return await open(true).catch(() => open(false));
  }, 3);
}

async function tryWebgpu(timeoutMs: number): Promise<Outcome> {
  const gpu = (navigator as unknown as {
    gpu?: { requestAdapter(o?: object): Promise<GpuAdapterLike | null> };
  }).gpu;
  if (gpu === undefined) {
    return "webgpu skipped: this runtime has no navigator.gpu (WebGPU): use Deno 2.x or list another backend";
  }
  let adapter: GpuAdapterLike | null | "timeout";
  try {
    adapter = await withTimeout(
      gpu.requestAdapter({ powerPreference: "high-performance" }),
      timeoutMs,
    );
  } catch {
    adapter = null;
  }
  if (adapter === null || adapter === "timeout") {
    return `webgpu skipped: no WebGPU adapter${
      adapter === "timeout" ? ` within ${timeoutMs / 1000} s` : ""
    }: install GPU Vulkan drivers (or Mesa's mesa-vulkan-drivers for a slow software GPU)`;
  }
  // Loaded only now, so plain runs never pay for (or auto-select) webgpu.
  const { WebGPUBackend } = await import("@tensorflow/tfjs-backend-webgpu");
  registerWebGpuDevice(WebGPUBackend);
  registerWebGpuKernels();
  if (readEnv(WEBGPU_CONV_ENV) !== "stock") registerWebGpuConvKernels();
  const batch = Number(readEnv(WEBGPU_SUBMIT_ENV) ?? WEBGPU_SUBMIT_BATCH);
  if (!(Number.isInteger(batch) && batch > 0)) {
    return `webgpu skipped: ${WEBGPU_SUBMIT_ENV} must be a positive whole number, got "${
      readEnv(WEBGPU_SUBMIT_ENV)
    }"`;
  }
  tf.env().set("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE", batch);
  // Initialise without switching, so a late success after a timeout cannot change
  // the active backend behind our back.
  // (initializeBackend is private in the typings but stable across TF.js 4.x.)
  const engine = tf.engine() as unknown as {
    initializeBackend(name: string): { success: Promise<boolean> | boolean };
  };
  const init = engine.initializeBackend("webgpu");
  const ok = await withTimeout(Promise.resolve(init.success).catch(() => false), timeoutMs);
  if (ok !== true || !(await setBackend("webgpu"))) {
    return `webgpu skipped: the adapter was found but the TF.js webgpu backend ${
      ok === "timeout" ? "timed out starting" : "failed to start"
    }: try another backend`;
  }
  reportGpuErrors();
  if (readEnv(WEBGPU_CACHE_ENV) !== "off") {
    installWebGpuCaches(tf.backend() as unknown as CachedBackendLike);
  }
  const i = adapter.info ?? {};
  const name = [i.description, i.device && i.device !== "0" ? i.device : "", i.architecture]
    .filter((s) => s).join(", ") || `vendor ${i.vendor ?? "unknown"}`;
  return { device: `webgpu: ${name}` };
}

const TFJS_NODE_VERSION = "4.22.0";

function installed(pkg: string): boolean {
  const roots = [new URL("../../node_modules/", import.meta.url)];
  if (granted({ name: "read" })) roots.push(new URL(`file://${Deno.cwd()}/node_modules/`));
  for (const root of roots) {
    const file = new URL(`${pkg}/package.json`, root);
    if (!granted({ name: "read", path: file })) continue;
    try {
      Deno.statSync(file);
      return true;
    } catch {
      // Not installed there: try the next place.
    }
  }
  return false;
}

function nvidiaGpuName(): string | undefined {
  if (!granted({ name: "read", path: "/proc/driver/nvidia/gpus" })) return undefined;
  try {
    for (const entry of Deno.readDirSync("/proc/driver/nvidia/gpus")) {
      const text = Deno.readTextFileSync(`/proc/driver/nvidia/gpus/${entry.name}/information`);
      const m = text.match(/^Model:\s*(.+)$/m);
      if (m) return m[1].trim();
    }
  } catch {
    // No NVIDIA driver, or no read permission for /proc.
  }
  return undefined;
}

async function tryTensorflow(): Promise<Outcome> {
  const candidates = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"];
  const present = candidates.filter(installed);
  if (present.length === 0) {
    return "tensorflow skipped: tfjs-node-gpu is not installed: run `deno task setup:cuda` " +
      "(needs CUDA 11.2 + cuDNN 8.1 and internet; or install @tensorflow/tfjs-node for CPU libtensorflow)";
  }
  const errors: string[] = [];
  for (const pkg of present) {
    try {
      // A variable specifier keeps deno check and the module graph from fetching it.
      const specifier = `npm:${pkg}@${TFJS_NODE_VERSION}`;
      await import(specifier);
    } catch (e) {
      errors.push(`${pkg}: ${String((e as Error).message ?? e).split("\n")[0]}`);
      continue;
    }
    if (await setBackend("tensorflow")) {
      const gpu = pkg.endsWith("-gpu") ? nvidiaGpuName() : undefined;
      const device = pkg.endsWith("-gpu")
        ? `cuda: ${gpu ?? "NVIDIA GPU (name not readable)"}`
        : `tensorflow (libtensorflow) on CPU: ${cpuModel()}`;
      return { device };
    }
    errors.push(`${pkg}: the tensorflow backend failed to start`);
  }
  return `tensorflow skipped: ${errors.join("; ")}: its native binding must sit under ` +
    "lib/napi-v8/ (tensorflow/tfjs#8581) and deno needs --allow-scripts, --allow-ffi";
}

const TRY: Record<BackendName, (timeoutMs: number) => Promise<Outcome>> = {
  wasm: tryWasm,
  cpu: tryCpu,
  webgpu: tryWebgpu,
  tensorflow: tryTensorflow,
};

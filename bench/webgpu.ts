/**
 * The GAN iteration on webgpu beside wasm: time per iteration on webgpu, the GPU work it records
 * (compute dispatches and queue submissions, counted by `countGpuWork`), and the kernels the
 * same iteration runs on wasm (`tf.profile(...).kernels.length`), for notebook 08's MNIST GAN
 * (per sample) and the face GANs of notebooks 12 (fully connected) and 14 (convolutional).
 *
 *   deno run --allow-read --allow-env --allow-sys=cpus bench/webgpu.ts [mnist] [fc] [conv]
 *
 * On a software adapter (Mesa's llvmpipe: `bash scripts/setup.sh --webgpu`) notebook 14 runs
 * with fewer feature maps (CONV_FEATURES_SOFTWARE): at the book's 256 one iteration takes
 * minutes there. The row says so. Called from `deno task bench`.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backends/backend.ts";
import { countGpuWork, WEBGPU_WARM_UP_STEPS } from "../lib/backends/gpu_work.ts";
import { MnistDiscriminator, MnistGenerator } from "../lib/book/mnist_gan.ts";
import {
  CELEBA_IMAGE,
  CONV_FEATURES,
  ConvFaceDiscriminator,
  ConvFaceGenerator,
  CROP_SIZE,
  FcFaceDiscriminator,
  FcFaceGenerator,
  trainFaceGan,
} from "../lib/book/face_gan.ts";
import { type Discriminator, type Generator, manualSeed } from "../lib/engine/mod.ts";

/** The workloads: notebook 08's MNIST GAN, notebook 12's and notebook 14's face GANs. */
export const GPU_WORKLOADS = ["mnist", "fc", "conv"] as const;
/** One of {@link GPU_WORKLOADS}. */
export type GpuWorkload = typeof GPU_WORKLOADS[number];

/** Feature maps of notebook 14's GAN on a software adapter (the book's: CONV_FEATURES). */
export const CONV_FEATURES_SOFTWARE = 32;

/** What one workload measured; a string where it could not run, saying why. */
export interface GpuRow {
  workload: GpuWorkload;
  name: string;
  /** Kernels one iteration runs on wasm. */
  wasmKernels: number | string;
  /** What {@link webgpuIteration} measured. */
  webgpu: WebGpuIteration | string;
}

/** One workload's iteration on webgpu. */
export interface WebGpuIteration {
  /** Median ms per iteration, the GPU's work included. */
  ms: number;
  /** Median CPU ms to record one iteration: the floor of `ms` on any GPU, however fast. */
  recordMs: number;
  /** Per iteration: dispatches, queue submissions, bind groups made, buffer writes. */
  dispatches: number;
  submits: number;
  bindGroups: number;
  writes: number;
  iterations: number;
}

const NAMES: Record<GpuWorkload, string> = {
  mnist: "MNIST GAN iteration, per sample (08)",
  fc: "face GAN iteration, fully connected (12)",
  conv: "face GAN iteration, convolutional (14)",
};

/** Iterations timed per round and rounds, per workload (the face GANs take seconds). */
const TIMING: Record<GpuWorkload, { perRound: number; rounds: number }> = {
  mnist: { perRound: 20, rounds: 5 },
  fc: { perRound: 1, rounds: 2 },
  conv: { perRound: 1, rounds: 2 },
};

interface Setup {
  D: Discriminator;
  G: Generator;
  x: tf.Tensor;
}

function build(w: GpuWorkload, features?: number): Setup {
  manualSeed(2020);
  const [D, G, shape]: [Discriminator, Generator, number[]] = w === "mnist"
    ? [new MnistDiscriminator(), new MnistGenerator(), [784]]
    : w === "fc"
    ? [new FcFaceDiscriminator(), new FcFaceGenerator(), [...CELEBA_IMAGE]]
    : [
      new ConvFaceDiscriminator({ features }),
      new ConvFaceGenerator({ features }),
      [1, CROP_SIZE, CROP_SIZE, 3],
    ];
  // No loss read-backs: they are synchronous, which webgpu does not allow.
  for (const m of [D, G]) m.progressEvery = Number.MAX_SAFE_INTEGER;
  D.printEvery = 0;
  const x = tf.randomUniform(shape, 0, 1, "float32", 1);
  return { D, G, x };
}

async function withSetup<T>(
  w: GpuWorkload,
  features: number | undefined,
  fn: (s: Setup) => Promise<T>,
): Promise<T> {
  const s = build(w, features);
  try {
    return await fn(s);
  } finally {
    tf.dispose(s.x);
    s.D.dispose();
    s.G.dispose();
  }
}

/** Waits for the GPU to finish the last update (asynchronous backends queue their work). */
async function settle(s: Setup): Promise<void> {
  await s.G.parameters()[0].value.data();
}

/** Kernels one GAN iteration runs on wasm (after a warm-up iteration). */
export async function wasmKernelsPerIteration(w: GpuWorkload, features?: number): Promise<number> {
  await initBackend({ order: ["wasm"], log: () => {} });
  return await withSetup(w, features, async (s) => {
    trainFaceGan(s.D, s.G, s.x);
    await settle(s);
    const profile = await tf.profile(() => trainFaceGan(s.D, s.G, s.x));
    return profile.kernels.length;
  });
}

/** Median ms per iteration on webgpu, the CPU's share, and the GPU work of one iteration. */
export async function webgpuIteration(
  w: GpuWorkload,
  features?: number,
): Promise<WebGpuIteration> {
  await initBackend({ order: ["webgpu"], log: () => {} });
  const { perRound, rounds } = TIMING[w];
  return await withSetup(w, features, async (s) => {
    // Warm-up: gradients, optimiser state, shader compilation, and the caches' steady state.
    for (let i = 0; i < WEBGPU_WARM_UP_STEPS; i++) {
      trainFaceGan(s.D, s.G, s.x);
      await settle(s);
    }
    // Rounds of iterations, each ending with the one read that waits for them; the last
    // round's GPU work is counted (counting costs next to nothing).
    const round = async () => {
      for (let i = 0; i < perRound; i++) trainFaceGan(s.D, s.G, s.x);
      await settle(s);
    };
    const per: number[] = [];
    let work = { dispatches: 0, submits: 0, bindGroups: 0, writes: 0 };
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      if (r === rounds - 1) work = await countGpuWork(round);
      else await round();
      per.push((performance.now() - t0) / perRound);
    }
    // Recording, timed on an idle GPU (a software adapter's threads would share the CPU), last:
    // V8 compiles the step's code as it repeats.
    const record: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      trainFaceGan(s.D, s.G, s.x);
      record.push(performance.now() - t0);
      await settle(s);
    }
    const median = (a: number[]) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)];
    return {
      ms: median(per),
      recordMs: median(record),
      dispatches: work.dispatches / perRound,
      submits: work.submits / perRound,
      bindGroups: work.bindGroups / perRound,
      writes: work.writes / perRound,
      iterations: perRound * rounds,
    };
  });
}

/** Whether this machine has a WebGPU adapter, and whether it is a software one (llvmpipe). */
export async function webgpuAdapter(
  timeoutMs = 10_000,
): Promise<{ software: boolean; name: string } | null> {
  const gpu = (navigator as unknown as {
    gpu?: { requestAdapter(): Promise<GPUAdapter | null> };
  }).gpu;
  if (!gpu) return null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const adapter = await Promise.race([
    gpu.requestAdapter().catch(() => null),
    new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs))),
  ]).finally(() => clearTimeout(timer));
  if (!adapter) return null;
  const i = adapter.info;
  const name = [i.description, i.device !== "0" ? i.device : "", i.architecture]
    .filter((s) => s).join(", ") ||
    `vendor ${i.vendor}`;
  return { software: /llvmpipe|lavapipe|swiftshader|software/i.test(name), name };
}

/** Bytes each copy reads (and writes) in {@link copyBandwidth}. */
const COPY_BYTES = 64 * 2 ** 20;

/**
 * GB/s moved (read + written) by a plain vec4 copy kernel on the webgpu device, and by the
 * CPU's own copy (`TypedArray.set`) beside it: the ceiling of any memory-bound kernel there.
 * Notebook 12's step moves at least about 1.9 GB (its 35 M-weight layer read forward and
 * backward, Adam's reads and writes of weights and moments), so this bounds its time.
 */
export async function copyBandwidth(): Promise<{ gpu: number; cpu: number }> {
  await initBackend({ order: ["webgpu"], log: () => {} });
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  const n4 = COPY_BYTES / 16;
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const a = device.createBuffer({ size: COPY_BYTES, usage });
  const b = device.createBuffer({ size: COPY_BYTES, usage });
  const module = device.createShaderModule({
    code: `@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> b: array<vec4<f32>>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) n: vec3<u32>) {
  for (var i = g.x; i < ${n4}u; i = i + n.x * 256u) { b[i] = a[i]; }
}`,
  });
  const pipeline = device.createComputePipeline({
    layout: "auto",
    compute: { module, entryPoint: "main" },
  });
  const group = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: a } }, { binding: 1, resource: { buffer: b } }],
  });
  const copies = async (k: number) => {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    for (let i = 0; i < k; i++) pass.dispatchWorkgroups(Math.min(Math.ceil(n4 / 256), 65535));
    pass.end();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
  };
  try {
    await copies(1);
    const t0 = performance.now();
    await copies(5);
    const gpu = (5 * 2 * COPY_BYTES) / ((performance.now() - t0) / 1000) / 1e9;
    const x = new Float32Array(COPY_BYTES / 4), y = new Float32Array(COPY_BYTES / 4);
    y.set(x);
    const t1 = performance.now();
    for (let i = 0; i < 5; i++) y.set(x);
    const cpu = (5 * 2 * COPY_BYTES) / ((performance.now() - t1) / 1000) / 1e9;
    return { gpu, cpu };
  } finally {
    a.destroy();
    b.destroy();
  }
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0];

/**
 * Measures `workloads` on wasm (kernel counts) and on webgpu when an adapter exists. Leaves
 * the backend it found active when it returns. `adapter` is {@link webgpuAdapter}'s answer.
 */
export async function benchGpuWork(
  workloads: readonly GpuWorkload[],
  adapter: { software: boolean } | null,
  log: (line: string) => void = (line) => console.error(line),
): Promise<GpuRow[]> {
  const backend = tf.getBackend();
  const rows: GpuRow[] = [];
  for (const w of workloads) {
    const features = w === "conv" && adapter?.software ? CONV_FEATURES_SOFTWARE : undefined;
    const name = NAMES[w] +
      (features ? ` with ${features} feature maps, not ${CONV_FEATURES} (software adapter)` : "");
    log(`webgpu bench: ${name} ...`);
    const wasmKernels = await wasmKernelsPerIteration(w, features).catch((e) =>
      `failed: ${message(e)}`
    );
    const webgpu = adapter
      ? await webgpuIteration(w, features).catch((e) => `failed: ${message(e)}`)
      : "no adapter";
    rows.push({ workload: w, name, wasmKernels, webgpu });
  }
  if (backend && tf.getBackend() !== backend) await tf.setBackend(backend);
  return rows;
}

/** The rows as a Markdown table. */
export function gpuTable(
  rows: GpuRow[],
  adapterName: string | null,
  bandwidth?: { gpu: number; cpu: number } | null,
): string {
  const head = [
    `WebGPU, batch size 1: ${adapterName ? `adapter ${adapterName}` : "webgpu: no adapter"}.`,
    ...(bandwidth
      ? [
        `Copy bandwidth (read + write): ${bandwidth.gpu.toFixed(1)} GB/s on the adapter, ` +
        `${bandwidth.cpu.toFixed(1)} GB/s for the CPU's own copy:`,
        "the ceiling of memory-bound kernels (notebook 12's step moves at least ~1.9 GB).",
      ]
      : []),
    "Recording: CPU time to record one iteration, the floor on any GPU. Dispatches,",
    "submissions, bind groups made and buffer writes per iteration: counted over the last",
    `timed round (${TIMING.mnist.perRound} iterations for MNIST, 1 for a face GAN; the round's`,
    "one read included). wasm kernels: the same iteration's TF.js kernels on wasm.",
    "",
    "| workload | webgpu, per iteration | recording | dispatches | submissions | bind groups | writes | wasm kernels |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
  ];
  const cells = rows.map((r) => {
    const g = r.webgpu;
    const gpu = typeof g === "string" ? [g, "-", "-", "-", "-", "-"] : [
      fmtMs(g.ms),
      fmtMs(g.recordMs),
      ...[g.dispatches, g.submits, g.bindGroups, g.writes].map((x) => x.toFixed(1)),
    ];
    return `| ${r.name} | ${gpu.join(" | ")} | ${r.wasmKernels} |`;
  });
  return [...head, ...cells, ""].join("\n");
}

const fmtMs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(2)} ms`);

if (import.meta.main) {
  const wanted = Deno.args.filter((a) => !a.startsWith("-"));
  const bad = wanted.filter((a) => !(GPU_WORKLOADS as readonly string[]).includes(a));
  if (bad.length) {
    console.error(`Unknown workload ${bad.join(", ")}: choose from ${GPU_WORKLOADS.join(", ")}`);
    Deno.exit(2);
  }
  const adapter = await webgpuAdapter();
  const rows = await benchGpuWork(
    wanted.length ? wanted as GpuWorkload[] : GPU_WORKLOADS,
    adapter,
  );
  const bandwidth = adapter ? await copyBandwidth() : null;
  console.log(gpuTable(rows, adapter?.name ?? null, bandwidth));
}

/**
 * Fused WGSL kernels for the book's training on the webgpu backend: the webgpu twins of the
 * wasm SIMD kernels in simd.ts, registered under the same kernel names.
 *
 * On a GPU a batch-1 step is all overhead: TF.js spends one dispatch (a bind group, a
 * uniform buffer, a pipeline switch) on every elementary op, and a layer's backward is a
 * dozen of them. These kernels do each pass in ONE dispatch, several outputs at once and
 * Adam's moments in place, which TF.js's own program interface (one output, read-only
 * inputs) cannot express. They encode into the backend's own command encoder and compute
 * pass, so they order correctly with every TF.js kernel and obey its deferred submits.
 *
 * This leans on the webgpu backend's internals (tensorMap, makeUniforms, the encoder
 * fields); tfjs-backend-webgpu is pinned to 4.22.0 and the kernels are tested against cpu.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type CachedBackendLike, kernelUniforms } from "./webgpu_cache.ts";

/** The parts of TF.js's WebGPUBackend (4.22) these kernels use. */
export interface WebGpuBackendLike extends CachedBackendLike {
  device: GPUDevice;
  tensorMap: { get(id: object): { resource: GPUBuffer | null } };
  makeTensorInfo(shape: number[], dtype: "float32"): tf.TensorInfo;
  uploadToGPU(id: object): void;
  disposeData(id: object, force?: boolean): boolean;
  ensureCommandEncoderReady(): void;
  commandEncoder: GPUCommandEncoder;
  computePassEncoder: GPUComputePassEncoder | null;
  dispatchCountInPass: number;
  commandQueueOwnedIds: WeakSet<object>;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

/** Threads per workgroup: WebGPU's default limit, and a multiple of every GPU's SIMD width. */
const WG = 256;
/** Workgroups per grid dimension that every adapter allows. */
const MAX_GROUPS = 65535;
/** Reductions longer than this get a workgroup each instead of a thread. */
const LONG = 1024;
/** The smallest normal float32; Adam flushes moments below it, as the wasm kernel does. */
const TINY = "1.1754944e-38";

/** One uniform: a u32 or f32 scalar. */
export type Uniform = ["u32" | "f32", string, number];

export interface KernelSpec {
  /** Pipeline cache key: the shader's name and variant. */
  key: string;
  /** Shader body: bindings and the struct of uniforms are prepended. */
  body: string;
  /** Outputs to allocate, by shape (written with read_write bindings). */
  outputs: number[][];
  /** Existing tensors updated in place (read_write). */
  inplace?: tf.TensorInfo[];
  /** Inputs, read only. */
  inputs: tf.TensorInfo[];
  /** Names of the bindings: outputs, then in-place, then inputs. */
  names: string[];
  uniforms: Uniform[];
  /** Workgroups to launch (spread over two dimensions when over 65,535). */
  groups: number;
  /** Bindings read as vec4<f32> (all, or per binding): elementwise kernels over 4n floats. */
  vec4?: boolean | boolean[];
  /** Uniforms that change every step (Adam's bias corrections): not worth caching. */
  volatile?: boolean;
  /**
   * How to split the work when a tensor is bigger than the adapter lets one binding be
   * (Mesa's software adapter: 128 MiB; notebook 12's generator weight is 133 MiB): into
   * chunks of `units` (rows or elements), each binding taking `per[k]` floats a unit
   * (0: bound whole), with the uniforms and workgroups of a chunk of `n` units.
   */
  split?: {
    units: number;
    per: number[];
    uniforms: (n: number, first: boolean, start: number) => Uniform[];
    groups: (n: number) => number;
  };
}

const pipelines = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

function pipelineFor(device: GPUDevice, key: string, code: () => string): GPUComputePipeline {
  let cache = pipelines.get(device);
  if (!cache) pipelines.set(device, cache = new Map());
  let p = cache.get(key);
  if (!p) {
    const module = device.createShaderModule({ code: code(), label: key });
    p = device.createComputePipeline({
      layout: "auto",
      compute: { module, entryPoint: "main" },
      label: key,
    });
    cache.set(key, p);
  }
  return p;
}

/** Whether binding `i` of `spec` is read as vec4<f32>. */
function wide(spec: KernelSpec, i: number): boolean {
  return Array.isArray(spec.vec4) ? spec.vec4[i] : !!spec.vec4;
}

/** The WGSL header: bindings, uniforms, and `wg` (flat workgroup index) helpers. */
function header(spec: KernelSpec): string {
  const nOut = spec.outputs.length + (spec.inplace?.length ?? 0);
  const lines = spec.names.map((name, i) =>
    `@group(0) @binding(${i}) var<storage, ${i < nOut ? "read_write" : "read"}> ${name}: array<${
      wide(spec, i) ? "vec4<f32>" : "f32"
    }>;`
  );
  // V is the element type, so one body serves the scalar and the vec4 variants.
  lines.push(`alias V = ${spec.vec4 === true ? "vec4<f32>" : "f32"};`);
  const fields = spec.uniforms.map(([t, name]) => `${name}: ${t},`);
  // Pad the uniform struct to 16 bytes, as uniform buffers want.
  for (let i = spec.uniforms.length; i % 4 !== 0; i++) fields.push(`_pad${i}: u32,`);
  lines.push(`struct U { ${fields.join(" ")} }`);
  lines.push(`@group(0) @binding(${spec.names.length}) var<uniform> u: U;`);
  lines.push(`var<workgroup> red: array<f32, ${WG}>;
fn reduceSum(v: f32, li: u32) -> f32 {
  red[li] = v;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (li < s) { red[li] = red[li] + red[li + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
fn flatGroup(w: vec3<u32>) -> u32 { return w.x + w.y * ${MAX_GROUPS}u; }`);
  return lines.join("\n");
}

/** The uniforms as TF.js's makeUniforms() wants them, padded like the WGSL struct. */
function uniformData(uniforms: Uniform[]): { type: string; data: number[] }[] {
  const data = uniforms.map(([t, , v]) => ({
    type: t === "u32" ? "uint32" : "float32",
    data: [v],
  }));
  while (data.length % 4 !== 0) data.push({ type: "uint32", data: [0] });
  return data;
}

/** Throws a clear error when a tensor is too big to bind on this adapter (WebGPU would drop the work). */
let limitOverride: number | null = null;

/** Lowers the binding limit the kernels plan for (null restores the adapter's): for tests. */
export function setBindingLimitForTesting(bytes: number | null): void {
  limitOverride = bytes;
}

/** The adapter's storage binding limit in bytes (or the test's lower one). */
export function bindingLimit(b: WebGpuBackendLike): number {
  const limit = b.device.limits.maxStorageBufferBindingSize;
  return limitOverride === null ? limit : Math.min(limit, limitOverride);
}

function checkBindable(b: WebGpuBackendLike, shapes: number[][], key: string): void {
  const limit = bindingLimit(b);
  for (const shape of shapes) {
    const bytes = 4 * shape.reduce((x, y) => x * y, 1);
    if (bytes > limit) {
      throw new Error(
        `webgpu: a [${shape}] tensor (${mib(bytes)} MiB) in kernel ${key} exceeds this ` +
          `adapter's storage binding limit of ${mib(limit)} MiB (Mesa's software adapter ` +
          `allows 128 MiB, GPUs usually 2-4 GiB): use the wasm backend for this network`,
      );
    }
  }
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

/** Records `spec` into the backend's open compute pass (in chunks if it must); returns its outputs. */
export function dispatch(b: WebGpuBackendLike, spec: KernelSpec): tf.TensorInfo[] {
  const given = [...(spec.inplace ?? []), ...spec.inputs];
  const shapes = [...spec.outputs, ...given.map((t) => t.shape)];
  const limit = bindingLimit(b);
  const fits = shapes.every((s) => 4 * s.reduce((x, y) => x * y, 1) <= limit);
  if (!fits && !spec.split) checkBindable(b, shapes, spec.key);
  const outs = spec.outputs.map((shape) => b.makeTensorInfo(shape, "float32"));
  const all = [...outs, ...given];
  for (const t of all) b.uploadToGPU(t.dataId);
  for (const t of all) b.commandQueueOwnedIds.add(t.dataId);
  const pipeline = pipelineFor(b.device, spec.key, () => `${header(spec)}\n${spec.body}`);
  const buffer = (t: tf.TensorInfo) => b.tensorMap.get(t.dataId).resource as GPUBuffer;
  const record = (entries: GPUBindGroupEntry[], uniforms: Uniform[], groups: number) => {
    // Repeated uniforms and bind groups come from webgpu_cache.ts's caches.
    entries.push({
      binding: all.length,
      resource: kernelUniforms(b, uniformData(uniforms), !!spec.volatile),
    });
    const bindGroup = b.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries,
    });
    b.ensureCommandEncoderReady();
    if (!b.computePassEncoder) b.computePassEncoder = b.commandEncoder.beginComputePass({});
    const pass = b.computePassEncoder;
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(Math.min(groups, MAX_GROUPS), Math.ceil(groups / MAX_GROUPS), 1);
    b.dispatchCountInPass++;
    if ((tf.env().get("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE") as number) <= b.dispatchCountInPass) {
      b.endComputePassEncoder();
      b.submitQueue();
    }
  };
  if (fits || !spec.split) {
    record(
      all.map((t, i) => ({ binding: i, resource: { buffer: buffer(t) } })),
      spec.uniforms,
      spec.groups,
    );
    return outs;
  }
  // Chunks of whole units, as many as fit, in steps that keep every offset 256-byte aligned.
  const { units, per, uniforms, groups } = spec.split;
  const gcd = (x: number, y: number): number => (y === 0 ? x : gcd(y, x % y));
  const step = per.filter((k) => k > 0).reduce((a, k) => {
    const need = 64 / gcd(k, 64);
    return (a * need) / gcd(a, need);
  }, 1);
  const chunk = Math.floor(limit / (4 * Math.max(...per)) / step) * step;
  if (chunk === 0) checkBindable(b, [[step, Math.max(...per)]], spec.key);
  for (let start = 0; start < units; start += chunk) {
    const n = Math.min(chunk, units - start);
    record(
      all.map((t, i) => ({
        binding: i,
        resource: per[i] === 0 ? { buffer: buffer(t) } : {
          buffer: buffer(t),
          offset: 4 * start * per[i],
          // The last unit may be partial (a block of rows past the end): stop at the end.
          size: Math.min(4 * n * per[i], 4 * size(t) - 4 * start * per[i]),
        },
      })),
      uniforms(n, start === 0, start),
      groups(n),
    );
  }
  return outs;
}

const size = (t: tf.TensorInfo) => t.shape.reduce((a, b) => a * b, 1);
/** Floats per thread for an elementwise kernel over `t`: 4 when its size allows. */
const lanes = (t: tf.TensorInfo) => (size(t) % 4 === 0 ? 4 : 1);
/** Workgroups for a grid-stride loop over n elements. */
export const gridGroups = (n: number) => Math.max(1, Math.min(Math.ceil(n / WG), MAX_GROUPS));
/** A grid-stride loop over `u.n` elements; `i` is the element. */
const grid = (n: string) =>
  `@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>,
        @builtin(num_workgroups) ng: vec3<u32>) {
  let stride = ng.x * ng.y * ${WG}u;
  for (var i = gid.x + gid.y * ng.x * ${WG}u; i < ${n}; i = i + stride) {`;
export const GRID = grid("u.n");
/** erf by Abramowitz and Stegun 7.1.26 (error < 1.5e-7), the formula TF.js's cpu backend uses. */
const ERF = `fn erf(z: f32) -> f32 {
  let v = abs(z);
  let t = 1.0 / (1.0 + 0.3275911 * v);
  let poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t +
    0.254829592) * t;
  return sign(z) * (1.0 - poly * exp(-v * v));
}`;

/** A workgroup per item `g` of `u.groups`, thread `li` within it. */
const PER_GROUP = `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let g = flatGroup(wid);
  if (g >= u.groups) { return; }`;

type Kernel = (
  b: WebGpuBackendLike,
  inputs: Record<string, tf.TensorInfo>,
  attrs: tf.NamedAttrMap,
) => tf.TensorInfo | tf.TensorInfo[];

/**
 * Adam's uniforms: the same for every parameter of one optimiser step (the kernel takes its
 * length from the binding), so the step's parameters share one uniform write.
 */
function adamUniforms({ b1, b2, a, e }: tf.NamedAttrMap): Uniform[] {
  return [
    ["f32", "b1", b1 as number],
    ["f32", "b2", b2 as number],
    ["f32", "a", a as number],
    ["f32", "e", e as number],
  ];
}

/** Adam's update of one element `i`: T is the element type (f32 or vec4<f32>). */
function adamBody(T: string, [pOut, m, v, p, g]: string[]): string {
  return `let gi = ${g}[i];
    var mi = u.b1 * ${m}[i] + (1.0 - u.b1) * gi;
    var vi = u.b2 * ${v}[i] + (1.0 - u.b2) * (gi * gi);
    mi = select(${T}(0.0), mi, abs(mi) >= ${T}(${TINY}));
    vi = select(${T}(0.0), vi, vi >= ${T}(${TINY}));
    ${m}[i] = mi;
    ${v}[i] = vi;
    ${pOut}[i] = ${p}[i] - (u.a * mi) / (sqrt(vi) + u.e);`;
}

/** One parameter's Adam update: a new p, the moments m and v updated in place. */
function adamOne(
  b: WebGpuBackendLike,
  p: tf.TensorInfo,
  g: tf.TensorInfo,
  m: tf.TensorInfo,
  v: tf.TensorInfo,
  attrs: tf.NamedAttrMap,
): tf.TensorInfo {
  const w = lanes(p), n = size(p) / w;
  const [pOut] = dispatch(b, {
    key: `adam${w}`,
    vec4: w === 4,
    volatile: true,
    names: ["pOut", "m", "v", "p", "g"],
    outputs: [p.shape],
    inplace: [m, v],
    inputs: [p, g],
    uniforms: adamUniforms(attrs),
    groups: gridGroups(n),
    split: {
      units: n,
      per: [w, w, w, w, w],
      uniforms: () => adamUniforms(attrs),
      groups: gridGroups,
    },
    body: `${grid("arrayLength(&p)")}
    ${adamBody("V", ["pOut", "m", "v", "p", "g"])}
  }
}`,
  });
  return pOut;
}

/** Storage bindings one parameter takes in a multi-parameter Adam dispatch: new p, m, v, p, g. */
const ADAM_BINDINGS = 5;
/** Workgroups one parameter gets at most in a multi-parameter Adam dispatch (then it loops). */
const ADAM_GROUPS = 4096;

/**
 * Adam over all of an optimiser's parameters (inputs p0.., g0.., m0.., v0.. for `k`
 * parameters) in as few dispatches as the adapter's storage-binding count allows: each
 * parameter takes 5 bindings, so 6 share a dispatch on Mesa's adapter (32 bindings), all of a
 * book network's on a GPU that allows more. Each parameter gets its own range of workgroups,
 * its sizes compiled into the shader. A parameter over the binding-size limit (notebook 12's
 * generator weight on Mesa) takes its own dispatch, split into chunks. Returns the new p's.
 */
function adamAll(
  b: WebGpuBackendLike,
  inputs: Record<string, tf.TensorInfo>,
  attrs: tf.NamedAttrMap,
): tf.TensorInfo[] {
  const k = attrs.k as number;
  const at = (j: number) =>
    ["p", "g", "m", "v"].map((name) => {
      const t = inputs[`${name}${j}`];
      if (!t) throw new Error(`MyoganAdamAll: input ${name}${j} is missing (k = ${k})`);
      return t;
    });
  // Storage buffers, and binding slots (one more for the uniforms), are both limited.
  const { maxStorageBuffersPerShaderStage: buffers, maxBindingsPerBindGroup: slots } =
    b.device.limits;
  const perDispatch = Math.floor(Math.min(buffers, slots - 1) / ADAM_BINDINGS);
  const limit = bindingLimit(b);
  const params = Array.from({ length: k }, (_, j) => at(j));
  const out: tf.TensorInfo[] = [];
  let group: number[] = [];
  const flush = () => {
    if (group.length === 1) {
      const [p, g, m, v] = params[group[0]];
      out[group[0]] = adamOne(b, p, g, m, v, attrs);
    } else if (group.length > 1) {
      adamGroup(b, group.map((j) => params[j]), attrs).forEach((t, i) => out[group[i]] = t);
    }
    group = [];
  };
  params.forEach(([p, g, m, v], j) => {
    if (4 * size(p) > limit) out[j] = adamOne(b, p, g, m, v, attrs);
    else {
      group.push(j);
      if (group.length >= perDispatch) flush();
    }
  });
  flush();
  return out;
}

/** adamGroup's shaders by pipeline key: the same parameters every step, so built once. */
const adamBodies = new Map<string, string>();

/** One dispatch updating every parameter of `params` ([p, g, m, v] each, all bindable). */
function adamGroup(
  b: WebGpuBackendLike,
  params: tf.TensorInfo[][],
  attrs: tf.NamedAttrMap,
): tf.TensorInfo[] {
  const w = params.map(([p]) => lanes(p));
  const n = params.map(([p], j) => size(p) / w[j]);
  const groups = n.map((nj) => Math.min(Math.ceil(nj / WG), ADAM_GROUPS));
  const key = `adam_all:${n.map((nj, j) => `${nj}x${w[j]}`).join(",")}`;
  const total = groups.reduce((a, x) => a + x, 0);
  let body = adamBodies.get(key);
  if (body === undefined) {
    const names = (j: number) => ["pOut", "m", "v", "p", "g"].map((kind) => `${kind}${j}`);
    let start = 0;
    const cases = params.map((_, j) => {
      const first = start;
      start += groups[j];
      return `if (g < ${start}u) {
    for (var i = (g - ${first}u) * ${WG}u + li; i < ${n[j]}u; i = i + ${groups[j] * WG}u) {
    ${adamBody(w[j] === 4 ? "vec4<f32>" : "f32", names(j))}
    }
    return;
  }`;
    });
    body = `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let g = flatGroup(wid);
  ${cases.join("\n  ")}
}`;
    adamBodies.set(key, body);
  }
  // Bindings in dispatch()'s order: every new p, then every m and v (updated in place), then
  // every p and g; params[j] is [p, g, m, v].
  const INDEX: Record<string, number> = { p: 0, g: 1, m: 2, v: 3 };
  const byKind = (kinds: string[]) => params.flatMap((_, j) => kinds.map((kind) => ({ j, kind })));
  const inplace = byKind(["m", "v"]), inputs = byKind(["p", "g"]);
  const all = [...byKind(["pOut"]), ...inplace, ...inputs];
  const tensor = ({ j, kind }: { j: number; kind: string }) => params[j][INDEX[kind]];
  return dispatch(b, {
    key,
    vec4: all.map(({ j }) => w[j] === 4),
    volatile: true,
    names: all.map(({ j, kind }) => `${kind}${j}`),
    outputs: params.map(([p]) => p.shape),
    inplace: inplace.map(tensor),
    inputs: inputs.map(tensor),
    uniforms: adamUniforms(attrs),
    groups: total,
    body,
  });
}

/** Rows a thread sums in the first pass of `matVecTTall`. */
const BLOCK = 64;

/**
 * `W^T d` for a tall W (notebook 12's generator: [116412, 300]) in two passes: threads
 * (block of 64 rows, column) write partial sums, neighbours reading neighbouring floats;
 * then a thread a column adds its blocks. A workgroup a column instead read W down its
 * columns, one cache line per float: 3-4x slower on Mesa's software adapter.
 */
function matVecTTall(b: WebGpuBackendLike, W: tf.TensorInfo, d: tf.TensorInfo): tf.TensorInfo {
  const [rows, cols] = W.shape;
  const blocks = Math.ceil(rows / BLOCK);
  const uniforms = (n: number, start: number): Uniform[] => [
    ["u32", "n", n * cols],
    ["u32", "cols", cols],
    ["u32", "rows", Math.min(n * BLOCK, rows - start * BLOCK)],
  ];
  const [partial] = dispatch(b, {
    key: "matvect_blocks",
    names: ["partial", "W", "d"],
    outputs: [[blocks, cols]],
    inputs: [W, d],
    uniforms: uniforms(blocks, 0),
    groups: gridGroups(blocks * cols),
    split: {
      units: blocks,
      per: [cols, BLOCK * cols, BLOCK],
      uniforms: (n, _first, start) => uniforms(n, start),
      groups: (n) => gridGroups(n * cols),
    },
    body: `${GRID}
    let c = i % u.cols;
    let r0 = (i / u.cols) * ${BLOCK}u;
    let r1 = min(r0 + ${BLOCK}u, u.rows);
    var s = 0.0;
    for (var r = r0; r < r1; r = r + 1u) { s = s + W[r * u.cols + c] * d[r]; }
    partial[i] = s;
  }
}`,
  });
  const [y] = dispatch(b, {
    key: "matvect_sum",
    names: ["y", "partial"],
    outputs: [[cols]],
    inputs: [partial],
    uniforms: [["u32", "n", cols], ["u32", "blocks", blocks]],
    groups: gridGroups(cols),
    body: `${GRID}
    var s = 0.0;
    for (var k = 0u; k < u.blocks; k = k + 1u) { s = s + partial[k * u.n + i]; }
    y[i] = s;
  }
}`,
  });
  b.disposeData(partial.dataId);
  return y;
}

/**
 * BatchNorm2d's training forward, then LeakyReLU when `slope` is given (BatchNorm2d followed by
 * LeakyReLU, as in notebook 14's networks: one apply pass instead of two).
 */
function batchNorm(
  b: WebGpuBackendLike,
  x: tf.TensorInfo,
  w: tf.TensorInfo,
  bias: tf.TensorInfo,
  rm: tf.TensorInfo,
  rv: tf.TensorInfo,
  eps: number,
  momentum: number,
  slope: number | null,
): tf.TensorInfo[] {
  const c = x.shape[x.shape.length - 1], rows = size(x) / c;
  // Two dispatches: per-channel statistics, then the elementwise normalisation
  // (one would need ten storage buffers; WebGPU promises eight).
  const [mean, rstd, rm2, rv2] = dispatch(b, {
    key: "batchnormstats",
    names: ["mean", "rstd", "rm2", "rv2", "x", "rm", "rv"],
    outputs: [[c], [c], [c], [c]],
    inputs: [x, rm, rv],
    uniforms: [
      ["u32", "groups", c],
      ["u32", "rows", rows],
      ["f32", "eps", eps],
      ["f32", "mom", momentum],
    ],
    groups: c,
    body: `${PER_GROUP}
  let C = u.groups;
  var s = 0.0;
  for (var r = li; r < u.rows; r = r + ${WG}u) { s = s + x[r * C + g]; }
  let mu = reduceSum(s, li) / f32(u.rows);
  var q = 0.0;
  for (var r = li; r < u.rows; r = r + ${WG}u) { let d = x[r * C + g] - mu; q = q + d * d; }
  let va = reduceSum(q, li) / f32(u.rows);
  if (li == 0u) {
    mean[g] = mu;
    rstd[g] = 1.0 / sqrt(va + u.eps);
    rm2[g] = (1.0 - u.mom) * rm[g] + u.mom * mu;
    // The running variance uses the unbiased estimate, as PyTorch does.
    let unbiased = select(va, va * f32(u.rows) / f32(u.rows - 1u), u.rows > 1u);
    rv2[g] = (1.0 - u.mom) * rv[g] + u.mom * unbiased;
  }
}`,
  });
  const leaky = slope !== null;
  const [y, xhat] = dispatch(b, {
    key: `batchnormapply_${leaky}`,
    names: ["y", "xhat", "x", "mean", "rstd", "w", "bias"],
    outputs: [x.shape, x.shape],
    inputs: [x, mean, rstd, w, bias],
    uniforms: [["u32", "n", size(x)], ["u32", "c", c], ["f32", "slope", slope ?? 0]],
    groups: gridGroups(size(x)),
    body: `${GRID}
    let k = i % u.c;
    let h = (x[i] - mean[k]) * rstd[k];
    xhat[i] = h;
    let v = h * w[k] + bias[k];
    y[i] = ${leaky ? "select(u.slope * v, v, v > 0.0)" : "v"};
  }
}`,
  });
  b.disposeData(mean.dataId);
  return [y, xhat, rstd, rm2, rv2];
}

/**
 * BatchNorm2d's training backward: [dx, dweight, dbias]. With `bias` (and `slope`), the
 * LeakyReLU that followed it first: its input xhat w + bias is recomputed, so the step keeps no
 * extra tensor.
 */
function batchNormGrad(
  b: WebGpuBackendLike,
  dy: tf.TensorInfo,
  xhat: tf.TensorInfo,
  rstd: tf.TensorInfo,
  w: tf.TensorInfo,
  bias: tf.TensorInfo | null,
  slope: number,
): tf.TensorInfo[] {
  const c = dy.shape[dy.shape.length - 1], rows = size(dy) / c;
  const leaky = bias !== null;
  // The gradient reaching the normalisation: dy, or LeakyReLU's gradient of it.
  const d = (i: string) =>
    leaky ? `select(u.slope * dy[${i}], dy[${i}], xhat[${i}] * w[g] + bias[g] > 0.0)` : `dy[${i}]`;
  return dispatch(b, {
    key: `batchnormgrad_${leaky}`,
    names: ["dx", "dw", "db", "dy", "xhat", "rstd", "w", ...(leaky ? ["bias"] : [])],
    outputs: [dy.shape, [c], [c]],
    inputs: leaky ? [dy, xhat, rstd, w, bias] : [dy, xhat, rstd, w],
    uniforms: [["u32", "groups", c], ["u32", "rows", rows], ["f32", "slope", slope]],
    groups: c,
    body: `${PER_GROUP}
  let C = u.groups;
  var sw = 0.0;
  var sb = 0.0;
  for (var r = li; r < u.rows; r = r + ${WG}u) {
    let d = ${d("r * C + g")};
    sw = sw + d * xhat[r * C + g];
    sb = sb + d;
  }
  sw = reduceSum(sw, li);
  sb = reduceSum(sb, li);
  if (li == 0u) { dw[g] = sw; db[g] = sb; }
  let wk = w[g];
  let mg = sb * wk / f32(u.rows);
  let mgx = sw * wk / f32(u.rows);
  let rs = rstd[g];
  for (var r = li; r < u.rows; r = r + ${WG}u) {
    let i = r * C + g;
    dx[i] = rs * (${d("i")} * wk - mg - xhat[i] * mgx);
  }
}`,
  });
}

/** The kernels, by the names simd.ts registers for wasm. */
const KERNELS: Record<string, Kernel> = {
  MyoganMatVec: (b, { W, x, bias }) => {
    const [rows, cols] = W.shape;
    const names = bias ? ["y", "W", "x", "bias"] : ["y", "W", "x"];
    const add = bias ? " + bias[r]" : "";
    const long = cols >= LONG;
    return dispatch(b, {
      key: `matvec_${long}_${!!bias}`,
      names,
      outputs: [[rows]],
      inputs: bias ? [W, x, bias] : [W, x],
      uniforms: [["u32", "rows", rows], ["u32", "cols", cols], ["u32", "groups", rows], [
        "u32",
        "n",
        rows,
      ]],
      groups: long ? rows : gridGroups(rows),
      split: {
        units: rows,
        per: bias ? [1, cols, 0, 1] : [1, cols, 0],
        uniforms: (n) => [["u32", "rows", n], ["u32", "cols", cols], ["u32", "groups", n], [
          "u32",
          "n",
          n,
        ]],
        groups: (n) => long ? n : gridGroups(n),
      },
      body: long
        ? `${PER_GROUP}
  let r = g;
  var s = 0.0;
  for (var c = li; c < u.cols; c = c + ${WG}u) { s = s + W[r * u.cols + c] * x[c]; }
  s = reduceSum(s, li);
  if (li == 0u) { y[r] = s${add}; }
}`
        : `${GRID}
    let r = i;
    var s = 0.0;
    for (var c = 0u; c < u.cols; c = c + 1u) { s = s + W[r * u.cols + c] * x[c]; }
    y[r] = s${add};
  }
}`,
    })[0];
  },
  MyoganMatVecT: (b, { W, d }) => {
    const [rows, cols] = W.shape;
    // The two-pass form also splits a W too big to bind whole.
    if (rows >= LONG || 4 * size(W) > bindingLimit(b)) return matVecTTall(b, W, d);
    return dispatch(b, {
      key: "matvect",
      names: ["y", "W", "d"],
      outputs: [[cols]],
      inputs: [W, d],
      uniforms: [["u32", "rows", rows], ["u32", "n", cols]],
      groups: gridGroups(cols),
      // A thread a column: neighbours read neighbouring floats of each row.
      body: `${GRID}
    var s = 0.0;
    for (var r = 0u; r < u.rows; r = r + 1u) { s = s + W[r * u.n + i] * d[r]; }
    y[i] = s;
  }
}`,
    })[0];
  },
  MyoganOuter: (b, { u, x, acc }) => {
    const rows = size(u), cols = size(x);
    // Four columns a thread when the row length allows (every layer of the book's networks).
    const w = cols % 4 === 0 ? 4 : 1, c = cols / w;
    return dispatch(b, {
      key: `outer${w}_${!!acc}`,
      vec4: w === 4 ? (acc ? [true, false, true, true] : [true, false, true]) : false,
      names: acc ? ["G", "uu", "x", "acc"] : ["G", "uu", "x"],
      outputs: [[rows, cols]],
      inputs: acc ? [u, x, acc] : [u, x],
      uniforms: [["u32", "n", rows * c], ["u32", "cols", c]],
      groups: gridGroups(rows * c),
      split: {
        units: rows,
        per: acc ? [cols, 1, 0, cols] : [cols, 1, 0],
        uniforms: (n) => [["u32", "n", n * c], ["u32", "cols", c]],
        groups: (n) => gridGroups(n * c),
      },
      body: `${GRID}
    G[i] = uu[i / u.cols] * x[i % u.cols]${acc ? " + acc[i]" : ""};
  }
}`,
    })[0];
  },
  MyoganAxpy: (b, { p, g }, { a }) => {
    // Four floats a thread where the size allows: fewer, wider loads (and loop trips).
    const w = lanes(p), n = size(p) / w;
    return dispatch(b, {
      key: `axpy${w}`,
      vec4: w === 4,
      names: ["out", "p", "g"],
      outputs: [p.shape],
      inputs: [p, g],
      uniforms: [["u32", "n", n], ["f32", "a", a as number]],
      groups: gridGroups(n),
      split: {
        units: n,
        per: [w, w, w],
        uniforms: (k) => [["u32", "n", k], ["f32", "a", a as number]],
        groups: gridGroups,
      },
      body: `${GRID}
    out[i] = p[i] + u.a * g[i];
  }
}`,
    })[0];
  },
  MyoganAdam: (b, { p, g, m, v }, attrs) => adamOne(b, p, g, m, v, attrs),
  MyoganAdamAll: adamAll,
  MyoganSigmoidGrad: (b, { y, dy }) =>
    dispatch(b, {
      key: "sigmoidgrad",
      names: ["out", "y", "dy"],
      outputs: [y.shape],
      inputs: [y, dy],
      uniforms: [["u32", "n", size(y)]],
      groups: gridGroups(size(y)),
      body: `${GRID}
    out[i] = dy[i] * (y[i] * (1.0 - y[i]));
  }
}`,
    })[0],
  MyoganLeakyGrad: (b, { x, dy }, { slope }) =>
    dispatch(b, {
      key: "leakygrad",
      names: ["out", "x", "dy"],
      outputs: [x.shape],
      inputs: [x, dy],
      uniforms: [["u32", "n", size(x)], ["f32", "slope", slope as number]],
      groups: gridGroups(size(x)),
      body: `${GRID}
    out[i] = select(u.slope * dy[i], dy[i], x[i] > 0.0);
  }
}`,
    })[0],
  MyoganLayerNorm: (b, { x, w, bias }, { eps }) => {
    const n = x.shape[x.shape.length - 1], rows = size(x) / n;
    return dispatch(b, {
      key: "layernorm",
      names: ["y", "xhat", "rstd", "x", "w", "bias"],
      outputs: [x.shape, x.shape, [rows]],
      inputs: [x, w, bias],
      uniforms: [["u32", "groups", rows], ["u32", "len", n], ["f32", "eps", eps as number]],
      groups: rows,
      body: `${PER_GROUP}
  let o = g * u.len;
  var s = 0.0;
  for (var i = li; i < u.len; i = i + ${WG}u) { s = s + x[o + i]; }
  let mean = reduceSum(s, li) / f32(u.len);
  var q = 0.0;
  for (var i = li; i < u.len; i = i + ${WG}u) { let d = x[o + i] - mean; q = q + d * d; }
  let rs = 1.0 / sqrt(reduceSum(q, li) / f32(u.len) + u.eps);
  if (li == 0u) { rstd[g] = rs; }
  for (var i = li; i < u.len; i = i + ${WG}u) {
    let h = (x[o + i] - mean) * rs;
    xhat[o + i] = h;
    y[o + i] = h * w[i] + bias[i];
  }
}`,
    });
  },
  MyoganLayerNormGrad: (b, { dy, xhat, rstd, w }) => {
    const n = dy.shape[dy.shape.length - 1], rows = size(dy) / n;
    // Workgroups 0..rows-1 each take a row's dx; the rest sum dw and db over rows.
    return dispatch(b, {
      key: "layernormgrad",
      names: ["dx", "dw", "db", "dy", "xhat", "rstd", "w"],
      outputs: [dy.shape, [n], [n]],
      inputs: [dy, xhat, rstd, w],
      uniforms: [["u32", "groups", rows + Math.ceil(n / WG)], ["u32", "rows", rows], [
        "u32",
        "len",
        n,
      ]],
      groups: rows + Math.ceil(n / WG),
      body: `${PER_GROUP}
  if (g < u.rows) {
    let o = g * u.len;
    var sg = 0.0;
    var sgx = 0.0;
    for (var i = li; i < u.len; i = i + ${WG}u) {
      let gi = dy[o + i] * w[i];
      sg = sg + gi;
      sgx = sgx + gi * xhat[o + i];
    }
    let mg = reduceSum(sg, li) / f32(u.len);
    let mgx = reduceSum(sgx, li) / f32(u.len);
    let rs = rstd[g];
    for (var i = li; i < u.len; i = i + ${WG}u) {
      dx[o + i] = rs * (dy[o + i] * w[i] - mg - xhat[o + i] * mgx);
    }
  } else {
    let c = (g - u.rows) * ${WG}u + li;
    if (c < u.len) {
      var sw = 0.0;
      var sb = 0.0;
      for (var r = 0u; r < u.rows; r = r + 1u) {
        let d = dy[r * u.len + c];
        sw = sw + d * xhat[r * u.len + c];
        sb = sb + d;
      }
      dw[c] = sw;
      db[c] = sb;
    }
  }
}`,
    });
  },
  MyoganBce: (b, { y, t }) => {
    const n = size(y);
    return dispatch(b, {
      key: "bce",
      names: ["loss", "grad", "y", "t"],
      outputs: [[], y.shape],
      inputs: [y, t],
      uniforms: [["u32", "groups", 1], ["u32", "len", n]],
      groups: 1,
      body: `fn clampedLog(z: f32) -> f32 {
  // PyTorch clamps BCELoss's logs at -100; log(0) is undefined in WGSL, so test first.
  return select(max(log(z), -100.0), -100.0, z < ${TINY});
}
${PER_GROUP}
  var s = 0.0;
  for (var i = li; i < u.len; i = i + ${WG}u) {
    let yi = y[i];
    let ti = t[i];
    s = s + ti * clampedLog(yi) + (1.0 - ti) * clampedLog(1.0 - yi);
    grad[i] = (yi - ti) / max(yi * (1.0 - yi), 1e-12) / f32(u.len);
  }
  s = reduceSum(s, li);
  if (li == 0u) { loss[0] = -s / f32(u.len); }
}`,
    });
  },
  MyoganMse: (b, { y, t }) => {
    const n = size(y);
    return dispatch(b, {
      key: "mse",
      names: ["loss", "grad", "y", "t"],
      outputs: [[], y.shape],
      inputs: [y, t],
      uniforms: [["u32", "groups", 1], ["u32", "len", n]],
      groups: 1,
      body: `${PER_GROUP}
  var s = 0.0;
  for (var i = li; i < u.len; i = i + ${WG}u) {
    let d = y[i] - t[i];
    s = s + d * d;
    grad[i] = 2.0 * d / f32(u.len);
  }
  s = reduceSum(s, li);
  if (li == 0u) { loss[0] = s / f32(u.len); }
}`,
    });
  },
  MyoganBatchNorm: (b, { x, w, bias, rm, rv }, { eps, momentum }) =>
    batchNorm(b, x, w, bias, rm, rv, eps as number, momentum as number, null),
  MyoganBatchNormLeaky: (b, { x, w, bias, rm, rv }, { eps, momentum, slope }) =>
    batchNorm(b, x, w, bias, rm, rv, eps as number, momentum as number, slope as number),
  MyoganBatchNormGrad: (b, { dy, xhat, rstd, w }) => batchNormGrad(b, dy, xhat, rstd, w, null, 0),
  MyoganBatchNormLeakyGrad: (b, { dy, xhat, rstd, w, bias }, { slope }) =>
    batchNormGrad(b, dy, xhat, rstd, w, bias, slope as number),
  MyoganGelu: (b, { x }) =>
    dispatch(b, {
      key: "gelu",
      names: ["y", "x"],
      outputs: [x.shape],
      inputs: [x],
      uniforms: [["u32", "n", size(x)]],
      groups: gridGroups(size(x)),
      body: `${ERF}
${GRID}
    let v = x[i];
    y[i] = v * 0.5 * (1.0 + erf(v * ${Math.SQRT1_2}));
  }
}`,
    })[0],
  MyoganGeluGrad: (b, { x, dy }) =>
    dispatch(b, {
      key: "gelugrad",
      names: ["dx", "x", "dy"],
      outputs: [x.shape],
      inputs: [x, dy],
      uniforms: [["u32", "n", size(x)]],
      groups: gridGroups(size(x)),
      body: `${ERF}
${GRID}
    let v = x[i];
    let cdf = 0.5 * (1.0 + erf(v * ${Math.SQRT1_2}));
    let pdf = ${1 / Math.sqrt(2 * Math.PI)} * exp(-0.5 * v * v);
    dx[i] = dy[i] * (cdf + v * pdf);
  }
}`,
    })[0],
  MyoganColumnSum: (b, { d }) => {
    const [rows, cols] = d.shape;
    return dispatch(b, {
      key: "columnsum",
      names: ["y", "d"],
      outputs: [[cols]],
      inputs: [d],
      uniforms: [["u32", "n", cols], ["u32", "rows", rows]],
      groups: gridGroups(cols),
      body: `${GRID}
    var s = 0.0;
    for (var r = 0u; r < u.rows; r = r + 1u) { s = s + d[r * u.n + i]; }
    y[i] = s;
  }
}`,
    })[0];
  },
};

/**
 * Dispatches TF.js records before it submits them to the GPU queue. TF.js's default, 15,
 * makes a batch-1 step ~30 submissions, and each one costs far more than a dispatch; 256
 * covers a whole iteration of the book's GANs (70-180 dispatches) while bounding how much
 * freed GPU memory waits for the next submission (TF.js releases buffers only then).
 * `GAN_WEBGPU_SUBMIT_BATCH` overrides it.
 */
export const WEBGPU_SUBMIT_BATCH = 256;

/** Names of the kernels registered for webgpu. */
export const WEBGPU_KERNEL_NAMES: readonly string[] = Object.keys(KERNELS);

let registered = false;

/** Registers the fused kernels on the webgpu backend (idempotent). */
export function registerWebGpuKernels(): void {
  if (registered) return;
  registered = true;
  for (const [kernelName, fn] of Object.entries(KERNELS)) {
    tf.registerKernel({
      kernelName,
      backendName: "webgpu",
      kernelFunc: ({ inputs, backend, attrs }) =>
        fn(
          backend as unknown as WebGpuBackendLike,
          inputs as Record<string, tf.TensorInfo>,
          attrs as tf.NamedAttrMap,
        ),
    });
  }
}

/**
 * Caches for the CPU work TF.js's webgpu backend repeats on every dispatch. A batch-1 GAN step
 * is dozens of small kernels, and what limits it on a fast GPU is the CPU time to record them.
 * Measured on Mesa's software adapter (Deno 2.9.6), each `createBindGroup` costs about 35 us
 * and each uniform `writeBuffer` about 20 us: for notebook 14's 174 dispatches, 8 ms of a
 * 19 ms recording. The same kernels run on the same shapes every step, so:
 *
 * - uniform buffers are keyed by content: a set of values seen twice gets a buffer of its
 *   own, written once and never released (values that change every step keep TF.js's path);
 * - the buffer pool hands out free buffers in a fixed order (the oldest first) instead of the
 *   order they were released in, so a step's tensors land in the same buffers as the step
 *   before, and
 * - bind groups are keyed by layout, buffers, offsets and sizes, so a repeated dispatch
 *   reuses the one it made before;
 * - our kernels' values that change every step (Adam's bias corrections) are written once per
 *   submission, not once per parameter.
 *
 * Installed by initBackend() on the webgpu backend; nothing changes what is computed.
 * @module
 */

/** The parts of TF.js's WebGPUBackend (tfjs-backend-webgpu 4.22, private API) this uses. */
export interface CachedBackendLike {
  device: GPUDevice;
  makeUniforms(u: UniformData[]): GPUBufferBinding;
  uniformPendingDisposal: GPUBuffer[];
  submitQueue(): void;
  bufferManager: {
    freeBuffers: Map<string, GPUBuffer[]>;
    releaseBuffer(buffer: GPUBuffer, reuse?: boolean): void;
  };
}

/** A uniform as TF.js's makeUniforms() takes it. */
export interface UniformData {
  type: string;
  data: number[];
}

/** Entries each cache holds at most: past it, uniforms go TF.js's way; bind groups start over. */
export const WEBGPU_CACHE_LIMIT = 4096;

/** Hits and misses since installation, for tests and the benchmark. */
export interface WebGpuCacheStats {
  bindGroupHits: number;
  bindGroupMisses: number;
  uniformHits: number;
  uniformMisses: number;
}

const INSTALLED = Symbol("myogan webgpu caches");

interface Installed {
  stats: WebGpuCacheStats;
  perStep: (u: UniformData[]) => GPUBufferBinding;
  lookup: (u: UniformData[], keepFirst: boolean) => GPUBufferBinding;
}

const ids = new WeakMap<object, number>();
let nextId = 1;
/** A number for an object, stable for its life: buffers and layouts in cache keys. */
function idOf(o: object): number {
  let id = ids.get(o);
  if (id === undefined) {
    id = nextId++;
    ids.set(o, id);
  }
  return id;
}

/**
 * A set of uniforms as a string key. Unlike JSON it keeps NaN, Infinity and -0 apart from null
 * and 0. Built by one loop: it runs for every dispatch (TF.js's convolutions pass a dozen values).
 */
function uniformKey(data: UniformData[]): string {
  let key = "";
  for (const d of data) {
    key += d.type[0];
    const values = d.data;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      key += (v === 0 && 1 / v < 0 ? "-0" : v) + ",";
    }
    key += ";";
  }
  return key;
}

/** Installs the caches on a webgpu backend (once; later calls return the same stats). */
export function installWebGpuCaches(b: CachedBackendLike): WebGpuCacheStats {
  const done = (b as unknown as Record<symbol, Installed>)[INSTALLED];
  if (done) return done.stats;
  const stats: WebGpuCacheStats = {
    bindGroupHits: 0,
    bindGroupMisses: 0,
    uniformHits: 0,
    uniformMisses: 0,
  };
  const device = b.device;

  // Uniforms by content; null marks a set seen once.
  const uncached = b.makeUniforms.bind(b);
  const uniforms = new Map<string, GPUBufferBinding | null>();
  const lookup = (data: UniformData[], keepFirst: boolean) => {
    const key = uniformKey(data);
    const hit = uniforms.get(key);
    if (hit) {
      stats.uniformHits++;
      return hit;
    }
    stats.uniformMisses++;
    const binding = uncached(data);
    if (hit === null || keepFirst) {
      // Kept for good instead of being handed back to the pool after the submission.
      b.uniformPendingDisposal.splice(b.uniformPendingDisposal.lastIndexOf(binding.buffer), 1);
      uniforms.set(key, binding);
    } else if (uniforms.size < WEBGPU_CACHE_LIMIT) {
      uniforms.set(key, null);
    }
    return binding;
  };
  b.makeUniforms = (data: UniformData[]) => lookup(data, false);

  // Values that change every step, shared within one submission: the pool takes their buffers
  // back only after it, so until then a buffer keeps what was written.
  const stepUniforms = new Map<string, GPUBufferBinding>();
  const perStep = (data: UniformData[]) => {
    const key = uniformKey(data);
    let binding = stepUniforms.get(key);
    if (binding) {
      stats.uniformHits++;
    } else {
      stats.uniformMisses++;
      stepUniforms.set(key, binding = uncached(data));
    }
    return binding;
  };
  const submit = b.submitQueue.bind(b);
  b.submitQueue = () => {
    submit();
    stepUniforms.clear();
  };

  // Free buffers kept sorted, newest first, so pop() hands out the oldest (ids in order made).
  const createBuffer = device.createBuffer.bind(device);
  device.createBuffer = (d: GPUBufferDescriptor) => {
    const buffer = createBuffer(d);
    idOf(buffer);
    return buffer;
  };
  const pool = b.bufferManager;
  const release = pool.releaseBuffer.bind(pool);
  pool.releaseBuffer = (buffer: GPUBuffer, reuse = true) => {
    release(buffer, reuse);
    const list = pool.freeBuffers.get(`${buffer.size}_${buffer.usage}`);
    if (!list || list[list.length - 1] !== buffer) return;
    const id = idOf(buffer);
    let i = list.length - 1;
    while (i > 0 && idOf(list[i - 1]) < id) {
      list[i] = list[i - 1];
      i--;
    }
    list[i] = buffer;
  };

  // One layout object per pipeline and group, so layouts can key the bind group cache.
  const layouts = new WeakMap<GPUComputePipeline, Map<number, GPUBindGroupLayout>>();
  const remember = (p: GPUComputePipeline) => {
    const get = p.getBindGroupLayout.bind(p);
    p.getBindGroupLayout = (index: number) => {
      let m = layouts.get(p);
      if (!m) layouts.set(p, m = new Map());
      let layout = m.get(index);
      if (!layout) m.set(index, layout = get(index));
      return layout;
    };
    return p;
  };
  const create = device.createComputePipeline.bind(device);
  const createAsync = device.createComputePipelineAsync.bind(device);
  device.createComputePipeline = (d) => remember(create(d));
  device.createComputePipelineAsync = async (d) => remember(await createAsync(d));

  const groups = new Map<string, GPUBindGroup>();
  // The device's own method, looked up at each call so countGpuWork() sees what is made.
  const proto = Object.getPrototypeOf(device) as GPUDevice;
  const createBindGroup = (d: GPUBindGroupDescriptor) => proto.createBindGroup.call(device, d);
  device.createBindGroup = (desc: GPUBindGroupDescriptor) => {
    let key = String(idOf(desc.layout));
    for (const e of desc.entries) {
      const r = e.resource as GPUBufferBinding;
      if (!r.buffer) return createBindGroup(desc); // textures, samplers: not cached
      key += `|${e.binding}:${idOf(r.buffer)}:${r.offset ?? 0}:${r.size ?? "all"}`;
    }
    let group = groups.get(key);
    if (group) {
      stats.bindGroupHits++;
      return group;
    }
    stats.bindGroupMisses++;
    group = createBindGroup(desc);
    if (groups.size >= WEBGPU_CACHE_LIMIT) groups.clear();
    groups.set(key, group);
    return group;
  };

  (b as unknown as Record<symbol, Installed>)[INSTALLED] = { stats, perStep, lookup };
  return stats;
}

/**
 * A uniform binding for a kernel of ours: `volatile` values (Adam's bias corrections, new
 * every step) are written once per submission; others are kept from their first use, as a
 * kernel's shapes recur every step. Without the caches installed, TF.js's own makeUniforms().
 */
export function kernelUniforms(
  b: CachedBackendLike,
  data: UniformData[],
  volatile: boolean,
): GPUBufferBinding {
  const done = (b as unknown as Record<symbol, Installed>)[INSTALLED];
  if (!done) return b.makeUniforms(data);
  return volatile ? done.perStep(data) : done.lookup(data, true);
}

/**
 * Counts the GPU work a piece of code records: compute dispatches and queue submissions, and
 * the bind groups and buffer writes made for them: the per-step overheads that decide a
 * batch-1 step's speed on webgpu.
 * @module
 */

/** Dispatches and queue submissions recorded while a function ran. */
export interface GpuWork {
  /** `dispatchWorkgroups` calls: one per GPU kernel launch. */
  dispatches: number;
  /** `GPUQueue.submit` calls: each hands a command buffer to the driver. */
  submits: number;
  /** Bind groups created (not those reused from webgpu_cache.ts's cache). */
  bindGroups: number;
  /** `GPUQueue.writeBuffer` calls: uniforms and uploads. */
  writes: number;
}

/**
 * Training steps before webgpu's caches reach their steady state (the buffer pool holds a few
 * steps' buffers, so bind groups repeat): notebook 08 makes none from its 5th step, 14 from its
 * 8th. Warm up this many before counting a step's work.
 */
export const WEBGPU_WARM_UP_STEPS = 7;

/** Runs `fn` and counts the WebGPU work it records (zeros without WebGPU). */
export async function countGpuWork(fn: () => Promise<void> | void): Promise<GpuWork> {
  const counts: GpuWork = { dispatches: 0, submits: 0, bindGroups: 0, writes: 0 };
  if (typeof GPUComputePassEncoder === "undefined") {
    await fn();
    return counts;
  }
  // Counted on the prototypes: calls served from webgpu_cache.ts's caches never get there.
  const counted = ([
    [GPUComputePassEncoder.prototype, "dispatchWorkgroups", "dispatches"],
    [GPUQueue.prototype, "submit", "submits"],
    [GPUQueue.prototype, "writeBuffer", "writes"],
    [GPUDevice.prototype, "createBindGroup", "bindGroups"],
  ] as const).map(([proto, name, count]) =>
    [proto as unknown as Record<string, unknown>, name, count] as const
  );
  const originals = counted.map(([proto, name]) => proto[name] as (...a: unknown[]) => unknown);
  counted.forEach(([proto, name, count], i) => {
    proto[name] = function (this: unknown, ...args: unknown[]) {
      counts[count]++;
      return originals[i].apply(this, args);
    };
  });
  try {
    await fn();
  } finally {
    counted.forEach(([proto, name], i) => (proto[name] = originals[i]));
  }
  return counts;
}

/**
 * Counts the GPU work a piece of code records: compute dispatches and queue submissions,
 * the two per-step overheads that decide a batch-1 step's speed on webgpu.
 * @module
 */

/** Dispatches and queue submissions recorded while a function ran. */
export interface GpuWork {
  /** `dispatchWorkgroups` calls: one per GPU kernel launch. */
  dispatches: number;
  /** `GPUQueue.submit` calls: each hands a command buffer to the driver. */
  submits: number;
}

/** Runs `fn` and counts the WebGPU dispatches and submissions it makes (zeros without WebGPU). */
export async function countGpuWork(fn: () => Promise<void> | void): Promise<GpuWork> {
  const counts: GpuWork = { dispatches: 0, submits: 0 };
  if (typeof GPUComputePassEncoder === "undefined") {
    await fn();
    return counts;
  }
  const pass = GPUComputePassEncoder.prototype, queue = GPUQueue.prototype;
  const { dispatchWorkgroups } = pass, { submit } = queue;
  pass.dispatchWorkgroups = function (...args) {
    counts.dispatches++;
    return dispatchWorkgroups.apply(this, args);
  };
  queue.submit = function (...args) {
    counts.submits++;
    return submit.apply(this, args);
  };
  try {
    await fn();
  } finally {
    pass.dispatchWorkgroups = dispatchWorkgroups;
    queue.submit = submit;
  }
  return counts;
}

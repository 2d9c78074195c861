/**
 * Backend choice (`initBackend`: WebGPU, wasm, cpu, node) and reading tensors back
 * (`tensorData`, `item`), memory statistics, and the WebAssembly SIMD and convolution kernels
 * the engine runs on wasm.
 * @module
 */
export {
  BACKEND_ENV,
  cpuModel,
  DEFAULT_ORDER,
  describeDevice,
  deviceInfo,
  initBackend,
  item,
  KNOWN_BACKENDS,
  parseBackendOrder,
  tensorData,
  WASM_DIR_ENV,
  WEBGPU_TIMEOUT_MS,
} from "./backend.ts";
export type { BackendInfo, BackendName, InitBackendOptions, TensorSource } from "./backend.ts";
export {
  formatBytes,
  maxMemoryAllocated,
  memoryAllocated,
  memoryStats,
  memorySummary,
  resetPeakMemoryStats,
} from "./memory.ts";
export type { MemoryStats } from "./memory.ts";
export {
  adamUpdate,
  adamUpdateAll,
  axpy,
  batchNormGrad,
  batchNormTrain,
  bceWithGrad,
  columnSum,
  layerNorm,
  layerNormGrad,
  leakyReluGrad,
  linearBatch,
  linearBatchGradInput,
  linearBatchGradWeight,
  matVec,
  matVecT,
  mseWithGrad,
  outer,
  registerSimdKernels,
  sigmoidGrad,
  SIMD_KERNELS,
  simdActive,
} from "./simd.ts";
export {
  conv2DBackpropFilterWasm,
  conv2DBackpropInputWasm,
  IM2COL_MAX_FLOATS,
  registerWasmConvKernels,
  STOCK_BELOW_MACS,
  unregisterWasmConvKernels,
  wasmConvKernelsRegistered,
} from "./wasm_conv.ts";
export type { RegisterWasmConvOptions } from "./wasm_conv.ts";
export {
  registerWebGpuKernels,
  WEBGPU_KERNEL_NAMES,
  WEBGPU_SUBMIT_BATCH,
} from "./webgpu_kernels.ts";
export type { GpuWork } from "./gpu_work.ts";
export { countGpuWork, WEBGPU_WARM_UP_STEPS } from "./gpu_work.ts";

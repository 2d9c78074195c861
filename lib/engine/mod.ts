/**
 * The engine, in PyTorch's vocabulary over TensorFlow.js: autograd (`noGrad`, `detach`,
 * `backward`), layers (`torch.nn`), losses, optimisers, the book's `Model` pattern, the GAN
 * classes, checkpoints, the seeded random stream and a little float64 linear algebra.
 * @module
 */
export {
  backward,
  detach,
  isGradEnabled,
  noGrad,
  record,
  requiresGrad,
  seedGradient,
} from "./autograd.ts";
export type { BackwardFn } from "./autograd.ts";
export {
  CheckpointError,
  crc32,
  loadCheckpoint,
  readCheckpoint,
  saveCheckpoint,
} from "./checkpoint.ts";
export type { CheckpointContents } from "./checkpoint.ts";
export {
  BCE_YTICKS,
  ConditionalDiscriminator,
  ConditionalGenerator,
  Discriminator,
  Generator,
  sampleGenerator,
} from "./gan.ts";
export type { SampleOptions } from "./gan.ts";
export {
  argmaxRows,
  meanAndCovariance,
  sqrtmSymmetric,
  symmetricEigen,
  traceSqrtProduct,
} from "./linalg.ts";
export { BCE_LOG_CLAMP, BCELoss, Loss, MSELoss } from "./loss.ts";
export {
  Model,
  NonFiniteLossError,
  PRINT_EVERY,
  PROGRESS_EVERY,
  syncReads,
  Trainable,
} from "./model.ts";
export type { LossFunction } from "./model.ts";
export {
  addGrad,
  BatchNorm2d,
  cat,
  Conv2d,
  ConvTranspose2d,
  GELU,
  kaimingUniform,
  LayerNorm,
  LeakyReLU,
  Linear,
  Module,
  Parameter,
  ReLU,
  Sequential,
  Sigmoid,
  Tanh,
  View,
} from "./nn.ts";
export type { ConvOptions } from "./nn.ts";
export { Adam, Optimizer, scheduledLr, SGD } from "./optim.ts";
export type { OptimizerState } from "./optim.ts";
export {
  generateRandomImage,
  generateRandomOneHot,
  generateRandomSeed,
  getRngState,
  manualSeed,
  normalArray,
  rand,
  randInt,
  randn,
  setRngState,
  shuffle,
  uniformArray,
} from "./random.ts";
export type { RngState } from "./random.ts";

/**
 * Make Your Own GAN, in TypeScript: the library the notebooks import.
 *
 * PyTorch's vocabulary over TensorFlow.js: `Sequential`, `Linear`,
 * `LeakyReLU`, `LayerNorm`, `BCELoss`, `Adam`, the book's model pattern with
 * `train()` and `plotProgress()`, the MNIST and CelebA datasets, and
 * Observable Plot charts.
 *
 * ```ts
 * import { initBackend, Linear, Sequential, Sigmoid } from "./mod.ts";
 * await initBackend();
 * const net = new Sequential(new Linear(784, 200), new Sigmoid(), new Linear(200, 10), new Sigmoid());
 * ```
 * @module
 */
export * from "./lib/appendix.ts";
export * from "./lib/autograd.ts";
export * from "./lib/backend.ts";
export * from "./lib/celeba.ts";
export * from "./lib/checkpoint.ts";
export * from "./lib/classifier.ts";
export * from "./lib/cnn.ts";
export * from "./lib/display.ts";
export * from "./lib/face_gan.ts";
export * from "./lib/faces.ts";
export * from "./lib/gan.ts";
export * from "./lib/hdf5.ts";
export * from "./lib/loss.ts";
export * from "./lib/memory.ts";
export * from "./lib/metrics.ts";
export * from "./lib/mnist.ts";
export * from "./lib/mnist_gan.ts";
export * from "./lib/model.ts";
export * from "./lib/nn.ts";
export * from "./lib/optim.ts";
export * from "./lib/plot.ts";
export * from "./lib/progress.ts";
export * from "./lib/quick.ts";
export * from "./lib/random.ts";
export * from "./lib/simd.ts";

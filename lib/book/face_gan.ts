/**
 * The book's face GANs (chapter 2.4 and 3.1): the fully connected CelebA GAN of
 * notebook 12 and the convolutional one of notebooks 14 (LeakyReLU) and 15 (GELU).
 *
 * Images are NHWC, as TF.js convolutions want them: a full CelebA image is
 * `[218, 178, 3]`, a crop for the convolutional GAN is `[1, 128, 128, 3]`. The book's
 * `permute(2,0,1).view(1,3,128,128)` therefore becomes a plain reshape, and its
 * `permute(0,2,3,1).view(128,128,3)` for plotting another one.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { detach, noGrad } from "../engine/autograd.ts";
import { tensorData } from "../backends/backend.ts";
import { Discriminator, Generator } from "../engine/gan.ts";
import { BCELoss } from "../engine/loss.ts";
import { maxMemoryAllocated, memoryAllocated, resetPeakMemoryStats } from "../backends/memory.ts";
import {
  BatchNorm2d,
  Conv2d,
  ConvTranspose2d,
  GELU,
  LayerNorm,
  LeakyReLU,
  Linear,
  type Module,
  Sequential,
  Sigmoid,
  View,
} from "../engine/nn.ts";
import { Adam } from "../engine/optim.ts";
import { envFlag } from "../env.ts";
import { QUICK } from "../quick.ts";
import { generateRandomSeed } from "../engine/random.ts";

/** Height, width and channels of an aligned CelebA image. */
export const CELEBA_IMAGE: readonly [number, number, number] = [218, 178, 3];
/** Side of the centre crop the convolutional GAN trains on (book 3.1.7). */
export const CROP_SIZE = 128;
/** Length of the generator's random seed. */
// The book draws generator seeds of 100 numbers, as in the MNIST GAN.
const SEED_SIZE = 100;
/** The book's learning rate for both networks' Adam optimisers. */
export const FACE_LR = 0.0001;
/** Feature maps in the convolutional GAN's hidden layers (book: 256). */
export const CONV_FEATURES = 256;

/** Activation of the convolutional GAN: notebook 14's LeakyReLU(0.2) or notebook 15's GELU. */
export type FaceActivation = "leakyReLU" | "gelu";

/** Options of the fully connected face GAN (notebook 12). */
export interface FcFaceOptions {
  /** Image shape [h, w, c]; the book's [218, 178, 3] (tests pass smaller ones). */
  imageShape?: readonly [number, number, number];
  /** Adam learning rate (book: 0.0001). */
  lr?: number;
}

/** Options of the convolutional face GAN (notebooks 14, 15). */
export interface ConvFaceOptions {
  /** LeakyReLU(0.2) as in notebook 14 (default) or GELU as in notebook 15. */
  activation?: FaceActivation;
  /** Hidden feature maps (book: 256); smaller values keep every spatial size, for tests. */
  features?: number;
  /** Adam learning rate (book: 0.0001). */
  lr?: number;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Notebook 12's discriminator network: View, Linear(3*218*178, 100), LeakyReLU, LayerNorm, Linear(100, 1), Sigmoid. */
export function fcFaceDiscriminatorNetwork(options: FcFaceOptions = {}): Sequential {
  const shape = options.imageShape ?? CELEBA_IMAGE;
  const n = size(shape); // 3*218*178 = 116,412 inputs
  return new Sequential(
    new View(n),
    new Linear(n, 100),
    // nn.LeakyReLU() with PyTorch's default slope 0.01
    new LeakyReLU(),
    new LayerNorm(100),
    new Linear(100, 1),
    new Sigmoid(),
  );
}

/** Notebook 12's generator network: Linear(100, 3*10*10), LeakyReLU, LayerNorm, Linear(3*10*10, 3*218*178), Sigmoid, View(218, 178, 3). */
export function fcFaceGeneratorNetwork(options: FcFaceOptions = {}): Sequential {
  const shape = options.imageShape ?? CELEBA_IMAGE;
  return new Sequential(
    new Linear(SEED_SIZE, 3 * 10 * 10),
    new LeakyReLU(),
    new LayerNorm(3 * 10 * 10),
    new Linear(3 * 10 * 10, size(shape)),
    new Sigmoid(),
    new View(...shape),
  );
}

function activation(kind: FaceActivation): Module {
  if (kind === "leakyReLU") return new LeakyReLU(0.2);
  if (kind === "gelu") return new GELU();
  throw new Error(`Unknown activation "${kind}": use "leakyReLU" or "gelu"`);
}

/**
 * Notebook 14's discriminator network on [1, 128, 128, 3] crops: three Conv2d(k8, s2)
 * (128 -> 61 -> 27 -> 10), BatchNorm2d, LeakyReLU(0.2), then View(3*10*10), Linear, Sigmoid.
 */
export function convFaceDiscriminatorNetwork(options: ConvFaceOptions = {}): Sequential {
  const act = options.activation ?? "leakyReLU";
  const f = options.features ?? CONV_FEATURES;
  return new Sequential(
    // expects input of shape (1, 128, 128, 3): NHWC
    new Conv2d(3, f, 8, { stride: 2 }),
    new BatchNorm2d(f),
    activation(act),
    new Conv2d(f, f, 8, { stride: 2 }),
    new BatchNorm2d(f),
    activation(act),
    new Conv2d(f, 3, 8, { stride: 2 }),
    activation(act),
    new View(3 * 10 * 10),
    new Linear(3 * 10 * 10, 1),
    new Sigmoid(),
  );
}

/**
 * Notebook 14's generator network: Linear(100, 3*11*11), LeakyReLU(0.2), View(1, 11, 11, 3),
 * three ConvTranspose2d(k8, s2) (11 -> 28 -> 62 -> 128, the last with padding 1), BatchNorm2d, Sigmoid.
 */
export function convFaceGeneratorNetwork(options: ConvFaceOptions = {}): Sequential {
  const act = options.activation ?? "leakyReLU";
  const f = options.features ?? CONV_FEATURES;
  return new Sequential(
    // input is a 1-D seed
    new Linear(SEED_SIZE, 3 * 11 * 11),
    activation(act),
    // reshape to 4-D: NHWC, where the book's NCHW is (1, 3, 11, 11)
    new View(1, 11, 11, 3),
    new ConvTranspose2d(3, f, 8, { stride: 2 }),
    new BatchNorm2d(f),
    activation(act),
    new ConvTranspose2d(f, f, 8, { stride: 2 }),
    new BatchNorm2d(f),
    activation(act),
    new ConvTranspose2d(f, 3, 8, { stride: 2, padding: 1 }),
    new BatchNorm2d(3),
    // output is (1, 128, 128, 3)
    new Sigmoid(),
  );
}

/** Notebook 12's discriminator: BCE loss, Adam(lr 0.0001), the book's progress chart. */
export class FcFaceDiscriminator extends Discriminator {
  /** Builds the network, loss and optimiser, as the book's `__init__`. */
  constructor(options: FcFaceOptions = {}) {
    super();
    this.model = fcFaceDiscriminatorNetwork(options);
    this.lossFunction = new BCELoss();
    this.optimiser = new Adam(this.parameters(), { lr: options.lr ?? FACE_LR });
    // The book's notebooks 12-15 print the counter every 1,000 calls.
    this.printEvery = 1000;
  }
}

/** Notebook 12's generator: Adam(lr 0.0001), trained through the discriminator's loss. */
export class FcFaceGenerator extends Generator {
  /** Builds the network and optimiser, as the book's `__init__`. */
  constructor(options: FcFaceOptions = {}) {
    super();
    this.model = fcFaceGeneratorNetwork(options);
    this.optimiser = new Adam(this.parameters(), { lr: options.lr ?? FACE_LR });
    this.printEvery = 0;
  }
}

/** Notebook 14's (or, with `activation: "gelu"`, 15's) convolutional discriminator. */
export class ConvFaceDiscriminator extends Discriminator {
  /** Builds the network, loss and optimiser, as the book's `__init__`. */
  constructor(options: ConvFaceOptions = {}) {
    super();
    this.model = convFaceDiscriminatorNetwork(options);
    this.lossFunction = new BCELoss();
    this.optimiser = new Adam(this.parameters(), { lr: options.lr ?? FACE_LR });
    this.printEvery = 1000;
  }
}

/** Notebook 14's (or, with `activation: "gelu"`, 15's) convolutional generator. */
export class ConvFaceGenerator extends Generator {
  /** Builds the network and optimiser, as the book's `__init__`. */
  constructor(options: ConvFaceOptions = {}) {
    super();
    this.model = convFaceGeneratorNetwork(options);
    this.optimiser = new Adam(this.parameters(), { lr: options.lr ?? FACE_LR });
    this.printEvery = 0;
  }
}

/**
 * One iteration of the book's GAN loop on one real image: D on the real image (target 1),
 * D on a detached generated image (target 0), then G through D (target 1).
 */
export function trainFaceGan(
  D: Discriminator,
  G: Generator,
  image: tf.Tensor,
): void {
  tf.tidy(() => {
    // train discriminator on true
    D.train(image, tf.tensor1d([1.0]));
    // train discriminator on false; detach() so gradients in G are not calculated
    D.train(detach(G.forward(generateRandomSeed(SEED_SIZE))), tf.tensor1d([0.0]));
    // train generator
    G.train(D, generateRandomSeed(SEED_SIZE), tf.tensor1d([1.0]));
  });
}

/** A generated image as [h, w, 3] pixels for plotting (the book's `permute(0,2,3,1).view(128,128,3)`). */
export function generateImage(G: Generator): Promise<Float32Array> {
  // An asynchronous read, so it works on webgpu too.
  return tensorData(() => noGrad(() => G.forward(generateRandomSeed(SEED_SIZE))));
}

/** Tensor memory of one face GAN, measured like the book's torch.cuda.memory_* readings. */
export interface FaceGanMemory {
  /** Bytes held after a training iteration: parameters, Adam state, gradients. */
  allocatedBytes: number;
  /** Highest allocation during the second iteration (like torch.cuda.max_memory_allocated). */
  peakBytes: number;
}

/**
 * Builds a fresh face GAN ("fc": notebook 12, "conv": notebook 14/15), trains two
 * iterations on a random image and reports its tensor bytes above what was allocated
 * before; everything is freed again. Resets the peak statistics.
 */
export function faceGanMemory(
  kind: "fc" | "conv",
  options: ConvFaceOptions & FcFaceOptions = {},
): FaceGanMemory {
  if (kind !== "fc" && kind !== "conv") {
    throw new Error(`Unknown face GAN "${kind}": use "fc" (notebook 12) or "conv" (notebook 14)`);
  }
  const base = memoryAllocated();
  const D = kind === "fc" ? new FcFaceDiscriminator(options) : new ConvFaceDiscriminator(options);
  const G = kind === "fc" ? new FcFaceGenerator(options) : new ConvFaceGenerator(options);
  D.printEvery = 0;
  const image = kind === "fc"
    ? tf.randomUniform([...(options.imageShape ?? CELEBA_IMAGE)])
    : tf.randomUniform([1, CROP_SIZE, CROP_SIZE, 3]);
  try {
    // The first iteration creates the gradients, which then stay allocated as in PyTorch.
    trainFaceGan(D, G, image);
    resetPeakMemoryStats();
    trainFaceGan(D, G, image);
    return {
      allocatedBytes: memoryAllocated() - base,
      peakBytes: maxMemoryAllocated() - base,
    };
  } finally {
    image.dispose();
    D.dispose();
    G.dispose();
  }
}

/** Environment variable that makes the face notebooks train on every image, as the book does. */
export const FULL_EPOCH_ENV = "GAN_FULL_EPOCH";

/** How many images a face notebook loops over, and a line saying why. */
export interface ImageCount {
  /** Images to use, at most the dataset's length. */
  count: number;
  /** One line for the notebook's output. */
  note: string;
}

/**
 * The number of images a face notebook trains on: `quick` in quick mode, the whole
 * dataset (the book's epoch) with `GAN_FULL_EPOCH=1` or on a GPU backend, else `cpu`,
 * a count a CPU finishes in minutes.
 */
export function faceImageCount(
  datasetLength: number,
  options: { cpu: number; quick: number },
): ImageCount {
  const backend = tf.getBackend() ?? "none";
  const gpu = backend === "webgpu" || backend === "tensorflow";
  if (QUICK) {
    const count = Math.min(options.quick, datasetLength);
    return { count, note: `quick mode: ${count} of ${datasetLength} images` };
  }
  if (envFlag(FULL_EPOCH_ENV) || gpu) {
    const why = gpu ? `the ${backend} backend` : `${FULL_EPOCH_ENV}=1`;
    return {
      count: datasetLength,
      note: `full epoch (${why}): all ${datasetLength} images, as the book`,
    };
  }
  const count = Math.min(options.cpu, datasetLength);
  return {
    count,
    note: `${count} of ${datasetLength} images, sized for a CPU backend (${backend}); ` +
      `set ${FULL_EPOCH_ENV}=1 for the book's full epoch`,
  };
}

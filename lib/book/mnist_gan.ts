/**
 * The book's improved MNIST GAN (notebook 08, section 2.3) as library code:
 * the discriminator and generator with LeakyReLU(0.02), LayerNorm(200), BCE
 * and Adam(lr 0.0001), a seed of 100 normal numbers, and one training epoch
 * either one image at a time exactly as the book's loop, or on mini-batches
 * (beyond the book) for speed.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { detach } from "../engine/autograd.ts";
import { Discriminator, Generator } from "../engine/gan.ts";
import { BCELoss } from "../engine/loss.ts";
import { MNIST_PIXELS, type MnistDataset } from "../data/mnist.ts";
import { LayerNorm, LeakyReLU, Linear, Sequential, Sigmoid } from "../engine/nn.ts";
import { Adam } from "../engine/optim.ts";
import {
  generateRandomSeed,
  getRngState,
  manualSeed,
  setRngState,
  shuffle,
} from "../engine/random.ts";

/** Size of the generator's random seed, the book's `generate_random_seed(100)`. */
export const SEED_SIZE = 100;
/** The book's Adam learning rate for both networks (`lr=0.0001`). */
export const MNIST_GAN_LR = 0.0001;
/** Hidden layer size of both networks. */
export const MNIST_GAN_HIDDEN = 200;
/** The book's LeakyReLU slope. */
export const MNIST_GAN_SLOPE = 0.02;

/** Options of the MNIST GAN networks. */
export interface MnistGanOptions {
  /** Adam learning rate; default the book's 0.0001. */
  lr?: number;
  /** Adam betas; default PyTorch's (0.9, 0.999). */
  betas?: [number, number];
}

/** The book's improved MNIST discriminator: 784-200-1 with LeakyReLU, LayerNorm, sigmoid, BCE and Adam. */
export class MnistDiscriminator extends Discriminator {
  /** Builds the network with PyTorch's initialisation (seed first with `manualSeed`). */
  constructor(opts: MnistGanOptions = {}) {
    super();
    this.model = new Sequential(
      new Linear(MNIST_PIXELS, MNIST_GAN_HIDDEN),
      new LeakyReLU(MNIST_GAN_SLOPE),
      new LayerNorm(MNIST_GAN_HIDDEN),
      new Linear(MNIST_GAN_HIDDEN, 1),
      new Sigmoid(),
    );
    this.lossFunction = new BCELoss();
    this.optimiser = new Adam(this.parameters(), {
      lr: opts.lr ?? MNIST_GAN_LR,
      betas: opts.betas,
    });
  }
}

/** The book's improved MNIST generator: 100-200-784 with LeakyReLU, LayerNorm, sigmoid and Adam. */
export class MnistGenerator extends Generator {
  /** Builds the network with PyTorch's initialisation (seed first with `manualSeed`). */
  constructor(opts: MnistGanOptions = {}) {
    super();
    this.model = new Sequential(
      new Linear(SEED_SIZE, MNIST_GAN_HIDDEN),
      new LeakyReLU(MNIST_GAN_SLOPE),
      new LayerNorm(MNIST_GAN_HIDDEN),
      new Linear(MNIST_GAN_HIDDEN, MNIST_PIXELS),
      new Sigmoid(),
    );
    this.optimiser = new Adam(this.parameters(), {
      lr: opts.lr ?? MNIST_GAN_LR,
      betas: opts.betas,
    });
  }
}

/**
 * The order in which epoch `epoch` visits `n` images: a shuffle seeded by
 * (`seed`, `epoch`) alone, so a resumed run sees the same order; the shared
 * random stream is left exactly as it was.
 */
export function epochOrder(n: number, opts: { seed: number; epoch: number }): Int32Array {
  const saved = getRngState();
  try {
    // Distinct, reproducible seeds per epoch; 1_000_003 is prime, so epochs never collide.
    manualSeed(opts.seed * 1_000_003 + opts.epoch);
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    return shuffle(order);
  } finally {
    setRngState(saved);
  }
}

/** What {@link trainEpoch} reports after each step. */
export interface StepInfo {
  /** Steps done in this epoch (1 after the first); one step is one image, or one batch. */
  step: number;
  /** Steps in the whole epoch. */
  steps: number;
  /** Images done in this epoch. */
  images: number;
}

/** Options of {@link trainEpoch}. */
export interface TrainEpochOptions {
  /** Images per step: 1 (default) is the book's loop; more trains on mini-batches. */
  batchSize?: number;
  /** Visit the images in this order (e.g. {@link epochOrder}); default 0, 1, 2, ... */
  order?: ArrayLike<number>;
  /** Use only the first `limit` entries of the order (quick mode). */
  limit?: number;
  /** Steps already done in this epoch (resume): training starts with step `startStep + 1`. */
  startStep?: number;
  /** Called after every step; may be async (awaited). */
  onStep?: (info: StepInfo) => void | Promise<void>;
  /** Checked before every step: returning true ends the epoch early (e.g. after Ctrl-C). */
  shouldStop?: () => boolean;
  /** Milliseconds between yields to the event loop, so signal handlers can run. Default 50. */
  yieldEveryMs?: number;
}

/** What {@link trainEpoch} did. */
export interface EpochResult {
  /** Steps done in this epoch, counting those before `startStep`. */
  step: number;
  /** Steps in the whole epoch. */
  steps: number;
  /** True when `shouldStop` ended the epoch before its last step. */
  stopped: boolean;
}

function checkBatchSize(batchSize: number): void {
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) {
    throw new RangeError(
      `batchSize must be a whole number of 1 or more, got ${batchSize}: pass 1 for the book's loop`,
    );
  }
}

/** Number of steps in an epoch of `n` images at `batchSize` (the last batch may be smaller). */
export function stepsPerEpoch(n: number, batchSize = 1): number {
  checkBatchSize(batchSize);
  return Math.ceil(n / batchSize);
}

/**
 * One epoch of the book's GAN loop. For each image (or mini-batch): D learns
 * the real image is real (1), D learns a detached G(seed) is fake (0), G
 * learns to make D say 1 for G(seed'). Seeds come from the shared random
 * stream (`manualSeed`), two per image as in the book. Throws
 * `NonFiniteLossError` (naming the step) when a recorded loss is NaN/Inf.
 */
export async function trainEpoch(
  D: Discriminator,
  G: Generator,
  dataset: MnistDataset,
  opts: TrainEpochOptions = {},
): Promise<EpochResult> {
  const batchSize = opts.batchSize ?? 1;
  checkBatchSize(batchSize);
  const order = opts.order ?? Int32Array.from({ length: dataset.length }, (_, i) => i);
  const n = Math.min(order.length, opts.limit ?? Infinity);
  const steps = stepsPerEpoch(n, batchSize);
  const start = opts.startStep ?? 0;
  if (!(Number.isInteger(start) && start >= 0 && start <= steps)) {
    throw new RangeError(
      `startStep ${start} is outside this epoch of ${steps} steps: pass the step saved in the checkpoint`,
    );
  }
  const yieldEvery = opts.yieldEveryMs ?? 50;
  // The book's targets, torch.FloatTensor([1.0]) and ([0.0]), made once per shape.
  const targets = new Map<number, { real: tf.Tensor; fake: tf.Tensor }>();
  const targetsFor = (b: number) => {
    let t = targets.get(b);
    if (!t) {
      const shape = batchSize === 1 ? [1] : [b, 1];
      t = { real: tf.ones(shape), fake: tf.zeros(shape) };
      targets.set(b, t);
    }
    return t;
  };
  let lastYield = performance.now();
  let step = start;
  try {
    for (; step < steps; step++) {
      if (opts.shouldStop?.()) return { step, steps, stopped: true };
      const from = step * batchSize;
      const b = Math.min(batchSize, n - from);
      // Full-size targets are made once and kept; a short last batch makes its own in the tidy.
      const kept = b === batchSize ? targetsFor(b) : null;
      tf.tidy(() => {
        const shape = batchSize === 1 ? [1] : [b, 1];
        const { real, fake } = kept ?? { real: tf.ones(shape), fake: tf.zeros(shape) };
        let image: tf.Tensor;
        if (batchSize === 1) {
          image = tf.tensor1d(dataset.image(order[from]).slice());
        } else {
          const pixels = new Float32Array(b * MNIST_PIXELS);
          for (let k = 0; k < b; k++) {
            pixels.set(dataset.image(order[from + k]), k * MNIST_PIXELS);
          }
          image = tf.tensor2d(pixels, [b, MNIST_PIXELS]);
        }
        const seedShape = batchSize === 1 ? [SEED_SIZE] : [b, SEED_SIZE];
        // Train the discriminator on a real image, then on a detached fake one.
        D.train(image, real);
        D.train(detach(G.forward(generateRandomSeed(seedShape))), fake);
        // Train the generator through the discriminator.
        G.train(D, generateRandomSeed(seedShape), real);
      });
      const done = step + 1;
      await opts.onStep?.({ step: done, steps, images: Math.min(n, done * batchSize) });
      if (performance.now() - lastYield >= yieldEvery) {
        // A macrotask turn lets Deno deliver signals (Ctrl-C) to their listeners.
        await new Promise((resolve) => setTimeout(resolve, 0));
        lastYield = performance.now();
      }
    }
  } finally {
    for (const t of targets.values()) {
      t.real.dispose();
      t.fake.dispose();
    }
  }
  return { step, steps, stopped: false };
}

/**
 * True when every parameter of every module is finite (check before saving a checkpoint).
 * Reads asynchronously, so it works on GPU backends too, and checks on the CPU: a GPU
 * reduction would bind each weight whole, and notebook 12's 133 MiB generator weight is over
 * a software adapter's binding limit (the check was then silently skipped).
 */
export async function allFinite(
  ...modules: { parameters(): { value: tf.Tensor }[] }[]
): Promise<boolean> {
  for (const m of modules) {
    for (const p of m.parameters()) {
      const data = await p.value.data();
      for (let i = 0; i < data.length; i++) {
        // x - x is 0 for a finite x and NaN for NaN and the infinities.
        if (data[i] - data[i] !== 0) return false;
      }
    }
  }
  return true;
}

/**
 * The book's convolutional MNIST classifier (notebook 13, section 3.1.6): two
 * strided convolutions with LeakyReLU and BatchNorm2d, then one fully
 * connected layer to 10 sigmoid outputs; BCE loss and Adam. Images are NHWC,
 * so the book's `image.view(1, 1, 28, 28)` becomes `[1, 28, 28, 1]`.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { noGrad, record } from "../engine/autograd.ts";
import { loadCheckpoint, readCheckpoint, saveCheckpoint } from "../engine/checkpoint.ts";
import { BCELoss } from "../engine/loss.ts";
import { MNIST_CLASSES, MNIST_PIXELS, MNIST_SIDE, type MnistDataset } from "../data/mnist.ts";
import { Model } from "../engine/model.ts";
import { BatchNorm2d, Conv2d, LeakyReLU, Linear, Sequential, Sigmoid, View } from "../engine/nn.ts";
import { argmaxRows } from "../engine/linalg.ts";
import { tensorData } from "../backends/backend.ts";
import { Adam } from "../engine/optim.ts";
import { countCorrect } from "./classifier.ts";
import { QUICK } from "../quick.ts";
import { dataPath } from "../settings.ts";

/** The book's LeakyReLU slope for negative inputs. */
export const CNN_LEAKY_SLOPE = 0.02;
/** Feature maps of each convolution (the book: 10). */
export const CNN_FILTERS = 10;
/** Side of the first feature maps: floor((28 - 5) / 2) + 1. */
export const CNN_SIDE_1 = Math.floor((MNIST_SIDE - 5) / 2) + 1;
/** Side of the second feature maps: floor((12 - 3) / 2) + 1. */
export const CNN_SIDE_2 = Math.floor((CNN_SIDE_1 - 3) / 2) + 1;
/** Values fed to the last layer: 10 maps of 5x5 (the book's `View(250)`). */
export const CNN_FEATURES = CNN_FILTERS * CNN_SIDE_2 * CNN_SIDE_2;
/** Test accuracy the book reports for the CNN (section 3.1.6; notebook 13 trains 3 epochs). */
export const CNN_BOOK_ACCURACY = 0.98;
/** Epochs in the book's notebook 13. */
export const CNN_BOOK_EPOCHS = 3;

/** Where `scripts/train_cnn.ts` saves the trained CNN (`data/cnn_classifier.ckpt`). */
export const CNN_CHECKPOINT: string = dataPath("cnn_classifier.ckpt");
/** Where quick mode saves its tiny CNN, so a quick run never replaces the real one. */
export const CNN_QUICK_CHECKPOINT: string = dataPath("cnn_classifier_quick.ckpt");
/** Name of the CNN inside its checkpoint file. */
export const CNN_CHECKPOINT_MODULE = "cnn";

/** The book's CNN layers: 28x28x1 -> 12x12x10 -> 5x5x10 -> 250 -> 10 (PyTorch's initialisation). */
export function cnnNetwork(): Sequential {
  return new Sequential(
    // expand 1 channel to 10 feature maps
    new Conv2d(1, CNN_FILTERS, 5, { stride: 2 }),
    new LeakyReLU(CNN_LEAKY_SLOPE),
    new BatchNorm2d(CNN_FILTERS),
    // 10 feature maps to 10 feature maps
    new Conv2d(CNN_FILTERS, CNN_FILTERS, 3, { stride: 2 }),
    new LeakyReLU(CNN_LEAKY_SLOPE),
    new BatchNorm2d(CNN_FILTERS),
    // NHWC flattens in (row, column, channel) order where PyTorch's NCHW flattens by channel
    // first: the same network, but Linear's columns are permuted against a PyTorch state_dict.
    new View(CNN_FEATURES),
    new Linear(CNN_FEATURES, MNIST_CLASSES),
    new Sigmoid(),
  );
}

/**
 * Reshapes MNIST pixels to NHWC images: `[784]`, `[28, 28]` or `[28, 28, 1]`
 * to `[1, 28, 28, 1]`, and `[N, 784]` or `[N, 28, 28]` to `[N, 28, 28, 1]`
 * (the book's `view(1, 1, 28, 28)`); gradients flow back to the input shape.
 */
export function toImages(x: tf.Tensor): tf.Tensor4D {
  const s = x.shape;
  const side = MNIST_SIDE;
  let n: number;
  if (s.length === 1 && s[0] === MNIST_PIXELS) n = 1;
  else if (s.length === 2 && s[0] === side && s[1] === side) n = 1;
  else if (s.length === 3 && s[0] === side && s[1] === side && s[2] === 1) n = 1;
  else if (s.length === 2 && s[1] === MNIST_PIXELS) n = s[0];
  else if (s.length === 3 && s[1] === side && s[2] === side) n = s[0];
  else if (s.length === 4 && s[1] === side && s[2] === side && s[3] === 1) n = s[0];
  else {
    throw new Error(
      `The CNN expects MNIST images of ${MNIST_PIXELS} pixels ([784], [28, 28], [N, 784] or ` +
        `[N, 28, 28, 1]), got shape [${s}]`,
    );
  }
  if (s.length === 4) return x as tf.Tensor4D;
  const y = x.reshape([n, side, side, 1]) as tf.Tensor4D;
  return record(y, [x], (dy) => [dy.reshape(s)]);
}

/** The book's CNN classifier: `cnnNetwork()`, BCE loss and Adam (PyTorch's default lr 0.001). */
export class CnnClassifier extends Model {
  /** Builds the network with PyTorch's initialisation (seed first with `manualSeed` to repeat a run). */
  constructor() {
    super();
    this.model = cnnNetwork();
    this.lossFunction = new BCELoss();
    // The book calls torch.optim.Adam(self.parameters()) with no learning rate: 0.001.
    this.optimiser = new Adam(this.parameters());
  }

  /** 10 outputs for one image (a 784 vector or a 28x28 image), or [N, 10] for a batch. */
  override forward(inputs: tf.Tensor): tf.Tensor {
    return this.model.forward(toImages(inputs));
  }

  /**
   * Outputs [N, 10] for images [N, 784] (or one image), scoring one image at a
   * time in training mode as the book's test loop does, so each BatchNorm2d
   * uses that image's own statistics, as in batch-1 training; the running
   * statistics are left as they were. Records no gradients.
   */
  predict(images: tf.Tensor): Promise<tf.Tensor2D> {
    return this.perImage(images, (x) => this.model.forward(x));
  }

  /**
   * The 250 values the last layer sees (after the second BatchNorm2d, flattened) for
   * images [N, 784], one image at a time like {@link CnnClassifier.predict}: the
   * features the GAN metrics compare. Records no gradients.
   */
  features(images: tf.Tensor): Promise<tf.Tensor2D> {
    const layers = (this.model as Sequential).layers;
    const upTo = layers.findIndex((l) => l instanceof View) + 1;
    return this.perImage(images, (x) => {
      let y: tf.Tensor = x;
      for (let i = 0; i < upTo; i++) y = layers[i].forward(y);
      return y.reshape([-1]);
    });
  }

  /**
   * Runs `f` on each image alone in training mode, keeping the BatchNorm running statistics.
   * The pixels are read asynchronously first (every backend allows that, webgpu included).
   */
  private async perImage(
    images: tf.Tensor,
    f: (x: tf.Tensor4D) => tf.Tensor,
  ): Promise<tf.Tensor2D> {
    const x = toImages(images);
    const n = x.shape[0];
    // Fresh tensors from the pixels: slicing a big tensor copies all of it on wasm.
    let pixels: Float32Array;
    try {
      pixels = await x.data() as Float32Array;
    } finally {
      if (x !== images) x.dispose();
    }
    const buffers = this.namedBuffers().map(([, b]) => b);
    const saved = buffers.map((b) => tf.keep(tf.clone(b.value)));
    const wasTraining = this.training;
    this.trainMode(true);
    try {
      return tf.tidy(() =>
        noGrad(() => {
          const rows = Array.from({ length: n }, (_, i) => {
            const one = pixels.slice(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS);
            return f(tf.tensor4d(one, [1, MNIST_SIDE, MNIST_SIDE, 1])).reshape([-1]);
          });
          return tf.stack(rows) as tf.Tensor2D;
        })
      );
    } finally {
      buffers.forEach((b, k) => b.assign(saved[k]));
      this.trainMode(wasTraining);
    }
  }
}

/** Options of {@link evaluateCnn}. */
export interface EvaluateCnnOptions {
  /** Score only the first `limit` test items (quick mode). */
  limit?: number;
  /**
   * "sample" (default) scores one image at a time with each image's own
   * BatchNorm statistics, as the book's test loop does (it never calls
   * `eval()`), without changing the running statistics; "eval" scores batches
   * of 1,000 with the running statistics, as `C.eval()` would.
   */
  mode?: "sample" | "eval";
}

/** Fraction of test images the CNN labels correctly (argmax of the output equals the label). */
export async function evaluateCnn(
  model: CnnClassifier,
  dataset: MnistDataset,
  opts: EvaluateCnnOptions = {},
): Promise<number> {
  const n = Math.min(dataset.length, opts.limit ?? Infinity);
  if (n === 0) throw new Error("Cannot evaluate on an empty dataset: pass test images");
  const mode = opts.mode ?? "sample";
  if (mode !== "sample" && mode !== "eval") {
    throw new Error(`Unknown evaluation mode "${mode}": use "sample" or "eval"`);
  }
  const wasTraining = model.training;
  if (mode === "eval") model.eval();
  try {
    const correct = await countCorrect(dataset, n, 1000, async (images) => {
      const out = await tensorData(
        mode === "eval"
          ? tf.tidy(() => noGrad(() => model.forward(images)))
          : await model.predict(images),
      );
      return argmaxRows(out, MNIST_CLASSES);
    });
    return correct / n;
  } finally {
    model.trainMode(wasTraining);
  }
}

/** Saves a CNN (weights, BatchNorm statistics, Adam state, progress) with metadata, atomically. */
export async function saveCnn(
  model: CnnClassifier,
  path: string = QUICK ? CNN_QUICK_CHECKPOINT : CNN_CHECKPOINT,
  opts: { meta?: Record<string, unknown> } = {},
): Promise<number> {
  return await saveCheckpoint(path, {
    modules: { [CNN_CHECKPOINT_MODULE]: model },
    meta: { model: "cnn_classifier", ...opts.meta },
  });
}

/** Loads a CNN saved by {@link saveCnn} or `scripts/train_cnn.ts`; returns it with the checkpoint's metadata. */
export async function loadCnn(
  path: string = QUICK ? CNN_QUICK_CHECKPOINT : CNN_CHECKPOINT,
): Promise<{ model: CnnClassifier; meta: Record<string, unknown> }> {
  const { header } = await readCheckpoint(path);
  if (header.meta.model !== undefined && header.meta.model !== "cnn_classifier") {
    throw new Error(
      `Checkpoint ${path} holds a ${header.meta.model}, not the CNN classifier: ` +
        "train one with scripts/train_cnn.ts",
    );
  }
  const model = new CnnClassifier();
  try {
    const meta = await loadCheckpoint(path, { modules: { [CNN_CHECKPOINT_MODULE]: model } });
    return { model, meta };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/**
 * Trains the book's CNN MNIST classifier (notebook 13) one sample at a time,
 * prints its test accuracy after every epoch, and saves a checkpoint that
 * other code can load with `loadCnn()` (e.g. to judge generated digits).
 *
 *   deno run --allow-read --allow-write=data,out --allow-env scripts/train_cnn.ts [--epochs=3]
 *
 * Writes `data/cnn_classifier.ckpt` (after every epoch, atomically), and
 * `out/cnn/loss.svg`, `out/cnn/loss.png` and `out/cnn/result.json`.
 * `GAN_QUICK=1` trains 1 epoch on 2,000 images, scores 500 and writes
 * `data/cnn_classifier_quick.ckpt` and `out/cnn_quick/` instead.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import {
  CNN_BOOK_ACCURACY,
  CNN_BOOK_EPOCHS,
  CNN_CHECKPOINT,
  CNN_QUICK_CHECKPOINT,
  CnnClassifier,
  describeDevice,
  deviceInfo,
  evaluateCnn,
  initBackend,
  manualSeed,
  MNIST_TEST_CSV,
  MNIST_TRAIN_CSV,
  MnistDataset,
  QUICK,
  quick,
  repoRoot,
  saveCnn,
  trainEpochs,
} from "../mod.ts";
import { writeAtomic } from "../lib/data/mod.ts";
import { wholeNumber } from "./_cli.ts";

const HELP =
  `Usage: deno run --allow-read --allow-write=data,out --allow-env scripts/train_cnn.ts [options]

Trains the book's CNN MNIST classifier (notebook 13), prints its test accuracy after every
epoch and saves a checkpoint.

Options:
  --epochs=N        passes over the 60,000 training images (default ${CNN_BOOK_EPOCHS}, as the book; quick mode 1)
  --seed=N          seed for the weight initialisation (default 42)
  --train-limit=N   train on the first N images only (default all, quick mode 2000)
  --test-limit=N    score the first N test images only (default all, quick mode 500)
  --checkpoint=FILE where to save (default ${relative(CNN_CHECKPOINT)}, quick mode ${
    relative(CNN_QUICK_CHECKPOINT)
  })
  --out=DIR         folder for the loss chart and result.json (default out/cnn, quick mode out/cnn_quick)
  --help            show this help
Set GAN_QUICK=1 for quick mode, TFJS_BACKEND to choose the backend (default wasm, cpu).`;

function relative(path: string): string {
  const root = repoRoot() + "/";
  return path.startsWith(root) ? path.slice(root.length) : path;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      epochs: { type: "string" },
      seed: { type: "string" },
      "train-limit": { type: "string" },
      "test-limit": { type: "string" },
      checkpoint: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const epochs = wholeNumber("epochs", values.epochs, quick(CNN_BOOK_EPOCHS, 1));
  const seed = wholeNumber("seed", values.seed, 42);
  const trainLimit = wholeNumber("train-limit", values["train-limit"], quick(Infinity, 2000));
  const testLimit = wholeNumber("test-limit", values["test-limit"], quick(Infinity, 500));
  const checkpoint = values.checkpoint ?? (QUICK ? CNN_QUICK_CHECKPOINT : CNN_CHECKPOINT);
  const out = (values.out ?? quick("out/cnn", "out/cnn_quick")).replace(/\/+$/, "");

  await initBackend();
  const device = deviceInfo().device;
  console.log(`${describeDevice()}${QUICK ? " (quick mode)" : ""}`);
  const limit = (n: number) => (Number.isFinite(n) ? { limit: n } : {});
  const train = await MnistDataset.load(MNIST_TRAIN_CSV, limit(trainLimit));
  const test = await MnistDataset.load(MNIST_TEST_CSV, limit(testLimit));
  await Deno.mkdir(out, { recursive: true });

  manualSeed(seed);
  const C = new CnnClassifier();
  // The progress bar shows the loss; the book's "counter = 10000" lines would interrupt it.
  C.printEvery = 0;
  console.log(
    `Training the CNN classifier: ${epochs} epoch(s) of ${train.length} images, batch size 1`,
  );
  const started = performance.now();
  const accuracyByEpoch: number[] = [];
  const secondsByEpoch: number[] = [];
  let testSeconds = 0;
  let tensorsAfterFirstEpoch = -1;
  const meta = (extra: Record<string, unknown>) => ({
    seed,
    epochs,
    trainItems: train.length,
    testItems: test.length,
    device,
    accuracyByEpoch,
    secondsByEpoch,
    ...extra,
  });
  await trainEpochs(C, train, {
    epochs,
    progress: true,
    onEpoch: async (epoch) => {
      // Training time only: the testing after each epoch is left out.
      secondsByEpoch.push((performance.now() - started) / 1000 - testSeconds);
      // As tfjs-examples do: the number of live tensors must not grow from epoch to epoch.
      const n = tf.memory().numTensors;
      if (tensorsAfterFirstEpoch < 0) tensorsAfterFirstEpoch = n;
      else if (n !== tensorsAfterFirstEpoch) {
        throw new Error(
          `Tensor leak: ${n} live tensors after epoch ${epoch}, ${tensorsAfterFirstEpoch} after epoch 1`,
        );
      }
      const testStart = performance.now();
      const accuracy = await evaluateCnn(C, test);
      testSeconds += (performance.now() - testStart) / 1000;
      accuracyByEpoch.push(accuracy);
      console.log(
        `epoch ${epoch}: test accuracy ${(100 * accuracy).toFixed(2)} % ` +
          `(${secondsByEpoch[epoch - 1].toFixed(0)} s of training so far)`,
      );
      await saveCnn(C, checkpoint, {
        meta: meta({ epoch, completed: epoch === epochs, testAccuracy: accuracy }),
      });
    },
  });
  const seconds = secondsByEpoch[secondsByEpoch.length - 1] ?? 0;
  const accuracy = accuracyByEpoch[accuracyByEpoch.length - 1] ?? await evaluateCnn(C, test);
  console.log(
    `Test accuracy ${(100 * accuracy).toFixed(2)} % on ${test.length} test images ` +
      `(book: ${100 * CNN_BOOK_ACCURACY} % after ${CNN_BOOK_EPOCHS} epochs), ` +
      `training took ${seconds.toFixed(0)} s`,
  );
  const chart = C.plotProgress({
    ylim: [0, 1],
    yticks: [0, 0.25, 0.5],
    title: "CNN classifier loss",
  });
  const files = await chart.save(`${out}/loss`);
  const result = {
    model: "cnn_classifier",
    seed,
    epochs,
    trainItems: train.length,
    testItems: test.length,
    accuracy,
    accuracyByEpoch,
    bookAccuracy: CNN_BOOK_ACCURACY,
    seconds,
    secondsByEpoch,
    device,
    checkpoint,
    date: new Date().toISOString(),
  };
  await writeAtomic(`${out}/result.json`, JSON.stringify(result, null, 2) + "\n");
  console.log(`Saved ${checkpoint}, ${files.svg}, ${files.png} and ${out}/result.json`);
  C.dispose();
}

if (import.meta.main) {
  try {
    await main();
  } catch (e) {
    console.error(`train_cnn: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}

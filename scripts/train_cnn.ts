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
import {
  CNN_BOOK_ACCURACY,
  CNN_BOOK_EPOCHS,
  CNN_CHECKPOINT,
  CNN_QUICK_CHECKPOINT,
  CnnClassifier,
  evaluateCnn,
  manualSeed,
  QUICK,
  quick,
  saveCnn,
  trainEpochs,
} from "../mod.ts";
import { writeAtomic } from "../lib/data/mod.ts";
import * as cli from "./_classifier_cli.ts";

const HELP =
  `Usage: deno run --allow-read --allow-write=data,out --allow-env scripts/train_cnn.ts [options]

Trains the book's CNN MNIST classifier (notebook 13), prints its test accuracy after every
epoch and saves a checkpoint.

Options:
  --epochs=N        passes over the 60,000 training images (default ${CNN_BOOK_EPOCHS}, as the book; quick mode 1)
  --seed=N          seed for the weight initialisation (default 42)
  --train-limit=N   train on the first N images only (default all, quick mode 2000)
  --test-limit=N    score the first N test images only (default all, quick mode 500)
  --checkpoint=FILE where to save (default ${cli.repoRelative(CNN_CHECKPOINT)}, quick mode ${
    cli.repoRelative(CNN_QUICK_CHECKPOINT)
  })
  --out=DIR         folder for the loss chart and result.json (default out/cnn, quick mode out/cnn_quick)
  --help            show this help
Set GAN_QUICK=1 for quick mode, TFJS_BACKEND to choose the backend (default wasm, cpu).`;

async function main(): Promise<void> {
  const args = cli.parseClassifierArgs(Deno.args, {
    help: HELP,
    epochs: CNN_BOOK_EPOCHS,
    quickTrainLimit: 2000,
    more: ["checkpoint", "out"],
  });
  if (!args) return;
  const { epochs, seed, values } = args;
  const checkpoint = values.checkpoint ?? (QUICK ? CNN_QUICK_CHECKPOINT : CNN_CHECKPOINT);
  const out = (values.out ?? quick("out/cnn", "out/cnn_quick")).replace(/\/+$/, "");

  const { train, test, device } = await cli.loadClassifierData(args.trainLimit, args.testLimit);
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
  const checkLeaks = cli.epochLeakCheck();
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
      checkLeaks(epoch);
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

if (import.meta.main) await cli.runScript("train_cnn", main);

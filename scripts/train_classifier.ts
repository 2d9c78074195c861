/**
 * Trains the book's best MNIST classifier (section 1.3.5: BCE, LeakyReLU(0.02),
 * LayerNorm, Adam) one sample at a time, prints its test accuracy, and saves
 * its loss chart and a checkpoint that the GAN notebooks load to judge
 * generated digits.
 *
 *   deno task train-classifier [--epochs=3] [--seed=42] [--variant=combined] [--out=out/classifier]
 *
 * Writes the checkpoint (after every epoch, atomically): for the combined
 * classifier the one the GAN quality metrics load, `data/classifier.ckpt`
 * (`data/classifier_quick.ckpt` in quick mode; see lib/settings.ts), for the
 * other variants `<out>/classifier.ckpt`; and `<out>/loss.svg`,
 * `<out>/loss.png` and `<out>/result.json`.
 * `GAN_QUICK=1` trains 1 epoch on 2,000 images and scores 500.
 * @module
 */
import {
  BOOK_ACCURACY,
  CLASSIFIER_VARIANTS,
  classifierCheckpoint,
  type ClassifierVariant,
  evaluate,
  makeClassifier,
  manualSeed,
  parseVariant,
  saveCheckpoint,
  trainEpochs,
} from "../mod.ts";
import { CHECKPOINT_MODULE } from "../lib/book/mod.ts";
import { writeAtomic } from "../lib/data/mod.ts";
import * as cli from "./_classifier_cli.ts";

const HELP = `Usage: deno task train-classifier [options]

Trains the book's MNIST classifier, prints its test accuracy and saves a checkpoint.

Options:
  --epochs=N        passes over the 60,000 training images (default 3, as the book; quick mode 1)
  --seed=N          seed for the weight initialisation (default 42)
  --variant=NAME    one of ${CLASSIFIER_VARIANTS.join(", ")} (default combined)
  --train-limit=N   train on the first N images only (default all, quick mode 2000)
  --test-limit=N    score the first N test images only (default all, quick mode 500)
  --checkpoint=FILE where to save the classifier (default for the combined variant: the metrics'
                    ${
  cli.repoRelative(classifierCheckpoint())
}; for the others: <out>/classifier.ckpt)
  --out=DIR         folder for the loss chart and result.json (default out/classifier)
  --help            show this help
Set GAN_QUICK=1 for quick mode, TFJS_BACKEND to choose the backend (default wasm, cpu).`;

async function main(): Promise<void> {
  const args = cli.parseClassifierArgs(Deno.args, {
    help: HELP,
    epochs: 3,
    quickTrainLimit: 2000,
    more: ["variant", "out", "checkpoint"],
  });
  if (!args) return;
  const { epochs, seed, values } = args;
  const variant: ClassifierVariant = parseVariant(values.variant ?? "combined");
  const out = (values.out ?? "out/classifier").replace(/\/+$/, "");
  // The combined classifier is the metrics' judge: one file for both (lib/settings.ts).
  const checkpoint = values.checkpoint ??
    (variant === "combined" ? classifierCheckpoint() : `${out}/${CHECKPOINT_MODULE}.ckpt`);

  const { train, test, device } = await cli.loadClassifierData(args.trainLimit, args.testLimit);
  await Deno.mkdir(out, { recursive: true });

  manualSeed(seed);
  const C = makeClassifier(variant);
  // The progress bar shows the loss; the book's "counter = 10000" lines would interrupt it.
  C.printEvery = 0;
  const meta = (extra: Record<string, unknown>) => ({
    variant,
    seed,
    epochs,
    trainItems: train.length,
    device,
    ...extra,
  });
  console.log(
    `Training the ${variant} classifier: ${epochs} epoch(s) of ${train.length} images, batch size 1`,
  );
  const started = performance.now();
  const checkLeaks = cli.epochLeakCheck();
  await trainEpochs(C, train, {
    epochs,
    progress: true,
    onEpoch: async (epoch) => {
      checkLeaks(epoch);
      await saveCheckpoint(checkpoint, {
        modules: { [CHECKPOINT_MODULE]: C },
        meta: meta({ epoch, completed: epoch === epochs }),
      });
    },
  });
  const seconds = (performance.now() - started) / 1000;
  const accuracy = await evaluate(C, test);
  console.log(
    `Test accuracy ${(100 * accuracy).toFixed(2)} % on ${test.length} test images ` +
      `(book: ${100 * BOOK_ACCURACY[variant]} %), training took ${seconds.toFixed(0)} s`,
  );

  const chart = C.plotProgress({
    ylim: [0, 1],
    yticks: [0, 0.25, 0.5],
    title: `${variant} classifier loss`,
  });
  const files = await chart.save(`${out}/loss`);
  await saveCheckpoint(checkpoint, {
    modules: { [CHECKPOINT_MODULE]: C },
    meta: meta({
      epoch: epochs,
      completed: true,
      accuracy,
      testAccuracy: accuracy,
      testItems: test.length,
    }),
  });
  const result = {
    variant,
    seed,
    epochs,
    trainItems: train.length,
    testItems: test.length,
    accuracy,
    bookAccuracy: BOOK_ACCURACY[variant],
    trainSeconds: seconds,
    device,
    checkpoint,
    date: new Date().toISOString(),
  };
  await writeAtomic(
    `${out}/result.json`,
    JSON.stringify(result, null, 2) + "\n",
  );
  console.log(
    `Saved ${checkpoint}, ${files.svg}, ${files.png} and ${out}/result.json`,
  );
  C.dispose();
}

if (import.meta.main) await cli.runScript("train_classifier", main);

/**
 * Reproduces the book's table of classifier refinements (sections 1.2.9-1.3.5):
 * each of the six variants trained for 3 epochs one sample at a time on the
 * 60,000 MNIST training images, then scored on the 10,000 test images.
 *
 *   deno task classifier-table [--epochs=3] [--variants=bce,adam] [--seed=42] [--out=out/classifier_table.md]
 *
 * The Markdown table is printed and rewritten (atomically) after every
 * variant, so a long run shows partial results; a JSON copy sits beside it.
 * `GAN_QUICK=1` trains 1 epoch on 1,000 images and scores 500.
 * @module
 */
import { parseArgs } from "node:util";
import {
  BOOK_ACCURACY,
  CLASSIFIER_VARIANTS,
  type ClassifierVariant,
  describeDevice,
  deviceInfo,
  evaluate,
  initBackend,
  makeClassifier,
  manualSeed,
  MNIST_TEST_CSV,
  MNIST_TRAIN_CSV,
  MnistDataset,
  parseVariant,
  QUICK,
  quick,
  trainEpochs,
  VARIANT_DESCRIPTIONS,
} from "../mod.ts";
import { writeAtomic } from "../lib/data/mod.ts";
import { wholeNumber } from "./_cli.ts";

const HELP = `Usage: deno task classifier-table [options]

Trains the book's six MNIST classifier variants and prints their test accuracy.

Options:
  --epochs=N        passes over the training data (default 3, quick mode 1)
  --variants=A,B    comma-separated subset of: ${CLASSIFIER_VARIANTS.join(", ")}
  --seed=N          seed for the weight initialisation (default 42)
  --train-limit=N   train on the first N images only (default all, quick mode 1000)
  --test-limit=N    score the first N test images only (default all, quick mode 500)
  --out=FILE        Markdown output (default out/classifier_table.md)
  --help            show this help
Set GAN_QUICK=1 for quick mode.`;

/** One row of the table. */
export interface TableRow {
  variant: ClassifierVariant;
  accuracy: number;
  book: number;
  seconds: number;
  msPerStep: number;
}

const pct = (x: number, digits = 2) => `${(100 * x).toFixed(digits)} %`;

/** The results as a Markdown table, with the run's settings above it. */
export function markdownTable(
  rows: TableRow[],
  settings: { epochs: number; seed: number; trainItems: number; testItems: number; device: string },
): string {
  const lines = [
    `MNIST classifier test accuracy: ${settings.epochs} epoch(s) over ${settings.trainItems} training images, ` +
    `batch size 1, scored on ${settings.testItems} test images; seed ${settings.seed}; ${settings.device}.`,
    "",
    "| variant | change | test accuracy | book | time | ms/step |",
    "|---|---|---:|---:|---:|---:|",
    ...rows.map((r) =>
      `| ${r.variant} | ${VARIANT_DESCRIPTIONS[r.variant]} | ${pct(r.accuracy)} | ${
        pct(r.book, 0)
      } | ` +
      `${r.seconds.toFixed(0)} s | ${r.msPerStep.toFixed(2)} |`
    ),
  ];
  return lines.join("\n") + "\n";
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      epochs: { type: "string" },
      variants: { type: "string" },
      seed: { type: "string" },
      "train-limit": { type: "string" },
      "test-limit": { type: "string" },
      out: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const epochs = wholeNumber("epochs", values.epochs, quick(3, 1));
  const seed = wholeNumber("seed", values.seed, 42);
  const trainLimit = wholeNumber("train-limit", values["train-limit"], quick(Infinity, 1000));
  const testLimit = wholeNumber("test-limit", values["test-limit"], quick(Infinity, 500));
  const out = values.out ?? "out/classifier_table.md";
  const variants = values.variants === undefined
    ? [...CLASSIFIER_VARIANTS]
    : values.variants.split(",").map((v) => parseVariant(v.trim()));

  await initBackend();
  const device = deviceInfo().device;
  console.log(`${describeDevice()}${QUICK ? " (quick mode)" : ""}`);
  const loadLimit = (n: number) => (Number.isFinite(n) ? { limit: n } : {});
  const train = await MnistDataset.load(MNIST_TRAIN_CSV, loadLimit(trainLimit));
  const test = await MnistDataset.load(MNIST_TEST_CSV, loadLimit(testLimit));
  const settings = { epochs, seed, trainItems: train.length, testItems: test.length, device };

  const rows: TableRow[] = [];
  const started = performance.now();
  for (const variant of variants) {
    manualSeed(seed);
    const C = makeClassifier(variant);
    C.printEvery = 0;
    const t0 = performance.now();
    await trainEpochs(C, train, { epochs, progress: true });
    const seconds = (performance.now() - t0) / 1000;
    const accuracy = await evaluate(C, test);
    C.dispose();
    const steps = epochs * train.length;
    rows.push({
      variant,
      accuracy,
      book: BOOK_ACCURACY[variant],
      seconds,
      msPerStep: steps ? (1000 * seconds) / steps : 0,
    });
    console.log(
      `${variant}: accuracy ${pct(accuracy)} (book ${pct(BOOK_ACCURACY[variant], 0)}), ${
        seconds.toFixed(0)
      } s`,
    );
    await writeAtomic(out, markdownTable(rows, settings), { mkdir: true });
    await writeAtomic(
      out.replace(/\.md$/, "") + ".json",
      JSON.stringify({ settings, rows }, null, 2) + "\n",
    );
  }
  const total = (performance.now() - started) / 1000;
  console.log(`\n${markdownTable(rows, settings)}\nTotal ${total.toFixed(0)} s; written to ${out}`);
}

if (import.meta.main) {
  try {
    await main();
  } catch (e) {
    console.error(`classifier_table: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}

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
import {
  BOOK_ACCURACY,
  CLASSIFIER_VARIANTS,
  type ClassifierVariant,
  evaluate,
  makeClassifier,
  manualSeed,
  parseVariant,
  trainEpochs,
  VARIANT_DESCRIPTIONS,
} from "../mod.ts";
import { writeAtomic } from "../lib/data/mod.ts";
import * as cli from "./_classifier_cli.ts";

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
  const args = cli.parseClassifierArgs(Deno.args, {
    help: HELP,
    epochs: 3,
    quickTrainLimit: 1000,
    more: ["variants", "out"],
  });
  if (!args) return;
  const { epochs, seed, values } = args;
  const out = values.out ?? "out/classifier_table.md";
  const variants = values.variants === undefined
    ? [...CLASSIFIER_VARIANTS]
    : values.variants.split(",").map((v) => parseVariant(v.trim()));

  const { train, test, device } = await cli.loadClassifierData(args.trainLimit, args.testLimit);
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

if (import.meta.main) await cli.runScript("classifier_table", main);

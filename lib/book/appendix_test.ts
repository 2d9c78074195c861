import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  APPENDIX_B_COUNTS,
  balancedLoss,
  coinEntropy,
  continuousPath,
  CONV_EXAMPLES,
  convOutputSize,
  convTransposeOutputSize,
  crossEntropyTable,
  entropyCurve,
  lossCurves,
  lossOf,
  numberGrids,
  pixelFrequencies,
  pixelProbabilities,
  playGame,
  radii,
  runConvExample,
  sampleImage,
  sampleImages,
  transposedAsConv,
} from "./appendix.ts";
import { initBackend } from "../backends/backend.ts";
import { manualSeed } from "../engine/random.ts";

await initBackend({ order: ["wasm"] });

const near = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} is not within ${tol} of ${b}`);

Deno.test("balancedLoss() gives the book's ideal losses: MSE 0.25, BCE ln 2 = 0.693", async () => {
  near(await balancedLoss("mse"), 0.25, 1e-7, "MSE");
  near(await balancedLoss("bce"), Math.LN2, 1e-6, "BCE");
  assert.equal((await balancedLoss("bce")).toFixed(3), "0.693");
  await assert.rejects(() => balancedLoss("l1" as "mse"), /Unknown loss/);
  await assert.rejects(() => lossOf("l1" as "mse", 0.5, 1), /Unknown loss/);
});

Deno.test("crossEntropyTable() matches the book's 0.105, 2.303, 2.303", async () => {
  const rows = await crossEntropyTable();
  assert.deepEqual(rows.map((r) => r.crossEntropy.toFixed(3)), ["0.105", "2.303", "2.303"]);
  assert.deepEqual(rows.map((r) => [r.output, r.target]), [[0.9, 1], [0.1, 1], [0.9, 0]]);
});

Deno.test("coinEntropy() is 0 for a certain coin and largest (1 bit, ln 2 nats) for a fair one", () => {
  assert.equal(coinEntropy(0), 0);
  assert.equal(coinEntropy(1), 0);
  near(coinEntropy(0.5), 1, 1e-12, "bits");
  near(coinEntropy(0.5, { base: Math.E }), Math.LN2, 1e-12, "nats");
  near(coinEntropy(0.3), coinEntropy(0.7), 1e-12, "symmetry");
  const { p, entropy } = entropyCurve({ points: 11 });
  assert.equal(p.length, 11);
  assert.equal(entropy.indexOf(Math.max(...entropy)), 5);
  assert.throws(() => coinEntropy(1.5), /between 0 and 1/);
});

Deno.test("lossCurves() shows BCE falling to 0 at output 1 and far steeper than MSE near 0", async () => {
  const { output, bce, mse } = await lossCurves({ points: 100 });
  assert.equal(output[output.length - 1], 1);
  near(bce[bce.length - 1], 0, 1e-6, "BCE at 1");
  near(bce[0], -Math.log(0.01), 1e-4, "BCE at 0.01");
  assert.ok(bce[0] > 4 && mse[0] < 1);
  near(await lossOf("mse", 0.5, 1), 0.25, 1e-7, "one MSE term");
});

Deno.test("pixelProbabilities() divides the book's counts by 8; samples follow them", async () => {
  const probs = pixelProbabilities();
  assert.deepEqual(probs, [[0.75, 0, 0.125], [0, 0.875, 0], [0.25, 0, 0.125]]);
  manualSeed(7);
  const n = tf.memory().numTensors;
  const images = await sampleImages(probs, 2000);
  assert.equal(tf.memory().numTensors, n);
  assert.ok(images.every((img) => img.every((v) => v === 0 || v === 1)));
  // Pixels that are never coloured in the training data are never drawn.
  assert.ok(images.every((img) => img[1] === 0 && img[3] === 0 && img[5] === 0 && img[7] === 0));
  const freq = pixelFrequencies(images);
  probs.flat().forEach((p, i) => near(freq[i], p, 0.04, `pixel ${i}`));
  manualSeed(7);
  assert.deepEqual(await sampleImages(probs, 3), images.slice(0, 3));
  // One image at a time draws the same pixels as a batch.
  manualSeed(7);
  const one = [await sampleImage(probs), await sampleImage(probs)];
  assert.deepEqual(one, images.slice(0, 2));
  assert.deepEqual(await sampleImages(probs, 0), []);
  await assert.rejects(() => sampleImage([[0.5], [0.5, 0.5]]), /rectangular grid/);
  assert.throws(() => pixelProbabilities([[9]]), /between 0 and 8/);
  assert.equal(APPENDIX_B_COUNTS.flat().reduce((a, b) => a + b), 17);
});

Deno.test("runConvExample() gives the book's output size for all seven examples, by both formulas", async () => {
  const sizes: number[] = [];
  for (const ex of CONV_EXAMPLES) {
    const r = await runConvExample(ex);
    assert.equal(r.output.length, ex.bookOutput, `example ${ex.id} rows`);
    assert.ok(r.output.every((row) => row.length === ex.bookOutput), `example ${ex.id} columns`);
    assert.equal(r.formulaSize, ex.bookOutput, `example ${ex.id} formula`);
    sizes.push(r.output.length);
  }
  assert.deepEqual(sizes, [5, 3, 4, 2, 6, 6, 4]);
  assert.equal(convOutputSize(6, 2, { stride: 2, padding: 1 }), 4);
  assert.equal(convTransposeOutputSize(3, 2, { stride: 2, padding: 1 }), 4);
});

Deno.test("runConvExample() shows what padding and overlap do with a kernel of ones", async () => {
  const [, , ex3, , , ex6] = CONV_EXAMPLES;
  // Padding 1 puts zeros round the border: corners see 1 input cell, edges 2, inside 4.
  assert.deepEqual((await runConvExample(ex3)).output, [
    [1, 2, 2, 1],
    [2, 4, 4, 2],
    [2, 4, 4, 2],
    [1, 2, 2, 1],
  ]);
  // The book's code line for example 3 says padding=2: that gives 5x5, not 4x4.
  assert.equal((await runConvExample({ ...ex3, padding: 2 })).output.length, 5);
  // A stride-1 transposed convolution overlaps neighbouring kernel placements.
  assert.deepEqual((await runConvExample(ex6)).output[1], [2, 4, 4, 4, 4, 2]);
  // Each output of example 2 sums one 2x2 block of the numbered input.
  assert.deepEqual((await runConvExample(CONV_EXAMPLES[1], { input: "index" })).output[0], [
    1 + 2 + 7 + 8,
    3 + 4 + 9 + 10,
    5 + 6 + 11 + 12,
  ]);
});

Deno.test("playGame() simultaneous steps spiral outwards by sqrt(1 + lr^2) per step", () => {
  const path = playGame("simultaneous");
  assert.equal(path.x.length, 500);
  assert.deepEqual([path.x[0], path.y[0]], [0.6, 0.7]);
  // The book's first step: x = 0.6 + 0.1 * 0.7, y = 0.7 - 0.1 * 0.6.
  near(path.x[1], 0.67, 1e-12, "x1");
  near(path.y[1], 0.64, 1e-12, "y1");
  const r = radii(path);
  for (let i = 1; i < r.length; i++) near(r[i] / r[i - 1], Math.sqrt(1.01), 1e-9, `step ${i}`);
  assert.ok(r[499] > 10 * r[0]);
});

Deno.test("playGame() extragradient and optimistic steps converge to (0, 0)", () => {
  for (const method of ["extragradient", "optimistic"] as const) {
    const r = radii(playGame(method));
    assert.ok(r[499] < 0.1 * r[0], `${method} ends at radius ${r[499]}`);
    assert.ok(radii(playGame(method, { steps: 5000 }))[4999] < 1e-9, method);
  }
  // Alternating steps neither diverge nor converge: the orbit stays near the start circle.
  const alt = radii(playGame("alternating"));
  assert.ok(Math.max(...alt) < 1.1 * alt[0] && Math.min(...alt) > 0.9 * alt[0]);
  assert.throws(() => playGame("sideways" as "simultaneous"), /Unknown method/);
});

Deno.test("continuousPath() is the circle through the start that the steps leave", () => {
  const c = continuousPath();
  assert.deepEqual([c.x[0], c.y[0]].map((v) => v.toFixed(12)), [
    "0.600000000000",
    "0.700000000000",
  ]);
  radii(c).forEach((r) => near(r, Math.hypot(0.6, 0.7), 1e-12, "radius"));
  // Small steps follow the circle closely for a while.
  const fine = playGame("simultaneous", { lr: 0.001, steps: 1000 });
  const circle = continuousPath({ lr: 0.001, steps: 1000 });
  near(fine.x[999], circle.x[999], 1e-3, "x after 1000 small steps");
});

Deno.test("transposedAsConv() spaces, rings and crops the input as the book says, matching ConvTranspose2d", async () => {
  const kernel = [[1, 2], [3, 4]];
  for (const ex of CONV_EXAMPLES.filter((e) => e.kind === "transposed")) {
    const { middle, output } = await transposedAsConv(ex, { input: "index", kernel });
    const expected = (await runConvExample(ex, { input: "index", kernel })).output;
    assert.deepEqual(output, expected, `example ${ex.id}`);
    // The book: a 7x7 middle grid for examples 5 and 6, one ring fewer each side for 7.
    assert.equal(middle.length, ex.id === 7 ? 5 : 7, `example ${ex.id} middle grid`);
  }
  await assert.rejects(() => transposedAsConv(CONV_EXAMPLES[0]), /not a transposed one/);
});

Deno.test("numberGrids() draws labelled grids as one SVG figure", () => {
  const fig = numberGrids([
    { label: "input", values: [[1, 2], [3, 4]] },
    { label: "output", values: [[10]] },
  ]);
  const svg = fig.svg;
  assert.ok(svg.includes("<svg") && svg.includes(">10<") && svg.includes(">output<"));
  assert.throws(() => numberGrids([]), /at least one grid/);
});

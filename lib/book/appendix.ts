/**
 * The numbers behind the book's appendices, computed with the library where
 * the book uses PyTorch: ideal losses of a balanced GAN (Appendix A),
 * images sampled from pixel probabilities (B), the output sizes of the seven
 * convolution examples (C), and gradient steps on the game f = x y that
 * spiral outwards, with two remedies that converge (D).
 * @module
 */
import * as Plot from "@observablehq/plot";
import * as tf from "@tensorflow/tfjs";
import { noGrad } from "../engine/autograd.ts";
import { BCELoss, MSELoss } from "../engine/loss.ts";
import { Conv2d, ConvTranspose2d } from "../engine/nn.ts";
import { type Figure, figure } from "../display/plot.ts";
import { uniformArray } from "../engine/random.ts";
import { item, tensorData } from "../backends/backend.ts";

// ---------------------------------------------------------------------------
// Appendix A: ideal loss values

/** A loss of `output` against `target` for one node, through the library's loss (`"mse"` or `"bce"`). */
export async function lossOf(
  kind: "mse" | "bce",
  output: number,
  target: number,
): Promise<number> {
  if (kind !== "mse" && kind !== "bce") {
    throw new Error(`Unknown loss "${kind}": use "mse" or "bce"`);
  }
  const fn = kind === "mse" ? new MSELoss() : new BCELoss();
  return await item(() =>
    noGrad(() => fn.forward(tf.tensor1d([output]), tf.tensor1d([target])).value)
  );
}

/**
 * The loss of a discriminator in balance: it outputs 0.5 for real (target 1)
 * and generated (target 0) data alike. MSE gives 0.25 and BCE ln 2 = 0.693.
 */
export async function balancedLoss(kind: "mse" | "bce"): Promise<number> {
  const fn = kind === "mse" ? new MSELoss() : kind === "bce" ? new BCELoss() : null;
  if (fn === null) throw new Error(`Unknown loss "${kind}": use "mse" or "bce"`);
  return await item(() =>
    noGrad(() => fn.forward(tf.tensor1d([0.5, 0.5]), tf.tensor1d([1, 0])).value)
  );
}

/** Entropy of a coin that lands heads with probability `p`: -p log p - (1-p) log(1-p); 0 log 0 counts as 0. */
export function coinEntropy(p: number, opts: { base?: number } = {}): number {
  if (!(p >= 0 && p <= 1)) {
    throw new RangeError(`A probability must lie between 0 and 1, got ${p}`);
  }
  const base = opts.base ?? 2;
  const term = (q: number) => (q === 0 ? 0 : -q * Math.log(q));
  return (term(p) + term(1 - p)) / Math.log(base);
}

/** `n` evenly spaced numbers from `lo` to `hi` inclusive, like `numpy.linspace`. */
export function linspace(lo: number, hi: number, n: number): number[] {
  if (!(Number.isInteger(n) && n >= 2)) {
    throw new RangeError(`linspace needs at least 2 points, got ${n}`);
  }
  return Array.from({ length: n }, (_, i) => lo + (hi - lo) * i / (n - 1));
}

/** The entropy curve of a coin: p(heads) from 0 to 1 and the entropy in bits (or `base`). */
export function entropyCurve(
  opts: { points?: number; base?: number } = {},
): { p: number[]; entropy: number[] } {
  const p = linspace(0, 1, opts.points ?? 101);
  return { p, entropy: p.map((q) => coinEntropy(q, { base: opts.base })) };
}

/** One row of the book's cross-entropy table (Appendix A.2). */
export interface CrossEntropyRow {
  /** The network's output x. */
  output: number;
  /** The target y. */
  target: number;
  /** -(y ln x + (1-y) ln(1-x)), from the library's BCELoss. */
  crossEntropy: number;
  /** The book's words for the row. */
  meaning: string;
}

/** The book's table: 0.9 for 1.0 gives 0.105; 0.1 for 1.0 and 0.9 for 0.0 give 2.303. */
export async function crossEntropyTable(): Promise<CrossEntropyRow[]> {
  const rows: [number, number, string][] = [
    [0.9, 1.0, "nearly right"],
    [0.1, 1.0, "very wrong"],
    [0.9, 0.0, "confidently wrong"],
  ];
  const out: CrossEntropyRow[] = [];
  for (const [output, target, meaning] of rows) {
    out.push({ output, target, crossEntropy: await lossOf("bce", output, target), meaning });
  }
  return out;
}

/** BCE and MSE against target 1 for outputs from `from` (default 0.01) to 1: how much steeper BCE is. */
export async function lossCurves(
  opts: { points?: number; from?: number } = {},
): Promise<{ output: number[]; bce: number[]; mse: number[] }> {
  const output = linspace(opts.from ?? 0.01, 1, opts.points ?? 100);
  const bce: number[] = [], mse: number[] = [];
  for (const x of output) {
    bce.push(await lossOf("bce", x, 1));
    mse.push(await lossOf("mse", x, 1));
  }
  return { output, bce, mse };
}

// ---------------------------------------------------------------------------
// Appendix B: learning a distribution

/** The book's 3x3 counts: in how many of its 8 training images each pixel is coloured. */
export const APPENDIX_B_COUNTS: readonly (readonly number[])[] = [
  [6, 0, 1],
  [0, 7, 0],
  [2, 0, 1],
];
/** Number of training images behind {@link APPENDIX_B_COUNTS}. */
export const APPENDIX_B_IMAGES = 8;

/** Counts divided by the number of images: the chance that each pixel is coloured. */
export function pixelProbabilities(
  counts: readonly (readonly number[])[] = APPENDIX_B_COUNTS,
  images = APPENDIX_B_IMAGES,
): number[][] {
  if (!(images > 0)) throw new RangeError(`The number of images must be positive, got ${images}`);
  return counts.map((row) =>
    row.map((c) => {
      if (!(c >= 0 && c <= images)) {
        throw new RangeError(`A count must lie between 0 and ${images}, got ${c}`);
      }
      return c / images;
    })
  );
}

/**
 * Draws one image from pixel probabilities, as the book does: `ceil(p - r)`
 * with r uniform in [0, 1), so a pixel is 1 with probability p. Uses the
 * library's random stream (`manualSeed` repeats it). Returns the pixels row by row.
 */
export async function sampleImage(
  probabilities: readonly (readonly number[])[],
): Promise<Float32Array> {
  checkGrid(probabilities);
  return await samplePixels(probabilities, 1);
}

// Pixels per image of a rectangular grid of probabilities; throws for any other shape.
function checkGrid(probabilities: readonly (readonly number[])[]): number {
  const h = probabilities.length, w = probabilities[0]?.length ?? 0;
  if (h === 0 || w === 0 || probabilities.some((r) => r.length !== w)) {
    throw new Error("Probabilities must be a non-empty rectangular grid of numbers");
  }
  return h * w;
}

// `count` images of ceil(p - r), one after another, read asynchronously (webgpu allows no other).
function samplePixels(
  probabilities: readonly (readonly number[])[],
  count: number,
): Promise<Float32Array> {
  const size = probabilities.length * probabilities[0].length;
  return tensorData(() => {
    const p = tf.tensor2d(probabilities.flat(), [1, size]);
    const r = tf.tensor2d(uniformArray(count * size), [count, size]);
    // ceil of a value in (-1, 0] is -0: add 0 so every pixel reads 0 or 1.
    return tf.add(tf.ceil(tf.sub(p, r)), 0);
  });
}

/** `count` images drawn with {@link sampleImage}, each a flat row-by-row array. */
export async function sampleImages(
  probabilities: readonly (readonly number[])[],
  count: number,
): Promise<Float32Array[]> {
  if (!(Number.isInteger(count) && count >= 0)) {
    throw new RangeError(`count must be a whole number, got ${count}`);
  }
  if (count === 0) return [];
  const size = checkGrid(probabilities);
  // All images in one tensor and one read: the random stream is drawn in the same order as
  // `count` calls of sampleImage(), so the pixels are the same.
  const pixels = await samplePixels(probabilities, count);
  return Array.from({ length: count }, (_, i) => pixels.slice(i * size, (i + 1) * size));
}

/** Fraction of `images` in which each pixel is 1: with many samples it approaches the probabilities. */
export function pixelFrequencies(images: readonly Float32Array[]): Float32Array {
  if (images.length === 0) throw new Error("Pass at least one image");
  const out = new Float32Array(images[0].length);
  for (const img of images) img.forEach((v, i) => (out[i] += v));
  return out.map((v) => v / images.length);
}

// ---------------------------------------------------------------------------
// Appendix C: convolution examples

/** Conv2d output size: floor((in + 2 padding - kernel) / stride) + 1. */
export function convOutputSize(
  input: number,
  kernel: number,
  opts: { stride?: number; padding?: number } = {},
): number {
  const s = opts.stride ?? 1, p = opts.padding ?? 0;
  return Math.floor((input + 2 * p - kernel) / s) + 1;
}

/** ConvTranspose2d output size: (in - 1) stride - 2 padding + kernel. */
export function convTransposeOutputSize(
  input: number,
  kernel: number,
  opts: { stride?: number; padding?: number } = {},
): number {
  const s = opts.stride ?? 1, p = opts.padding ?? 0;
  return (input - 1) * s - 2 * p + kernel;
}

/** One of Appendix C's examples: a square input, a square kernel, a stride and a padding. */
export interface ConvExample {
  /** The book's example number (1-7). */
  id: number;
  /** What it shows. */
  title: string;
  /** Ordinary or transposed convolution. */
  kind: "conv" | "transposed";
  /** Input side. */
  input: number;
  /** Kernel side. */
  kernel: number;
  stride: number;
  padding: number;
  /** Output side the book's text and figure give. */
  bookOutput: number;
  /** The PyTorch line the book prints. */
  bookCode: string;
  /** Where the book's code and text disagree. */
  note?: string;
}

/** Appendix C's seven examples, as the text and figures describe them. */
export const CONV_EXAMPLES: readonly ConvExample[] = [
  {
    id: 1,
    title: "convolution, stride 1, no padding",
    kind: "conv",
    input: 6,
    kernel: 2,
    stride: 1,
    padding: 0,
    bookOutput: 5,
    bookCode: "nn.Conv2d(in_channels, out_channels, kernel_size=2, stride=1)",
  },
  {
    id: 2,
    title: "convolution, stride 2, no padding",
    kind: "conv",
    input: 6,
    kernel: 2,
    stride: 2,
    padding: 0,
    bookOutput: 3,
    bookCode: "nn.Conv2d(in_channels, out_channels, kernel_size=2, stride=2)",
  },
  {
    id: 3,
    title: "convolution, stride 2, padding 1",
    kind: "conv",
    input: 6,
    kernel: 2,
    stride: 2,
    padding: 1,
    bookOutput: 4,
    bookCode: "nn.Conv2d(in_channels, out_channels, kernel_size=2, stride=2, padding=2)",
    note: "The book's text, figure and formula use padding 1 (output 4x4); its code line says " +
      "padding=2, which gives 5x5.",
  },
  {
    id: 4,
    title: "convolution that does not cover the input",
    kind: "conv",
    input: 5,
    kernel: 2,
    stride: 2,
    padding: 0,
    bookOutput: 2,
    bookCode: "nn.Conv2d(in_channels, out_channels, kernel_size=2, stride=2)",
  },
  {
    id: 5,
    title: "transposed convolution, stride 2, no padding",
    kind: "transposed",
    input: 3,
    kernel: 2,
    stride: 2,
    padding: 0,
    bookOutput: 6,
    bookCode: "nn.ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=2)",
  },
  {
    id: 6,
    title: "transposed convolution, stride 1, no padding",
    kind: "transposed",
    input: 5,
    kernel: 2,
    stride: 1,
    padding: 0,
    bookOutput: 6,
    bookCode: "nn.ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=1)",
  },
  {
    id: 7,
    title: "transposed convolution, stride 2, padding 1",
    kind: "transposed",
    input: 3,
    kernel: 2,
    stride: 2,
    padding: 1,
    bookOutput: 4,
    bookCode: "nn.ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=2, padding=1)",
  },
];

/** What {@link runConvExample} computed. */
export interface ConvResult {
  /** The input grid, row by row. */
  input: number[][];
  /** The layer's output grid, row by row. */
  output: number[][];
  /** Output side from the formula (conv or transposed). */
  formulaSize: number;
}

/**
 * Runs an example through the library's `Conv2d` or `ConvTranspose2d` (one
 * channel, no bias, every kernel weight 1, or `kernel` row by row). The input
 * is all ones by default, so each output counts how many input cells (or
 * kernel placements) reach it; `input: "index"` numbers the cells 1, 2, 3...
 */
export async function runConvExample(
  example: ConvExample,
  opts: { input?: "ones" | "index"; kernel?: readonly (readonly number[])[] } = {},
): Promise<ConvResult> {
  const { input: n, kernel: k, stride, padding } = example;
  const kernel = opts.kernel ?? Array.from({ length: k }, () => Array(k).fill(1));
  if (kernel.length !== k || kernel.some((r) => r.length !== k)) {
    throw new Error(`Example ${example.id} needs a ${k}x${k} kernel`);
  }
  const values = Array.from(
    { length: n * n },
    (_, i) => (opts.input === "index" ? i + 1 : 1),
  );
  const layer = example.kind === "conv"
    ? new Conv2d(1, 1, k, { stride, padding, bias: false })
    : new ConvTranspose2d(1, 1, k, { stride, padding, bias: false });
  try {
    // Both layers store the weight [kh, kw, 1, 1] for one channel in and out.
    layer.weight.assign(tf.tensor4d(kernel.flat(), [k, k, 1, 1]));
    const out = await gridOf(() => noGrad(() => layer.forward(tf.tensor4d(values, [1, n, n, 1]))));
    const formulaSize = example.kind === "conv"
      ? convOutputSize(n, k, { stride, padding })
      : convTransposeOutputSize(n, k, { stride, padding });
    const input = Array.from({ length: n }, (_, r) => values.slice(r * n, (r + 1) * n));
    return { input, output: out, formulaSize };
  } finally {
    layer.dispose();
  }
}

/**
 * The book's recipe for a transposed convolution (Appendix C.5): space the
 * input cells `stride` apart with zeros between, surround them with
 * `kernel - 1` rings of zeros, take `padding` rings away again, then slide
 * the kernel, turned by 180 degrees, one cell at a time (a stride-1
 * `Conv2d`). Returns that middle grid and the result, which equals
 * `ConvTranspose2d`'s output.
 */
export async function transposedAsConv(
  example: ConvExample,
  opts: { input?: "ones" | "index"; kernel?: readonly (readonly number[])[] } = {},
): Promise<{ middle: number[][]; output: number[][] }> {
  if (example.kind !== "transposed") {
    throw new Error(`Example ${example.id} is an ordinary convolution, not a transposed one`);
  }
  const { input: n, kernel: k, stride: s, padding: p } = example;
  const kernel = opts.kernel ?? Array.from({ length: k }, () => Array(k).fill(1));
  const ring = k - 1 - p;
  if (ring < 0) {
    throw new Error(`Example ${example.id}: padding ${p} is larger than kernel - 1 = ${k - 1}`);
  }
  const side = (n - 1) * s + 1 + 2 * ring;
  const middle = Array.from({ length: side }, () => Array(side).fill(0));
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      middle[ring + r * s][ring + c * s] = opts.input === "index" ? r * n + c + 1 : 1;
    }
  }
  const flipped = kernel.map((row) => [...row].reverse()).reverse();
  const conv = new Conv2d(1, 1, k, { bias: false });
  try {
    conv.weight.assign(tf.tensor4d(flipped.flat(), [k, k, 1, 1]));
    const output = await gridOf(() =>
      noGrad(() => conv.forward(tf.tensor4d(middle.flat(), [1, side, side, 1])))
    );
    return { middle, output };
  } finally {
    conv.dispose();
  }
}

/** The one-channel image [1, h, w, 1] that `f` makes, read asynchronously as rows of numbers. */
async function gridOf(f: () => tf.Tensor): Promise<number[][]> {
  const t = tf.tidy(f);
  const [, h, w] = t.shape;
  const data = await tensorData(t);
  return Array.from({ length: h }, (_, r) => Array.from(data.subarray(r * w, (r + 1) * w)));
}

/** One labelled grid of numbers for {@link numberGrids}. */
export interface NumberGrid {
  /** Caption under the grid. */
  label: string;
  /** Rows of numbers. */
  values: readonly (readonly number[])[];
}

/** Grids of numbers side by side, each cell shaded by its value and labelled with it. */
export function numberGrids(
  grids: readonly NumberGrid[],
  opts: { title?: string; scheme?: Plot.ColorScheme; cellSize?: number; max?: number } = {},
): Figure {
  if (grids.length === 0) throw new Error("Pass at least one grid");
  const cells = grids.flatMap((g) =>
    g.values.flatMap((row, r) => row.map((value, c) => ({ panel: g.label, r, c, value })))
  );
  const side = Math.max(...grids.flatMap((g) => [g.values.length, g.values[0]?.length ?? 0]));
  const cell = opts.cellSize ?? 28;
  const index = Array.from({ length: side }, (_, i) => i);
  const label = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(2));
  // Shades run from 0 to the largest value (or `max`); dark cells get white numbers.
  const max = opts.max ?? Math.max(1, ...cells.map((d) => d.value));
  return figure({
    title: opts.title,
    width: grids.length * (side * cell + 20) + 20,
    height: side * cell + 50,
    marginLeft: 10,
    marginRight: 10,
    marginTop: 10,
    marginBottom: 30,
    x: { domain: index, axis: null, padding: 0.05 },
    y: { domain: index, axis: null, padding: 0.05 },
    fx: { domain: grids.map((g) => g.label), label: null, axis: "bottom", padding: 0.1 },
    color: { type: "linear", scheme: opts.scheme ?? "blues", domain: [0, max] },
    marks: [
      Plot.cell(cells, { x: "c", y: "r", fx: "panel", fill: "value", stroke: "#999" }),
      Plot.text(cells, {
        x: "c",
        y: "r",
        fx: "panel",
        text: (d: { value: number }) => label(d.value),
        fill: (d: { value: number }) => (d.value > 0.6 * max ? "white" : "black"),
        fontSize: 11,
      }),
    ],
  });
}

// ---------------------------------------------------------------------------
// Appendix D: unstable adversarial learning

/** How the two players of f = x y take their gradient steps. */
export type GameMethod = "simultaneous" | "alternating" | "extragradient" | "optimistic";

/** Options of {@link playGame}. */
export interface GameOptions {
  /** Starting x (the book: 0.6). */
  x0?: number;
  /** Starting y (the book: 0.7). */
  y0?: number;
  /** Learning rate (the book: 0.1). */
  lr?: number;
  /** Number of (x, y) values, the start included (the book: 500). */
  steps?: number;
}

/** The book's starting point, learning rate and length for Appendix D. */
export const GAME_DEFAULTS: Required<GameOptions> = { x0: 0.6, y0: 0.7, lr: 0.1, steps: 500 };

/**
 * Plays f = x y: x climbs the gradient (df/dx = y) to raise f, y descends
 * (df/dy = x) to lower it. `"simultaneous"` is the book's loop (both use the
 * old values) and spirals outwards; `"alternating"` lets y see the new x and
 * circles for ever; `"extragradient"` steps from a look-ahead point and
 * `"optimistic"` adds a correction from the previous gradient: both spiral in
 * to the equilibrium (0, 0).
 */
export function playGame(
  method: GameMethod,
  opts: GameOptions = {},
): { x: number[]; y: number[] } {
  const { x0, y0, lr, steps } = { ...GAME_DEFAULTS, ...opts };
  if (!(Number.isInteger(steps) && steps >= 1)) {
    throw new RangeError(`steps must be a whole number of 1 or more, got ${steps}`);
  }
  const x = [x0], y = [y0];
  // The previous gradients, for the optimistic method (none before the first step).
  let gxPrev = y0, gyPrev = x0;
  for (let i = 0; i < steps - 1; i++) {
    const xi = x[i], yi = y[i];
    let xn: number, yn: number;
    switch (method) {
      case "simultaneous":
        // don't forget the signs differ: x ascends, y descends
        xn = xi + lr * yi;
        yn = yi - lr * xi;
        break;
      case "alternating":
        xn = xi + lr * yi;
        yn = yi - lr * xn;
        break;
      case "extragradient": {
        // look ahead one step, then step from here with the look-ahead gradients
        const xh = xi + lr * yi, yh = yi - lr * xi;
        xn = xi + lr * yh;
        yn = yi - lr * xh;
        break;
      }
      case "optimistic":
        // twice today's gradient minus yesterday's
        xn = xi + lr * (2 * yi - gxPrev);
        yn = yi - lr * (2 * xi - gyPrev);
        gxPrev = yi;
        gyPrev = xi;
        break;
      default:
        throw new Error(
          `Unknown method "${method}": use simultaneous, alternating, extragradient or optimistic`,
        );
    }
    x.push(xn);
    y.push(yn);
  }
  return { x, y };
}

/** Distance of each (x, y) from the equilibrium (0, 0). */
export function radii(path: { x: readonly number[]; y: readonly number[] }): number[] {
  return path.x.map((x, i) => Math.hypot(x, path.y[i]));
}

/**
 * The continuous-time limit of the book's steps (Appendix D.4): dx/dt = lr y,
 * dy/dt = -lr x, a circle of radius sqrt(x0^2 + y0^2) travelled at angular
 * speed lr; sampled at t = 0, 1, ..., steps - 1 to line up with the steps.
 */
export function continuousPath(opts: GameOptions = {}): { x: number[]; y: number[] } {
  const { x0, y0, lr, steps } = { ...GAME_DEFAULTS, ...opts };
  const r = Math.hypot(x0, y0), phase = Math.atan2(x0, y0);
  const t = Array.from({ length: steps }, (_, i) => i);
  return {
    x: t.map((ti) => r * Math.sin(lr * ti + phase)),
    y: t.map((ti) => r * Math.cos(lr * ti + phase)),
  };
}

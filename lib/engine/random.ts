/**
 * Seedable random numbers, like PyTorch's global generator (`torch.manual_seed`), and the
 * book's helpers `generate_random_image`, `generate_random_seed` and `generate_random_one_hot`.
 *
 * TF.js has no global seed (each random op takes its own, and unseeded ops use Math.random),
 * so everything that should be reproducible draws from this module's one stream: xoshiro128**
 * for uniform numbers, Box-Muller for normal ones.
 * @module
 */

import * as tf from "@tensorflow/tfjs";

/** The generator's complete state, plain JSON, for checkpoints. */
export interface RngState {
  /** Name of the algorithm, checked when the state is restored. */
  algorithm: "xoshiro128**";
  /** The four 32-bit state words. */
  s: [number, number, number, number];
  /** The second normal number of the last Box-Muller pair, not yet used. */
  spareNormal: number | null;
}

const state = new Uint32Array(4);
let spareNormal: number | null = null;

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Next raw 32-bit output of xoshiro128**. */
function nextUint32(): number {
  const s = state;
  const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
  const t = s[1] << 9;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 11);
  return result;
}

// splitmix32 spreads any seed (even 0, 1, 2, ...) over all four state words.
function splitmix32(x: number): [number, number] {
  x = (x + 0x9e3779b9) >>> 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [x, (z ^ (z >>> 16)) >>> 0];
}

/** Seeds the shared generator, like `torch.manual_seed(seed)`: the same seed gives the same numbers. */
export function manualSeed(seed: number): void {
  if (!Number.isSafeInteger(seed)) {
    throw new RangeError(
      `Seed ${seed} is not a whole number: pass an integer such as 42`,
    );
  }
  // Mix the high bits in too, so seeds that differ only above 2^32 differ in output.
  let x = (seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32) | 0, 0x27d4eb2d);
  for (let i = 0; i < 4; i++) {
    const [next, out] = splitmix32(x);
    x = next;
    state[i] = out;
  }
  if ((state[0] | state[1] | state[2] | state[3]) === 0) state[0] = 1;
  spareNormal = null;
}

function seedFromCrypto(): void {
  do crypto.getRandomValues(state); while (
    (state[0] | state[1] | state[2] | state[3]) === 0
  );
  spareNormal = null;
}
seedFromCrypto();

/** A copy of the generator's state, to save in a checkpoint. */
export function getRngState(): RngState {
  return {
    algorithm: "xoshiro128**",
    s: [state[0], state[1], state[2], state[3]],
    spareNormal,
  };
}

/** Restores a state from {@link getRngState}, so a resumed run draws the same numbers as an unbroken one. */
export function setRngState(saved: RngState): void {
  const s = saved?.s;
  const valid = saved?.algorithm === "xoshiro128**" && Array.isArray(s) &&
    s.length === 4 &&
    s.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32) &&
    s.some((w) => w !== 0) &&
    (saved.spareNormal === null || Number.isFinite(saved.spareNormal));
  if (!valid) {
    throw new Error(
      "Random state is not valid: pass an object returned by getRngState() (algorithm xoshiro128**, four 32-bit words)",
    );
  }
  state.set(s);
  spareNormal = saved.spareNormal;
}

/** A uniform random number in [0, 1), 24 random bits like `torch.rand` for float32. */
export function rand(): number {
  return (nextUint32() >>> 8) / 16777216;
}

/** A standard normal random number (mean 0, standard deviation 1), like `torch.randn`. */
export function randn(): number {
  if (spareNormal !== null) {
    const z = spareNormal;
    spareNormal = null;
    return z;
  }
  // 1 - rand() is in (0, 1], so the log is finite.
  const r = Math.sqrt(-2 * Math.log(1 - rand()));
  const theta = 2 * Math.PI * rand();
  spareNormal = r * Math.sin(theta);
  return r * Math.cos(theta);
}

/** A uniform random integer from 0 to n - 1, without modulo bias. */
export function randInt(n: number): number {
  if (!(Number.isInteger(n) && n >= 1 && n <= 2 ** 32)) {
    throw new RangeError(
      `randInt(${n}) needs a whole number from 1 to 2^32: pass the count of choices`,
    );
  }
  // Reject the top partial block of 2^32 so every residue is equally likely.
  const limit = 2 ** 32 - (2 ** 32 % n);
  let x = nextUint32();
  while (x >= limit) x = nextUint32();
  return x % n;
}

function checkCount(n: number, fn: string): void {
  if (!(Number.isInteger(n) && n >= 0)) {
    throw new RangeError(
      `${fn}(${n}) needs a whole number of values: pass 0 or more`,
    );
  }
}

/** `n` uniform random numbers in [lo, hi), as PyTorch's `nn.init.uniform_` draws weights. */
export function uniformArray(n: number, lo = 0, hi = 1): Float32Array {
  checkCount(n, "uniformArray");
  const out = new Float32Array(n);
  const span = hi - lo;
  for (let i = 0; i < n; i++) out[i] = lo + span * rand();
  return out;
}

/** `n` normal random numbers with the given mean and standard deviation. */
export function normalArray(n: number, mean = 0, std = 1): Float32Array {
  checkCount(n, "normalArray");
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = mean + std * randn();
  return out;
}

/** Shuffles an array in place (Fisher-Yates) with the shared generator, and returns it. */
export function shuffle<A extends { length: number; [index: number]: unknown }>(
  array: A,
): A {
  for (let i = array.length - 1; i > 0; i--) {
    const j = randInt(i + 1);
    const t = array[i];
    array[i] = array[j];
    array[j] = t;
  }
  return array;
}

function sizeOf(size: number | readonly number[], fn: string): number[] {
  const shape = typeof size === "number" ? [size] : [...size];
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new RangeError(
      `${fn}(${JSON.stringify(size)}) needs whole-number sizes: pass e.g. 784 or [218, 178, 3]`,
    );
  }
  return shape;
}

/** Uniform random pixels in [0, 1), the book's `generate_random_image(size)` (`torch.rand`). */
export function generateRandomImage(size: number): tf.Tensor1D;
/** Uniform random pixels in [0, 1) of any shape, e.g. `[218, 178, 3]` for a CelebA image. */
export function generateRandomImage(size: readonly number[]): tf.Tensor;
export function generateRandomImage(
  size: number | readonly number[],
): tf.Tensor {
  const shape = sizeOf(size, "generateRandomImage");
  return tf.tensor(uniformArray(shape.reduce((a, b) => a * b, 1)), shape);
}

/** Standard normal numbers, the book's `generate_random_seed(size)` (`torch.randn`), input of a generator. */
export function generateRandomSeed(size: number): tf.Tensor1D;
/** Standard normal numbers of any shape. */
export function generateRandomSeed(size: readonly number[]): tf.Tensor;
export function generateRandomSeed(
  size: number | readonly number[],
): tf.Tensor {
  const shape = sizeOf(size, "generateRandomSeed");
  return tf.tensor(normalArray(shape.reduce((a, b) => a * b, 1)), shape);
}

/** A one-hot vector with its 1 at a uniformly random index, the book's `generate_random_one_hot(size)`. */
export function generateRandomOneHot(size: number): tf.Tensor1D {
  const [n] = sizeOf(size, "generateRandomOneHot");
  if (n < 1) {
    throw new RangeError(
      "generateRandomOneHot(0) has no index to set: pass a size of 1 or more",
    );
  }
  const out = new Float32Array(n);
  out[randInt(n)] = 1;
  return tf.tensor1d(out);
}

/** Helpers shared by the command-line scripts. @module */

/**
 * Parses `--name=value` as a whole number of at least `min` (default 0), or returns `fallback`
 * when the option is absent.
 */
export function wholeNumber(
  name: string,
  value: string | undefined,
  fallback: number,
  min = 0,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) {
    const least = min > 0 ? ` of at least ${min}` : "";
    throw new Error(`--${name} must be a whole number${least}, got "${value}"`);
  }
  return n;
}

/** Parses `--name=value` as a number above 0, or returns `fallback` when the option is absent. */
export function positiveNumber(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const x = Number(value);
  if (!(x > 0)) throw new Error(`--${name} must be a positive number, got "${value}"`);
  return x;
}

/** The parseArgs spec of the Adam options `--lr`, `--lr-end` and `--beta1` of the GAN scripts. */
export const ADAM_OPTIONS = {
  lr: { type: "string" },
  "lr-end": { type: "string" },
  beta1: { type: "string" },
} as const;

/** Adam's settings from the command line. */
export interface AdamSettings {
  /** `--lr`: the learning rate (at the first step, with a schedule). */
  lr: number;
  /** `--lr-end`: the learning rate at the last step; undefined without a schedule. */
  lrEnd: number | undefined;
  /** `--beta1`: Adam's beta1, from 0 to below 1 (default 0.9, PyTorch's). */
  beta1: number;
}

/** Parses the {@linkcode ADAM_OPTIONS}; `defaultLr` is the learning rate when `--lr` is absent. */
export function adamSettings(
  values: { lr?: string; "lr-end"?: string; beta1?: string },
  defaultLr: number,
): AdamSettings {
  const lr = positiveNumber("lr", values.lr, defaultLr);
  const lrEnd = values["lr-end"] === undefined
    ? undefined
    : positiveNumber("lr-end", values["lr-end"], 0);
  const beta1 = values.beta1 === undefined ? 0.9 : Number(values.beta1);
  if (!(beta1 >= 0 && beta1 < 1)) {
    throw new Error(`--beta1 must be a number from 0 to below 1, got "${values.beta1}"`);
  }
  return { lr, lrEnd, beta1 };
}

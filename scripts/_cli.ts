/** Helpers shared by the command-line scripts. @module */

/** Parses `--name=value` as a whole number, or returns `fallback` when the option is absent. */
export function wholeNumber(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new Error(`--${name} must be a whole number, got "${value}"`);
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

/**
 * Quick mode: small sample counts and epochs so every notebook and script can run
 * in seconds (tests, CI). Set `GAN_QUICK=1` to turn it on.
 * @module
 */

/** Name of the environment variable that turns quick mode on. */
export const QUICK_ENV = "GAN_QUICK";

function readQuick(): boolean {
  try {
    const v = Deno.env.get(QUICK_ENV);
    return v !== undefined && v !== "" && v !== "0" && v.toLowerCase() !== "false";
  } catch {
    // No --allow-env: quick mode is off.
    return false;
  }
}

/** True when quick mode is on (`GAN_QUICK=1`). */
export const QUICK: boolean = readQuick();

/** Returns `small` in quick mode and `full` otherwise. */
export function quick<T>(full: T, small: T): T {
  return QUICK ? small : full;
}

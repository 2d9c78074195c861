/**
 * Quick mode: small sample counts and epochs so every notebook and script can run
 * in seconds (tests, CI). Set `GAN_QUICK=1` to turn it on.
 * @module
 */
import { envFlag } from "./env.ts";

/** Name of the environment variable that turns quick mode on. */
export const QUICK_ENV = "GAN_QUICK";

/** True when quick mode is on (`GAN_QUICK=1`; off without --allow-env). */
export const QUICK: boolean = envFlag(QUICK_ENV);

/** Returns `small` in quick mode and `full` otherwise. */
export function quick<T>(full: T, small: T): T {
  return QUICK ? small : full;
}

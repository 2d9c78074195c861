/**
 * On/off switches from the environment (`GAN_QUICK=1`, `GAN_FULL_EPOCH=1`), read without
 * failing where `--allow-env` is missing.
 * @module
 */

/**
 * True when environment variable `name` is set to anything but "", "0" or "false" (any
 * case); false when it is unset or cannot be read (no `--allow-env`).
 */
export function envFlag(name: string): boolean {
  try {
    const v = Deno.env.get(name);
    return v !== undefined && v !== "" && v !== "0" && v.toLowerCase() !== "false";
  } catch {
    // No --allow-env: the switch is off.
    return false;
  }
}

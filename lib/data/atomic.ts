/**
 * Atomic file writes: the data goes to a temporary file beside the target, then a rename
 * replaces the target in one step, so a reader or a killed run never sees half a file.
 * And {@link exists}, the check before such a file is made.
 * @module
 */

/** True when `path` exists; false when it does not; other errors (no permission) throw. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Writes `data` to `path` atomically, creating the folder when `mkdir` is set. */
export async function writeAtomic(
  path: string,
  data: string | Uint8Array,
  opts: { mkdir?: boolean } = {},
): Promise<void> {
  const slash = path.lastIndexOf("/");
  if (opts.mkdir && slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
  // The process id keeps two writers of the same file from sharing a temporary file.
  const tmp = `${path}.${Deno.pid}.tmp`;
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

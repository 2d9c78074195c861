/**
 * Where the project's data and outputs live. The library computes no path
 * from its own location: data (MNIST CSVs, CelebA HDF5, classifier
 * checkpoints) defaults to `data/` and outputs (charts, runs) to `out/` at the
 * repository root, found by walking up from the current directory to the
 * folder that holds `deno.json` (so notebooks, which run in `notebooks/`,
 * find the same folders as scripts run from the root). `GAN_DATA_DIR` and
 * `GAN_OUT_DIR` move them; every function that takes a path also takes
 * another one.
 * @module
 */
import { dirname, isAbsolute, join, resolve } from "node:path";
import { QUICK } from "./quick.ts";

/** Environment variable that moves the data folder (default `data/` at the repository root). */
export const DATA_DIR_ENV = "GAN_DATA_DIR";
/** Environment variable that moves the output folder (default `out/` at the repository root). */
export const OUT_DIR_ENV = "GAN_OUT_DIR";

function granted(desc: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(desc).state === "granted";
  } catch {
    return false;
  }
}

function currentDir(): string | undefined {
  if (!granted({ name: "read" })) return undefined;
  try {
    return Deno.cwd();
  } catch {
    return undefined;
  }
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * The repository root: the nearest folder at or above `from` (default: the
 * current directory) that holds `deno.json`, else `from` itself. Without
 * read permission it is "." (paths stay relative to the current directory).
 */
export function repoRoot(from?: string): string {
  const start = from ?? currentDir();
  if (start === undefined) return ".";
  let dir = resolve(start);
  for (;;) {
    if (isFile(join(dir, "deno.json"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return resolve(start);
    dir = parent;
  }
}

function fromEnv(name: string): string | undefined {
  if (!granted({ name: "env", variable: name })) return undefined;
  const v = Deno.env.get(name);
  return v ? v : undefined;
}

function folder(env: string, name: string): string {
  const set = fromEnv(env);
  if (set === undefined) return join(repoRoot(), name);
  return isAbsolute(set) ? set : resolve(currentDir() ?? ".", set);
}

/** The data folder: `$GAN_DATA_DIR`, else `data/` at the repository root. */
export function dataDir(): string {
  return folder(DATA_DIR_ENV, "data");
}

/** The output folder: `$GAN_OUT_DIR`, else `out/` at the repository root. */
export function outDir(): string {
  return folder(OUT_DIR_ENV, "out");
}

/** A file or folder inside the data folder. */
export function dataPath(...parts: string[]): string {
  return join(dataDir(), ...parts);
}

/** A file or folder inside the output folder. */
export function outPath(...parts: string[]): string {
  return join(outDir(), ...parts);
}

/**
 * The one MNIST classifier checkpoint: what `deno task train-classifier` writes
 * and what the GAN quality metrics load (or train on first use):
 * `data/classifier.ckpt`, or `data/classifier_quick.ckpt` in quick mode so
 * quick and full never mix.
 */
export function classifierCheckpoint(quick: boolean = QUICK): string {
  return dataPath(quick ? "classifier_quick.ckpt" : "classifier.ckpt");
}

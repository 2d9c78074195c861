/**
 * Shows results the same way in a notebook and in a script: inside Deno's Jupyter
 * kernel `display()` sends the object's MIME bundle; in a script it prints a line, and
 * saves figures as SVG + PNG when `GAN_FIG_DIR` (or the `dir` option) names a folder.
 * @module
 */

/** Name of the environment variable that makes scripts save displayed figures. */
export const FIG_DIR_ENV = "GAN_FIG_DIR";

const DISPLAY = Symbol.for("Jupyter.display");

/** True when the code runs inside Deno's Jupyter kernel (`Deno.jupyter` works there only). */
export function isJupyter(): boolean {
  try {
    // Outside the kernel, reading Deno.jupyter throws in Deno 2.x.
    const jupyter = (Deno as { jupyter?: Partial<typeof Deno.jupyter> }).jupyter;
    return typeof jupyter?.broadcast === "function" &&
      typeof jupyter?.display === "function";
  } catch {
    return false;
  }
}

/** What `display()` needs from a figure to save it in a script. */
export interface Savable {
  /** Writes the figure's files, given a path without extension. */
  save(path: string): Promise<unknown>;
  /** Title used to name the files. */
  title?: string;
}

/** Options of {@link display}. */
export interface DisplayOptions {
  /** Folder for figures shown by scripts; default `$GAN_FIG_DIR`; unset: only print. */
  dir?: string;
  /** File name (no extension) for a saved figure; default `<counter>_<title>`. */
  name?: string;
  /** Jupyter display id: the first call shows the object, later calls replace it in place. */
  id?: string;
}

const shownIds = new Set<string>();
let counter = 0;

function envDir(): string | undefined {
  try {
    return Deno.env.get(FIG_DIR_ENV) || undefined;
  } catch {
    // No --allow-env: scripts just print.
    return undefined;
  }
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_|_$/g, "")
    .slice(0, 60);
}

function isSavable(obj: unknown): obj is Savable {
  return typeof (obj as Savable)?.save === "function" &&
    typeof (obj as Record<symbol, unknown>)[DISPLAY] === "function";
}

/** Plain-text form of an object, as Jupyter's `text/plain` would show it. */
export function textOf(obj: unknown): string {
  const show = (obj as Record<symbol, unknown> | null)?.[DISPLAY];
  if (typeof show === "function") {
    const bundle = show.call(obj) as Record<string, unknown>;
    if (typeof bundle?.["text/plain"] === "string") return bundle["text/plain"];
  }
  return typeof obj === "string" ? obj : Deno.inspect(obj, { colors: false });
}

/** Shows `obj` in Jupyter; in a script prints it, saving figures when a folder is set. */
export async function display(
  obj: unknown,
  options: DisplayOptions = {},
): Promise<void> {
  if (isJupyter()) {
    const { id } = options;
    const update = id !== undefined && shownIds.has(id);
    if (id !== undefined) shownIds.add(id);
    await Deno.jupyter.display(
      obj,
      id === undefined ? {} : { display_id: id, update },
    );
    return;
  }
  const dir = options.dir ?? envDir();
  if (dir && isSavable(obj)) {
    counter++;
    // A counter prefix keeps figures with the same title from overwriting each other.
    const numbered = `${String(counter).padStart(3, "0")}_${
      obj.title ? slug(obj.title) : "figure"
    }`;
    const base = `${dir}/${options.name ?? options.id ?? numbered}`;
    await obj.save(base);
    console.log(`${textOf(obj)} saved to ${base}.svg and .png`);
    return;
  }
  console.log(textOf(obj));
}

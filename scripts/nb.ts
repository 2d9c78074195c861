/**
 * Notebook tool: the .ipynb files are the source; this converts them to and
 * from a plain TypeScript "percent" form (cells start with `// %%`, markdown
 * cells with `// %% [markdown]` and `// ` prefixed lines, chart cells with
 * `// %% [chart]`), and type-checks their code, which `deno check` cannot
 * read from .ipynb directly.
 *
 *   deno task nb export notebooks/03_mnist_classifier.ipynb > /tmp/03.ts
 *   deno task nb build /tmp/03.ts notebooks/03_mnist_classifier.ipynb
 *   deno task nb check [notebooks/*.ipynb]   (formatting, then types)
 *   deno task nb fmt [notebooks/*.ipynb]     (formats in place)
 * @module
 */
// The one file, not lib/data/mod.ts: that loads the HDF5 library, which needs --allow-env.
import { writeAtomic } from "../lib/data/atomic.ts";

interface Cell {
  id?: string;
  cell_type: "code" | "markdown";
  metadata: { tags?: string[] };
  source: string[];
  outputs?: unknown[];
  execution_count?: number | null;
}

interface Notebook {
  cells: Cell[];
  metadata: Record<string, unknown>;
  nbformat: number;
  nbformat_minor: number;
}

/** Deno's kernelspec, as `deno jupyter --install` registers it. */
export const DENO_METADATA = {
  kernelspec: { display_name: "Deno", language: "typescript", name: "deno" },
  language_info: {
    codemirror_mode: "typescript",
    file_extension: ".ts",
    mimetype: "text/x.typescript",
    name: "typescript",
    nbconvert_exporter: "script",
    pygments_lexer: "typescript",
  },
};

const toLines = (text: string): string[] => {
  const lines = text.split("\n");
  return lines.map((l, i) => (i < lines.length - 1 ? l + "\n" : l)).filter((
    l,
  ) => l !== "");
};

/** Parses the percent form into an output-free notebook. */
export function fromPercent(text: string): Notebook {
  const cells: Cell[] = [];
  let cur:
    | { kind: "code" | "markdown"; tags: string[]; lines: string[] }
    | null = null;
  const flush = () => {
    if (!cur) return;
    while (cur.lines.length && cur.lines[cur.lines.length - 1].trim() === "") {
      cur.lines.pop();
    }
    while (cur.lines.length && cur.lines[0].trim() === "") cur.lines.shift();
    const source = toLines(cur.lines.join("\n"));
    if (cur.kind === "markdown") {
      cells.push({ cell_type: "markdown", metadata: {}, source });
    } else {
      cells.push({
        cell_type: "code",
        metadata: cur.tags.length ? { tags: cur.tags } : {},
        source,
        outputs: [],
        execution_count: null,
      });
    }
  };
  for (const line of text.split("\n")) {
    const m = line.match(/^\/\/ %%\s*(?:\[(\w+)\])?\s*$/);
    if (m) {
      flush();
      const tag = m[1];
      cur = tag === "markdown"
        ? { kind: "markdown", tags: [], lines: [] }
        : { kind: "code", tags: tag ? [tag] : [], lines: [] };
      continue;
    }
    if (!cur) {
      if (line.trim() === "") continue;
      throw new Error(`Text before the first "// %%" cell marker: ${line}`);
    }
    cur.lines.push(
      cur.kind === "markdown" ? line.replace(/^\/\/ ?/, "") : line,
    );
  }
  flush();
  // nbformat 4.5 wants a unique id per cell; stable ones keep diffs clean.
  cells.forEach((c, i) => (c.id = `cell-${i}`));
  return { cells, metadata: DENO_METADATA, nbformat: 4, nbformat_minor: 5 };
}

/** Writes a notebook in the percent form. */
export function toPercent(nb: Notebook): string {
  const out: string[] = [];
  for (const cell of nb.cells) {
    const src = cell.source.join("");
    if (cell.cell_type === "markdown") {
      out.push(
        "// %% [markdown]",
        ...src.split("\n").map((l) => (l ? `// ${l}` : "//")),
        "",
      );
    } else {
      const tag = cell.metadata.tags?.[0];
      out.push(tag ? `// %% [${tag}]` : "// %%", src, "");
    }
  }
  return out.join("\n");
}

/** Code cells joined into one module, for `deno check`. */
export function codeOf(nb: Notebook): string {
  return nb.cells.filter((c) => c.cell_type === "code").map((c) => c.source.join("")).join("\n\n") +
    "\n";
}

/**
 * Whether `deno fmt` would leave the notebook as it is. Deno 2.9.6's `deno fmt --check` reports
 * every notebook with a markdown cell or a language set as unformatted even when `deno fmt` leaves
 * it byte for byte unchanged, so deno.json excludes notebooks from fmt and this formats each
 * from stdin and compares.
 */
async function formatted(path: string): Promise<boolean> {
  const text = await Deno.readTextFile(path);
  return (await fmtText(text)) === text;
}

/** The notebook as `deno fmt` formats it (through stdin, which the exclude does not apply to). */
async function fmtText(text: string): Promise<string> {
  const child = new Deno.Command("deno", {
    args: ["fmt", "--ext=ipynb", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  if (code !== 0) throw new Error(`deno fmt failed: ${new TextDecoder().decode(stderr)}`);
  return new TextDecoder().decode(stdout);
}

async function check(paths: string[]): Promise<number> {
  const unformatted = [];
  for (const p of paths) if (!(await formatted(p))) unformatted.push(p);
  if (unformatted.length) {
    console.error(`not formatted (run deno task nb fmt): ${unformatted.join(", ")}`);
    return 1;
  }
  const dir = await Deno.makeTempDir({ dir: "notebooks", prefix: ".check_" });
  try {
    const files: string[] = [];
    for (const p of paths) {
      const nb: Notebook = JSON.parse(await Deno.readTextFile(p));
      const name = p.split("/").pop()!.replace(/\.ipynb$/, ".ts");
      // Same folder depth as the notebook, so its relative imports resolve.
      const file = `${dir}/${name}`;
      await Deno.writeTextFile(file, codeOf(nb).replaceAll('"../', '"../../'));
      files.push(file);
    }
    const { code } = await new Deno.Command("deno", {
      args: ["check", ...files],
    }).spawn().status;
    return code;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const [cmd, ...args] = Deno.args;
  if (cmd === "export" && args.length === 1) {
    console.log(toPercent(JSON.parse(await Deno.readTextFile(args[0]))));
  } else if (cmd === "build" && args.length === 2) {
    const nb = fromPercent(await Deno.readTextFile(args[0]));
    await writeAtomic(args[1], JSON.stringify(nb, null, 1) + "\n");
  } else if (cmd === "check" || cmd === "fmt") {
    const paths = args.length ? args : [...Deno.readDirSync("notebooks")]
      .filter((e) => e.name.endsWith(".ipynb")).map((e) => `notebooks/${e.name}`).sort();
    if (cmd === "check") Deno.exit(await check(paths));
    for (const p of paths) {
      const text = await Deno.readTextFile(p), done = await fmtText(text);
      if (done !== text) await writeAtomic(p, done);
    }
  } else {
    console.error(
      "usage: nb.ts export NB.ipynb | build SRC.ts NB.ipynb | check [NB.ipynb...] | fmt [NB.ipynb...]",
    );
    Deno.exit(2);
  }
}

/**
 * Runs the notebooks in notebooks/ in quick mode (`GAN_QUICK=1`) through
 * scripts/run_notebooks.py, one kernel per notebook, and reports each notebook as a test
 * step: what tests/notebooks_test.ts does on the default backend and
 * tests/notebooks_webgpu_test.ts on webgpu. Needs Jupyter and Deno's kernel
 * (`bash scripts/setup.sh`).
 * @module
 */
import assert from "node:assert/strict";

/** The repository root. */
export const ROOT: string = new URL("..", import.meta.url).pathname;
const PYTHON = "/usr/bin/python3";
const SETUP_HINT = "Jupyter or Deno's kernel is not set up: run `bash scripts/setup.sh`";

/** One notebook's result in the runner's report. */
export interface NotebookResult {
  name: string;
  path: string;
  ok: boolean;
  seconds: number;
  errors: string[];
}

/** Options of {@link runNotebooksQuick}. */
export interface RunOptions {
  /** Folder for the executed copies and the report, relative to the repository root. */
  out: string;
  /** Seconds one cell may run before it fails. */
  cellTimeoutS: number;
  /** Extra environment for the kernels (the runner passes its own on). */
  env?: Record<string, string>;
  /** Notebook file names in notebooks/ (default: all). */
  notebooks?: string[];
}

/** The .ipynb files in notebooks/, sorted. */
export function listNotebooks(): string[] {
  const names: string[] = [];
  for (const entry of Deno.readDirSync(`${ROOT}notebooks`)) {
    if (entry.isFile && entry.name.endsWith(".ipynb")) names.push(entry.name);
  }
  return names.sort();
}

/**
 * Runs the notebooks in quick mode and checks each as a step of `t`: it ran without errors
 * and every cell tagged "chart" showed an image. Returns the runner's results.
 */
export async function runNotebooksQuick(
  t: Deno.TestContext,
  opts: RunOptions,
): Promise<NotebookResult[]> {
  const notebooks = opts.notebooks ?? listNotebooks();
  if (notebooks.length === 0) return [];
  const out = `${ROOT}${opts.out}`;
  await Deno.mkdir(out, { recursive: true });
  const report = `${out}/report.json`;
  await Deno.remove(report).catch(() => {});
  let result: Deno.CommandOutput;
  try {
    result = await new Deno.Command(PYTHON, {
      args: [
        `${ROOT}scripts/run_notebooks.py`,
        "--quick",
        "--no-html",
        "--timeout",
        String(opts.cellTimeoutS),
        "--out",
        out,
        "--report",
        report,
        ...notebooks.map((n) => `${ROOT}notebooks/${n}`),
      ],
      cwd: ROOT,
      env: opts.env,
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      assert.fail(`${PYTHON} is missing; ${SETUP_HINT}`);
    }
    throw e;
  }
  const stdout = new TextDecoder().decode(result.stdout);
  const stderr = new TextDecoder().decode(result.stderr);
  if (result.code === 2 || /kernel "deno" is not installed/.test(stderr)) {
    assert.fail(`${SETUP_HINT}\n${stderr}`);
  }
  const parsed: { notebooks: NotebookResult[] } | undefined = await Deno.readTextFile(report)
    .then(JSON.parse, () => undefined);
  assert.ok(
    parsed,
    `the runner wrote no report (exit ${result.code})\n${stdout}\n${stderr}`,
  );
  for (const name of notebooks) {
    const r = parsed.notebooks.find((n) => n.path.endsWith(`/${name}`));
    await t.step(name, () => {
      assert.ok(r, `no result for ${name}\n${stdout}\n${stderr}`);
      assert.ok(
        r.ok,
        `${r.errors.join("\n")}\n(executed copy: ${opts.out}/${r.name}.ipynb)`,
      );
    });
  }
  assert.equal(result.code, 0, `${stdout}\n${stderr}`);
  return parsed.notebooks;
}

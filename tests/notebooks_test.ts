/**
 * Runs every notebook in notebooks/ in quick mode (`GAN_QUICK=1`) through
 * scripts/run_notebooks.py, one kernel per notebook, and reports each notebook as a step.
 * Executed copies go to out/notebooks_quick/ for a look when one fails.
 * Needs Jupyter and Deno's kernel (`bash scripts/setup.sh`).
 * @module
 */
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname;
const PYTHON = "/usr/bin/python3";
const OUT = `${ROOT}out/notebooks_quick`;
/** Seconds one cell may run in quick mode before it fails. */
const CELL_TIMEOUT_S = 300;
const SETUP_HINT = "Jupyter or Deno's kernel is not set up: run `bash scripts/setup.sh`";

interface Report {
  notebooks: {
    name: string;
    path: string;
    ok: boolean;
    seconds: number;
    errors: string[];
  }[];
}

function listNotebooks(): string[] {
  const names: string[] = [];
  for (const entry of Deno.readDirSync(`${ROOT}notebooks`)) {
    if (entry.isFile && entry.name.endsWith(".ipynb")) names.push(entry.name);
  }
  return names.sort();
}

Deno.test("every notebook runs in quick mode without errors", async (t) => {
  const notebooks = listNotebooks();
  if (notebooks.length === 0) return;
  await Deno.mkdir(OUT, { recursive: true });
  const report = `${OUT}/report.json`;
  await Deno.remove(report).catch(() => {});
  let result: Deno.CommandOutput;
  try {
    result = await new Deno.Command(PYTHON, {
      args: [
        `${ROOT}scripts/run_notebooks.py`,
        "--quick",
        "--no-html",
        "--timeout",
        String(CELL_TIMEOUT_S),
        "--out",
        OUT,
        "--report",
        report,
        ...notebooks.map((n) => `${ROOT}notebooks/${n}`),
      ],
      cwd: ROOT,
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
  const parsed: Report | undefined = await Deno.readTextFile(report).then(
    JSON.parse,
    () => {
      return undefined;
    },
  );
  assert.ok(
    parsed,
    `the runner wrote no report (exit ${result.code})\n${stdout}\n${stderr}`,
  );
  for (const name of notebooks) {
    await t.step(name, () => {
      const r = parsed.notebooks.find((n) => n.path.endsWith(`/${name}`));
      assert.ok(r, `no result for ${name}\n${stdout}\n${stderr}`);
      assert.ok(
        r.ok,
        `${r.errors.join("\n")}\n(executed copy: out/notebooks_quick/${r.name}.ipynb)`,
      );
    });
  }
  assert.equal(result.code, 0, `${stdout}\n${stderr}`);
});

/**
 * Self-test of scripts/run_notebooks.py on the tiny notebooks in tests/fixtures/.
 * Needs Jupyter and Deno's kernel (`bash scripts/setup.sh`).
 * @module
 */
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname;
const PYTHON = "/usr/bin/python3";
const RUNNER = `${ROOT}scripts/run_notebooks.py`;
const FIXTURES = `${ROOT}tests/fixtures`;
const SETUP_HINT = "Jupyter or Deno's kernel is not set up: run `bash scripts/setup.sh`";

interface Report {
  notebooks: { name: string; ok: boolean; seconds: number; errors: string[] }[];
}
interface Output {
  output_type: string;
  text?: string | string[];
  data?: Record<string, unknown>;
}
interface Notebook {
  cells: { outputs?: Output[] }[];
}

function spawnRunner(args: string[], env: Record<string, string> = {}) {
  try {
    return new Deno.Command(PYTHON, {
      args: [RUNNER, ...args],
      cwd: ROOT,
      env,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      assert.fail(`${PYTHON} is missing; ${SETUP_HINT}`);
    }
    throw e;
  }
}

async function runRunner(args: string[]) {
  const { code, stdout, stderr } = await spawnRunner(args).output();
  const out = new TextDecoder().decode(stdout);
  const err = new TextDecoder().decode(stderr);
  if (code === 2 || /kernel "deno" is not installed/.test(err)) {
    assert.fail(`${SETUP_HINT}\n${err}`);
  }
  return { code, out, err };
}

function text(outputs: Output[] = []): string {
  return outputs.map((o) => [o.text ?? ""].flat().join("")).join("");
}

async function readNotebook(path: string): Promise<Notebook> {
  return JSON.parse(await Deno.readTextFile(path));
}

Deno.test("run_notebooks.py runs fixtures, keeps late output and names failing cells", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "run_notebooks_test_" });
  try {
    const names = ["passes", "throws", "chart", "chart_missing", "progress"];
    const { code, out, err } = await runRunner([
      "--quick",
      "--timeout",
      "120",
      "--out",
      dir,
      "--report",
      `${dir}/report.json`,
      ...names.map((n) => `${FIXTURES}/${n}.ipynb`),
    ]);
    const report: Report = JSON.parse(
      await Deno.readTextFile(`${dir}/report.json`),
    );
    const result = (name: string) => {
      const r = report.notebooks.find((n) => n.name === name);
      assert.ok(r, `no result for ${name} in the report\n${out}\n${err}`);
      return r;
    };

    await t.step("exits 1 and prints one summary line per notebook", () => {
      assert.equal(code, 1, `${out}\n${err}`);
      for (const name of names) {
        assert.match(
          out,
          new RegExp(`^${name}: (ok|FAILED) in [0-9.]+ s$`, "m"),
        );
      }
    });

    await t.step(
      "passes: keeps output printed at the very end of a cell",
      async () => {
        const r = result("passes");
        assert.ok(r.ok, r.errors.join("\n"));
        const nb = await readNotebook(`${dir}/passes.ipynb`);
        const last = text(nb.cells[3].outputs);
        assert.match(last, /line 0\nline 1\nline 2\nLAST LINE OF CELL 3\n/);
        const result42 = nb.cells[2].outputs?.find((o) => o.output_type === "execute_result");
        assert.equal([result42?.data?.["text/plain"]].flat().join(""), "42");
        // The kernel ran in the notebook's folder, in quick mode, without colour codes.
        assert.match(
          text(nb.cells[1].outputs),
          /cwd tests\/fixtures\nquick true\n/,
        );
        assert.doesNotMatch(JSON.stringify(nb), /\\u001b\[/);
        const html = await Deno.readTextFile(`${dir}/passes.html`);
        assert.match(html, /LAST LINE OF CELL 3/);
      },
    );

    await t.step(
      "throws: fails naming the cell and the error, and stops there",
      async () => {
        const r = result("throws");
        assert.equal(r.ok, false);
        assert.match(
          r.errors.join("\n"),
          /throws: cell 1 \(throw new Error.*\) raised an error:/,
        );
        assert.match(r.errors.join("\n"), /Error: boom from the fixture/);
        assert.match(err, /boom from the fixture/);
        const nb = await readNotebook(`${dir}/throws.ipynb`);
        assert.deepEqual(nb.cells[2].outputs, []);
      },
    );

    await t.step(
      "chart: a chart-tagged cell that displays an SVG passes",
      async () => {
        const r = result("chart");
        assert.ok(r.ok, r.errors.join("\n"));
        const nb = await readNotebook(`${dir}/chart.ipynb`);
        assert.ok(nb.cells[0].outputs?.some((o) => o.data?.["image/svg+xml"]));
      },
    );

    await t.step(
      "chart_missing: a chart-tagged cell without an image fails",
      () => {
        const r = result("chart_missing");
        assert.equal(r.ok, false);
        assert.match(
          r.errors.join("\n"),
          /chart_missing: cell 0 .* tagged "chart" but displayed no/,
        );
      },
    );

    await t.step(
      "progress: the bar is one output updated in place",
      async () => {
        const r = result("progress");
        assert.ok(r.ok, r.errors.join("\n"));
        const nb = await readNotebook(`${dir}/progress.ipynb`);
        const displays = nb.cells[0].outputs!.filter((o) => o.output_type === "display_data");
        assert.equal(displays.length, 1);
        assert.match(String(displays[0].data?.["text/plain"]), /100%.*50\/50/);
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("run_notebooks.py fails a cell that runs past --timeout", async () => {
  const dir = await Deno.makeTempDir({ prefix: "run_notebooks_test_" });
  try {
    const { code, err } = await runRunner([
      "--no-html",
      "--timeout",
      "1",
      "--out",
      dir,
      `${FIXTURES}/sleeps.ipynb`,
    ]);
    assert.equal(code, 1);
    assert.match(err, /sleeps: cell 0 .* ran longer than 1 s; raise --timeout/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** True while process `pid` runs (Deno needs --allow-all to read /proc/<pid>: ask Python). */
async function processRunning(pid: number): Promise<boolean> {
  const check = "import sys\n" +
    "try:\n    state = open(f'/proc/{sys.argv[1]}/stat').read().rsplit(')', 1)[1].split()[0]\n" +
    "except OSError:\n    sys.exit(1)\n" +
    "sys.exit(1 if state in 'ZX' else 0)";
  const { code } = await new Deno.Command(PYTHON, {
    args: ["-c", check, String(pid)],
  }).output();
  return code === 0;
}

Deno.test("run_notebooks.py shuts the kernel down on SIGTERM", async () => {
  const dir = await Deno.makeTempDir({ prefix: "run_notebooks_test_" });
  try {
    const pidFile = `${dir}/kernel.pid`;
    const child = spawnRunner([
      "--no-html",
      "--out",
      dir,
      `${FIXTURES}/sleeps.ipynb`,
    ], {
      FIXTURE_PID_FILE: pidFile,
    });
    let pid = 0;
    for (let i = 0; i < 300 && !pid; i++) {
      await new Promise((r) => setTimeout(r, 100));
      pid = Number(await Deno.readTextFile(pidFile).catch(() => "0"));
    }
    if (!pid) {
      child.kill("SIGKILL");
      const { stderr } = await child.output();
      assert.fail(
        `the kernel never started; ${SETUP_HINT}\n${new TextDecoder().decode(stderr)}`,
      );
    }
    assert.ok(await processRunning(pid), `kernel ${pid} is not running`);
    child.kill("SIGTERM");
    const { code } = await child.output();
    assert.equal(code, 128 + 15);
    for (let i = 0; i < 50 && await processRunning(pid); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(
      await processRunning(pid),
      false,
      `kernel ${pid} outlived the runner`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

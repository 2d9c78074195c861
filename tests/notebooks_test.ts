/**
 * Runs every notebook in notebooks/ in quick mode (`GAN_QUICK=1`) through
 * scripts/run_notebooks.py, one kernel per notebook, and reports each notebook as a step.
 * Executed copies go to out/notebooks_quick/ for a look when one fails.
 * Needs Jupyter and Deno's kernel (`bash scripts/setup.sh`).
 * @module
 */
import { runNotebooksQuick } from "./_notebook_runner.ts";

/** Seconds one cell may run in quick mode before it fails. */
const CELL_TIMEOUT_S = 300;

Deno.test("every notebook runs in quick mode without errors", async (t) => {
  await runNotebooksQuick(t, { out: "out/notebooks_quick", cellTimeoutS: CELL_TIMEOUT_S });
});

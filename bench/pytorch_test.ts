import assert from "node:assert/strict";
import { PYTHON, runPytorch, TORCH_REFERENCE, TORCH_REFERENCE_SOURCE } from "./pytorch.ts";

const canRun = (await Deno.permissions.query({ name: "run", command: PYTHON })).state ===
  "granted";

Deno.test("the stored PyTorch figures say where and when they were measured", () => {
  assert.match(TORCH_REFERENCE_SOURCE, /PyTorch 1\.13.*1 thread.*20\d\d-\d\d; not this run/);
  assert.doesNotMatch(TORCH_REFERENCE_SOURCE, /same machine/);
  for (const figure of Object.values(TORCH_REFERENCE)) assert.ok((figure.ms ?? 0) > 0);
});

Deno.test({
  name: "runPytorch() parses bench.py's lines, or says in one line why PyTorch cannot run",
  ignore: !canRun,
  async fn() {
    const run = await runPytorch(["classifier"], { quick: true });
    if ("error" in run) {
      assert.match(run.error, /setup\.sh --pytorch/);
      return;
    }
    assert.deepEqual(run.results.map((r) => r.bench), ["classifier_sgd", "classifier_adam"]);
    for (const r of run.results) {
      assert.ok(r.ms > 0 && r.threads === 1 && r.quick, JSON.stringify(r));
    }
  },
});

Deno.test({
  name: "runPytorch() without permission to run python says which flag it needs",
  ignore: canRun,
  async fn() {
    const run = await runPytorch(["classifier"]);
    assert.ok("error" in run && run.error.includes(`--allow-run=${PYTHON}`));
  },
});

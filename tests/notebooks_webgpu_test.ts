/**
 * Runs every notebook in notebooks/ in quick mode on the webgpu backend
 * (`TFJS_BACKEND=webgpu`, nothing else changed), through the runner tests/notebooks_test.ts
 * uses; part of `deno task test:webgpu`, not of `deno task test`. Executed copies go to
 * out/notebooks_webgpu/. Skipped when this machine has no WebGPU adapter
 * (`bash scripts/setup.sh --webgpu` installs Mesa's software one). On that software adapter
 * (llvmpipe, 2 shared cores) the run took 31 min in December 2026, 14 and 15 (the
 * convolutional face GANs) 8.6 min each: convolutions at the book's size take tens of seconds
 * a training step there.
 * Needs Jupyter and Deno's kernel (`bash scripts/setup.sh`).
 * @module
 */
import assert from "node:assert/strict";
import { ROOT, runNotebooksQuick } from "./_notebook_runner.ts";

/** Where the executed copies go, relative to the repository root. */
const OUT = "out/notebooks_webgpu";

/** Seconds one cell may run before it fails (llvmpipe runs TF.js's conv shaders slowly). */
const CELL_TIMEOUT_S = 900;

const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
const adapter = gpu ? await gpu.requestAdapter().catch(() => null) : null;

Deno.test({
  name: "every notebook runs in quick mode on the webgpu backend",
  ignore: !adapter,
  fn: async (t) => {
    const results = await runNotebooksQuick(t, {
      out: OUT,
      cellTimeoutS: CELL_TIMEOUT_S,
      env: {
        TFJS_BACKEND: "webgpu",
        // Mesa's Vulkan drivers look for a runtime directory.
        XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp",
      },
    });
    // WebGPU drops invalid work (a buffer bound over the adapter's limit, say) and initBackend()
    // prints "webgpu error" for it: results after that are wrong even if no cell failed.
    const dropped = [];
    for (const r of results) {
      const text = await Deno.readTextFile(`${ROOT}${OUT}/${r.name}.ipynb`);
      if (text.includes("webgpu error")) dropped.push(r.name);
    }
    assert.deepEqual(dropped, [], `webgpu dropped work in ${dropped.join(", ")}`);
    const total = results.reduce((s, r) => s + r.seconds, 0);
    console.log(
      results.map((r) => `${r.name}: ${r.ok ? "ok" : "FAILED"} in ${r.seconds} s`).join("\n") +
        `\ntotal ${(total / 60).toFixed(1)} min on webgpu`,
    );
  },
});

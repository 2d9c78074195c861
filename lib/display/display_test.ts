import assert from "node:assert/strict";
import { display, isJupyter, textOf } from "./display.ts";
import { barChart } from "./plot.ts";

async function captured(f: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    await f();
  } finally {
    console.log = log;
  }
  return lines;
}

Deno.test("isJupyter() is false outside the kernel, where Deno.jupyter throws", () => {
  assert.equal(isJupyter(), false);
});

Deno.test("display() prints the text form of figures and plain values in a script", async () => {
  const lines = await captured(async () => {
    await display(barChart([0.5], { title: "Out" }), { dir: "" });
    await display({ accuracy: 0.97 });
    await display("done");
  });
  assert.match(lines[0], /^Figure 480x\d+ SVG "Out"$/);
  assert.deepEqual(lines.slice(1), ["{ accuracy: 0.97 }", "done"]);
});

Deno.test("display() saves figures with a counter name when a folder is given", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await captured(async () => {
      await display(barChart([0.5], { title: "Classifier output" }), { dir });
      await display(barChart([0.5], { title: "Classifier output" }), { dir });
    });
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.equal(names.length, 4);
    assert.match(
      names.join(" "),
      /^(\d{3})_classifier_output\.png \1_classifier_output\.svg (\d{3})_classifier_output\.png \2_classifier_output\.svg$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("textOf() uses a Jupyter bundle's text/plain", () => {
  assert.equal(textOf(barChart([1])), "Figure 480x320 SVG");
});

// The committed notebooks are sources: no outputs, a unique id per cell, Deno's kernel.
import assert from "node:assert/strict";

const dir = new URL("../notebooks/", import.meta.url);
const names = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".ipynb"))
  .sort();

Deno.test("every notebook is committed without outputs, with cell ids and the Deno kernel", () => {
  assert.ok(names.length >= 21, `found ${names.length} notebooks`);
  for (const name of names) {
    const nb = JSON.parse(Deno.readTextFileSync(new URL(name, dir)));
    assert.equal(nb.metadata.kernelspec?.name, "deno", `${name}: kernelspec`);
    const ids = new Set<string>();
    for (const [i, cell] of nb.cells.entries()) {
      assert.ok(typeof cell.id === "string" && !ids.has(cell.id), `${name}: cell ${i} id`);
      ids.add(cell.id);
      if (cell.cell_type === "code") {
        assert.deepEqual(cell.outputs, [], `${name}: cell ${i} has outputs`);
        assert.equal(cell.execution_count, null, `${name}: cell ${i} execution count`);
      }
    }
  }
});

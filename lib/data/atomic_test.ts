import assert from "node:assert/strict";
import { exists, writeAtomic } from "./atomic.ts";

Deno.test("writeAtomic() replaces a file whole and leaves no temporary file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeAtomic(`${dir}/sub/a.txt`, "first", { mkdir: true });
    await writeAtomic(`${dir}/sub/a.txt`, new TextEncoder().encode("second"));
    assert.equal(await Deno.readTextFile(`${dir}/sub/a.txt`), "second");
    assert.deepEqual([...Deno.readDirSync(`${dir}/sub`)].map((e) => e.name), ["a.txt"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeAtomic() fails cleanly when the folder is missing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(writeAtomic(`${dir}/missing/a.txt`, "x"), Deno.errors.NotFound);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exists() tells a present path from a missing one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await exists(dir), true);
    assert.equal(await exists(`${dir}/missing.txt`), false);
    await Deno.writeTextFile(`${dir}/here.txt`, "x");
    assert.equal(await exists(`${dir}/here.txt`), true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

import assert from "node:assert/strict";
import {
  CsvError,
  forEachCsvRow,
  parseNumericCsv,
  readNumericCsv,
  readTextLines,
  toNumber,
} from "./csv.ts";

async function withTempFile(
  text: string,
  fn: (path: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "csv_test_" });
  try {
    const path = `${dir}/data.csv`;
    await Deno.writeTextFile(path, text);
    await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function rowsOf(text: string, opts = {}): string[][] {
  const rows: string[][] = [];
  forEachCsvRow(text, (fields) => rows.push([...fields]), opts);
  return rows;
}

Deno.test("forEachCsvRow() yields rows and accepts a final newline", () => {
  assert.deepEqual(rowsOf("1,2\n3,4\n"), [["1", "2"], ["3", "4"]]);
  assert.deepEqual(rowsOf("1,2\r\n3,4"), [["1", "2"], ["3", "4"]]);
  assert.deepEqual(rowsOf('"1",2\n3,"4"\n\n'), [["1", "2"], ["3", "4"]]);
});

Deno.test("forEachCsvRow() stops after limit rows", () => {
  assert.deepEqual(rowsOf("1\n2\n3\n", { limit: 2 }), [["1"], ["2"]]);
  assert.deepEqual(rowsOf("1\n2\n", { limit: 0 }), []);
});

Deno.test("forEachCsvRow() names file and line for a wrong column count", () => {
  assert.throws(
    () => rowsOf("1,2,3\n4,5,6\n7,8\n", { file: "bad.csv" }),
    (e: unknown) =>
      e instanceof CsvError && e.line === 3 && e.file === "bad.csv" &&
      /Wrong column count in bad.csv line 3: expected 3, found 2/.test(
        e.message,
      ),
  );
  assert.throws(
    () => rowsOf("1,2\n", { columns: 3 }),
    /line 1: expected 3, found 2/,
  );
});

Deno.test("forEachCsvRow() rejects a blank line between rows", () => {
  assert.throws(
    () => rowsOf("1\n\n2\n", { file: "f.csv" }),
    /Empty line in f.csv line 2/,
  );
  assert.throws(
    () => rowsOf("1\n2\n\n", { file: "f.csv", trailingBlankLines: false }),
    /Empty line in f.csv line 3/,
  );
});

Deno.test("forEachCsvRow() counts lines from firstLine", () => {
  assert.throws(() => rowsOf("1,2\n3\n", { firstLine: 101 }), /line 102/);
});

Deno.test("toNumber() rejects blanks, words and infinities", () => {
  const where = { file: "x.csv", line: 7 };
  assert.equal(toNumber("12.5", where), 12.5);
  assert.equal(toNumber("0", where), 0);
  for (const bad of ["", " ", "abc", "1e999", "Infinity"]) {
    assert.throws(
      () => toNumber(bad, where, { column: 3 }),
      /Not a number in x.csv line 7, column 3/,
    );
  }
});

Deno.test("parseNumericCsv() packs numbers row-major", () => {
  const csv = parseNumericCsv("1,2,3\n4,5,6.5\n");
  assert.equal(csv.rows, 2);
  assert.equal(csv.columns, 3);
  assert.deepEqual(Array.from(csv.values), [1, 2, 3, 4, 5, 6.5]);
  assert.deepEqual(parseNumericCsv("").values.length, 0);
});

Deno.test("parseNumericCsv() names file, line and column of a non-number", () => {
  assert.throws(
    () => parseNumericCsv("1,2\n3,x\n", { file: "n.csv" }),
    (e: unknown) =>
      e instanceof CsvError && e.line === 2 &&
      /n.csv line 2, column 2: "x"/.test(e.message),
  );
  assert.throws(
    () => parseNumericCsv("1,2\n3,\n", { file: "n.csv" }),
    /line 2, column 2: ""/,
  );
});

Deno.test("readTextLines() stops after the requested line", async () => {
  await withTempFile("a\nb\nc\n", async (path) => {
    assert.equal(await readTextLines(path, 2), "a\nb\n");
    assert.equal(await readTextLines(path, 10), "a\nb\nc\n");
    assert.equal(await readTextLines(path, Infinity), "a\nb\nc\n");
  });
});

Deno.test("readNumericCsv() gives the same numbers on one thread and on several", async () => {
  const lines = Array.from(
    { length: 500 },
    (_, i) => `${i},${i % 7},${(i * 0.25).toFixed(2)}`,
  );
  await withTempFile(lines.join("\n") + "\n", async (path) => {
    const one = await readNumericCsv(path, { threads: 1 });
    const three = await readNumericCsv(path, { threads: 3 });
    assert.equal(one.rows, 500);
    assert.equal(three.rows, 500);
    assert.equal(three.columns, 3);
    assert.deepEqual(three.values, one.values);
    const limited = await readNumericCsv(path, { limit: 4, threads: 3 });
    assert.deepEqual(Array.from(limited.values), [
      0,
      0,
      0,
      1,
      1,
      0.25,
      2,
      2,
      0.5,
      3,
      3,
      0.75,
    ]);
  });
});

Deno.test("readNumericCsv() reports the file line of an error found by a worker", async () => {
  const lines = Array.from({ length: 300 }, (_, i) => `${i},1`);
  lines[250] = "250,oops";
  await withTempFile(lines.join("\n") + "\n", async (path) => {
    await assert.rejects(
      () => readNumericCsv(path, { threads: 2 }),
      (e: unknown) =>
        e instanceof CsvError && e.line === 251 &&
        e.message.includes(`${path} line 251, column 2`),
    );
  });
  const blank = Array.from({ length: 300 }, (_, i) => `${i},1`);
  blank[150] = "";
  await withTempFile(blank.join("\n") + "\n", async (path) => {
    await assert.rejects(
      () => readNumericCsv(path, { threads: 2 }),
      /Empty line in .* line 151/,
    );
  });
});

Deno.test("readNumericCsv() on several threads reports a blank first line", async () => {
  await withTempFile("\n1,2\n3,4\n", async (path) => {
    await assert.rejects(() => readNumericCsv(path, { threads: 2 }), /Empty line in .* line 1/);
  });
});

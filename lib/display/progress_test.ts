import assert from "node:assert/strict";
import {
  barString,
  detectMode,
  eta,
  formatBar,
  formatDuration,
  formatLine,
  formatNumber,
  formatRate,
  inJupyter,
  lineStep,
  progress,
  progressBar,
  rate,
} from "./progress.ts";

/** A fake clock and a capture of what the bar writes. */
function fakeOutput() {
  const out: string[] = [];
  let t = 0;
  return {
    out,
    advance(ms: number) {
      t += ms;
    },
    opts: { now: () => t, write: (s: string) => void out.push(s) },
  };
}

Deno.test("formatNumber() keeps 4 significant digits and leaves integers alone", () => {
  assert.equal(formatNumber(Math.LN2), "0.6931");
  assert.equal(formatNumber(0.25), "0.25");
  assert.equal(formatNumber(1234.5678), "1235");
  assert.equal(formatNumber(60000), "60000");
  assert.equal(formatNumber(1.23456e-7), "1.235e-7");
  assert.equal(formatNumber(-0.012345), "-0.01235");
  assert.equal(formatNumber(NaN), "NaN");
  assert.equal(formatNumber("adam"), "adam");
});

Deno.test("formatDuration() writes m:ss, h:mm:ss, and ? when unknown", () => {
  assert.equal(formatDuration(0), "0:00");
  assert.equal(formatDuration(65.4), "1:05");
  assert.equal(formatDuration(3723), "1:02:03");
  assert.equal(formatDuration(NaN), "?");
  assert.equal(formatDuration(Infinity), "?");
});

Deno.test("rate() and formatRate() give it/s, or s/it when slow", () => {
  assert.equal(rate(500, 2), 250);
  assert.ok(Number.isNaN(rate(5, 0)));
  assert.equal(formatRate(1234.567), "1235 it/s");
  assert.equal(formatRate(0.4), "2.5 s/it");
  assert.equal(formatRate(NaN), "? it/s");
});

Deno.test("eta() extrapolates the average rate and is NaN before the first item", () => {
  assert.equal(eta(250, 1000, 10), 30);
  assert.equal(eta(1000, 1000, 10), 0);
  assert.ok(Number.isNaN(eta(0, 1000, 10)));
  assert.ok(Number.isNaN(eta(10, NaN, 10)));
  // Resumed at 200: 50 new items in 10 s leaves 750 at 5 per second.
  assert.equal(eta(250, 1000, 10, 200), 150);
  assert.ok(Number.isNaN(eta(200, 1000, 10, 200)));
});

Deno.test("progressBar() resumed with `initial` counts only the new items in its rate", () => {
  const f = fakeOutput();
  const bar = progressBar(1000, { ...f.opts, mode: "lines", initial: 200 });
  f.advance(10_000);
  bar.update(250);
  bar.done();
  const last = f.out.at(-1)!;
  assert.match(last, /250\/1000 \(25%\), 5 it\/s, elapsed 0:10, ETA 2:30/);
});

Deno.test("barString() fills the width in eighths of a block", () => {
  assert.equal(barString(0, 10), " ".repeat(10));
  assert.equal(barString(1, 10), "█".repeat(10));
  assert.equal(barString(0.5, 10), "█████     ");
  assert.equal(barString(0.55, 10), "█████▌    ");
  assert.equal(barString(2, 4), "████");
  for (const f of [0, 0.01, 0.33, 0.999, 1]) {
    assert.equal(barString(f, 7).length, 7);
  }
});

Deno.test("formatBar() shows percent, count, elapsed<ETA, rate and info", () => {
  const line = formatBar(
    {
      n: 450,
      total: 1000,
      elapsed: 5,
      label: "epoch 1",
      info: { loss: 0.693147, epoch: 1 },
    },
    10,
  );
  assert.equal(
    line,
    "epoch 1  45%|████▌     | 450/1000 [0:05<0:06, 90 it/s] loss=0.6931, epoch=1",
  );
  assert.equal(
    formatBar({ n: 7, total: NaN, elapsed: 2 }),
    "7 [0:02, 3.5 it/s]",
  );
});

Deno.test("formatLine() writes a plain log line", () => {
  assert.equal(
    formatLine({
      n: 100,
      total: 1000,
      elapsed: 10,
      label: "GAN",
      info: { loss: 0.25 },
    }),
    "GAN: 100/1000 (10%), 10 it/s, elapsed 0:10, ETA 1:30, loss=0.25",
  );
});

Deno.test("lineStep() counts tenths of the total, or powers of ten without one", () => {
  assert.deepEqual(
    [0, 1, 99, 100, 199, 999, 1000].map((n) => lineStep(n, 1000)),
    [
      0,
      0,
      0,
      1,
      1,
      9,
      10,
    ],
  );
  assert.deepEqual([0, 1, 9, 10, 100].map((n) => lineStep(n, NaN)), [
    0,
    1,
    1,
    2,
    3,
  ]);
});

Deno.test("progressBar() in lines mode prints about every 10 % and once at the end", () => {
  const f = fakeOutput();
  const bar = progressBar(1000, { ...f.opts, mode: "lines", label: "train" });
  for (let i = 0; i < 1000; i++) {
    f.advance(1);
    bar.tick({ loss: 0.5 });
  }
  bar.done();
  bar.done();
  // 1 (first item) + 10 (10 %, 20 %, ..., 100 %); done() adds nothing at 100 %.
  assert.equal(f.out.length, 11);
  assert.ok(f.out.every((s) => s.endsWith("\n") && !s.includes("\r")));
  assert.equal(
    f.out.at(-1),
    "train: 1000/1000 (100%), 1000 it/s, elapsed 0:01, ETA 0:00, loss=0.5\n",
  );
});

Deno.test("progressBar() in lines mode prints the final count when stopped early", () => {
  const f = fakeOutput();
  const bar = progressBar(1000, { ...f.opts, mode: "lines" });
  bar.update(150);
  bar.update(170);
  bar.done();
  assert.equal(f.out.length, 2);
  assert.match(f.out[0], /^150\/1000 \(15%\)/);
  assert.match(f.out[1], /^170\/1000 \(17%\)/);
});

Deno.test("progressBar() in tty mode redraws one line at most every 100 ms", () => {
  const f = fakeOutput();
  const bar = progressBar(100, { ...f.opts, mode: "tty", width: 10 });
  for (let i = 0; i < 100; i++) {
    f.advance(10); // 1 s in all: about 10 redraws
    bar.tick();
  }
  bar.done();
  assert.ok(f.out.length >= 9 && f.out.length <= 12, `${f.out.length} redraws`);
  assert.ok(f.out.every((s) => s.startsWith("\r")));
  assert.ok(f.out.slice(0, -1).every((s) => !s.includes("\n")));
  assert.match(f.out.at(-1)!, /100%\|██████████\| 100\/100 .*\n$/);
});

Deno.test("progress() counts a number range and an array, also on break", () => {
  const f = fakeOutput();
  assert.deepEqual([...progress(3, { ...f.opts, mode: "lines" })], [0, 1, 2]);
  assert.match(f.out.at(-1)!, /^3\/3 \(100%\)/);

  const g = fakeOutput();
  for (
    const x of progress(["a", "b", "c", "d"], { ...g.opts, mode: "lines" })
  ) {
    if (x === "b") break;
  }
  assert.match(g.out.at(-1)!, /^1\/4 \(25%\)/);
});

Deno.test("inJupyter() is false outside the kernel, where Deno.jupyter throws", () => {
  assert.equal(inJupyter(), false);
  assert.notEqual(detectMode(), "jupyter");
});

Deno.test("progressBar() in off mode writes nothing", () => {
  const f = fakeOutput();
  const bar = progressBar(10, { ...f.opts, mode: "off" });
  bar.tick();
  bar.done();
  assert.deepEqual(f.out, []);
});

Deno.test("formatBar() leaves out info values that are not known yet", () => {
  const line = formatBar({
    n: 1,
    total: 10,
    elapsed: 1,
    label: "epoch",
    info: { D: undefined, G: 0.5 },
  });
  assert.ok(!line.includes("D="), line);
  assert.ok(!line.includes("NaN"), line);
  assert.ok(line.includes("G=0.5"), line);
});

import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import * as Plot from "@observablehq/plot";
import {
  barChart,
  Figure,
  figure,
  imageGrid,
  imshow,
  JUPYTER_DISPLAY,
  linePlot,
  plotProgress,
  values,
} from "./plot.ts";
import { decodePng, type PngImage } from "./png.ts";

await tf.setBackend("cpu");

const XMLNS = 'xmlns="http://www.w3.org/2000/svg"';
const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;

function embedded(svg: string): PngImage[] {
  return [...svg.matchAll(/href="data:image\/png;base64,([^"]+)"/g)].map((m) =>
    decodePng(Uint8Array.from(atob(m[1]), (c) => c.charCodeAt(0)))
  );
}

function pixel(img: PngImage, x: number, y: number): number[] {
  const i = (y * img.width + x) * img.channels;
  return Array.from(img.data.subarray(i, i + 3));
}

Deno.test("plotProgress() draws one faint dot per value with the book's ticks", () => {
  const fig = plotProgress(Array.from({ length: 100 }, (_, i) => 1 / (i + 1)));
  assert.ok(fig.svg.startsWith("<svg") && fig.svg.includes(XMLNS));
  assert.equal(count(fig.svg, /<circle/g), 100);
  assert.match(fig.svg, /fill-opacity="0.1"/);
  for (const t of ["0.00", "0.25", "0.50"]) {
    assert.match(fig.svg, new RegExp(`>${t}<`));
  }
  assert.deepEqual([fig.width, fig.height], [800, 400]);
});

Deno.test("plotProgress() joins the faint dots with a faint line, like pandas' marker='.' plot", () => {
  const fig = plotProgress([0.7, 0.5, 0.6, 0.2]);
  const line = /<g [^>]*stroke-opacity="0.1"[^>]*stroke="#1f77b4" fill="none">\s*<path d="M[^"]*L/;
  assert.match(fig.svg, line, "a faint line through the points");
  assert.match(fig.svg, /fill-opacity="0.1"/);
  assert.equal(count(fig.svg, /<circle/g), 4);
  const dotsOnly = plotProgress([0.7, 0.5, 0.6, 0.2], { line: false });
  assert.doesNotMatch(dotsOnly.svg, line);
  assert.ok(dotsOnly.svg.length < fig.svg.length);
});

Deno.test("plotProgress() draws a title and accepts a bottom-only ylim", () => {
  const fig = plotProgress([3, 2, 1], {
    ylim: 0,
    yticks: [0, 0.25, 0.5, 1, 5],
    title: "Loss",
  });
  assert.match(fig.svg, />Loss</);
  assert.equal(fig.title, "Loss");
  assert.match(fig.svg, />5.00</);
  assert.equal(count(fig.svg, /<circle/g), 3);
});

Deno.test("imshow() embeds the exact pixels of a known 2x2 image, y down", () => {
  const fig = imshow([0, 1, 0.5, 0.25], {
    width: 2,
    height: 2,
    cmap: "gray",
    vmin: 0,
    vmax: 1,
  });
  assert.ok(fig.svg.includes(XMLNS));
  const [png] = embedded(fig.svg);
  assert.deepEqual([png.width, png.height], [2, 2]);
  assert.deepEqual(pixel(png, 0, 0), [0, 0, 0]);
  assert.deepEqual(pixel(png, 1, 0), [255, 255, 255]);
  assert.deepEqual(pixel(png, 0, 1), [128, 128, 128]);
  assert.deepEqual(pixel(png, 1, 1), [64, 64, 64]);
  assert.match(fig.svg, /image-rendering:pixelated/);
});

Deno.test("imshow() renders crisp quadrants when rasterised to PNG", async () => {
  const fig = imshow([0, 1, 1, 0], {
    width: 2,
    height: 2,
    cmap: "gray",
    vmin: 0,
    vmax: 1,
  });
  const img = decodePng(await fig.toPng());
  // The frame spans x 30..310 and y 10..290 (imshow's margins, 320 px wide).
  assert.deepEqual(pixel(img, 30 + 70, 10 + 70), [0, 0, 0]);
  assert.deepEqual(pixel(img, 30 + 210, 10 + 70), [255, 255, 255]);
  assert.deepEqual(
    pixel(img, 30 + 139, 10 + 70),
    [0, 0, 0],
    "no smoothing at the edge",
  );
  assert.deepEqual(
    pixel(img, 30 + 141, 10 + 70),
    [255, 255, 255],
    "no smoothing at the edge",
  );
});

Deno.test("imshow() uses Blues from the data's min to max by default", () => {
  const [png] = embedded(imshow([2, 4, 6, 8], { width: 2, height: 2 }).svg);
  assert.deepEqual(pixel(png, 0, 0), [247, 251, 255]);
  assert.deepEqual(pixel(png, 1, 1), [8, 48, 107]);
});

Deno.test("imshow() reads RGB as 0-1 floats and bytes as 0-255", () => {
  const floats = [1, 0, 0, 0, 1, 0, 0, 0, 1, 0.5, 0.5, 2];
  const [a] = embedded(
    imshow(floats, { width: 2, height: 2, channels: 3 }).svg,
  );
  assert.deepEqual([
    pixel(a, 0, 0),
    pixel(a, 1, 0),
    pixel(a, 0, 1),
    pixel(a, 1, 1),
  ], [
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
    [128, 128, 255],
  ]);
  const [b] = embedded(
    imshow(new Uint8Array([10, 20, 30]), { width: 1, height: 1, channels: 3 })
      .svg,
  );
  assert.deepEqual(pixel(b, 0, 0), [10, 20, 30]);
});

Deno.test("imshow() reads a tensor asynchronously without disposing it", async () => {
  const t = tf.tensor2d([[0, 1], [1, 0]]);
  const before = tf.memory().numTensors;
  const pending = imshow(t, { width: 2, height: 2, cmap: "gray" });
  assert.ok(pending instanceof Promise, "a tensor gives a promise of the figure");
  const fig = await pending;
  const [png] = embedded(fig.svg);
  assert.deepEqual(pixel(png, 1, 0), [255, 255, 255]);
  assert.equal(tf.memory().numTensors, before);
  assert.ok(!t.isDisposed);
  // The same figure as from the numbers, which come back at once.
  const now = imshow([0, 1, 1, 0], { width: 2, height: 2, cmap: "gray" });
  assert.ok(now instanceof Figure);
  assert.equal(fig.svg, now.svg);
  assert.deepEqual(await values(t), new Float32Array([0, 1, 1, 0]));
  assert.deepEqual(await values([3, 4]), [3, 4]);
  t.dispose();
});

Deno.test("imageGrid(), plotProgress() and linePlot() take tensors too (a promise of the same figure)", async () => {
  const a = [0, 0.5, 1, 0.25], b = [1, 0, 0, 1];
  const ta = tf.tensor1d(a), tb = tf.tensor1d(b);
  try {
    const grid = { rows: 1, cols: 2, width: 2, height: 2 };
    const mixed = imageGrid([ta, b], grid);
    assert.ok(mixed instanceof Promise);
    assert.equal((await mixed).svg, imageGrid([a, b], grid).svg);
    // Clip-path ids count up from chart to chart.
    const svg = (f: Figure) => f.svg.replace(/plot-clip-\d+/g, "clip");
    assert.equal(svg(await plotProgress(ta)), svg(plotProgress(a)));
    const lines = linePlot(ta, { a: tb, b }, { title: "t" });
    assert.ok(lines instanceof Promise);
    assert.equal(svg(await lines), svg(linePlot(a, { a: b, b }, { title: "t" })));
    assert.ok(!ta.isDisposed && !tb.isDisposed);
  } finally {
    tf.dispose([ta, tb]);
  }
});

Deno.test("imshow() throws a clear error when the pixel count is wrong", () => {
  assert.throws(
    () => imshow(new Float32Array(783), { width: 28, height: 28 }),
    /Image has 783 values but 28x28x1 needs 784: pass the width, height and channels/,
  );
  assert.throws(
    () => imshow([1, 2, 3], { width: 1, height: 1, channels: 2 as 1 }),
    /Channels 2 is not supported/,
  );
});

Deno.test("imshow() with axes: false is a pure PNG figure, upscaled crisply", () => {
  const fig = imshow([0, 1], { width: 2, height: 1, cmap: "gray", size: 100 });
  assert.ok(!fig.png);
  const raw = imshow([0, 1], {
    width: 2,
    height: 1,
    cmap: "gray",
    size: 100,
    axes: false,
  });
  const img = decodePng(raw.png!);
  assert.deepEqual([img.width, img.height], [100, 50]);
  assert.deepEqual([pixel(img, 49, 0), pixel(img, 50, 49)], [[0, 0, 0], [
    255,
    255,
    255,
  ]]);
  const bundle = raw[JUPYTER_DISPLAY]();
  assert.deepEqual(Object.keys(bundle).sort(), ["image/png", "text/plain"]);
});

Deno.test("imageGrid() lays out rows x cols images with titles", () => {
  const images = Array.from(
    { length: 6 },
    (_, k) => new Float32Array(28 * 28).fill(k),
  );
  const fig = imageGrid(images, {
    rows: 2,
    cols: 3,
    width: 28,
    height: 28,
    titles: ["a", "b"],
  });
  assert.equal(count(fig.svg, /<image /g), 6);
  assert.equal(count(fig.svg, /<svg/g), 7, "one nested svg per cell");
  assert.match(fig.svg, />a</);
  assert.ok(fig.width >= 3 * 150 && fig.height >= 2 * 150);
  assert.throws(
    () => imageGrid(images, { rows: 1, cols: 3, width: 28, height: 28 }),
    /6 images do not fit a 1x3 grid/,
  );
});

Deno.test("barChart() draws one bar per classifier output", async () => {
  const t = tf.tensor1d([0, 0.1, 0.9, 0, 0, 0, 0, 0, 0, 0.2]);
  const fig = await barChart(t);
  t.dispose();
  const bars = /aria-label="bar"[^>]*>(.*?)<\/g>/s.exec(fig.svg)?.[1] ?? "";
  assert.equal(count(bars, /<rect/g), 10);
  assert.ok(fig.svg.includes(XMLNS));
});

Deno.test("linePlot() draws one line per named series with a legend", () => {
  const fig = linePlot([1, 10, 100], { a: [1, 2, 3], b: [3, 2, 1] }, {
    xLabel: "lr",
    logX: true,
    title: "Sweep",
  });
  assert.equal(count(fig.svg, /aria-label="line"/g), 1);
  assert.match(fig.svg, />a</);
  assert.match(fig.svg, />b</);
  assert.match(fig.svg, />Sweep</);
  assert.throws(
    () => linePlot([1, 2], [1]),
    /Series y has 1 values but xs has 2/,
  );
});

Deno.test("figure() wraps any Plot spec and adds xmlns", () => {
  const fig = figure({
    marks: [Plot.lineY([1, 3, 2])],
    width: 300,
    height: 200,
  });
  assert.ok(fig.svg.startsWith("<svg") && fig.svg.includes(XMLNS));
  assert.deepEqual([fig.width, fig.height], [300, 200]);
});

Deno.test("Figure's Jupyter bundle is SVG plus a text form", () => {
  const fig = barChart([0.5], { title: "Out" });
  const bundle = fig[JUPYTER_DISPLAY]();
  assert.deepEqual(Object.keys(bundle).sort(), ["image/svg+xml", "text/plain"]);
  assert.equal(bundle["image/svg+xml"], fig.svg);
  assert.equal(bundle["text/plain"], String(fig));
  assert.match(String(fig), /^Figure \d+x\d+ SVG "Out"$/);
});

Deno.test("Figure.save() writes SVG and PNG atomically", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fig = imshow([0, 1, 1, 0], { width: 2, height: 2 });
    const paths = await fig.save(`${dir}/sub/digit.svg`);
    assert.deepEqual(paths, {
      svg: `${dir}/sub/digit.svg`,
      png: `${dir}/sub/digit.png`,
    });
    assert.equal(await Deno.readTextFile(paths.svg), fig.svg);
    const png = decodePng(await Deno.readFile(paths.png));
    assert.deepEqual([png.width, png.height], [fig.width, fig.height]);
    const names = [...Deno.readDirSync(`${dir}/sub`)].map((e) => e.name).sort();
    assert.deepEqual(names, ["digit.png", "digit.svg"], "no .tmp files left");
    await new Figure(fig.svg).save(`${dir}/plain`, { scale: 2 });
    assert.equal(
      decodePng(await Deno.readFile(`${dir}/plain.png`)).width,
      2 * fig.width,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("figure() turns title, caption and colour legends into one SVG", () => {
  const fig = figure({
    title: "T",
    caption: "C",
    color: { legend: true, type: "linear" },
    marks: [
      Plot.dot([1, 2], {
        x: (d: number) => d,
        y: (d: number) => d,
        fill: (d: number) => d,
      }),
    ],
  });
  assert.ok(fig.svg.startsWith("<svg") && !fig.svg.includes("<figure"));
  assert.match(fig.svg, />T</);
  assert.match(fig.svg, />C</);
  assert.match(fig.svg, /<linearGradient/);
});

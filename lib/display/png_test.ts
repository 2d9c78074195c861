import assert from "node:assert/strict";
import { decodePng, encodePng, svgToPng, tileImages, toBase64 } from "./png.ts";

Deno.test("encodePng() round-trips through decodePng() for 1, 3 and 4 channels", () => {
  for (const channels of [1, 3, 4] as const) {
    const pixels = Uint8Array.from(
      { length: 3 * 2 * channels },
      (_, i) => i * 10,
    );
    const img = decodePng(encodePng(pixels, { width: 3, height: 2, channels }));
    assert.deepEqual([img.width, img.height, img.channels], [3, 2, channels]);
    assert.deepEqual(Array.from(img.data), Array.from(pixels));
  }
});

Deno.test("encodePng() throws a clear error when the pixel count is wrong", () => {
  assert.throws(
    () => encodePng(new Uint8Array(5), { width: 2, height: 2, channels: 1 }),
    /Pixel count 5 does not match 2x2x1/,
  );
});

Deno.test("toBase64() matches btoa for short and long inputs", () => {
  for (const n of [0, 1, 2, 3, 100_000]) {
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 7) % 256);
    assert.equal(
      toBase64(bytes),
      btoa(String.fromCharCode(...Array.from(bytes))),
    );
  }
});

Deno.test("svgToPng() renders shapes at their colours on a white background", async () => {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10">` +
    `<rect x="10" width="10" height="10" fill="#ff0000"/></svg>`;
  const img = decodePng(await svgToPng(svg));
  assert.deepEqual([img.width, img.height], [20, 10]);
  const at = (x: number, y: number) => {
    const i = (y * img.width + x) * img.channels;
    return Array.from(img.data.subarray(i, i + 3));
  };
  assert.deepEqual(at(2, 5), [255, 255, 255]);
  assert.deepEqual(at(15, 5), [255, 0, 0]);
  const big = decodePng(await svgToPng(svg, { scale: 2 }));
  assert.deepEqual([big.width, big.height], [40, 20]);
});

Deno.test("tileImages() places each image row by row with gaps and empty cells of the background", () => {
  // Three 2x1 two-channel images, values naming image, column and channel: 2 columns, gap 1.
  const img = (k: number) => ({
    width: 2,
    height: 1,
    channels: 2,
    data: Uint8Array.from([k * 10 + 1, k * 10 + 2, k * 10 + 3, k * 10 + 4]),
  });
  const grid = tileImages([img(1), img(2), img(3)], { cols: 2, gap: 1, background: 9 });
  assert.deepEqual([grid.width, grid.height, grid.channels], [5, 3, 2]);
  assert.ok(grid.data instanceof Uint8Array);
  const row = (y: number) => Array.from(grid.data.subarray(y * 10, (y + 1) * 10));
  assert.deepEqual(row(0), [11, 12, 13, 14, 9, 9, 21, 22, 23, 24]);
  assert.deepEqual(row(1), [9, 9, 9, 9, 9, 9, 9, 9, 9, 9]);
  assert.deepEqual(row(2), [31, 32, 33, 34, 9, 9, 9, 9, 9, 9]);
});

Deno.test("tileImages() keeps floats as floats, with rows asked for and no gap", () => {
  const a = { width: 1, height: 2, channels: 1, data: Float32Array.from([0.5, -1]) };
  const b = { width: 1, height: 2, channels: 1, data: Float32Array.from([2.25, 3]) };
  const grid = tileImages([a, b], { cols: 1, rows: 3 });
  assert.ok(grid.data instanceof Float32Array);
  assert.deepEqual([grid.width, grid.height], [1, 6]);
  assert.deepEqual(Array.from(grid.data), [0.5, -1, 2.25, 3, 0, 0]);
});

Deno.test("tileImages() throws clear errors for wrong shapes and grids", () => {
  const ok = { width: 2, height: 2, channels: 1, data: new Uint8Array(4) };
  assert.throws(
    () => tileImages([ok, { ...ok, data: new Uint8Array(3) }], { cols: 2 }),
    /Image 1 has 3 values but 2x2x1 needs 4/,
  );
  assert.throws(
    () => tileImages([ok, { ...ok, width: 1, data: new Uint8Array(2) }], { cols: 2 }),
    /Image 1 is 1x2x1, image 0 2x2x1/,
  );
  assert.throws(() => tileImages([ok, ok, ok], { cols: 1, rows: 2 }), /3 images do not fit/);
  assert.throws(() => tileImages([], { cols: 1 }), /at least one image/);
  assert.throws(() => tileImages([ok], { cols: 0, rows: 1 }), /Grid 1x0 is not valid/);
});

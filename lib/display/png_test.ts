import assert from "node:assert/strict";
import { decodePng, encodePng, svgToPng, toBase64 } from "./png.ts";

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

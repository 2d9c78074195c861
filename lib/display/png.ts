/**
 * Raster images: colour maps, PNG encoding and decoding (fast-png), and SVG to PNG
 * rendering (resvg as wasm, so it needs no native binary and no network at run time).
 * @module
 */
import { decode, encode } from "fast-png";
import { initWasm, Resvg } from "@resvg/resvg-wasm";
import * as Plot from "@observablehq/plot";
import { createRequire } from "node:module";

/** Raw pixels of a decoded PNG, row-major, channels interleaved. */
export interface PngImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Samples per pixel: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA. */
  channels: number;
  /** Samples, `width * height * channels` of them. */
  data: Uint8Array;
}

/** Colour maps named as in matplotlib (`Blues` is the one the book uses for digits). */
export type Cmap = "Blues" | "gray" | "viridis";

/** How to turn numbers into an image. */
export interface ImageOptions {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** 1 for a single channel shown with a colour map, 3 for RGB in (H, W, 3) order. Default 1. */
  channels?: 1 | 3;
  /** Colour map for one channel. Default `Blues`. */
  cmap?: Cmap;
  /** Value shown as the low end of the colour map (or black for RGB). Default: the data minimum (RGB: 0). */
  vmin?: number;
  /** Value shown as the high end of the colour map (or full intensity for RGB). Default: the data maximum (RGB: 1, or 255 for byte arrays). */
  vmax?: number;
}

/** Encodes 8-bit pixels (1, 3 or 4 channels, interleaved) as a PNG file. */
export function encodePng(
  pixels: Uint8Array,
  options: { width: number; height: number; channels: 1 | 3 | 4 },
): Uint8Array {
  const { width, height, channels } = options;
  if (pixels.length !== width * height * channels) {
    throw new Error(
      `Pixel count ${pixels.length} does not match ${width}x${height}x${channels}: pass width, height and channels that fit the data`,
    );
  }
  return encode({ width, height, channels, depth: 8, data: pixels });
}

/** Decodes a PNG file into 8-bit pixels. */
export function decodePng(bytes: Uint8Array): PngImage {
  const img = decode(bytes);
  if (img.depth !== 8) {
    throw new Error(
      `PNG bit depth ${img.depth} is not supported: save it with 8 bits per sample`,
    );
  }
  return {
    width: img.width,
    height: img.height,
    channels: img.channels,
    data: img.data as Uint8Array,
  };
}

/** Encodes bytes as base64, as Jupyter wants for `image/png`. */
export function toBase64(bytes: Uint8Array): string {
  let s = "";
  // Chunks keep String.fromCharCode under the engine's argument limit.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function parseColor(css: string): [number, number, number] {
  const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(css);
  if (hex) {
    return [parseInt(hex[1], 16), parseInt(hex[2], 16), parseInt(hex[3], 16)];
  }
  const rgb = /^rgb\((\d+),\s*(\d+),\s*(\d+)\)$/.exec(css);
  if (rgb) return [+rgb[1], +rgb[2], +rgb[3]];
  throw new Error(
    `Colour ${css} is not in #rrggbb or rgb() form: report this as a bug`,
  );
}

const luts = new Map<Cmap, Uint8Array>();

/** A 256-entry RGB lookup table for a colour map (d3's ColorBrewer Blues matches matplotlib's). */
export function colormap(cmap: Cmap): Uint8Array {
  let lut = luts.get(cmap);
  if (lut) return lut;
  const spec: Plot.ScaleOptions | undefined = cmap === "Blues"
    ? { scheme: "blues" }
    : cmap === "viridis"
    ? { scheme: "viridis" }
    : cmap === "gray"
    ? { range: ["black", "white"] }
    : undefined;
  if (!spec) {
    throw new Error(
      `Colour map ${cmap} is unknown: use "Blues", "gray" or "viridis"`,
    );
  }
  const scale = Plot.scale({
    color: { type: "linear", domain: [0, 255], ...spec },
  });
  lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    lut.set(parseColor(String(scale.apply(i))), i * 3);
  }
  luts.set(cmap, lut);
  return lut;
}

/** Turns numbers (row-major, channels last) into 8-bit RGB pixels, as matplotlib's imshow does. */
export function toRgb(
  values: ArrayLike<number>,
  options: ImageOptions,
): Uint8Array {
  const { width, height, channels = 1, cmap = "Blues" } = options;
  if (channels !== 1 && channels !== 3) {
    throw new Error(
      `Channels ${channels} is not supported: pass 1 (colour map) or 3 (RGB)`,
    );
  }
  const n = width * height;
  if (!(n > 0) || values.length !== n * channels) {
    throw new Error(
      `Image has ${values.length} values but ${width}x${height}x${channels} needs ${
        n * channels
      }: pass the width, height and channels of the data`,
    );
  }
  const out = new Uint8Array(n * 3);
  if (channels === 3) {
    const bytes = values instanceof Uint8Array ||
      values instanceof Uint8ClampedArray;
    const lo = options.vmin ?? 0;
    const hi = options.vmax ?? (bytes ? 255 : 1);
    const k = 255 / (hi - lo || 1);
    for (let i = 0; i < n * 3; i++) {
      out[i] = Math.round(Math.min(255, Math.max(0, (values[i] - lo) * k)));
    }
    return out;
  }
  let lo = options.vmin, hi = options.vmax;
  if (lo === undefined || hi === undefined) {
    let min = Infinity, max = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    lo ??= min;
    hi ??= max;
  }
  const lut = colormap(cmap);
  // A flat image maps to the low end, as matplotlib does.
  const k = hi > lo ? 255 / (hi - lo) : 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    const j = Number.isNaN(v) ? 0 : Math.round(Math.min(255, Math.max(0, (v - lo) * k))) * 3;
    out[i * 3] = lut[j];
    out[i * 3 + 1] = lut[j + 1];
    out[i * 3 + 2] = lut[j + 2];
  }
  return out;
}

/** Repeats each pixel `factor` times in both directions (nearest neighbour upscaling). */
export function upscale(
  pixels: Uint8Array,
  options: { width: number; height: number; channels: number; factor: number },
): Uint8Array {
  const { width, height, channels: c, factor: f } = options;
  const w2 = width * f;
  const out = new Uint8Array(w2 * height * f * c);
  for (let y = 0; y < height * f; y++) {
    const src = Math.floor(y / f) * width;
    for (let x = 0; x < w2; x++) {
      const s = (src + Math.floor(x / f)) * c, d = (y * w2 + x) * c;
      for (let ch = 0; ch < c; ch++) out[d + ch] = pixels[s + ch];
    }
  }
  return out;
}

/** Pixels of one image for {@linkcode tileImages}: row-major, channels interleaved. */
export interface Raster<T extends Uint8Array | Float32Array = Uint8Array | Float32Array> {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Samples per pixel. */
  channels: number;
  /** Samples, `width * height * channels` of them. */
  data: T;
}

/** How {@linkcode tileImages} lays images out. */
export interface TileOptions {
  /** Images per row. */
  cols: number;
  /** Rows (default: as many as the images fill). */
  rows?: number;
  /** Pixels between neighbouring images, across and down (default 0). */
  gap?: number;
  /** Value of the gaps and of empty cells (default 0). */
  background?: number;
}

/**
 * Tiles images of one size row by row into a grid, `gap` pixels apart, filling gaps and empty
 * cells with `background`. The result has the images' channels and array type (bytes stay
 * bytes, floats stay floats, e.g. for {@linkcode toRgb} afterwards).
 */
export function tileImages<T extends Uint8Array | Float32Array>(
  images: readonly Raster<T>[],
  options: TileOptions,
): Raster<T> {
  const { cols, gap = 0, background = 0 } = options;
  const rows = options.rows ?? Math.ceil(images.length / cols);
  if (!images.length) throw new Error("tileImages() needs at least one image");
  if (!(Number.isInteger(cols) && cols > 0 && Number.isInteger(rows) && rows > 0)) {
    throw new Error(
      `Grid ${rows}x${cols} is not valid: pass whole numbers of rows and cols above 0`,
    );
  }
  if (images.length > rows * cols) {
    throw new Error(`${images.length} images do not fit a ${rows}x${cols} grid: add rows or cols`);
  }
  if (!(Number.isInteger(gap) && gap >= 0)) {
    throw new Error(`Gap ${gap} is not valid: pass a whole number of pixels, 0 or more`);
  }
  const { width: w, height: h, channels: c } = images[0];
  images.forEach((img, k) => {
    if (img.width !== w || img.height !== h || img.channels !== c) {
      throw new Error(
        `Image ${k} is ${img.width}x${img.height}x${img.channels}, image 0 ${w}x${h}x${c}: ` +
          "tile images of one size and channel count",
      );
    }
    if (img.data.length !== w * h * c) {
      throw new Error(
        `Image ${k} has ${img.data.length} values but ${w}x${h}x${c} needs ${w * h * c}: ` +
          "pass the width, height and channels of the data",
      );
    }
  });
  const width = cols * w + (cols - 1) * gap, height = rows * h + (rows - 1) * gap;
  const size = width * height * c;
  const data =
    (images[0].data instanceof Float32Array ? new Float32Array(size) : new Uint8Array(size)) as T;
  if (background !== 0) data.fill(background);
  const rowLength = w * c;
  images.forEach((img, k) => {
    const x0 = (k % cols) * (w + gap), y0 = Math.floor(k / cols) * (h + gap);
    for (let y = 0; y < h; y++) {
      data.set(img.data.subarray(y * rowLength, (y + 1) * rowLength), ((y0 + y) * width + x0) * c);
    }
  });
  return { width, height, channels: c, data };
}

// Fonts resvg can use for chart text, with their family names; the first found wins.
// GAN_FONT (a .ttf path) overrides.
const FONT_CANDIDATES: Array<[string, string]> = [
  ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "DejaVu Sans"],
  ["/usr/share/fonts/TTF/DejaVuSans.ttf", "DejaVu Sans"],
  ["/usr/share/fonts/dejavu/DejaVuSans.ttf", "DejaVu Sans"],
  ["/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf", "DejaVu Sans"],
  [
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "Liberation Sans",
  ],
  [
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    "Liberation Sans",
  ],
  ["/System/Library/Fonts/Supplemental/Arial.ttf", "Arial"],
  ["/Library/Fonts/Arial.ttf", "Arial"],
  ["C:\\Windows\\Fonts\\arial.ttf", "Arial"],
];

interface Fonts {
  buffers: Uint8Array[];
  family?: string;
}

let ready: Promise<Fonts> | undefined;

async function loadFonts(): Promise<Fonts> {
  let custom: string | undefined;
  try {
    custom = Deno.env.get("GAN_FONT") || undefined;
  } catch {
    // No --allow-env: use the usual places.
  }
  if (custom) {
    // The family is read from the file by resvg; an unknown name falls back to it.
    return { buffers: [await Deno.readFile(custom)] };
  }
  for (const [path, family] of FONT_CANDIDATES) {
    try {
      return { buffers: [await Deno.readFile(path)], family };
    } catch {
      // Not here: try the next place.
    }
  }
  console.warn(
    "No font found for text in PNG files: install DejaVu Sans (fonts-dejavu-core) or set GAN_FONT to a .ttf file",
  );
  return { buffers: [] };
}

function wasmPath(): string | URL {
  const url = import.meta.resolve("@resvg/resvg-wasm");
  // Without a node_modules folder the specifier stays npm:, which readFile cannot open.
  if (url.startsWith("file:")) return new URL("./index_bg.wasm", url);
  return createRequire(import.meta.url).resolve(
    "@resvg/resvg-wasm/index_bg.wasm",
  );
}

function init(): Promise<Fonts> {
  ready ??= (async () => {
    await initWasm(await Deno.readFile(wasmPath()));
    return await loadFonts();
  })();
  return ready;
}

/** Renders SVG markup to a PNG file on a white background (`scale` 2 doubles the pixels). */
export async function svgToPng(
  svg: string,
  options: { scale?: number; background?: string } = {},
): Promise<Uint8Array> {
  const fonts = await init();
  const { scale = 1, background = "white" } = options;
  // resvg knows only SVG 1.1's optimizeSpeed; CSS `pixelated` would make it smooth.
  svg = svg.replaceAll(
    "image-rendering:pixelated",
    "image-rendering:optimizeSpeed",
  );
  const resvg = new Resvg(svg, {
    background,
    fitTo: scale === 1 ? { mode: "original" } : { mode: "zoom", value: scale },
    font: {
      fontBuffers: fonts.buffers,
      loadSystemFonts: false,
      defaultFontFamily: fonts.family,
      sansSerifFamily: fonts.family,
    },
  });
  const rendered = resvg.render();
  const png = rendered.asPng();
  rendered.free();
  resvg.free();
  return png;
}

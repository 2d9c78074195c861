/**
 * Charts and images for the notebooks, drawn with Observable Plot as SVG. Each function
 * mirrors a matplotlib or pandas call in the book and returns a {@linkcode Figure},
 * which Deno's Jupyter kernel displays and which `save()` writes as SVG and PNG.
 *
 * Given plain numbers (arrays, typed arrays), each function returns the figure at once.
 * Given a tensor, it reads it asynchronously and returns a promise of the figure
 * (`await imshow(t, ...)`): every backend allows that, webgpu included, where synchronous
 * reads throw. The caller's tensors are never disposed.
 * @module
 */
import * as Plot from "@observablehq/plot";
import type { Tensor } from "@tensorflow/tfjs";
import { document, type DomNode, SVG_NS, svgElement, svgMarkup, svgText } from "./_dom.ts";
import { encodePng, type ImageOptions, svgToPng, toBase64, toRgb, upscale } from "./png.ts";
import { writeAtomic } from "../data/atomic.ts";

export type { Cmap, ImageOptions } from "./png.ts";

/** Numbers to plot: a plain array, a typed array or a TF.js tensor. */
export type Values = ArrayLike<number> | Tensor;

/** Numbers a chart can use at once: a plain or typed array. */
export type Numbers = ArrayLike<number>;

// matplotlib's first default colour ("C0"), which every book chart uses.
const C0 = "#1f77b4";
const TITLE_HEIGHT = 28;

/** The key Deno's Jupyter kernel looks up to get an object's MIME bundle. */
export const JUPYTER_DISPLAY: unique symbol = Symbol.for(
  "Jupyter.display",
) as never;

/** A chart or image: SVG markup (and a PNG for pure raster images) that Jupyter displays. */
export class Figure {
  /** SVG markup, with `xmlns`. */
  readonly svg: string;
  /** The PNG of a pure raster image (see `imshow(..., {axes: false})`), else undefined. */
  readonly png?: Uint8Array;
  /** Width in CSS pixels. */
  readonly width: number;
  /** Height in CSS pixels. */
  readonly height: number;
  /** Title, used in the text form. */
  readonly title?: string;

  /** Wraps SVG markup, or a PNG (the SVG then embeds it). */
  constructor(
    svg: string,
    options: {
      width?: number;
      height?: number;
      title?: string;
      png?: Uint8Array;
    } = {},
  ) {
    this.svg = svg;
    this.png = options.png;
    this.title = options.title;
    this.width = options.width ??
      (Number(/\bwidth="([\d.]+)"/.exec(svg)?.[1]) || 0);
    this.height = options.height ??
      (Number(/\bheight="([\d.]+)"/.exec(svg)?.[1]) || 0);
  }

  /** Wraps a PNG file of the given size as a figure that displays as `image/png`. */
  static fromPng(
    png: Uint8Array,
    options: { width: number; height: number; title?: string },
  ): Figure {
    const { width, height } = options;
    const img = svgElement("image", {
      width,
      height,
      href: `data:image/png;base64,${toBase64(png)}`,
      "image-rendering": "optimizeSpeed",
      style: "image-rendering:pixelated",
    });
    const svg = svgElement("svg", {
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
    });
    svg.appendChild(img);
    return new Figure(svgMarkup(svg), { ...options, png });
  }

  /** The MIME bundle Deno's Jupyter kernel shows when a cell ends with this figure. */
  [JUPYTER_DISPLAY](): Record<string, string> {
    const text = this.toString();
    if (this.png) {
      return { "image/png": toBase64(this.png), "text/plain": text };
    }
    return { "image/svg+xml": this.svg, "text/plain": text };
  }

  /** A one-line description, e.g. `Figure 800x400 "Loss"`. */
  toString(): string {
    const kind = this.png ? "PNG" : "SVG";
    return `Figure ${this.width}x${this.height} ${kind}${this.title ? ` "${this.title}"` : ""}`;
  }

  /** Renders the figure to PNG bytes; `scale` 2 doubles the resolution. */
  toPng(options: { scale?: number } = {}): Promise<Uint8Array> {
    if (this.png && (options.scale ?? 1) === 1) {
      return Promise.resolve(this.png);
    }
    return svgToPng(this.svg, options);
  }

  /** Writes `<path>.svg` and `<path>.png` atomically (a `.svg` or `.png` ending is replaced); returns both paths. */
  async save(
    path: string,
    options: { scale?: number } = {},
  ): Promise<{ svg: string; png: string }> {
    const base = path.replace(/\.(svg|png)$/i, "");
    const paths = { svg: `${base}.svg`, png: `${base}.png` };
    const png = await this.toPng(options);
    const dir = base.replace(/[\\/][^\\/]*$/, "");
    if (dir !== base && dir !== "") await Deno.mkdir(dir, { recursive: true });
    await writeAtomic(paths.svg, new TextEncoder().encode(this.svg));
    await writeAtomic(paths.png, png);
    return paths;
  }
}

function isTensor(x: unknown): x is Tensor {
  return typeof x === "object" && x !== null && "data" in x && "shape" in x && "dtype" in x;
}

/**
 * The numbers of an array (as it is) or of a tensor, read asynchronously (`await t.data()`,
 * which every backend allows, webgpu included); the tensor is not disposed.
 */
export async function values(x: Values): Promise<Numbers> {
  return isTensor(x) ? await x.data() as Numbers : x;
}

// Draws from the numbers of `inputs`: at once when none is a tensor, else once all are read.
function withNumbers(
  inputs: readonly Values[],
  draw: (numbers: Numbers[]) => Figure,
): Figure | Promise<Figure> {
  if (!inputs.some(isTensor)) return draw(inputs as Numbers[]);
  return Promise.all(inputs.map(values)).then(draw);
}

function checkSize(width: number, height: number, label: string): void {
  if (!(width > 0 && height > 0)) {
    throw new Error(
      `${label} size ${width}x${height} is not positive: pass a positive width and height`,
    );
  }
}

type PlotSvg = DomNode & { scale(name: string): Plot.Scale | undefined };

function render(options: Plot.PlotOptions): PlotSvg {
  const el = Plot.plot({ ...options, document }) as unknown as PlotSvg;
  if (el.tagName.toLowerCase() !== "svg") {
    throw new Error(
      `Plot returned a ${el.tagName} element: pass title and legends to figure(), not to Plot`,
    );
  }
  // Matplotlib draws on white; an explicit background also keeps dark Jupyter themes readable.
  el.setAttribute("style", "background:white;color:black");
  return el;
}

function size(el: DomNode): [number, number] {
  return [Number(el.getAttribute("width")), Number(el.getAttribute("height"))];
}

interface Block {
  el: DomNode;
  width: number;
  height: number;
}

function textBlock(text: string, width: number, fontSize: number): Block {
  const height = Math.round(fontSize * 1.8);
  const el = svgText(text, {
    x: width / 2,
    y: height / 2,
    "dominant-baseline": "central",
    "text-anchor": "middle",
    "font-size": fontSize,
  });
  return { el, width, height };
}

// Stacks blocks top to bottom (each row a list of blocks left to right) in one SVG.
function compose(rows: Block[][], title?: string): DomNode {
  const width = Math.max(
    ...rows.map((r) => r.reduce((s, b) => s + b.width, 0)),
  );
  if (title) rows = [[textBlock(title, width, 16)], ...rows];
  let y = 0;
  const outer = svgElement("svg", {
    "font-family": "system-ui, sans-serif",
    "font-size": 10,
    fill: "currentColor",
    style: "background:white;color:black",
  });
  outer.appendChild(
    svgElement("rect", { width: "100%", height: "100%", fill: "white" }),
  );
  for (const row of rows) {
    let x = 0;
    for (const b of row) {
      const g = svgElement(
        b.el.tagName.toLowerCase() === "svg" ? "svg" : "g",
        {},
      );
      if (b.el.tagName.toLowerCase() === "svg") {
        b.el.setAttribute("x", String(x));
        b.el.setAttribute("y", String(y));
        b.el.removeAttribute("style");
        outer.appendChild(b.el);
      } else {
        g.setAttribute("transform", `translate(${x},${y})`);
        g.appendChild(b.el);
        outer.appendChild(g);
      }
      x += b.width;
    }
    y += Math.max(0, ...row.map((b) => b.height));
  }
  outer.setAttribute("width", String(width));
  outer.setAttribute("height", String(y));
  outer.setAttribute("viewBox", `0 0 ${width} ${y}`);
  outer.setAttribute("xmlns", SVG_NS);
  return outer;
}

let gradients = 0;

// Plot's own ramp legend paints on a canvas, which the server-side DOM lacks.
function ramp(scale: Plot.Scale, width: number): Block {
  const g = svgElement("g", { "font-size": 10 });
  const [lo, hi] = (scale.domain ?? [0, 1]) as number[];
  const id = `ramp-${++gradients}`;
  const defs = svgElement("defs");
  const gradient = svgElement("linearGradient", { id });
  for (let k = 0; k <= 16; k++) {
    const v = lo + (hi - lo) * k / 16;
    gradient.appendChild(
      svgElement("stop", {
        offset: `${k / 16 * 100}%`,
        "stop-color": String(scale.apply(v)),
      }),
    );
  }
  defs.appendChild(gradient);
  g.appendChild(defs);
  g.appendChild(
    svgElement("rect", {
      x: 10,
      y: 4,
      width: 240,
      height: 10,
      fill: `url(#${id})`,
    }),
  );
  g.appendChild(svgText(String(lo), { x: 10, y: 24, "text-anchor": "start" }));
  g.appendChild(svgText(String(hi), { x: 250, y: 24, "text-anchor": "end" }));
  return { el: g, width, height: 30 };
}

function swatches(scale: Plot.Scale, width: number): Block {
  const g = svgElement("g", { "font-size": 10 });
  const domain = (scale.domain ?? []) as unknown[];
  const range = (scale.range ?? []) as string[];
  let x = 10;
  domain.forEach((d, i) => {
    const label = String(d);
    g.appendChild(
      svgElement("rect", {
        x,
        y: 6,
        width: 12,
        height: 12,
        fill: range[i % range.length],
      }),
    );
    g.appendChild(
      svgText(label, { x: x + 16, y: 12, "dominant-baseline": "central" }),
    );
    x += 16 + 7 * label.length + 14;
  });
  return { el: g, width, height: 24 };
}

/** Wraps any Observable Plot spec; `title`, `subtitle`, `caption` and a colour legend are drawn as SVG. */
export function figure(options: Plot.PlotOptions): Figure {
  const { title, subtitle, caption, color, ...rest } = options;
  const legend = color?.legend;
  const el = render({ ...rest, color: color && { ...color, legend: false } });
  const [width, height] = size(el);
  const rows: Block[][] = [];
  if (subtitle !== undefined) {
    rows.push([textBlock(String(subtitle), width, 12)]);
  }
  if (legend) {
    const scale = el.scale("color");
    if (scale) {
      const ordinal = scale.type === "ordinal" || scale.type === "categorical";
      rows.push([ordinal ? swatches(scale, width) : ramp(scale, width)]);
    }
  }
  rows.push([{ el, width, height }]);
  if (caption !== undefined) rows.push([textBlock(String(caption), width, 11)]);
  const titleText = title === undefined || title === null ? undefined : String(title);
  const out = rows.length === 1 && !titleText ? el : compose(rows, titleText);
  return new Figure(svgMarkup(out), { title: titleText });
}

/** Options for {@linkcode plotProgress}. */
export interface ProgressOptions {
  /** y range; a single number fixes only the bottom, like pandas' `ylim=(0)`. Default [0, 1]. */
  ylim?: [number, number] | number;
  /** y tick values. Default [0, 0.25, 0.5], as in the book. */
  yticks?: number[];
  /** Chart title. */
  title?: string;
  /** Opacity of the dots. Default 0.1, as in the book. */
  alpha?: number;
  /** Join the dots with a faint line, as pandas' `marker='.'` plot does. Default true; false gives a smaller SVG. */
  line?: boolean;
  /** Width in CSS pixels. Default 800 (the book's figsize 16x8 is 2:1). */
  width?: number;
  /** Height in CSS pixels. Default 400. */
  height?: number;
}

/**
 * Plots a loss history as faint dots joined by a faint line, like the book's
 * `plot_progress()` (`df.plot(alpha=0.1, marker='.')`). A tensor gives a promise of the figure.
 */
export function plotProgress(progress: Numbers, options?: ProgressOptions): Figure;
export function plotProgress(progress: Tensor, options?: ProgressOptions): Promise<Figure>;
export function plotProgress(
  progress: Values,
  options?: ProgressOptions,
): Figure | Promise<Figure>;
export function plotProgress(
  progress: Values,
  options: ProgressOptions = {},
): Figure | Promise<Figure> {
  return withNumbers([progress], ([ys]) => progressFigure(ys, options));
}

function progressFigure(progress: Numbers, options: ProgressOptions): Figure {
  const ys = Array.from(progress);
  const {
    yticks = [0, 0.25, 0.5],
    alpha = 0.1,
    width = 800,
    height = 400,
    title,
  } = options;
  checkSize(width, height, "Chart");
  const ylim = options.ylim ?? [0, 1];
  // With only a bottom given, the top covers the data and the ticks, as matplotlib's set_yticks does.
  let top = typeof ylim === "number" ? Math.max(ylim, ...yticks) : ylim[1];
  // A loop, not Math.max(...ys): long runs have more points than the call stack allows.
  if (typeof ylim === "number") { for (const y of ys) if (Number.isFinite(y) && y > top) top = y; }
  const domain = typeof ylim === "number" ? [ylim, top] : ylim;
  // Ticks outside the range would be drawn off the chart (and crash resvg's PNG export).
  const ticks = yticks.filter((t) => t >= domain[0] && t <= domain[1]);
  const index = (_d: number, i: number) => i;
  const marks: Plot.Markish[] = [Plot.frame({ strokeOpacity: 0.3 })];
  if (options.line ?? true) {
    marks.push(Plot.lineY(ys, {
      x: index,
      y: (d: number) => d,
      stroke: C0,
      strokeOpacity: alpha,
      clip: true,
    }));
  }
  marks.push(
    Plot.dot(ys, {
      x: index,
      y: (d: number) => d,
      r: 2,
      fill: C0,
      fillOpacity: alpha,
      clip: true,
    }),
  );
  return figure({
    width,
    height,
    title,
    grid: true,
    x: { domain: [0, Math.max(1, ys.length - 1)], label: null },
    y: { domain, ticks, tickFormat: decimals(ticks), label: null },
    marks,
  });
}

// A tick format with as many decimals as the most precise tick, like matplotlib's 0.00 0.25 0.50.
function decimals(ticks: number[]): (d: number) => string {
  const digits = Math.max(
    0,
    ...ticks.map((t) => (String(t).split(".")[1] ?? "").length),
  );
  return (d) => d.toFixed(Math.min(digits, 6));
}

// Integer tick positions 0, step, 2*step... below n, about six of them, like matplotlib.
function pixelTicks(n: number): number[] {
  const step = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000].find((s) => n / s <= 6) ??
    Math.ceil(n / 6);
  const ticks = [];
  for (let t = 0; t < n; t += step) ticks.push(t);
  return ticks;
}

/** Options for {@linkcode imshow}. */
export interface ImshowOptions extends ImageOptions {
  /** Title above the image. */
  title?: string;
  /** Figure width in CSS pixels. Default 320. */
  size?: number;
  /** Draw axes with pixel ticks, as matplotlib does. Default true; false gives a pure PNG figure. */
  axes?: boolean;
}

interface Drawn {
  el: PlotSvg;
  png: Uint8Array;
}

function drawImage(pixels: Numbers, options: ImshowOptions): Drawn {
  const { width, height } = options;
  const rgb = toRgb(pixels, options);
  const png = encodePng(rgb, { width, height, channels: 3 });
  const href = `data:image/png;base64,${toBase64(png)}`;
  const size = options.size ?? 320;
  // A render function places the bitmap exactly on the pixel extent [-0.5, n - 0.5].
  const bitmap = (
    _index: number[],
    scales: { x?: (v: number) => number; y?: (v: number) => number },
  ) => {
    const x0 = scales.x!(-0.5), x1 = scales.x!(width - 0.5);
    const y0 = scales.y!(-0.5), y1 = scales.y!(height - 0.5);
    return svgElement("image", {
      x: Math.min(x0, x1),
      y: Math.min(y0, y1),
      width: Math.abs(x1 - x0),
      height: Math.abs(y1 - y0),
      preserveAspectRatio: "none",
      href,
      // optimizeSpeed is nearest neighbour for resvg; pixelated is the CSS word for browsers.
      "image-rendering": "optimizeSpeed",
      style: "image-rendering:pixelated",
    });
  };
  const marginTop = options.title ? TITLE_HEIGHT : 10;
  const marginLeft = 30, marginRight = 10, marginBottom = 25;
  const el = render({
    width: size,
    height: Math.round((size - marginLeft - marginRight) * height / width) +
      marginTop + marginBottom,
    marginTop,
    marginLeft,
    marginRight,
    marginBottom,
    x: {
      domain: [-0.5, width - 0.5],
      ticks: pixelTicks(width),
      tickFormat: "d",
      label: null,
    },
    y: {
      domain: [-0.5, height - 0.5],
      ticks: pixelTicks(height),
      tickFormat: "d",
      label: null,
      reverse: true,
    },
    marks: [
      bitmap as unknown as Plot.Markish,
      Plot.frame(),
      options.title
        ? Plot.text([options.title], {
          frameAnchor: "top",
          dy: -TITLE_HEIGHT / 2,
          fontSize: 13,
        })
        : null,
    ],
  });
  return { el, png };
}

/**
 * Shows numbers as an image, like `plt.imshow(img, interpolation='none', cmap='Blues')`:
 * crisp pixels, y down. A tensor gives a promise of the figure.
 */
export function imshow(pixels: Numbers, options: ImshowOptions): Figure;
export function imshow(pixels: Tensor, options: ImshowOptions): Promise<Figure>;
export function imshow(pixels: Values, options: ImshowOptions): Figure | Promise<Figure>;
export function imshow(pixels: Values, options: ImshowOptions): Figure | Promise<Figure> {
  checkSize(options.width, options.height, "Image");
  return withNumbers([pixels], ([p]) => imshowFigure(p, options));
}

function imshowFigure(pixels: Numbers, options: ImshowOptions): Figure {
  const { width, height } = options;
  if (options.axes === false) {
    const rgb = toRgb(pixels, options);
    const factor = Math.max(1, Math.floor((options.size ?? 320) / width));
    const big = upscale(rgb, { width, height, channels: 3, factor });
    const png = encodePng(big, {
      width: width * factor,
      height: height * factor,
      channels: 3,
    });
    return Figure.fromPng(png, {
      width: width * factor,
      height: height * factor,
      title: options.title,
    });
  }
  const { el } = drawImage(pixels, options);
  return new Figure(svgMarkup(el), { title: options.title });
}

/** Options for {@linkcode imageGrid}. */
export interface ImageGridOptions extends ImageOptions {
  /** Rows of images. */
  rows: number;
  /** Columns of images. */
  cols: number;
  /** One title per image, row by row. */
  titles?: string[];
  /** Title above the whole grid. */
  title?: string;
  /** Width of each cell in CSS pixels. Default 200 (6 columns: 160). */
  cellSize?: number;
}

/**
 * Draws images in a grid, like the book's `f, axarr = plt.subplots(2, 3)` of generated
 * samples. Tensors among the images give a promise of the figure.
 */
export function imageGrid(images: readonly Numbers[], options: ImageGridOptions): Figure;
export function imageGrid(images: readonly Tensor[], options: ImageGridOptions): Promise<Figure>;
export function imageGrid(
  images: readonly Values[],
  options: ImageGridOptions,
): Figure | Promise<Figure>;
export function imageGrid(
  images: readonly Values[],
  options: ImageGridOptions,
): Figure | Promise<Figure> {
  const { rows, cols } = options;
  if (
    !(Number.isInteger(rows) && Number.isInteger(cols) && rows > 0 && cols > 0)
  ) {
    throw new Error(
      `Grid ${rows}x${cols} is not valid: pass positive whole numbers of rows and cols`,
    );
  }
  if (images.length > rows * cols) {
    throw new Error(
      `${images.length} images do not fit a ${rows}x${cols} grid: pass fewer images or more rows`,
    );
  }
  checkSize(options.width, options.height, "Image");
  return withNumbers(images, (numbers) => gridFigure(numbers, options));
}

function gridFigure(images: Numbers[], options: ImageGridOptions): Figure {
  const { rows, cols, titles, title } = options;
  const cellSize = options.cellSize ?? (cols > 4 ? 160 : 200);
  const grid: Block[][] = [];
  let cellHeight = 0;
  for (let r = 0; r < rows; r++) {
    const row: Block[] = [];
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      if (i >= images.length) break;
      const { el } = drawImage(images[i], {
        ...options,
        title: titles?.[i],
        size: cellSize,
      });
      const [w, h] = size(el);
      cellHeight = h;
      row.push({ el, width: w, height: h });
    }
    grid.push(row);
  }
  // Empty trailing rows still take space, so the grid keeps the shape the caller asked for.
  for (const row of grid) {
    if (row.length === 0) {
      row.push({ el: svgElement("g"), width: cellSize, height: cellHeight });
    }
  }
  if (grid[0].length < cols) {
    grid[0].push({
      el: svgElement("g"),
      width: cellSize * (cols - grid[0].length),
      height: 0,
    });
  }
  return new Figure(svgMarkup(compose(grid, title)), { title });
}

/** Options for {@linkcode barChart}. */
export interface BarChartOptions {
  /** y range. Default [0, 1], as the book's classifier outputs. */
  ylim?: [number, number];
  /** Chart title. */
  title?: string;
  /** Width in CSS pixels. Default 480. */
  width?: number;
  /** Height in CSS pixels. Default 320. */
  height?: number;
}

/**
 * Draws one bar per value, like `pandas.DataFrame(output).plot(kind='bar', legend=False,
 * ylim=(0,1))`. A tensor gives a promise of the figure.
 */
export function barChart(data: Numbers, options?: BarChartOptions): Figure;
export function barChart(data: Tensor, options?: BarChartOptions): Promise<Figure>;
export function barChart(data: Values, options?: BarChartOptions): Figure | Promise<Figure>;
export function barChart(data: Values, options: BarChartOptions = {}): Figure | Promise<Figure> {
  return withNumbers([data], ([ys]) => barFigure(ys, options));
}

function barFigure(data: Numbers, options: BarChartOptions): Figure {
  const ys = Array.from(data);
  const { ylim = [0, 1], title, width = 480, height = 320 } = options;
  checkSize(width, height, "Chart");
  return figure({
    width,
    height,
    title,
    x: { domain: ys.map((_, i) => i), label: null, padding: 0.5 },
    y: { domain: ylim, grid: true, label: null },
    marks: [
      Plot.barY(ys, {
        x: (_d: number, i: number) => i,
        y: (d: number) => d,
        fill: C0,
        clip: true,
      }),
      Plot.ruleY([ylim[0]]),
    ],
  });
}

/** Options for {@linkcode linePlot}. */
export interface LinePlotOptions {
  /** Label of the x axis. */
  xLabel?: string;
  /** Label of the y axis. */
  yLabel?: string;
  /** Chart title. */
  title?: string;
  /** Logarithmic x axis. */
  logX?: boolean;
  /** Logarithmic y axis. */
  logY?: boolean;
  /** Also mark each point with a dot. */
  marker?: boolean;
  /** Width in CSS pixels. Default 640. */
  width?: number;
  /** Height in CSS pixels. Default 400. */
  height?: number;
}

/**
 * Plots y against x, one line per named series (`{name: ys}`) with a legend. Tensors
 * among them give a promise of the figure.
 */
export function linePlot(
  xs: Numbers,
  ys: Numbers | Record<string, Numbers>,
  options?: LinePlotOptions,
): Figure;
export function linePlot(
  xs: Values,
  ys: Values | Record<string, Values>,
  options?: LinePlotOptions,
): Figure | Promise<Figure>;
export function linePlot(
  xs: Values,
  ys: Values | Record<string, Values>,
  options: LinePlotOptions = {},
): Figure | Promise<Figure> {
  const series: Record<string, Values> = isTensor(ys) || "length" in ys
    ? { y: ys as Values }
    : ys as Record<string, Values>;
  const names = Object.keys(series);
  return withNumbers(
    [xs, ...names.map((n) => series[n])],
    ([x, ...y]) => lineFigure(x, names, y, options),
  );
}

function lineFigure(
  xs: Numbers,
  names: string[],
  series: Numbers[],
  options: LinePlotOptions,
): Figure {
  const x = Array.from(xs);
  const rows: Array<{ x: number; y: number; series: string }> = [];
  for (const [k, name] of names.entries()) {
    const y = series[k];
    if (y.length !== x.length) {
      throw new Error(
        `Series ${name} has ${y.length} values but xs has ${x.length}: pass equal lengths`,
      );
    }
    for (let i = 0; i < x.length; i++) {
      rows.push({ x: x[i], y: y[i], series: name });
    }
  }
  const many = names.length > 1;
  const { width = 640, height = 400 } = options;
  checkSize(width, height, "Chart");
  const channels = {
    x: "x",
    y: "y",
    z: "series",
    stroke: many ? "series" : C0,
  };
  return figure({
    width,
    height,
    title: options.title,
    grid: true,
    x: { type: options.logX ? "log" : "linear", label: options.xLabel ?? null },
    y: { type: options.logY ? "log" : "linear", label: options.yLabel ?? null },
    color: many ? { legend: true, domain: names, scheme: "category10" } : undefined,
    marks: [
      Plot.line(rows, channels),
      options.marker ? Plot.dot(rows, { ...channels, fill: channels.stroke, r: 2 }) : null,
    ],
  });
}

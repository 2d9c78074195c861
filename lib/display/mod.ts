/**
 * Showing results: Observable Plot figures and images, PNG encoding, progress bars, and
 * Jupyter display.
 * @module
 */
export { display, FIG_DIR_ENV, isJupyter, textOf } from "./display.ts";
export type { DisplayOptions, Savable } from "./display.ts";
export {
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
export type {
  BarChartOptions,
  ImageGridOptions,
  ImshowOptions,
  LinePlotOptions,
  Numbers,
  ProgressOptions,
  Values,
} from "./plot.ts";
export {
  colormap,
  decodePng,
  encodePng,
  svgToPng,
  tileImages,
  toBase64,
  toRgb,
  upscale,
} from "./png.ts";
export type { Cmap, ImageOptions, PngImage, Raster, TileOptions } from "./png.ts";
export {
  barString,
  DEFAULT_BAR_WIDTH,
  detectMode,
  eta,
  formatBar,
  formatDuration,
  formatInfo,
  formatLine,
  formatNumber,
  formatRate,
  inJupyter,
  lineStep,
  progress,
  progressBar,
  rate,
  REDRAW_INTERVAL_MS,
} from "./progress.ts";
export type {
  ProgressBar,
  ProgressBarOptions,
  ProgressInfo,
  ProgressMode,
  ProgressState,
} from "./progress.ts";

/**
 * Progress bars for training loops, in a terminal, in Jupyter and in CI logs.
 *
 * ```ts
 * const bar = progressBar(60_000, { label: "epoch 1" });
 * for (let i = 0; i < 60_000; i++) {
 *   // ... train on one example ...
 *   bar.tick({ loss });
 * }
 * bar.done();
 *
 * for (const i of progress(10_000, { label: "GAN" })) trainStep(i);
 * ```
 *
 * In a terminal the bar redraws one line on stderr at most ~10 times a second. In Deno's
 * Jupyter kernel it updates one output in place. Elsewhere (CI, pipes) it prints a plain line
 * about every 10 %.
 * @module
 */
import { isJupyter } from "./display.ts";

/** Where a progress bar draws: chosen automatically unless given. */
export type ProgressMode = "tty" | "jupyter" | "lines" | "off";

/** Options for {@linkcode progressBar} and {@linkcode progress}. */
export interface ProgressBarOptions {
  /** Text before the bar, e.g. `"epoch 1"`. */
  label?: string;
  /** Width of the bar in characters (default 20). */
  width?: number;
  /** Where to draw; default: Jupyter when in the kernel, else a TTY on stderr, else lines. */
  mode?: ProgressMode;
  /** Clock in milliseconds (default `performance.now`); for tests. */
  now?: () => number;
  /** Receives the text a tty or lines bar writes (default: stderr); for tests. */
  write?: (text: string) => void;
  /** Items already done before this bar started (a resumed run): rate and ETA count only new ones. */
  initial?: number;
}

/** A progress bar: call `tick` or `update` as work is done, then `done`. */
export interface ProgressBar {
  /** Sets the number of items done to `n` and shows `info` (e.g. `{ loss: 0.693 }`). */
  update(n: number, info?: ProgressInfo): void;
  /** Counts one more item done. */
  tick(info?: ProgressInfo): void;
  /** Draws the final state and ends the bar; later calls do nothing. */
  done(): void;
}

/** Named values shown after the bar, e.g. `{ loss: 0.6931, epoch: 2 }`. */
export type ProgressInfo = Record<string, number | string | undefined>;

/** What the formatting functions need to draw a bar. */
export interface ProgressState {
  /** Items done. */
  n: number;
  /** Items in all; not finite or <= 0 when unknown. */
  total: number;
  /** Seconds since the bar started. */
  elapsed: number;
  /** Text before the bar. */
  label?: string;
  /** Values shown after the bar. */
  info?: ProgressInfo;
  /** Items done before the bar started (not counted in the rate). */
  initial?: number;
}

/** Minimum time between two redraws in a terminal or in Jupyter, in milliseconds. */
export const REDRAW_INTERVAL_MS = 100;
/** Default width of the bar in characters. */
export const DEFAULT_BAR_WIDTH = 20;

const BLOCKS = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];

function knownTotal(total: number): boolean {
  return Number.isFinite(total) && total > 0;
}

/** Formats a number with 4 significant digits; integers and strings stay as they are. */
export function formatNumber(x: number | string): string {
  if (typeof x === "string") return x;
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x) && Math.abs(x) < 1e15) return String(x);
  const abs = Math.abs(x);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e15)) return x.toExponential(3);
  return String(Number(x.toPrecision(4)));
}

/** Formats seconds as `m:ss` or `h:mm:ss`; `?` when unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** Items per second, or NaN before any time has passed. */
export function rate(n: number, elapsed: number): number {
  return elapsed > 0 ? n / elapsed : NaN;
}

/** Formats a rate as `it/s`, or as `s/it` when slower than one item a second. */
export function formatRate(itemsPerSecond: number): string {
  if (!Number.isFinite(itemsPerSecond) || itemsPerSecond <= 0) return "? it/s";
  if (itemsPerSecond < 1) return `${formatNumber(1 / itemsPerSecond)} s/it`;
  return `${formatNumber(itemsPerSecond)} it/s`;
}

/** Seconds left at the average rate so far, or NaN when unknown. */
export function eta(n: number, total: number, elapsed: number, initial = 0): number {
  if (!knownTotal(total) || n - initial <= 0 || elapsed <= 0) return NaN;
  return Math.max(0, total - n) * elapsed / (n - initial);
}

/** A bar of `width` characters filled to `fraction` (0 to 1), with eighths of a block. */
export function barString(
  fraction: number,
  width: number = DEFAULT_BAR_WIDTH,
): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const eighths = Math.floor(f * width * 8);
  const full = Math.floor(eighths / 8);
  const part = full < width ? BLOCKS[eighths % 8] : "";
  return "█".repeat(full) + part + " ".repeat(width - full - (part ? 1 : 0));
}

/** Formats the info values as `key=value` pairs. */
export function formatInfo(info?: ProgressInfo): string {
  if (!info) return "";
  // An undefined value (a loss not recorded yet) is left out rather than shown as NaN.
  return Object.entries(info)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${formatNumber(v as number | string)}`)
    .join(", ");
}

/** The one-line bar: `label  45%|████      | 450/1000 [0:05<0:06, 89.12 it/s] loss=0.6931`. */
export function formatBar(
  state: ProgressState,
  width: number = DEFAULT_BAR_WIDTH,
): string {
  const { n, total, elapsed, label, info, initial = 0 } = state;
  const known = knownTotal(total);
  const head = label ? `${label} ` : "";
  const extra = formatInfo(info);
  const timing = known
    ? `${formatDuration(elapsed)}<${formatDuration(eta(n, total, elapsed, initial))}`
    : formatDuration(elapsed);
  const times = `[${timing}, ${formatRate(rate(n - initial, elapsed))}]`;
  const count = known ? `${n}/${total}` : `${n}`;
  const bar = known
    ? `${formatPercent(n / total).padStart(4)}|${barString(n / total, width)}| `
    : "";
  return `${head}${bar}${count} ${times}${extra ? " " + extra : ""}`;
}

/** The plain line for logs: `label: 450/1000 (45%), 89.12 it/s, elapsed 0:05, ETA 0:06, loss=0.6931`. */
export function formatLine(state: ProgressState): string {
  const { n, total, elapsed, label, info, initial = 0 } = state;
  const known = knownTotal(total);
  const parts = [
    known ? `${n}/${total} (${formatPercent(n / total)})` : `${n}`,
    formatRate(rate(n - initial, elapsed)),
    `elapsed ${formatDuration(elapsed)}`,
  ];
  if (known) parts.push(`ETA ${formatDuration(eta(n, total, elapsed, initial))}`);
  const extra = formatInfo(info);
  if (extra) parts.push(extra);
  return `${label ? label + ": " : ""}${parts.join(", ")}`;
}

function formatPercent(fraction: number): string {
  return `${Math.floor(Math.min(1, Math.max(0, fraction)) * 100)}%`;
}

/**
 * Which tenth of the work `n` has reached (0 to 10), for the plain-line policy: print a line
 * whenever this grows. With an unknown total, every power of ten of `n` counts as a step.
 */
export function lineStep(n: number, total: number): number {
  if (knownTotal(total)) {
    return Math.floor(Math.min(1, Math.max(0, n / total)) * 10);
  }
  return n > 0 ? Math.floor(Math.log10(n)) + 1 : 0;
}

/** True when the code runs inside Deno's Jupyter kernel: display.ts's {@link isJupyter}. */
export const inJupyter: () => boolean = isJupyter;

function stderrIsTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

function terminalColumns(): number {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return 80;
  }
}

/** Picks where a bar draws when no mode is given. */
export function detectMode(): ProgressMode {
  if (inJupyter()) return "jupyter";
  return stderrIsTerminal() ? "tty" : "lines";
}

const encoder = new TextEncoder();

function writeStderr(text: string): void {
  Deno.stderr.writeSync(encoder.encode(text));
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(
    />/g,
    "&gt;",
  );
}

let nextDisplayId = 0;

/** Creates a progress bar for `total` items (use NaN when the total is unknown). */
export function progressBar(
  total: number,
  opts: ProgressBarOptions = {},
): ProgressBar {
  const now = opts.now ?? (() => performance.now());
  const width = opts.width ?? DEFAULT_BAR_WIDTH;
  const label = opts.label;
  let mode: ProgressMode = opts.mode ?? detectMode();
  const write = opts.write ?? writeStderr;
  const start = now();
  const initial = opts.initial ?? 0;
  let n = initial;
  let info: ProgressInfo | undefined;
  let lastDraw = -Infinity;
  let lastStep = -1;
  let finished = false;
  let lastPrintedN = -1;
  const displayId = `gan-progress-${Date.now()}-${nextDisplayId++}`;
  let displayed = false;
  let pending: Promise<void> = Promise.resolve();

  const state = (): ProgressState => ({
    n,
    total,
    elapsed: (now() - start) / 1000,
    label,
    info,
    initial,
  });

  function drawJupyter(): void {
    const s = state();
    const text = formatBar(s, width);
    const fraction = knownTotal(total) ? Math.min(1, n / total) : 0;
    const data = {
      "text/plain": text,
      "text/html": `<div style="font-family:monospace;white-space:pre">` +
        (knownTotal(total) ? `<progress value="${fraction}" max="1"></progress> ` : "") +
        escapeHtml(formatLine(s)) + `</div>`,
    };
    const first = !displayed;
    displayed = true;
    // Keep the messages in order; fall back to plain lines if the kernel refuses them.
    pending = pending.then(() =>
      first
        ? Deno.jupyter.display(data, { raw: true, display_id: displayId })
        : Deno.jupyter.broadcast("update_display_data", {
          data,
          metadata: {},
          transient: { display_id: displayId },
        })
    ).catch(() => {
      mode = "lines";
    });
  }

  function drawTty(final: boolean): void {
    let text = formatBar(state(), width);
    const columns = opts.write ? Infinity : terminalColumns();
    if (text.length > columns - 1) {
      text = text.slice(0, Math.max(0, columns - 1));
    }
    write(`\r${text}\x1b[K${final ? "\n" : ""}`);
  }

  function drawLines(final: boolean): void {
    const step = lineStep(n, total);
    if (step > lastStep || (final && n !== lastPrintedN)) {
      lastStep = step;
      lastPrintedN = n;
      write(formatLine(state()) + "\n");
    }
  }

  function draw(final: boolean): void {
    if (mode === "off") return;
    const t = now();
    if (mode !== "lines" && !final && t - lastDraw < REDRAW_INTERVAL_MS) return;
    lastDraw = t;
    if (mode === "jupyter") drawJupyter();
    else if (mode === "tty") drawTty(final);
    else drawLines(final);
  }

  return {
    update(value: number, newInfo?: ProgressInfo): void {
      if (finished) return;
      n = value;
      if (newInfo) info = newInfo;
      draw(false);
    },
    tick(newInfo?: ProgressInfo): void {
      this.update(n + 1, newInfo);
    },
    done(): void {
      if (finished) return;
      draw(true);
      finished = true;
    },
  };
}

function lengthOf(items: unknown): number {
  if (typeof items === "number") return items;
  const sized = items as { length?: unknown; size?: unknown };
  if (typeof sized.length === "number") return sized.length;
  if (typeof sized.size === "number") return sized.size;
  return NaN;
}

/** Yields 0 to `count`-1 while a progress bar counts them. */
export function progress(
  count: number,
  opts?: ProgressBarOptions & { total?: number },
): Generator<number>;
/** Yields the items of `items` while a progress bar counts them (the total from `length`/`size`, or `opts.total`). */
export function progress<T>(
  items: Iterable<T>,
  opts?: ProgressBarOptions & { total?: number },
): Generator<T>;
/** Yields the items (or 0 to n-1 for a number) while a bar counts them; the bar ends with the loop, also on `break`. */
export function* progress<T>(
  items: Iterable<T> | number,
  opts: ProgressBarOptions & { total?: number } = {},
): Generator<T | number> {
  const total = opts.total ?? lengthOf(items);
  const bar = progressBar(total, opts);
  let n = 0;
  try {
    if (typeof items === "number") {
      for (let i = 0; i < items; i++) {
        yield i;
        bar.update(++n);
      }
    } else {
      for (const item of items) {
        yield item;
        bar.update(++n);
      }
    }
  } finally {
    bar.done();
  }
}

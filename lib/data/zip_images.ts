/**
 * Reading JPEG images out of a zip file (or a folder) one at a time, and decoding them.
 *
 * The book's notebook 10 extracts every CelebA JPEG to disk, reads it and deletes it. Here
 * an entry is only ever held in memory: a stored name such as `../evil.jpg` never becomes a
 * path on disk (zip-slip), and memory stays bounded by one entry at a time.
 * @module
 */

import yauzlModule from "yauzl";
import { join } from "node:path";
import decodeWasm, { init as initDecode } from "@jsquash/jpeg/decode.js";
import encodeWasm, { init as initEncode } from "@jsquash/jpeg/encode.js";

/** Largest entry we agree to inflate into memory; a CelebA JPEG is about 10 KB. */
export const MAX_ENTRY_BYTES = 16 * 1024 * 1024;

/** One file found in a zip or folder; `read()` loads its bytes into memory. */
export interface ImageEntry {
  /** The name as stored (zip) or the file name (folder); never used as a path to write. */
  name: string;
  /** Uncompressed size in bytes as the source declares it. */
  size: number;
  /** Why this entry must not be read (unsafe name, too big), or undefined if it may be. */
  problem?: string;
  /** Loads the entry's bytes; call it before asking for the next entry. */
  read(): Promise<Uint8Array>;
}

/** An RGB image: `height * width * 3` bytes, rows top to bottom. */
export interface RgbImage {
  /** Pixel bytes in row-major order, three per pixel. */
  data: Uint8Array;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}

/** True when a name ends in `.jpg` or `.jpeg` (any case); the book keeps only `.jpg`. */
export function isJpegName(name: string): boolean {
  return /\.jpe?g$/i.test(name);
}

// yauzl ships no types: the small part of its API we use.
interface YauzlEntry {
  fileNameRaw: Uint8Array;
  generalPurposeBitFlag: number;
  extraFields: unknown[];
  uncompressedSize: number;
}
interface YauzlZip {
  eachEntry(): AsyncIterable<YauzlEntry>;
  openReadStreamPromise(entry: YauzlEntry): Promise<AsyncIterable<Uint8Array>>;
  close(): void;
}
interface Yauzl {
  openPromise(
    path: string,
    options: Record<string, unknown>,
  ): Promise<YauzlZip>;
  getFileNameLowLevel(
    flags: number,
    raw: Uint8Array,
    extraFields: unknown[],
    strict: boolean,
  ): string;
  validateFileName(name: string): string | null;
}
const yauzl = yauzlModule as unknown as Yauzl;

async function collect(
  stream: AsyncIterable<Uint8Array>,
  limit: number,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const part of stream) {
    total += part.length;
    if (total > limit) throw new Error(`Entry is larger than ${limit} bytes`);
    parts.push(part);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * An entry that `load` reads, unless it has a problem (its name is `unsafe`, for that reason, or
 * it is larger than {@linkcode MAX_ENTRY_BYTES}): then `problem` says why and `read()` rejects.
 */
function imageEntry(
  name: string,
  size: number,
  unsafe: string | undefined,
  load: () => Promise<Uint8Array>,
): ImageEntry {
  const problem = unsafe !== undefined
    ? `unsafe name (${unsafe}), not read`
    : size > MAX_ENTRY_BYTES
    ? `entry of ${size} bytes is larger than ${MAX_ENTRY_BYTES}, not read`
    : undefined;
  return {
    name,
    size,
    problem,
    read: () =>
      problem === undefined
        ? load()
        : Promise.reject(new Error(`Entry ${name} cannot be read: ${problem}`)),
  };
}

/** Streams the entries of a zip file in stored order, directories left out. */
export async function* zipEntries(path: string): AsyncGenerator<ImageEntry> {
  // decodeStrings: false stops yauzl from aborting the whole zip on one unsafe name;
  // we decode and check each name ourselves and skip only that entry.
  const zip = await yauzl.openPromise(path, {
    decodeStrings: false,
    autoClose: true,
  });
  try {
    for await (const entry of zip.eachEntry()) {
      const name = yauzl.getFileNameLowLevel(
        entry.generalPurposeBitFlag,
        entry.fileNameRaw,
        entry.extraFields,
        false,
      );
      if (name.endsWith("/")) continue;
      yield imageEntry(
        name,
        entry.uncompressedSize,
        yauzl.validateFileName(name) ?? undefined,
        async () => collect(await zip.openReadStreamPromise(entry), MAX_ENTRY_BYTES),
      );
    }
  } finally {
    zip.close();
  }
}

/** Lists the files of one folder (not its subfolders) in name order, as entries. */
export async function* folderEntries(dir: string): AsyncGenerator<ImageEntry> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.isFile) names.push(e.name);
  // readDir order is arbitrary; numeric-aware sorting keeps 2.jpg before 10.jpg.
  names.sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  for (const name of names) {
    const path = join(dir, name);
    yield imageEntry(name, (await Deno.stat(path)).size, undefined, () => Deno.readFile(path));
  }
}

/** Entries of a zip file or of a folder, whichever `path` is. */
export async function* imageEntries(path: string): AsyncGenerator<ImageEntry> {
  const info = await Deno.stat(path);
  yield* info.isDirectory ? folderEntries(path) : zipEntries(path);
}

let codecs: Promise<void> | undefined;
let codecMessages: string[] = [];

// The wasm files sit beside the package's JS; loading them from disk avoids the fetch
// that Emscripten would otherwise try, and needs only read permission.
function initCodecs(): Promise<void> {
  codecs ??= (async () => {
    const dir = new URL("./", import.meta.resolve("@jsquash/jpeg"));
    const load = async (file: string) =>
      WebAssembly.compile(await Deno.readFile(new URL(file, dir)));
    // libjpeg explains a failure only on stderr; catching it gives the reason we report.
    const printErr = (s: string) => codecMessages.push(s);
    // The published .d.ts lists only one argument; the JS takes (module, overrides).
    type Init = (
      module: WebAssembly.Module,
      overrides: object,
    ) => Promise<void>;
    await (initDecode as unknown as Init)(
      await load("codec/dec/mozjpeg_dec.wasm"),
      { printErr },
    );
    await (initEncode as unknown as Init)(
      await load("codec/enc/mozjpeg_enc.wasm"),
      { printErr },
    );
  })();
  return codecs;
}

/** Decodes a JPEG to RGB with mozjpeg (bit-identical to PIL); throws with libjpeg's reason. */
export async function decodeJpeg(bytes: Uint8Array): Promise<RgbImage> {
  await initCodecs();
  codecMessages = [];
  let rgba: ImageData;
  try {
    rgba = await decodeWasm(bytes.slice().buffer);
  } catch (e) {
    throw new Error(codecMessages.join("; ") || (e as Error).message);
  }
  // libjpeg decodes a truncated file with a warning; PIL refuses it, and so do we.
  if (codecMessages.length > 0) throw new Error(codecMessages.join("; "));
  const { width, height } = rgba;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < data.length; i += 3, j += 4) {
    data[i] = rgba.data[j];
    data[i + 1] = rgba.data[j + 1];
    data[i + 2] = rgba.data[j + 2];
  }
  return { data, width, height };
}

/** Encodes an RGB image as a JPEG (mozjpeg), e.g. to make test zips. */
export async function encodeJpeg(
  image: RgbImage,
  options: { quality?: number } = {},
): Promise<Uint8Array> {
  await initCodecs();
  const { data, width, height } = image;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0, j = 0; i < data.length; i += 3, j += 4) {
    rgba[j] = data[i];
    rgba[j + 1] = data[i + 1];
    rgba[j + 2] = data[i + 2];
    rgba[j + 3] = 255;
  }
  const imageData = {
    data: rgba,
    width,
    height,
    colorSpace: "srgb",
  } as ImageData;
  return new Uint8Array(
    await encodeWasm(imageData, { quality: options.quality ?? 90 }),
  );
}

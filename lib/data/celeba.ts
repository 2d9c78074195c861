/**
 * CelebA faces for the book's chapter 2.4 (notebooks 10-12, 14, 15): the converter from
 * `img_align_celeba.zip` to the book's HDF5 file, and `CelebADataset`, the book's
 * `CelebADataset(Dataset)` class.
 *
 * Without the real file, `CelebADataset.open()` falls back to synthetic cartoon faces
 * (lib/data/faces.ts), generated on first use and labelled as such.
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { CELEBA_GROUP, CELEBA_SHAPE, CelebaHdf5Writer, h5 } from "./hdf5.ts";
import type { File as H5File, Group as H5Group } from "h5wasm/node";
import { decodeJpeg, imageEntries, isJpegName } from "./zip_images.ts";
import { DEFAULT_FACE_COUNT, DEFAULT_FACE_SEED, generateFace, SYNTHETIC_NOTE } from "./faces.ts";
import { quick } from "../quick.ts";
import { dataDir } from "../settings.ts";
import { exists } from "./atomic.ts";
import { type Figure, imshow } from "../display/plot.ts";
import { progressBar } from "../display/progress.ts";

/** The project's data folder (`data/` at the repository root, or `$GAN_DATA_DIR`; see settings.ts). */
export const DATA_DIR: string = dataDir();
/** Where the converter writes real CelebA, and where the loader looks for it first. */
export const CELEBA_FILE: string = join(DATA_DIR, "celeba_aligned_small.h5");
/** The synthetic stand-in; quick mode uses a smaller file of its own so the two never mix. */
export const SYNTHETIC_FILE: string = join(
  DATA_DIR,
  quick("faces_synthetic.h5", "faces_synthetic_quick.h5"),
);
/** Faces generated for the stand-in when it is missing (200 in quick mode). */
export const SYNTHETIC_COUNT: number = quick(DEFAULT_FACE_COUNT, 200);
/** How many of CelebA's 202,599 images the book packs into HDF5. */
export const DEFAULT_CELEBA_COUNT = 20000;

/** An entry the converter left out, and why. */
export interface SkippedEntry {
  /** Name as stored in the zip or folder. */
  name: string;
  /** Why it was skipped. */
  reason: string;
}

/** What `makeCelebaHdf5` did. */
export interface ConvertResult {
  /** The HDF5 file written. */
  out: string;
  /** Images written (`0.jpg` ... `written-1.jpg`). */
  written: number;
  /** Entries left out, in the order met. */
  skipped: SkippedEntry[];
  /** Wall time in seconds. */
  seconds: number;
}

/** Options for {@linkcode makeCelebaHdf5}. */
export interface ConvertOptions {
  /** Images to write; the book takes the first 20,000. */
  count?: number;
  /** Called after each image written. */
  onProgress?: (written: number) => void;
  /** Called for each entry left out, as it happens. */
  onSkip?: (entry: SkippedEntry) => void;
}

/**
 * Notebook 10: packs the first `count` aligned CelebA JPEGs of a zip or folder into the
 * book's HDF5 layout, streaming one image at a time; the file appears only when complete.
 */
export async function makeCelebaHdf5(
  source: string,
  out: string,
  options: ConvertOptions = {},
): Promise<ConvertResult> {
  const count = options.count ?? DEFAULT_CELEBA_COUNT;
  const [h, w] = CELEBA_SHAPE;
  const t0 = performance.now();
  const skipped: SkippedEntry[] = [];
  const skip = (name: string, reason: string) => {
    const entry = { name, reason };
    skipped.push(entry);
    options.onSkip?.(entry);
  };
  const writer = await CelebaHdf5Writer.create(out);
  try {
    for await (const entry of imageEntries(source)) {
      if (writer.count >= count) break;
      if (!isJpegName(entry.name)) {
        skip(entry.name, "not a .jpg file");
        continue;
      }
      if (entry.problem) {
        skip(entry.name, entry.problem);
        continue;
      }
      let img;
      try {
        img = await decodeJpeg(await entry.read());
      } catch (e) {
        skip(entry.name, `corrupt JPEG: ${(e as Error).message}`);
        continue;
      }
      if (img.width !== w || img.height !== h) {
        skip(
          entry.name,
          `image is ${img.width}x${img.height}, expected ${w}x${h} (aligned CelebA)`,
        );
        continue;
      }
      writer.add(img.data);
      options.onProgress?.(writer.count);
    }
    if (writer.count === 0) {
      throw new Error(
        `No ${w}x${h} JPEG images found in ${source}: pass img_align_celeba.zip or a folder of its JPEGs`,
      );
    }
  } catch (e) {
    await writer.abort();
    throw e;
  }
  await writer.commit();
  return {
    out,
    written: writer.count,
    skipped,
    seconds: (performance.now() - t0) / 1000,
  };
}

/**
 * The file `CelebADataset.open()` uses by default: real CelebA if converted, else the
 * synthetic faces, generated now if missing.
 */
export async function defaultCelebaPath(
  options: { log?: (line: string) => void } = {},
): Promise<string> {
  if (await exists(CELEBA_FILE)) return CELEBA_FILE;
  if (!(await exists(SYNTHETIC_FILE))) {
    const log = options.log ?? console.log;
    log(
      `CelebA not found at ${CELEBA_FILE} (make it with scripts/make_celeba_hdf5.ts); ` +
        `generating ${SYNTHETIC_COUNT} synthetic cartoon faces into ${SYNTHETIC_FILE}`,
    );
    await Deno.mkdir(DATA_DIR, { recursive: true });
    // A private temporary name lets two notebooks start at once: both renames are atomic
    // and the faces are deterministic, so either file is the same.
    const tmp = `${SYNTHETIC_FILE}.${Deno.pid}`;
    const bar = progressBar(SYNTHETIC_COUNT, { label: "synthetic faces" });
    await makeSyntheticFaces(tmp, {
      count: SYNTHETIC_COUNT,
      onProgress: (n) => bar.update(n),
    });
    bar.done();
    await Deno.rename(tmp, SYNTHETIC_FILE);
  }
  return SYNTHETIC_FILE;
}

/** The book's `crop_centre`: the central `width` x `height` window of an (H, W, C) image. */
export function cropCentre(
  img: tf.Tensor3D,
  width: number,
  height: number = width,
): tf.Tensor3D {
  const [h, w, c] = img.shape;
  if (width > w || height > h) {
    throw new Error(
      `Crop ${width}x${height} is larger than the ${w}x${h} image: crop less`,
    );
  }
  // Same integer arithmetic as the book: width//2 - new_width//2.
  const x = Math.floor(w / 2) - Math.floor(width / 2);
  const y = Math.floor(h / 2) - Math.floor(height / 2);
  return tf.slice(img, [y, x, 0], [height, width, c]);
}

/** Crop for `get`, `batch` and `plotImage`: a square side, or `[width, height]`. */
export type Crop = number | [number, number];

// byte / 255 as float32, looked up rather than divided for every pixel.
const UNIT = Float32Array.from({ length: 256 }, (_, k) => k / 255);

/** The book's `CelebADataset`: images of an HDF5 file in the CelebA layout, as 0-1 tensors. */
export class CelebADataset {
  /** Number of images. */
  readonly length: number;
  /** True for the cartoon stand-in made by lib/data/faces.ts, false for real CelebA. */
  readonly synthetic: boolean;
  /** Image height, width and channels (218, 178, 3 for aligned CelebA). */
  readonly shape: [number, number, number];
  #file: H5File | null;
  #group: H5Group;
  #name: (i: number) => string;
  #note: string;

  private constructor(
    readonly path: string,
    file: H5File,
    group: H5Group,
    names: string[],
  ) {
    this.#file = file;
    this.#group = group;
    this.length = names.length;
    // Files made by the book's own notebook 10 keep CelebA's names (000001.jpg ...);
    // ours are renumbered from 0.jpg, which is what the book's __getitem__ asks for.
    const has = new Set(names);
    this.#name = has.has("0.jpg") || !has.has("000001.jpg")
      ? (i) => `${i}.jpg`
      : (i) => `${String(i + 1).padStart(6, "0")}.jpg`;
    const attrs = file.attrs;
    const note = "synthetic" in attrs ? String(file.get_attribute("synthetic", true)) : "";
    this.synthetic = note !== "";
    this.#note = note;
    this.shape = this.length > 0
      ? this.#dataset(0).shape as [number, number, number]
      : [...CELEBA_SHAPE];
  }

  /** Opens an HDF5 file; with no path, real CelebA if present, else the synthetic faces. */
  static async open(
    path?: string,
    options: { log?: (line: string) => void } = {},
  ): Promise<CelebADataset> {
    const lib = await h5();
    const file_path = path ?? await defaultCelebaPath(options);
    if (!(await exists(file_path))) {
      throw new Error(
        `No HDF5 file at ${file_path}: make it with scripts/make_celeba_hdf5.ts or open() with no path`,
      );
    }
    const file = new lib.File(file_path, "r");
    const group = file.get(CELEBA_GROUP);
    if (!(group instanceof lib.Group)) {
      file.close();
      throw new Error(
        `No group ${CELEBA_GROUP} in ${file_path}: make the file with scripts/make_celeba_hdf5.ts`,
      );
    }
    return new CelebADataset(file_path, file, group, group.keys());
  }

  #dataset(i: number) {
    if (!this.#file) throw new Error("Dataset is closed: open it again");
    const d = this.#group.get(this.#name(i));
    if (d === null || !("shape" in d)) {
      throw new Error(
        `Image ${this.#name(i)} is missing from ${this.path}: rebuild the file`,
      );
    }
    return d as unknown as { shape: number[]; value: unknown };
  }

  #check(i: number) {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) {
      // The book raises IndexError here so that PyTorch-style loops stop cleanly.
      throw new RangeError(
        `Index ${i} is out of range: the dataset has ${this.length} images, use 0 to ${
          this.length - 1
        }`,
      );
    }
  }

  /** The raw bytes of image `i`, (H, W, 3) row-major, like `numpy.array(dataset['7.jpg'])`. */
  pixels(i: number): Uint8Array {
    this.#check(i);
    const v = this.#dataset(i).value;
    if (!(v instanceof Uint8Array)) {
      throw new Error(`Image ${i} is not uint8: rebuild the file`);
    }
    return v;
  }

  /** Image `i` as a float32 tensor in 0-1 of shape (H, W, 3), the book's `__getitem__`. */
  get(i: number, options: { crop?: Crop } = {}): tf.Tensor3D {
    return tf.tensor3d(...this.#floats([i], options.crop)) as tf.Tensor3D;
  }

  /** Several images stacked as (N, H, W, 3) float32 in 0-1, read without temporary tensors. */
  batch(
    indices: ArrayLike<number>,
    options: { crop?: Crop } = {},
  ): tf.Tensor4D {
    const [data, [h, w, c]] = this.#floats(Array.from(indices), options.crop);
    return tf.tensor4d(data, [indices.length, h, w, c]);
  }

  #floats(
    indices: number[],
    crop?: Crop,
  ): [Float32Array, [number, number, number]] {
    const [h, w, c] = this.shape;
    const [cw, ch] = crop === undefined ? [w, h] : typeof crop === "number" ? [crop, crop] : crop;
    if (cw > w || ch > h) {
      throw new Error(`Crop ${cw}x${ch} is larger than ${w}x${h}: crop less`);
    }
    const x0 = Math.floor(w / 2) - Math.floor(cw / 2),
      y0 = Math.floor(h / 2) - Math.floor(ch / 2);
    const out = new Float32Array(indices.length * ch * cw * c);
    let o = 0;
    for (const i of indices) {
      const px = this.pixels(i);
      for (let y = 0; y < ch; y++) {
        const row = ((y0 + y) * w + x0) * c;
        for (let k = 0; k < cw * c; k++) out[o++] = UNIT[px[row + k]];
      }
    }
    return [out, [ch, cw, c]];
  }

  /** The book's `plot_image`: image `i` (optionally centre-cropped) as a figure. */
  plotImage(i: number, options: { crop?: Crop; title?: string } = {}): Figure {
    const [h, w] = this.shape;
    if (options.crop === undefined) {
      return imshow(this.pixels(i), {
        width: w,
        height: h,
        channels: 3,
        title: options.title,
      });
    }
    const [data, [ch, cw]] = this.#floats([i], options.crop);
    return imshow(data, {
      width: cw,
      height: ch,
      channels: 3,
      title: options.title,
    });
  }

  /** One line saying what this is, and whether it is the synthetic stand-in. */
  describe(): string {
    const [h, w, c] = this.shape;
    const what = this.synthetic ? `SYNTHETIC, ${this.#note}` : "CelebA";
    return `CelebADataset: ${this.length} images of ${h}x${w}x${c} from ${this.path} (${what})`;
  }

  /** Same as `describe()`. */
  toString(): string {
    return this.describe();
  }

  /** Closes the HDF5 file; later reads throw. */
  close(): void {
    this.#file?.close();
    this.#file = null;
  }
}

/** Writes `count` synthetic faces to `path` in the book's HDF5 layout (via `<path>.tmp`). */
export async function makeSyntheticFaces(
  path: string,
  options: {
    count?: number;
    seed?: number;
    onProgress?: (done: number) => void;
  } = {},
): Promise<{ count: number; seconds: number }> {
  const count = options.count ?? DEFAULT_FACE_COUNT;
  const seed = options.seed ?? DEFAULT_FACE_SEED;
  const t0 = performance.now();
  const writer = await CelebaHdf5Writer.create(path, {
    attributes: { synthetic: SYNTHETIC_NOTE, seed: String(seed) },
  });
  try {
    for (let i = 0; i < count; i++) {
      writer.add(generateFace(i, { seed }).pixels);
      options.onProgress?.(i + 1);
    }
  } catch (e) {
    await writer.abort();
    throw e;
  }
  await writer.commit();
  return { count, seconds: (performance.now() - t0) / 1000 };
}

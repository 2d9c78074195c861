/**
 * HDF5 files in the book's CelebA layout: one group `img_align_celeba` holding datasets
 * `0.jpg`, `1.jpg`, ... each a uint8 array of shape (218, 178, 3), gzip level 9.
 *
 * h5wasm (HDF5 compiled to wasm) reads and writes the same files as the book's h5py.
 * @module
 */

import h5wasm from "h5wasm/node";
import type { File as H5File, Group as H5Group } from "h5wasm/node";

/** The group that holds the images, named as in the book. */
export const CELEBA_GROUP = "img_align_celeba";
/** Height, width and channels of an aligned CelebA image. */
export const CELEBA_SHAPE: readonly [number, number, number] = [218, 178, 3];
/** gzip level the book's notebook 10 uses (`compression_opts=9`). */
export const GZIP_LEVEL = 9;

/** The h5wasm module once its wasm is ready; every function here awaits it. */
export async function h5(): Promise<typeof h5wasm> {
  await h5wasm.ready;
  return h5wasm;
}

/** Dataset name of image `i`, the book's `str(index) + '.jpg'`. */
export function imageName(i: number): string {
  return `${i}.jpg`;
}

/** Writes images into `<path>.tmp` in the CelebA layout, renamed to `path` on `commit()`. */
export class CelebaHdf5Writer {
  #file: H5File;
  #group: H5Group;
  #count = 0;
  #open = true;

  private constructor(
    readonly path: string,
    readonly tmpPath: string,
    file: H5File,
  ) {
    this.#file = file;
    this.#group = file.create_group(CELEBA_GROUP);
  }

  /** Starts a new file; `attributes` become string attributes on the root group. */
  static async create(
    path: string,
    options: { attributes?: Record<string, string> } = {},
  ): Promise<CelebaHdf5Writer> {
    const lib = await h5();
    const tmpPath = `${path}.tmp`;
    const writer = new CelebaHdf5Writer(
      path,
      tmpPath,
      new lib.File(tmpPath, "w"),
    );
    for (const [k, v] of Object.entries(options.attributes ?? {})) {
      writer.#file.create_attribute(k, v);
    }
    return writer;
  }

  /** Number of images written so far. */
  get count(): number {
    return this.#count;
  }

  /** Appends one RGB image of shape (218, 178, 3) and returns its dataset name. */
  add(pixels: Uint8Array): string {
    const [h, w, c] = CELEBA_SHAPE;
    if (!this.#open) {
      throw new Error("Writer is closed: create a new CelebaHdf5Writer");
    }
    if (pixels.length !== h * w * c) {
      throw new Error(
        `Image has ${pixels.length} bytes, expected ${h * w * c} (${h}x${w}x${c}): resize it first`,
      );
    }
    const name = imageName(this.#count);
    this.#group.create_dataset({
      name,
      data: pixels,
      shape: [h, w, c],
      dtype: "<B",
      // HDF5 compresses only chunked datasets; one chunk per image, as h5py chooses.
      chunks: [h, w, c],
      compression: "gzip",
      compression_opts: GZIP_LEVEL,
    });
    this.#count++;
    return name;
  }

  /** Closes the temporary file and renames it to the final path. */
  async commit(): Promise<void> {
    this.#close();
    await Deno.rename(this.tmpPath, this.path);
  }

  /** Closes and deletes the temporary file, leaving any earlier `path` untouched. */
  async abort(): Promise<void> {
    this.#close();
    await Deno.remove(this.tmpPath).catch(() => {});
  }

  #close() {
    if (this.#open) this.#file.close();
    this.#open = false;
  }
}

/** What an HDF5 file holds: root attributes, groups with dataset counts, one example. */
export interface Hdf5Description {
  /** The file described. */
  path: string;
  /** Root-group attributes (e.g. `synthetic`). */
  attributes: Record<string, unknown>;
  /** Each top-level group and how many datasets it holds. */
  groups: { name: string; datasets: number }[];
  /** Shape, dtype and storage of one dataset, if any exists. */
  example?: {
    path: string;
    shape: number[];
    dtype: string;
    chunks: number[] | null;
    filters: string[];
  };
}

/** Lists groups, dataset counts and one dataset's shape/dtype (default: the first image). */
export async function describeHdf5(
  path: string,
  options: { dataset?: string } = {},
): Promise<Hdf5Description> {
  const lib = await h5();
  const file = new lib.File(path, "r");
  try {
    const attributes: Record<string, unknown> = {};
    for (const k of Object.keys(file.attrs)) {
      attributes[k] = file.get_attribute(k, true);
    }
    const groups: Hdf5Description["groups"] = [];
    let first: string | undefined;
    for (const name of file.keys()) {
      const g = file.get(name);
      if (g instanceof lib.Group) {
        const keys = g.keys();
        groups.push({ name, datasets: keys.length });
        if (first === undefined && keys.length > 0) {
          first = `${name}/${keys[0]}`;
        }
      }
    }
    const target = options.dataset ?? first;
    let example: Hdf5Description["example"];
    if (target !== undefined) {
      const d = file.get(target);
      if (!(d instanceof lib.Dataset)) {
        throw new Error(
          `No dataset ${target} in ${path}: pick one of the names in its groups`,
        );
      }
      example = {
        path: target,
        shape: d.shape ?? [],
        dtype: String(d.dtype),
        chunks: d.metadata.chunks ?? null,
        filters: d.filters.map((f) => `${f.name}(${f.cd_values.join(",")})`),
      };
    }
    return { path, attributes, groups, example };
  } finally {
    file.close();
  }
}

/** Reads one dataset whole, e.g. `img_align_celeba/7.jpg` (notebook 11's `dataset['7.jpg']`). */
export async function readHdf5Array(
  path: string,
  dataset: string,
): Promise<{ data: Uint8Array; shape: number[] }> {
  const lib = await h5();
  const file = new lib.File(path, "r");
  try {
    const d = file.get(dataset);
    if (!(d instanceof lib.Dataset)) {
      throw new Error(
        `No dataset ${dataset} in ${path}: check the name with describeHdf5()`,
      );
    }
    const v = d.value;
    if (!(v instanceof Uint8Array)) {
      throw new Error(
        `Dataset ${dataset} is ${d.dtype}, not uint8: expected image bytes`,
      );
    }
    return { data: v, shape: d.shape ?? [] };
  } finally {
    file.close();
  }
}

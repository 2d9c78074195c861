import assert from "node:assert/strict";
import { join, relative } from "node:path";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { zipSync } from "fflate";
import {
  CELEBA_FILE,
  CelebADataset,
  cropCentre,
  makeCelebaHdf5,
  makeSyntheticFaces,
  SYNTHETIC_FILE,
} from "./celeba.ts";
import { CELEBA_GROUP, describeHdf5, h5, readHdf5Array } from "./hdf5.ts";
import { decodeJpeg, encodeJpeg } from "./zip_images.ts";
import { FACE_HEIGHT as H, FACE_WIDTH as W, generateFace, SYNTHETIC_NOTE } from "./faces.ts";

await tf.setBackend("wasm");

const faceJpeg = (i: number) =>
  encodeJpeg({ data: generateFace(i).pixels, width: W, height: H }, {
    quality: 90,
  });
const jpegs = await Promise.all([0, 1, 2, 3].map(faceJpeg));
const smallJpeg = await encodeJpeg({
  data: new Uint8Array(8 * 8 * 3).fill(90),
  width: 8,
  height: 8,
});

async function listTree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = join(dir, e.name);
      out.push(relative(root, p));
      if (e.isDirectory) await walk(p);
    }
  };
  await walk(root);
  return out.sort();
}

async function withTempDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function allImages(path: string): Promise<Map<string, Uint8Array>> {
  const lib = await h5();
  const f = new lib.File(path, "r");
  try {
    const g = f.get(CELEBA_GROUP) as InstanceType<typeof lib.Group>;
    return new Map(
      g.keys().map((k) => [k, (g.get(k) as { value: Uint8Array }).value]),
    );
  } finally {
    f.close();
  }
}

Deno.test("makeCelebaHdf5() packs the good JPEGs of a zip and skips the rest with reasons", async () => {
  await withTempDir(async (base) => {
    // The zip sits in base/in, the output in base/work: a zip-slip would land in base.
    await Deno.mkdir(join(base, "in"));
    await Deno.mkdir(join(base, "work"));
    const zip = join(base, "in", "img_align_celeba.zip");
    await Deno.writeFile(
      zip,
      zipSync({
        "img_align_celeba/000001.jpg": jpegs[0],
        "img_align_celeba/readme.txt": new TextEncoder().encode("not an image"),
        "img_align_celeba/000002.jpg": jpegs[1],
        "img_align_celeba/bad.jpg": Uint8Array.from(
          { length: 500 },
          (_, i) => (i * 97) % 256,
        ),
        "../evil.jpg": jpegs[3],
        "img_align_celeba/small.jpg": smallJpeg,
        "img_align_celeba/000003.jpg": jpegs[2],
      }),
    );
    const before = await listTree(base);
    const out = join(base, "work", "celeba.h5");
    const progress: number[] = [];
    const r = await makeCelebaHdf5(zip, out, {
      onProgress: (n) => progress.push(n),
    });
    assert.equal(r.written, 3);
    assert.deepEqual(progress, [1, 2, 3]);
    assert.deepEqual(r.skipped.map((s) => s.name), [
      "img_align_celeba/readme.txt",
      "img_align_celeba/bad.jpg",
      "../evil.jpg",
      "img_align_celeba/small.jpg",
    ]);
    assert.match(r.skipped[0].reason, /not a \.jpg file/);
    assert.match(r.skipped[1].reason, /corrupt JPEG: .+/);
    assert.match(r.skipped[2].reason, /unsafe name/);
    assert.match(r.skipped[3].reason, /8x8, expected 178x218/);
    // Nothing but the output appeared anywhere under base, and no .tmp is left.
    assert.deepEqual(
      await listTree(base),
      [...before, "work/celeba.h5"].sort(),
    );
    await assert.rejects(Deno.stat(join(Deno.cwd(), "..", "evil.jpg")));

    const d = await describeHdf5(out);
    assert.deepEqual(d.groups, [{ name: CELEBA_GROUP, datasets: 3 }]);
    assert.deepEqual(d.example, {
      path: `${CELEBA_GROUP}/0.jpg`,
      shape: [H, W, 3],
      dtype: "<B",
      chunks: [H, W, 3],
      filters: ["deflate(9)"],
    });
    const third = await readHdf5Array(out, `${CELEBA_GROUP}/2.jpg`);
    assert.deepEqual(third.data, (await decodeJpeg(jpegs[2])).data);

    // A rerun replaces the file with identical datasets.
    const first = await allImages(out);
    await makeCelebaHdf5(zip, out);
    assert.deepEqual(await allImages(out), first);
    assert.deepEqual(
      await listTree(base),
      [...before, "work/celeba.h5"].sort(),
    );
  });
});

Deno.test("makeCelebaHdf5() stops at count and reads a folder in numeric order", async () => {
  await withTempDir(async (dir) => {
    const src = join(dir, "img_align_celeba");
    await Deno.mkdir(src);
    await Deno.writeFile(join(src, "10.jpg"), jpegs[2]);
    await Deno.writeFile(join(src, "2.jpg"), jpegs[1]);
    await Deno.writeFile(join(src, "1.jpg"), jpegs[0]);
    await Deno.writeFile(join(src, "notes.txt"), new Uint8Array([1]));
    const out = join(dir, "f.h5");
    const r = await makeCelebaHdf5(src, out, { count: 2 });
    assert.equal(r.written, 2);
    const images = await allImages(out);
    assert.deepEqual([...images.keys()].sort(), ["0.jpg", "1.jpg"]);
    assert.deepEqual(images.get("1.jpg"), (await decodeJpeg(jpegs[1])).data);
    const all = await makeCelebaHdf5(src, out);
    assert.equal(all.written, 3);
    assert.deepEqual(all.skipped, [{
      name: "notes.txt",
      reason: "not a .jpg file",
    }]);
  });
});

Deno.test("makeCelebaHdf5() throws and leaves no file when there are no images", async () => {
  await withTempDir(async (dir) => {
    const zip = join(dir, "empty.zip");
    await Deno.writeFile(zip, zipSync({ "a.txt": new Uint8Array([1]) }));
    await assert.rejects(
      makeCelebaHdf5(zip, join(dir, "o.h5")),
      /No 178x218 JPEG images found/,
    );
    assert.deepEqual(await listTree(dir), ["empty.zip"]);
  });
});

Deno.test("CelebADataset reads 0-1 tensors, crops the centre and says it is synthetic", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "faces.h5");
    await makeSyntheticFaces(path, { count: 3 });
    const ds = await CelebADataset.open(path);
    try {
      assert.equal(ds.length, 3);
      assert.ok(ds.synthetic);
      assert.deepEqual(ds.shape, [H, W, 3]);
      assert.match(
        ds.describe(),
        /3 images of 218x178x3 .*SYNTHETIC.*not CelebA/,
      );
      assert.equal(String(ds), ds.describe());
      const tensorsBefore = tf.memory().numTensors;

      const img = ds.get(1);
      assert.deepEqual(img.shape, [H, W, 3]);
      assert.equal(img.dtype, "float32");
      const px = ds.pixels(1);
      const vals = img.dataSync();
      for (const k of [0, 1000, 50000, px.length - 1]) {
        assert.ok(Math.abs(vals[k] - px[k] / 255) < 1e-7);
      }
      const max = tf.max(img);
      assert.ok(max.dataSync()[0] <= 1);

      // The book's crop_centre: 218x178 -> 128x128 starts at row 45, column 25.
      const crop = cropCentre(img, 128, 128);
      assert.deepEqual(crop.shape, [128, 128, 3]);
      assert.ok(
        Math.abs(crop.dataSync()[0] - px[(45 * W + 25) * 3] / 255) < 1e-7,
      );
      const batch = ds.batch([1, 0], { crop: 128 });
      assert.deepEqual(batch.shape, [2, 128, 128, 3]);
      assert.deepEqual(
        Array.from(batch.dataSync().subarray(0, 128 * 128 * 3)),
        Array.from(crop.dataSync()),
      );
      const wide = ds.get(2, { crop: [100, 60] });
      assert.deepEqual(wide.shape, [60, 100, 3]);
      tf.dispose([img, max, crop, batch, wide]);
      assert.equal(tf.memory().numTensors, tensorsBefore);

      assert.throws(
        () => ds.get(3),
        (e) =>
          e instanceof RangeError &&
          /Index 3 is out of range: the dataset has 3 images, use 0 to 2/.test(
            e.message,
          ),
      );
      assert.throws(() => ds.get(-1), RangeError);
      assert.throws(() => ds.batch([0, 5]), RangeError);
      assert.throws(() => ds.get(0, { crop: 300 }), /larger than/);

      const fig = ds.plotImage(0, { title: "face 0" });
      assert.match(fig.svg, /<svg/);
      assert.ok(ds.plotImage(0, { crop: 128 }).svg.length > 0);
    } finally {
      ds.close();
    }
    assert.throws(() => ds.pixels(0), /closed/);
  });
});

Deno.test("CelebADataset maps index i to 000001.jpg-style names in files the book's notebook made", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "book.h5");
    const lib = await h5();
    const f = new lib.File(path, "w");
    const g = f.create_group(CELEBA_GROUP);
    for (const i of [0, 1]) {
      g.create_dataset({
        name: `00000${i + 1}.jpg`,
        data: generateFace(i).pixels,
        shape: [H, W, 3],
        dtype: "<B",
      });
    }
    f.close();
    const ds = await CelebADataset.open(path);
    try {
      assert.equal(ds.length, 2);
      assert.ok(!ds.synthetic);
      assert.match(ds.describe(), /\(CelebA\)/);
      assert.deepEqual(ds.pixels(1), generateFace(1).pixels);
    } finally {
      ds.close();
    }
  });
});

Deno.test("CelebADataset.open() explains a missing file or group", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      CelebADataset.open(join(dir, "nope.h5")),
      /No HDF5 file at .*make_celeba_hdf5/,
    );
    const path = join(dir, "other.h5");
    const lib = await h5();
    new lib.File(path, "w").close();
    await assert.rejects(CelebADataset.open(path), /No group img_align_celeba/);
  });
});

const haveDefault = [CELEBA_FILE, SYNTHETIC_FILE].some((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});
Deno.test({
  name: "CelebADataset.open() with no path opens the real or synthetic default file",
  // Opening the default may otherwise generate the synthetic set, too slow for a unit test.
  ignore: !haveDefault,
  fn: async () => {
    const ds = await CelebADataset.open();
    try {
      assert.ok(ds.length > 0);
      assert.equal(ds.synthetic, ds.path !== CELEBA_FILE);
    } finally {
      ds.close();
    }
  },
});

Deno.test("makeSyntheticFaces() writes the CelebA layout labelled synthetic", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = join(dir, "faces.h5");
    const seen: number[] = [];
    const { count } = await makeSyntheticFaces(out, {
      count: 3,
      onProgress: (n) => seen.push(n),
    });
    assert.equal(count, 3);
    assert.deepEqual(seen, [1, 2, 3]);
    const d = await describeHdf5(out);
    assert.equal(d.attributes.synthetic, SYNTHETIC_NOTE);
    assert.deepEqual(d.groups, [{ name: CELEBA_GROUP, datasets: 3 }]);
    assert.deepEqual(d.example?.shape, [H, W, 3]);
    const { data } = await readHdf5Array(out, `${CELEBA_GROUP}/2.jpg`);
    assert.deepEqual(data, generateFace(2).pixels);
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name),
      ["faces.h5"],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

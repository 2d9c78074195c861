import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CELEBA_GROUP,
  CELEBA_SHAPE,
  CelebaHdf5Writer,
  describeHdf5,
  imageName,
  readHdf5Array,
} from "./hdf5.ts";

const [H, W, C] = CELEBA_SHAPE;
const image = (k: number) => Uint8Array.from({ length: H * W * C }, (_, i) => (i * k) % 251);

const PYTHON = "/usr/bin/python3";
// The interop tests need Debian's python3-h5py; elsewhere they are skipped, saying so.
const hasH5py = await (async () => {
  try {
    const r = await new Deno.Command(PYTHON, {
      args: ["-c", "import h5py"],
      stderr: "null",
    })
      .output();
    return r.success;
  } catch {
    return false;
  }
})();
if (!hasH5py) {
  console.log(`skipping h5py interop tests: ${PYTHON} -c "import h5py" failed`);
}

async function python(code: string): Promise<string> {
  const r = await new Deno.Command(PYTHON, { args: ["-c", code] }).output();
  const err = new TextDecoder().decode(r.stderr);
  assert.ok(r.success, err);
  return new TextDecoder().decode(r.stdout).trim();
}

async function withTempDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("CelebaHdf5Writer writes the book's layout via a .tmp file renamed on commit", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "faces.h5");
    const w = await CelebaHdf5Writer.create(out, {
      attributes: { synthetic: "yes" },
    });
    assert.equal(w.add(image(1)), "0.jpg");
    assert.equal(w.add(image(2)), "1.jpg");
    assert.equal(w.count, 2);
    assert.ok((await Deno.stat(`${out}.tmp`)).isFile);
    await assert.rejects(Deno.stat(out));
    await w.commit();
    await assert.rejects(Deno.stat(`${out}.tmp`));
    const d = await describeHdf5(out, { dataset: `${CELEBA_GROUP}/1.jpg` });
    assert.deepEqual(d.groups, [{ name: CELEBA_GROUP, datasets: 2 }]);
    assert.deepEqual(d.attributes, { synthetic: "yes" });
    assert.deepEqual(d.example, {
      path: `${CELEBA_GROUP}/1.jpg`,
      shape: [H, W, C],
      dtype: "<B",
      chunks: [H, W, C],
      filters: ["deflate(9)"],
    });
    const back = await readHdf5Array(out, `${CELEBA_GROUP}/${imageName(1)}`);
    assert.deepEqual(back.shape, [H, W, C]);
    assert.deepEqual(back.data, image(2));
  });
});

Deno.test("CelebaHdf5Writer.add() rejects a wrong-size image and abort() leaves no file", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "x.h5");
    const w = await CelebaHdf5Writer.create(out);
    assert.throws(
      () => w.add(new Uint8Array(10)),
      /expected 116412 \(218x178x3\)/,
    );
    await w.abort();
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
  });
});

Deno.test("describeHdf5() names a missing dataset in its error", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "x.h5");
    const w = await CelebaHdf5Writer.create(out);
    w.add(image(1));
    await w.commit();
    await assert.rejects(
      describeHdf5(out, { dataset: "nope/7.jpg" }),
      /No dataset nope\/7.jpg/,
    );
    await assert.rejects(
      readHdf5Array(out, `${CELEBA_GROUP}/7.jpg`),
      /No dataset/,
    );
  });
});

Deno.test({
  name: "h5py reads our file: group, names, dtype, shape, chunks, gzip 9, bytes",
  ignore: !hasH5py,
  fn: async () => {
    await withTempDir(async (dir) => {
      const out = join(dir, "ours.h5");
      const w = await CelebaHdf5Writer.create(out, {
        attributes: { synthetic: "note" },
      });
      w.add(image(3));
      w.add(image(5));
      await w.commit();
      const report = await python(`
import h5py, numpy, json
with h5py.File(${JSON.stringify(out)}, 'r') as f:
    g = f['img_align_celeba']
    d = g['1.jpg']
    print(json.dumps({'groups': list(f), 'names': sorted(g), 'dtype': str(d.dtype),
      'shape': d.shape, 'chunks': d.chunks, 'compression': d.compression,
      'level': d.compression_opts, 'sum': int(numpy.array(d, dtype=numpy.int64).sum()),
      'attr': f.attrs['synthetic'] if isinstance(f.attrs['synthetic'], str)
              else f.attrs['synthetic'].decode()}))
`);
      const sum = image(5).reduce((s, v) => s + v, 0);
      assert.deepEqual(JSON.parse(report), {
        groups: ["img_align_celeba"],
        names: ["0.jpg", "1.jpg"],
        dtype: "uint8",
        shape: [H, W, C],
        chunks: [H, W, C],
        compression: "gzip",
        level: 9,
        sum,
        attr: "note",
      });
    });
  },
});

Deno.test({
  name: "describeHdf5() and readHdf5Array() read a file h5py wrote the book's way",
  ignore: !hasH5py,
  fn: async () => {
    await withTempDir(async (dir) => {
      const out = join(dir, "book.h5py");
      // As notebook 10 does: create_dataset('<group>/<name>', data=img, gzip 9), auto chunks.
      await python(`
import h5py, numpy
img = (numpy.arange(${
        H * W * C
      }, dtype=numpy.int64) * 7 % 251).astype(numpy.uint8).reshape(${H}, ${W}, ${C})
with h5py.File(${JSON.stringify(out)}, 'w') as hf:
    for i in range(3):
        hf.create_dataset('img_align_celeba/' + str(i) + '.jpg', data=img, compression="gzip", compression_opts=9)
`);
      const d = await describeHdf5(out);
      assert.deepEqual(d.groups, [{ name: CELEBA_GROUP, datasets: 3 }]);
      assert.deepEqual(d.example?.shape, [H, W, C]);
      assert.equal(d.example?.dtype, "<B");
      assert.deepEqual(d.example?.filters, ["deflate(9)"]);
      const { data } = await readHdf5Array(out, `${CELEBA_GROUP}/2.jpg`);
      assert.deepEqual(data, image(7));
    });
  },
});

/**
 * Writes the synthetic cartoon faces (lib/data/faces.ts), the stand-in for CelebA, in the book's
 * HDF5 layout. `CelebADataset.open()` makes this file itself when missing; run this to
 * choose the count or seed.
 *
 *   deno run --allow-read --allow-env --allow-write=data scripts/make_faces.ts \
 *     [--out data/faces_synthetic.h5] [--count 2000] [--seed 2020]
 * @module
 */

import { parseArgs } from "node:util";
import { dirname } from "node:path";
import { makeSyntheticFaces, progressBar, SYNTHETIC_COUNT, SYNTHETIC_FILE } from "../mod.ts";
import { DEFAULT_FACE_SEED } from "../lib/data/mod.ts";

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      out: { type: "string", default: SYNTHETIC_FILE },
      count: { type: "string", default: String(SYNTHETIC_COUNT) },
      seed: { type: "string", default: String(DEFAULT_FACE_SEED) },
    },
  });
  const count = Number(values.count), seed = Number(values.seed);
  if (!(Number.isInteger(count) && count > 0) || !Number.isInteger(seed)) {
    console.error("--count must be a positive integer and --seed an integer");
    Deno.exit(2);
  }
  await Deno.mkdir(dirname(values.out), { recursive: true });
  const bar = progressBar(count, { label: "faces" });
  const { seconds } = await makeSyntheticFaces(values.out, {
    count,
    seed,
    onProgress: (n) => bar.update(n),
  });
  bar.done();
  const mb = (await Deno.stat(values.out)).size / 1e6;
  console.log(
    `wrote ${count} synthetic faces to ${values.out} in ${seconds.toFixed(1)} s (${
      mb.toFixed(1)
    } MB)`,
  );
}

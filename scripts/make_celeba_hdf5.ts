/**
 * Notebook 10 as a script: packs aligned CelebA JPEGs into the book's HDF5 file.
 *
 *   deno run --allow-read --allow-env --allow-write=data scripts/make_celeba_hdf5.ts \
 *     <img_align_celeba.zip|folder> [--out data/celeba_aligned_small.h5] [--count 20000]
 *
 * Entries are read from the zip in memory, never extracted to disk. Non-JPEG entries,
 * corrupt JPEGs and images that are not 218x178 are skipped with a reason.
 * @module
 */

import { parseArgs } from "node:util";
import { dirname } from "node:path";
import { CELEBA_FILE, DEFAULT_CELEBA_COUNT, makeCelebaHdf5, progressBar } from "../mod.ts";

const USAGE =
  `Usage: deno run --allow-read --allow-env --allow-write=data scripts/make_celeba_hdf5.ts \\
  <img_align_celeba.zip|folder> [--out ${CELEBA_FILE}] [--count ${DEFAULT_CELEBA_COUNT}]`;

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      out: { type: "string", default: CELEBA_FILE },
      count: { type: "string", default: String(DEFAULT_CELEBA_COUNT) },
      help: { type: "boolean", short: "h" },
    },
  });
  const count = Number(values.count);
  if (
    values.help || positionals.length !== 1 ||
    !(Number.isInteger(count) && count > 0)
  ) {
    console.error(USAGE);
    Deno.exit(values.help ? 0 : 2);
  }
  const [source] = positionals;
  await Deno.mkdir(dirname(values.out), { recursive: true });
  const bar = progressBar(count, { label: "images" });
  const result = await makeCelebaHdf5(source, values.out, {
    count,
    onProgress: (n) => bar.update(n),
    onSkip: ({ name, reason }) => console.error(`skipped ${name}: ${reason}`),
  });
  bar.done();
  const rate = result.written / result.seconds;
  console.log(
    `wrote ${result.written} images to ${result.out} in ${result.seconds.toFixed(1)} s ` +
      `(${rate.toFixed(0)} images/s); skipped ${result.skipped.length} entries`,
  );
  if (result.written < count) {
    console.log(
      `note: asked for ${count} images but the source had only ${result.written}`,
    );
  }
}

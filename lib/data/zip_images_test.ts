import assert from "node:assert/strict";
import { join } from "node:path";
import { zipSync } from "fflate";
import {
  decodeJpeg,
  encodeJpeg,
  folderEntries,
  imageEntries,
  isJpegName,
  MAX_ENTRY_BYTES,
  zipEntries,
} from "./zip_images.ts";
import { FACE_HEIGHT, FACE_WIDTH, generateFace } from "./faces.ts";

const face = generateFace(0).pixels;
const faceImage = { data: face, width: FACE_WIDTH, height: FACE_HEIGHT };

Deno.test("isJpegName() accepts .jpg and .jpeg in any case only", () => {
  assert.ok(isJpegName("img_align_celeba/000001.jpg"));
  assert.ok(isJpegName("A.JPEG"));
  assert.ok(!isJpegName("readme.txt"));
  assert.ok(!isJpegName("jpg"));
});

Deno.test("decodeJpeg() returns RGB close to what encodeJpeg() was given", async () => {
  const img = await decodeJpeg(await encodeJpeg(faceImage, { quality: 95 }));
  assert.equal(img.width, FACE_WIDTH);
  assert.equal(img.height, FACE_HEIGHT);
  assert.equal(img.data.length, FACE_WIDTH * FACE_HEIGHT * 3);
  let err = 0;
  for (let i = 0; i < face.length; i++) err += Math.abs(img.data[i] - face[i]);
  assert.ok(err / face.length < 3, `mean abs error ${err / face.length}`);
});

Deno.test("decodeJpeg() throws libjpeg's reason for random and truncated bytes", async () => {
  await assert.rejects(
    decodeJpeg(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])),
    /Not a JPEG file/,
  );
  const jpg = await encodeJpeg(faceImage);
  await assert.rejects(decodeJpeg(jpg.slice(0, 400)), /Premature end/);
  // A failure must not poison the codec for the next image.
  assert.equal((await decodeJpeg(jpg)).width, FACE_WIDTH);
});

Deno.test("zipEntries() streams names in order and flags unsafe names without reading them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const zip = join(dir, "t.zip");
    await Deno.writeFile(
      zip,
      zipSync({
        "a/1.jpg": new Uint8Array([1, 2, 3]),
        "../evil.jpg": new Uint8Array([4]),
        "/abs.jpg": new Uint8Array([5]),
        "readme.txt": new TextEncoder().encode("hi"),
      }),
    );
    const seen: [string, string | undefined, number[] | null][] = [];
    for await (const e of zipEntries(zip)) {
      seen.push([
        e.name,
        e.problem,
        e.problem ? null : Array.from(await e.read()),
      ]);
    }
    assert.deepEqual(seen.map((s) => s[0]), [
      "a/1.jpg",
      "../evil.jpg",
      "/abs.jpg",
      "readme.txt",
    ]);
    assert.deepEqual(seen[0][2], [1, 2, 3]);
    assert.match(seen[1][1]!, /unsafe name/);
    assert.match(seen[2][1]!, /unsafe name/);
    assert.equal(seen[3][1], undefined);
    for await (const e of zipEntries(zip)) {
      if (e.name === "../evil.jpg") {
        await assert.rejects(e.read(), /Entry \.\.\/evil\.jpg cannot be read: unsafe name/);
      }
    }
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name),
      ["t.zip"],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("folderEntries() lists files in numeric order and imageEntries() picks folder or zip", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const n of ["10.jpg", "2.jpg", "1.jpg"]) {
      await Deno.writeFile(join(dir, n), new Uint8Array([n.length]));
    }
    await Deno.mkdir(join(dir, "sub"));
    const names = (await Array.fromAsync(folderEntries(dir))).map((e) => e.name);
    assert.deepEqual(names, ["1.jpg", "2.jpg", "10.jpg"]);
    const viaAuto = (await Array.fromAsync(imageEntries(dir))).map((e) => e.name);
    assert.deepEqual(viaAuto, names);
    // A file over the limit (sparse, so nothing is written) is flagged and never read.
    const big = await Deno.open(join(dir, "big.jpg"), { create: true, write: true });
    await big.truncate(MAX_ENTRY_BYTES + 1);
    big.close();
    const entry = (await Array.fromAsync(folderEntries(dir))).find((e) => e.name === "big.jpg")!;
    assert.match(entry.problem!, /entry of 16777217 bytes is larger than 16777216, not read/);
    await assert.rejects(entry.read(), /Entry big\.jpg cannot be read/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

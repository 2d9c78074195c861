import assert from "node:assert/strict";
import {
  FACE_HEIGHT,
  FACE_WIDTH,
  faceFloats,
  FacePrefetch,
  generateFace,
  HAIR_STYLES,
  mulberry32,
} from "./faces.ts";
import { CELEBA_SHAPE } from "./hdf5.ts";

Deno.test("faces are aligned CelebA's size, and faces.ts imports nothing (workers load it)", async () => {
  assert.deepEqual([FACE_HEIGHT, FACE_WIDTH, 3], [...CELEBA_SHAPE]);
  const source = await Deno.readTextFile(new URL("./faces.ts", import.meta.url));
  assert.doesNotMatch(source, /^import /m);
});

Deno.test("mulberry32() repeats for a seed and stays in [0, 1)", () => {
  const a = mulberry32(7), b = mulberry32(7);
  for (let i = 0; i < 100; i++) {
    const x = a();
    assert.equal(x, b());
    assert.ok(x >= 0 && x < 1);
  }
  assert.notEqual(mulberry32(8)(), mulberry32(7)());
});

Deno.test("generateFace() is deterministic per index and seed, and faces differ", () => {
  const f0 = generateFace(0).pixels;
  assert.equal(f0.length, FACE_HEIGHT * FACE_WIDTH * 3);
  assert.deepEqual(generateFace(0).pixels, f0);
  assert.notDeepEqual(generateFace(1).pixels, f0);
  assert.notDeepEqual(generateFace(0, { seed: 1 }).pixels, f0);
});

Deno.test("generateFace() varies style and skin but keeps eyes near the same rows", () => {
  const traits = Array.from({ length: 60 }, (_, i) => generateFace(i).traits);
  const styles = new Set(traits.map((t) => t.style));
  assert.equal(styles.size, HAIR_STYLES.length);
  const skinLightness = traits.map((t) => t.skin[0] + t.skin[1] + t.skin[2]);
  assert.ok(Math.max(...skinLightness) - Math.min(...skinLightness) > 300);
  assert.ok(traits.some((t) => t.glasses) && traits.some((t) => !t.glasses));
  for (const t of traits) {
    assert.ok(t.eyeRow > 109 && t.eyeRow < 115, `eye row ${t.eyeRow}`);
  }
});

Deno.test("generateFace() centres the face: the centre column is symmetric on average", () => {
  // Alignment is what lets a GAN learn faces: compare left and right halves over 20 faces.
  let diff = 0, total = 0;
  for (let i = 0; i < 20; i++) {
    const p = generateFace(i).pixels;
    for (let y = 60; y < 180; y++) {
      for (let x = 0; x < FACE_WIDTH / 2; x++) {
        const l = (y * FACE_WIDTH + x) * 3,
          r = (y * FACE_WIDTH + FACE_WIDTH - 1 - x) * 3;
        diff += Math.abs(p[l] - p[r]);
        total++;
      }
    }
  }
  assert.ok(diff / total < 20, `mean left-right difference ${diff / total}`);
});

Deno.test("faceFloats() is the face over 255, whole or its centre crop, as float32", () => {
  const { pixels } = generateFace(5, { seed: 11 });
  const whole = faceFloats(5, { seed: 11 });
  assert.deepEqual(whole.shape, [FACE_HEIGHT, FACE_WIDTH, 3]);
  whole.data.forEach((v, i) => assert.equal(v, Math.fround(pixels[i] / 255)));
  const { data, shape } = faceFloats(5, { seed: 11, crop: 128 });
  assert.deepEqual(shape, [128, 128, 3]);
  // Notebook 14's crop_centre of a 218x178 image: rows 45-172, columns 25-152.
  for (const [y, x, c] of [[0, 0, 0], [127, 127, 2], [64, 3, 1]]) {
    const want = Math.fround(pixels[((45 + y) * FACE_WIDTH + 25 + x) * 3 + c] / 255);
    assert.equal(data[(y * 128 + x) * 3 + c], want);
  }
  assert.throws(() => faceFloats(0, { crop: 300 }), /crop 300 does not fit a 218x178 face/);
});

Deno.test("FacePrefetch draws with workers exactly what faceFloats() draws, in any order", async () => {
  for (const crop of [undefined, 128]) {
    using faces = new FacePrefetch({ workers: 2, count: 40, seed: 3, crop, ahead: 5 });
    assert.deepEqual(faces.shape, faceFloats(0, { crop }).shape);
    for (const i of [0, 1, 2, 7, 3, 30, 39, 31]) {
      assert.deepEqual(await faces.get(i), faceFloats(i, { seed: 3, crop }).data, `face ${i}`);
    }
    assert.equal(faces.fallback, null);
    assert.throws(() => faces.get(40), /face 40 is outside the set of 40/);
  }
  const faces = new FacePrefetch({ workers: 1, count: 10 });
  const late = faces.get(6);
  faces.close();
  await assert.rejects(late, /FacePrefetch was closed/);
});

Deno.test("FacePrefetch with no workers draws in this thread", async () => {
  const faces = new FacePrefetch({ workers: 0, count: 3 });
  assert.deepEqual(await faces.get(2), faceFloats(2).data);
  faces.close();
});

Deno.test({
  name: "FacePrefetch falls back to this thread, saying why, when workers cannot load",
  permissions: { read: false },
  async fn() {
    using faces = new FacePrefetch({ workers: 2, count: 10 });
    const got = await Promise.all([0, 1, 2, 3].map((i) => faces.get(i)));
    got.forEach((data, i) => assert.deepEqual(data, faceFloats(i).data));
    assert.match(faces.fallback ?? "", /face workers need read access to .*face_worker\.ts/);
  },
});

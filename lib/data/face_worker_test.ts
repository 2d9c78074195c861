import assert from "node:assert/strict";
import { faceFloats } from "./faces.ts";

Deno.test("face_worker.ts answers a request with the face's floats, transferred", async () => {
  const worker = new Worker(new URL("./face_worker.ts", import.meta.url).href, { type: "module" });
  try {
    const reply = new Promise<{ index: number; data: Float32Array }>((resolve, reject) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.onerror = (e) => reject(new Error(e.message));
    });
    worker.postMessage({ index: 4, seed: 9, crop: 128 });
    const { index, data } = await reply;
    assert.equal(index, 4);
    assert.deepEqual(data, faceFloats(4, { seed: 9, crop: 128 }).data);
  } finally {
    worker.terminate();
  }
});

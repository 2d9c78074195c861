/**
 * A worker thread of `FacePrefetch` (faces.ts): draws the synthetic faces it is asked for and
 * sends each back as floats, its buffer transferred rather than copied.
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import { faceFloats } from "./faces.ts";

/** What the worker is asked: one face, by index, with the set's seed and an optional crop. */
export interface FaceRequest {
  index: number;
  seed?: number;
  crop?: number;
}

self.onmessage = (e: MessageEvent<FaceRequest>) => {
  const { index, seed, crop } = e.data;
  const { data } = faceFloats(index, { seed, crop });
  self.postMessage({ index, data }, [data.buffer as ArrayBuffer]);
};

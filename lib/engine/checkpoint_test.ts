import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  CheckpointError,
  crc32,
  loadCheckpoint,
  readCheckpoint,
  saveCheckpoint,
} from "./checkpoint.ts";
import { BCELoss } from "./loss.ts";
import { Model } from "./model.ts";
import { LayerNorm, LeakyReLU, Linear, Sequential, Sigmoid } from "./nn.ts";
import { Adam } from "./optim.ts";
import { manualSeed } from "./random.ts";

await tf.setBackend("cpu");

class Net extends Model {
  constructor() {
    super();
    this.model = new Sequential(
      new Linear(6, 4),
      new LeakyReLU(0.02),
      new LayerNorm(4),
      new Linear(4, 2),
      new Sigmoid(),
    );
    this.lossFunction = new BCELoss();
    this.optimiser = new Adam(this.parameters(), { lr: 0.01 });
    this.progressEvery = 1;
  }
}

const x = () => tf.tensor1d([0.1, 0.5, -0.3, 0.9, 0.0, 0.2]);
const t = () => tf.tensor1d([1, 0]);
const trainN = (m: Net, n: number) => {
  for (let i = 0; i < n; i++) tf.tidy(() => m.train(x(), t()));
};
const weights = (m: Net) => m.parameters().map((p) => Array.from(p.value.dataSync()));

Deno.test("crc32() matches the standard check value", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
});

Deno.test("saveCheckpoint() then loadCheckpoint() resumes training exactly", async () => {
  const dir = await Deno.makeTempDir();
  manualSeed(3);
  const straight = new Net();
  trainN(straight, 10);
  manualSeed(3);
  const a = new Net();
  trainN(a, 5);
  await saveCheckpoint(`${dir}/a.ckpt`, {
    modules: { net: a },
    meta: { epoch: 0, step: 5 },
  });
  manualSeed(99);
  const b = new Net();
  const meta = await loadCheckpoint(`${dir}/a.ckpt`, { modules: { net: b } });
  assert.deepEqual(meta, { epoch: 0, step: 5 });
  assert.equal(b.counter, 5);
  assert.deepEqual(b.progress, a.progress);
  trainN(b, 5);
  // Adam's moments and step count came back too, so the result is identical.
  assert.deepEqual(weights(b), weights(straight));
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["a.ckpt"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("saveCheckpoint() and loadCheckpoint() never read a tensor synchronously (WebGPU)", async () => {
  // WebGPU in Deno cannot read big tensors synchronously: make any sync read fail.
  const dir = await Deno.makeTempDir();
  manualSeed(4);
  const a = new Net();
  trainN(a, 3);
  const want = weights(a);
  const proto = tf.Tensor.prototype as unknown as { dataSync: () => unknown };
  const original = proto.dataSync;
  proto.dataSync = () => {
    throw new Error("synchronous read");
  };
  try {
    await saveCheckpoint(`${dir}/a.ckpt`, { modules: { net: a }, meta: {} });
    const b = new Net();
    await loadCheckpoint(`${dir}/a.ckpt`, { modules: { net: b } });
    proto.dataSync = original;
    assert.deepEqual(weights(b), want);
  } finally {
    proto.dataSync = original;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadCheckpoint() refuses truncated, corrupt and foreign files and loads nothing", async () => {
  const dir = await Deno.makeTempDir();
  const a = new Net();
  const path = `${dir}/a.ckpt`;
  await saveCheckpoint(path, { modules: { net: a } });
  const bytes = await Deno.readFile(path);
  const b = new Net();
  const before = weights(b);

  await Deno.writeFile(
    `${dir}/short.ckpt`,
    bytes.subarray(0, bytes.length - 7),
  );
  await assert.rejects(
    loadCheckpoint(`${dir}/short.ckpt`, { modules: { net: b } }),
    /data bytes/,
  );
  const flipped = bytes.slice();
  flipped[flipped.length - 3] ^= 0xff;
  await Deno.writeFile(`${dir}/flip.ckpt`, flipped);
  await assert.rejects(
    loadCheckpoint(`${dir}/flip.ckpt`, { modules: { net: b } }),
    /checksum/,
  );
  await Deno.writeFile(`${dir}/junk.ckpt`, new TextEncoder().encode("hello"));
  await assert.rejects(readCheckpoint(`${dir}/junk.ckpt`), /signature/);
  await assert.rejects(readCheckpoint(`${dir}/none.ckpt`), CheckpointError);
  await assert.rejects(
    loadCheckpoint(path, { modules: { other: b } }),
    /different network/,
  );
  assert.deepEqual(weights(b), before);
  await Deno.remove(dir, { recursive: true });
});

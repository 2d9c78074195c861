/**
 * The main job's promises, in quick mode: a resumed run equals an uninterrupted
 * one bit for bit, a corrupt checkpoint is refused and never loaded, a NaN loss
 * stops training naming the step and keeps the last good checkpoint, and
 * `scripts/main.ts` writes all its outputs.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  CheckpointError,
  epochOrder,
  getRngState,
  initBackend,
  loadCheckpoint,
  manualSeed,
  MNIST_TRAIN_CSV,
  MnistDataset,
  MnistDiscriminator,
  MnistGenerator,
  type RngState,
  saveCheckpoint,
  setRngState,
  trainEpoch,
} from "../mod.ts";
import { parseMainArgs, runMain } from "../scripts/main.ts";

await initBackend({ order: ["wasm", "cpu"], log: () => {} });
const data = await MnistDataset.load(MNIST_TRAIN_CSV, { limit: 64 });
const quiet = () => {};

const weights = (...ms: { parameters(): { value: tf.Tensor }[] }[]) =>
  ms.flatMap((m) => m.parameters().map((p) => Array.from(p.value.dataSync())));

async function straightAndResumed(batchSize: number, n: number, k: number) {
  const dir = await Deno.makeTempDir();
  const order = epochOrder(data.length, { seed: 5, epoch: 1 });
  manualSeed(5);
  const D1 = new MnistDiscriminator(), G1 = new MnistGenerator();
  await trainEpoch(D1, G1, data, { batchSize, order, limit: n });
  const straight = weights(D1, G1);
  const before = tf.memory().numTensors;

  manualSeed(5);
  const D2 = new MnistDiscriminator(), G2 = new MnistGenerator();
  const r = await trainEpoch(D2, G2, data, {
    batchSize,
    order,
    limit: n,
    shouldStop: (() => {
      let calls = 0;
      return () => calls++ >= k;
    })(),
  });
  assert.equal(r.stopped, true);
  assert.equal(r.step, k);
  await saveCheckpoint(`${dir}/c.ckpt`, {
    modules: { D: D2, G: G2 },
    meta: { step: r.step, rng: getRngState() },
  });
  manualSeed(999); // a new process would start from some other state
  const D3 = new MnistDiscriminator(), G3 = new MnistGenerator();
  const meta = await loadCheckpoint(`${dir}/c.ckpt`, { modules: { D: D3, G: G3 } });
  setRngState(meta.rng as RngState);
  await trainEpoch(D3, G3, data, { batchSize, order, limit: n, startStep: meta.step as number });
  assert.deepEqual(weights(D3, G3), straight);
  assert.equal(D3.counter, D1.counter);
  assert.deepEqual(G3.progress, G1.progress);
  for (const m of [D1, G1, D2, G2, D3, G3]) m.dispose();
  assert.ok(tf.memory().numTensors <= before);
  await Deno.remove(dir, { recursive: true });
}

Deno.test("trainEpoch() resumed from a checkpoint equals an uninterrupted run when per-sample", async () => {
  await straightAndResumed(1, 24, 9);
});

Deno.test("trainEpoch() resumed from a checkpoint equals an uninterrupted run when batched", async () => {
  await straightAndResumed(8, 64, 3);
});

for (const lrEnd of [undefined, 1e-4]) {
  const name = lrEnd === undefined ? "" : " with a learning-rate schedule";
  Deno.test(`runMain() resumed after a stop equals an uninterrupted run${name}`, async () => {
    await resumedEqualsStraight(lrEnd);
  });
}

Deno.test("--lr-end is parsed and checked", () => {
  assert.throws(() => parseMainArgs(["--lr-end", "0"]), /--lr-end must be a positive number/);
  assert.equal(parseMainArgs(["--lr-end", "0.00002"])?.lrEnd, 2e-5);
});

async function resumedEqualsStraight(lrEnd: number | undefined) {
  const a = await Deno.makeTempDir(), b = await Deno.makeTempDir();
  const base = {
    epochs: 2,
    seed: 3,
    batchSize: 4,
    lr: 1e-3,
    lrEnd,
    fresh: false,
    dataset: data,
    limit: 32,
    noEval: true,
    log: quiet,
  };
  const straight = await runMain({ ...base, out: a });
  assert.equal(straight.status, "done");
  // Stop mid-epoch 1, then in epoch 2, then finish: three "processes".
  const first = await runMain({ ...base, out: b, stopAfterSteps: 5 });
  assert.deepEqual([first.status, first.epoch, first.step], ["interrupted", 1, 5]);
  const second = await runMain({ ...base, out: b, stopAfterSteps: 6 });
  assert.deepEqual([second.status, second.epoch, second.step], ["interrupted", 2, 3]);
  const third = await runMain({ ...base, out: b });
  assert.equal(third.status, "done");
  const load = async (dir: string) => {
    manualSeed(0);
    const D = new MnistDiscriminator(), G = new MnistGenerator();
    const meta = await loadCheckpoint(`${dir}/checkpoint.ckpt`, { modules: { D, G } });
    const w = weights(D, G);
    D.dispose();
    G.dispose();
    return { w, rng: meta.rng, epoch: meta.epoch, step: meta.step, seconds: meta.seconds };
  };
  const [x, y] = [await load(a), await load(b)];
  assert.deepEqual(y.w, x.w);
  assert.deepEqual(y.rng, x.rng);
  assert.deepEqual([y.epoch, y.step], [2, 8]);
  // The training time is summed over the three sittings, each epoch's over its two.
  const epochSeconds: number[] = JSON.parse(await Deno.readTextFile(`${b}/summary.json`))
    .epochSeconds;
  assert.equal(epochSeconds.length, 2);
  assert.ok(epochSeconds.every((s) => s > 0));
  assert.ok(Math.abs((y.seconds as number) - epochSeconds[0] - epochSeconds[1]) < 1e-9);
  if (lrEnd !== undefined) {
    const summary = JSON.parse(await Deno.readTextFile(`${a}/summary.json`));
    assert.ok(Math.abs(summary.lastStepLr - lrEnd) < 1e-15);
    // A schedule that differs from the checkpoint's is refused, not silently mixed.
    await assert.rejects(
      () => runMain({ ...base, out: b, lrEnd: 2e-4 }),
      /lrEnd 0\.0001 \(this run: 0\.0002\): to resume it, run with --lr-end 0\.0001/,
    );
  }
  await Deno.remove(a, { recursive: true });
  await Deno.remove(b, { recursive: true });
}

Deno.test("runMain() refuses a corrupt or partial checkpoint and loads nothing", async () => {
  const dir = await Deno.makeTempDir();
  const cfg = {
    epochs: 1,
    seed: 1,
    batchSize: 8,
    lr: 1e-4,
    fresh: false,
    dataset: data,
    limit: 16,
    noEval: true,
    log: quiet,
    out: dir,
  };
  assert.equal((await runMain(cfg)).status, "done");
  const path = `${dir}/checkpoint.ckpt`;
  const good = await Deno.readFile(path);
  const flipped = good.slice();
  flipped[flipped.length - 10] ^= 0xff;
  await Deno.writeFile(path, flipped);
  await assert.rejects(runMain({ ...cfg, epochs: 2 }), (e: Error) => {
    assert.ok(e instanceof CheckpointError);
    assert.match(e.message, /checksum/);
    return true;
  });
  await Deno.writeFile(path, good.subarray(0, good.length - 100));
  await assert.rejects(runMain({ ...cfg, epochs: 2 }), CheckpointError);
  // The refused file is left alone for the user to inspect.
  assert.equal((await Deno.readFile(path)).length, good.length - 100);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("runMain() stops on a NaN loss naming the step and keeps the last good checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  const cfg = {
    epochs: 1,
    seed: 1,
    batchSize: 1,
    lr: 1e-4,
    fresh: false,
    dataset: data,
    limit: 12,
    noEval: true,
    out: dir,
  };
  assert.equal((await runMain({ ...cfg, log: quiet })).status, "done");
  const good = await Deno.readFile(`${dir}/checkpoint.ckpt`);
  const poisoned = new MnistDataset(data.labels, data.images.slice().fill(NaN));
  const lines: string[] = [];
  const r = await runMain({ ...cfg, epochs: 2, dataset: poisoned, log: (l) => lines.push(l) });
  assert.equal(r.status, "nonfinite");
  assert.ok(r.step > 0);
  assert.ok(
    lines.some((l) => l.includes(`at step ${r.step}`) && l.includes("kept")),
    lines.join("\n"),
  );
  assert.deepEqual(await Deno.readFile(`${dir}/checkpoint.ckpt`), good);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("scripts/main.ts in quick mode writes grids, strip, charts, checkpoint and summary", async () => {
  const out = "out/test_main_quick";
  await Deno.remove(out, { recursive: true }).catch(() => {});
  const cmd = new Deno.Command("deno", {
    args: [
      "run",
      "--allow-read",
      "--allow-write=data,out",
      "--allow-env",
      "scripts/main.ts",
      "--epochs",
      "2",
      "--batch-size",
      "10",
      "--lr",
      "0.001",
      "--out",
      out,
    ],
    env: { GAN_QUICK: "1", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  });
  const res = await cmd.output();
  const text = new TextDecoder().decode(res.stdout) + new TextDecoder().decode(res.stderr);
  assert.equal(res.code, 0, text);
  for (
    const f of [
      "samples/epoch_001.png",
      "samples/epoch_002.svg",
      "samples_strip.png",
      "samples_strip.svg",
      "loss_D.png",
      "loss_G.svg",
      "checkpoint.ckpt",
      "summary.json",
    ]
  ) {
    assert.ok((await Deno.stat(`${out}/${f}`)).size > 0, f);
  }
  const summary = JSON.parse(await Deno.readTextFile(`${out}/summary.json`));
  assert.equal(summary.epochs, 2);
  assert.equal(summary.quality.counts.length, 10);
  assert.ok(summary.quality.classifierScore >= 1 && summary.quality.classifierScore <= 10);
  assert.ok(Number.isFinite(summary.quality.frechetDistance));
  // The CNN of notebook 13 judges too.
  assert.equal(summary.qualityCnn.judge, "cnn");
  assert.equal(summary.qualityCnn.counts.length, 10);
  assert.ok(Number.isFinite(summary.qualityCnn.frechetDistance));
  assert.match(text, /judged by the MLP/);
  assert.match(text, /judged by the CNN/);
});

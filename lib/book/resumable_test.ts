import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../backends/backend.ts";
import { CheckpointError, readCheckpoint } from "../engine/checkpoint.ts";
import { getRngState, manualSeed, normalArray } from "../engine/random.ts";
import { MnistDiscriminator, MnistGenerator } from "./mnist_gan.ts";
import { NonFiniteWeightsError, ResumableRun, type ResumableRunOptions } from "./resumable.ts";

await initBackend({ order: ["wasm", "cpu"], log: () => {} });

const quiet = () => {};

function networks(seed: number) {
  manualSeed(seed);
  return { D: new MnistDiscriminator(), G: new MnistGenerator() };
}

const weights = (...ms: { parameters(): { value: tf.Tensor }[] }[]) =>
  ms.flatMap((m) => m.parameters().map((p) => Array.from(p.value.dataSync())));

function open(path: string, modules: ResumableRunOptions["modules"], more = {}) {
  return ResumableRun.open({
    path,
    modules,
    options: { seed: 1, lr: 0.001, lrEnd: null },
    flags: { seed: "--seed", lr: "--lr", lrEnd: "--lr-end" },
    signals: false,
    log: quiet,
    ...more,
  });
}

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("ResumableRun resumes weights, random stream, place and training time", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/sub/checkpoint.ckpt`;
    const a = networks(1);
    using first = await open(path, a);
    assert.equal(first.resumed, null);
    assert.equal(first.seconds, 0);
    await first.timed(() => new Promise((r) => setTimeout(r, 30)));
    const trained = first.seconds;
    assert.ok(trained >= 0.02, `${trained}`);
    // Outside timed() the clock stands still.
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(first.seconds, trained);
    manualSeed(77);
    normalArray(3);
    const rng = getRngState();
    await first.save({ step: 5 }, "step 5");
    const header = (await readCheckpoint(path)).header;
    assert.equal(header.meta.step, 5);
    assert.equal(header.meta.seed, 1);
    assert.equal(header.meta.lrEnd, null);
    assert.equal(header.meta.seconds, trained);

    manualSeed(999); // a new process would start from another state
    const b = networks(2);
    assert.notDeepEqual(weights(b.D, b.G), weights(a.D, a.G));
    using second = await open(path, b);
    assert.equal(second.resumed?.step, 5);
    assert.deepEqual(weights(b.D, b.G), weights(a.D, a.G));
    assert.deepEqual(getRngState(), rng);
    assert.equal(second.seconds, trained);
    await second.timed(() => new Promise((r) => setTimeout(r, 30)));
    assert.ok(second.seconds >= trained + 0.02);

    // --fresh ignores the checkpoint.
    using fresh = await open(path, networks(3), { fresh: true });
    assert.equal(fresh.resumed, null);
    for (const m of [a.D, a.G, b.D, b.G]) m.dispose();
  });
});

Deno.test("ResumableRun refuses a checkpoint made with other options, naming them and the fix", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/checkpoint.ckpt`;
    const a = networks(1);
    using run = await open(path, a);
    await run.save({ step: 1 }, "step 1");
    await assert.rejects(
      open(path, a, { options: { seed: 2, lr: 0.001, lrEnd: 0.0001 } }),
      (e: Error) => {
        assert.ok(e instanceof CheckpointError);
        assert.match(e.message, /seed 1 \(this run: 2\)/);
        assert.match(e.message, /lrEnd none \(this run: 0\.0001\)/);
        assert.match(e.message, /run with --seed 1, no --lr-end/);
        assert.match(e.message, /--fresh/);
        return true;
      },
    );
    // An option the checkpoint predates counts as its legacy value.
    const options = { seed: 1, lr: 0.001, lrEnd: null, beta1: 0.9 };
    using old = await open(path, a, { options, legacy: { beta1: 0.9 } });
    assert.equal(old.resumed?.step, 1);
    await assert.rejects(open(path, a, { options: { ...options, beta1: 0.5 } }), /beta1 none/);
    a.D.dispose();
    a.G.dispose();
  });
});

Deno.test("ResumableRun refuses to save weights that are not finite and keeps the last checkpoint", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/checkpoint.ckpt`;
    const a = networks(1);
    using run = await open(path, a);
    const p = a.G.parameters()[0];
    const good = p.value;
    p.value = tf.fill(good.shape, NaN);
    await assert.rejects(run.save({ step: 3 }, "epoch 1, step 3"), (e: Error) => {
      assert.ok(e instanceof NonFiniteWeightsError);
      assert.match(e.message, /Weights of G are not finite .* at epoch 1, step 3/);
      assert.match(e.message, /no checkpoint was written before; run again with --fresh/);
      return true;
    });
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
    p.value.dispose();
    p.value = good;
    await run.save({ step: 4 }, "step 4");
    const saved = await Deno.readFile(path);
    p.value = tf.fill(good.shape, Infinity);
    await assert.rejects(run.save({ step: 5 }, "step 5"), /step 5: not saved, .* still holds/);
    assert.deepEqual(await Deno.readFile(path), saved);
    p.value.dispose();
    p.value = good;
    a.D.dispose();
    a.G.dispose();
  });
});

Deno.test("ResumableRun counts steps, says when a save is due and stops after stopAfterSteps", async () => {
  await withDir(async (dir) => {
    const a = networks(1);
    using run = await open(`${dir}/c.ckpt`, a, { saveEvery: 3, stopAfterSteps: 2 });
    assert.deepEqual([0, 1, 2, 3, 4, 6].map((s) => run.isDue(s)), [
      false,
      false,
      false,
      true,
      false,
      true,
    ]);
    run.stepDone();
    assert.equal(run.stopRequested, false);
    run.stepDone();
    assert.equal(run.stopRequested, true);
    assert.equal(run.stepsThisSitting, 2);
    using never = await open(`${dir}/c.ckpt`, a, { fresh: true });
    assert.equal(never.isDue(100), false);
    never.requestStop();
    assert.equal(never.stopRequested, true);
    a.D.dispose();
    a.G.dispose();
  });
});

Deno.test("ResumableRun listens for Ctrl-C until closed", async () => {
  await withDir(async (dir) => {
    const a = networks(1);
    const run = await open(`${dir}/c.ckpt`, a, { signals: true });
    run.close();
    run.close(); // twice is harmless
    a.D.dispose();
    a.G.dispose();
  });
});

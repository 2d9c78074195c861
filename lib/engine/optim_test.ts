import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { Parameter } from "./nn.ts";
import { Adam, scheduledLr, SGD } from "./optim.ts";

await tf.setBackend("cpu");

Deno.test("SGD.step() applies p -= lr * grad", () => {
  const p = new Parameter(tf.tensor1d([1, 2]));
  const opt = new SGD([p], { lr: 0.1 });
  p.accumulate(tf.tensor1d([1, -2]));
  opt.step();
  const v = p.value.dataSync();
  assert.ok(Math.abs(v[0] - 0.9) < 1e-7 && Math.abs(v[1] - 2.2) < 1e-7);
  opt.zeroGrad();
  assert.equal(p.grad, null);
});

Deno.test("Adam.step() matches PyTorch's update rule over several steps", () => {
  const lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  const p = new Parameter(tf.tensor1d([0.5, -0.3]));
  const opt = new Adam([p], { lr });
  const grads = [[0.1, -0.2], [0.05, 0.3], [-0.4, 0.01]];
  let ref = [0.5, -0.3], m = [0, 0], v = [0, 0];
  grads.forEach((g, k) => {
    const t = k + 1;
    m = m.map((mi, i) => b1 * mi + (1 - b1) * g[i]);
    v = v.map((vi, i) => b2 * vi + (1 - b2) * g[i] * g[i]);
    ref = ref.map((r, i) => {
      const denom = Math.sqrt(v[i]) / Math.sqrt(1 - b2 ** t) + eps;
      return r - (lr / (1 - b1 ** t)) * m[i] / denom;
    });
    opt.zeroGrad();
    p.accumulate(tf.tensor1d(g));
    opt.step();
  });
  const got = p.value.dataSync();
  ref.forEach((r, i) => assert.ok(Math.abs(got[i] - r) < 1e-6, `${got[i]} vs ${r}`));
  assert.equal(opt.stepCount, 3);
});

Deno.test("Adam state round-trips through stateDict()", () => {
  const p = new Parameter(tf.tensor1d([1, 2, 3]));
  const a = new Adam([p]);
  p.accumulate(tf.tensor1d([1, 1, 1]));
  a.step();
  const state = a.stateDict();
  const q = new Parameter(tf.tensor1d([1, 2, 3]));
  const b = new Adam([q]);
  b.loadStateDict(state);
  assert.equal(b.stepCount, 1);
  assert.deepEqual(b.stateDict().slots.m[0].data, state.slots.m[0].data);
  assert.throws(
    () => new Adam([new Parameter(tf.zeros([2]))]).loadStateDict(state),
    /wrong size/,
  );
});

Deno.test("optimisers refuse an empty parameter list", () => {
  assert.throws(() => new SGD([], { lr: 0.1 }), /no parameters/);
});

Deno.test("scheduledLr() falls in a straight line from lr at the first step to lrEnd at the last", () => {
  assert.equal(scheduledLr(1e-3, undefined, 7, 10), 1e-3);
  assert.equal(scheduledLr(1e-3, 1e-4, 0, 10), 1e-3);
  assert.ok(Math.abs(scheduledLr(1e-3, 1e-4, 9, 10) - 1e-4) < 1e-15);
  assert.ok(Math.abs(scheduledLr(1e-3, 1e-4, 3, 7) - 5.5e-4) < 1e-15);
  assert.equal(scheduledLr(1e-3, 1e-4, 0, 1), 1e-3);
});

Deno.test("an optimiser's lr can be changed between steps, as a schedule does", () => {
  const p = new Parameter(tf.tensor1d([1]));
  const opt = new SGD([p], { lr: 0.1 });
  p.accumulate(tf.tensor1d([1]));
  opt.step();
  opt.lr = 0.01;
  opt.step();
  assert.ok(Math.abs(p.value.dataSync()[0] - (1 - 0.1 - 0.01)) < 1e-6);
});

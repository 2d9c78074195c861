import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { record } from "./autograd.ts";
import { BCELoss, MSELoss } from "./loss.ts";

await tf.setBackend("cpu");

function lossAndGrad(
  loss: MSELoss | BCELoss,
  y: number[],
  t: number[],
): [number, number[]] {
  return tf.tidy(() => {
    let g: number[] = [];
    const out = record(
      tf.tensor1d(y),
      [],
      (dy) => ((g = Array.from(dy.dataSync())), []),
      true,
    );
    const l = loss.forward(out, tf.tensor1d(t));
    l.backward();
    return [l.item(), g];
  });
}

const close = (a: number, b: number, tol = 1e-6) =>
  assert.ok(Math.abs(a - b) < tol, `${a} != ${b}`);

Deno.test("MSELoss() is 0.25 at the balance point of a GAN (appendix A)", () => {
  // D outputs 0.5 for everything: half the targets are 1, half 0.
  const [l] = lossAndGrad(new MSELoss(), [0.5, 0.5], [1, 0]);
  close(l, 0.25);
});

Deno.test("MSELoss() gradient is 2 (y - t) / n", () => {
  const [l, g] = lossAndGrad(new MSELoss(), [0.2, 0.9], [0, 1]);
  close(l, (0.04 + 0.01) / 2);
  close(g[0], 0.2);
  close(g[1], -0.1);
});

Deno.test("BCELoss() is ln 2 at balance and matches hand-computed cross-entropies", () => {
  close(lossAndGrad(new BCELoss(), [0.5], [1])[0], Math.LN2);
  close(lossAndGrad(new BCELoss(), [0.9], [1])[0], 0.1053605, 1e-6);
  close(lossAndGrad(new BCELoss(), [0.1], [1])[0], 2.3025851, 1e-5);
  close(lossAndGrad(new BCELoss(), [0.9], [0])[0], 2.3025851, 1e-5);
});

Deno.test("BCELoss() clamps log at -100 like PyTorch instead of returning Infinity", () => {
  const [l, g] = lossAndGrad(new BCELoss(), [0, 1], [1, 0]);
  close(l, 100);
  assert.ok(g.every(Number.isFinite));
});

Deno.test("BCELoss() gradient is (y - t) / (y (1 - y)) / n", () => {
  const [, g] = lossAndGrad(new BCELoss(), [0.8, 0.3], [1, 0]);
  close(g[0], (0.8 - 1) / (0.8 * 0.2) / 2, 1e-5);
  close(g[1], 0.3 / (0.3 * 0.7) / 2, 1e-5);
});

Deno.test("losses reject mismatched shapes", () => {
  assert.throws(
    () => new MSELoss().forward(tf.zeros([3]), tf.zeros([4])),
    /must match/,
  );
  assert.throws(
    () => new BCELoss().forward(tf.zeros([1, 3]), tf.zeros([3])),
    /must match/,
  );
});

import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { backward, detach, noGrad, record, requiresGrad } from "./autograd.ts";
import { Linear, Sequential, Sigmoid } from "./nn.ts";

await tf.setBackend("cpu");

Deno.test("backward() reproduces the book's dy/dx = 5.75 at x = 3.5 for y = (x-1)(x-2)(x-3)", () => {
  // One recorded node with its analytic derivative 3x^2 - 12x + 11.
  let dx = 0;
  const x = tf.scalar(3.5);
  const xin = record(x, [], (dy) => ((dx = dy.dataSync()[0]), []), true);
  const y = record(
    tf.mul(tf.mul(tf.sub(xin, 1), tf.sub(xin, 2)), tf.sub(xin, 3)),
    [xin],
    (
      dy,
    ) => [
      tf.mul(
        dy,
        tf.add(tf.sub(tf.mul(3, tf.square(xin)), tf.mul(12, xin)), 11),
      ),
    ],
  );
  backward(y);
  assert.ok(Math.abs(dx - 5.75) < 1e-6);
});

Deno.test("backward() sums gradients where a tensor feeds two consumers", () => {
  let g = 0;
  const x = record(
    tf.scalar(2),
    [],
    (dy) => ((g = dy.dataSync()[0]), []),
    true,
  );
  const a = record(tf.mul(x, 3), [x], (dy) => [tf.mul(dy, 3)]);
  const b = record(tf.mul(x, 4), [x], (dy) => [tf.mul(dy, 4)]);
  backward(record(tf.add(a, b), [a, b], (dy) => [dy, dy]));
  assert.equal(g, 7);
});

Deno.test("backward() refuses a tensor without history", () => {
  assert.throws(() => backward(tf.scalar(1)), /no gradient history/);
});

Deno.test("noGrad() and detach() stop recording", () => {
  const net = new Sequential(new Linear(3, 2), new Sigmoid());
  const x = tf.ones([3]);
  assert.ok(requiresGrad(net.forward(x)));
  assert.ok(!requiresGrad(noGrad(() => net.forward(x))));
  assert.ok(!requiresGrad(detach(net.forward(x))));
});

import assert from "node:assert/strict";
import { adamSettings, positiveNumber, wholeNumber } from "./_cli.ts";

Deno.test("wholeNumber() parses, falls back when absent and enforces its minimum", () => {
  assert.equal(wholeNumber("epochs", "3", 1), 3);
  assert.equal(wholeNumber("epochs", undefined, 7), 7);
  assert.equal(wholeNumber("seed", "0", 42), 0);
  assert.throws(() => wholeNumber("seed", "1.5", 42), /--seed must be a whole number, got "1.5"/);
  assert.throws(() => wholeNumber("seed", "-1", 42), /--seed must be a whole number/);
  assert.throws(
    () => wholeNumber("epochs", "0", 1, 1),
    /--epochs must be a whole number of at least 1, got "0"/,
  );
});

Deno.test("positiveNumber() rejects 0 and text", () => {
  assert.equal(positiveNumber("lr", "0.5", 1), 0.5);
  assert.equal(positiveNumber("lr", undefined, 1), 1);
  assert.throws(() => positiveNumber("lr", "0", 1), /--lr must be a positive number, got "0"/);
  assert.throws(() => positiveNumber("lr", "fast", 1), /--lr must be a positive number/);
});

Deno.test("adamSettings() gives the defaults, a schedule and checks beta1", () => {
  assert.deepEqual(adamSettings({}, 1e-4), { lr: 1e-4, lrEnd: undefined, beta1: 0.9 });
  assert.deepEqual(
    adamSettings({ lr: "0.002", "lr-end": "0.0002", beta1: "0.5" }, 1e-4),
    { lr: 0.002, lrEnd: 0.0002, beta1: 0.5 },
  );
  assert.throws(() => adamSettings({ "lr-end": "0" }, 1e-4), /--lr-end must be a positive number/);
  for (const beta1 of ["1", "-0.1", "x"]) {
    assert.throws(
      () => adamSettings({ beta1 }, 1e-4),
      /--beta1 must be a number from 0 to below 1/,
    );
  }
});

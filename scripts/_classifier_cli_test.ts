import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { QUICK, repoRoot } from "../mod.ts";
import { epochLeakCheck, parseClassifierArgs, repoRelative } from "./_classifier_cli.ts";

await tf.setBackend("cpu");

const settings = { help: "help text", epochs: 5, quickTrainLimit: 1234, more: ["out"] as const };

Deno.test("parseClassifierArgs() parses the shared options and the script's own", () => {
  const args = parseClassifierArgs(
    ["--epochs=2", "--seed", "7", "--train-limit=100", "--test-limit=50", "--out=x"],
    settings,
  );
  assert.deepEqual(args, {
    epochs: 2,
    seed: 7,
    trainLimit: 100,
    testLimit: 50,
    values: { out: "x" },
  });
  const defaults = parseClassifierArgs([], settings);
  assert.deepEqual(defaults, {
    epochs: QUICK ? 1 : 5,
    seed: 42,
    trainLimit: QUICK ? 1234 : Infinity,
    testLimit: QUICK ? 500 : Infinity,
    values: { out: undefined },
  });
});

Deno.test("parseClassifierArgs() rejects bad numbers and unknown options", () => {
  assert.throws(() => parseClassifierArgs(["--epochs=two"], settings), /--epochs must be a whole/);
  assert.throws(() => parseClassifierArgs(["--variant=x"], settings), /variant/);
});

Deno.test("parseClassifierArgs() prints the help and returns null for --help", () => {
  const log = console.log, lines: unknown[] = [];
  console.log = (line: unknown) => lines.push(line);
  try {
    assert.equal(parseClassifierArgs(["--help"], settings), null);
  } finally {
    console.log = log;
  }
  assert.deepEqual(lines, ["help text"]);
});

Deno.test("epochLeakCheck() throws when live tensors grow after the first epoch", () => {
  const check = epochLeakCheck();
  check(1);
  check(2);
  const leak = tf.scalar(1);
  try {
    assert.throws(() => check(3), /Tensor leak: \d+ live tensors after epoch 3/);
  } finally {
    leak.dispose();
  }
});

Deno.test("repoRelative() shortens paths inside the repository only", () => {
  assert.equal(repoRelative(`${repoRoot()}/data/x.ckpt`), "data/x.ckpt");
  assert.equal(repoRelative("/elsewhere/x.ckpt"), "/elsewhere/x.ckpt");
});

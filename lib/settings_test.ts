import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import {
  classifierCheckpoint,
  DATA_DIR_ENV,
  dataDir,
  dataPath,
  OUT_DIR_ENV,
  outDir,
  outPath,
  repoRoot,
} from "./settings.ts";

/** Runs `fn` with the environment variable `name` set to `value` (or unset), then restores it. */
function withEnv<T>(name: string, value: string | undefined, fn: () => T): T {
  const before = Deno.env.get(name);
  if (value === undefined) Deno.env.delete(name);
  else Deno.env.set(name, value);
  try {
    return fn();
  } finally {
    if (before === undefined) Deno.env.delete(name);
    else Deno.env.set(name, before);
  }
}

Deno.test("repoRoot() walks up to the folder holding deno.json, else keeps the start", async () => {
  const tmp = await Deno.realPath(await Deno.makeTempDir());
  try {
    const nested = join(tmp, "repo", "notebooks", "deeper");
    await Deno.mkdir(nested, { recursive: true });
    // No deno.json anywhere above (the temp folder is outside any repository): the start itself.
    assert.equal(repoRoot(nested), nested);
    await Deno.writeTextFile(join(tmp, "repo", "deno.json"), "{}");
    assert.equal(repoRoot(nested), join(tmp, "repo"));
    assert.equal(repoRoot(join(tmp, "repo")), join(tmp, "repo"));
    // A folder named deno.json is not the marker.
    await Deno.mkdir(join(tmp, "repo", "notebooks", "deno.json"));
    assert.equal(repoRoot(nested), join(tmp, "repo"));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("this repository's root holds deno.json and mod.ts, from the root and from notebooks/", async () => {
  const root = repoRoot();
  assert.ok((await Deno.stat(join(root, "deno.json"))).isFile);
  assert.ok((await Deno.stat(join(root, "mod.ts"))).isFile);
  assert.equal(repoRoot(join(root, "notebooks")), root);
});

Deno.test("data and out default to the repository's data/ and out/", () => {
  withEnv(DATA_DIR_ENV, undefined, () =>
    withEnv(OUT_DIR_ENV, undefined, () => {
      const root = repoRoot();
      assert.equal(dataDir(), join(root, "data"));
      assert.equal(outDir(), join(root, "out"));
      assert.equal(dataPath("mnist_train.csv"), join(root, "data", "mnist_train.csv"));
      assert.equal(outPath("main", "grid.png"), join(root, "out", "main", "grid.png"));
      assert.equal(classifierCheckpoint(false), join(root, "data", "classifier.ckpt"));
      assert.equal(classifierCheckpoint(true), join(root, "data", "classifier_quick.ckpt"));
    }));
});

Deno.test("GAN_DATA_DIR and GAN_OUT_DIR move the folders; relative ones from the current directory", () => {
  withEnv(DATA_DIR_ENV, "/srv/gan-data", () => {
    assert.equal(dataDir(), "/srv/gan-data");
    assert.equal(classifierCheckpoint(false), "/srv/gan-data/classifier.ckpt");
  });
  withEnv(OUT_DIR_ENV, "results", () => assert.equal(outDir(), resolve("results")));
  // An empty variable counts as unset.
  withEnv(DATA_DIR_ENV, "", () => assert.equal(dataDir(), join(repoRoot(), "data")));
});

Deno.test("a notebook (working directory notebooks/) finds the same data folder as the root", async () => {
  const root = repoRoot();
  const settings = new URL("./settings.ts", import.meta.url).href;
  const env = Deno.env.toObject();
  delete env[DATA_DIR_ENV];
  delete env[OUT_DIR_ENV];
  const { code, stdout, stderr } = await new Deno.Command("deno", {
    args: [
      "eval",
      `import { dataDir, outDir } from "${settings}"; console.log(dataDir()); console.log(outDir());`,
    ],
    cwd: join(root, "notebooks"),
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  assert.deepEqual(new TextDecoder().decode(stdout).trim().split("\n"), [
    join(root, "data"),
    join(root, "out"),
  ]);
});

Deno.test("the library's data paths come from the settings", async () => {
  const { MNIST_TRAIN_CSV, MNIST_TEST_CSV } = await import("./data/mnist.ts");
  const { CLASSIFIER_PATH, CLASSIFIER_QUICK_PATH } = await import("./book/judge.ts");
  const { CLASSIFIER_CHECKPOINT } = await import("./book/classifier.ts");
  const { CNN_CHECKPOINT } = await import("./book/cnn.ts");
  const { QUICK } = await import("./quick.ts");
  const data = dataDir();
  assert.equal(MNIST_TRAIN_CSV, join(data, "mnist_train.csv"));
  assert.equal(MNIST_TEST_CSV, join(data, "mnist_test.csv"));
  assert.equal(CNN_CHECKPOINT, join(data, "cnn_classifier.ckpt"));
  // One classifier checkpoint: what train-classifier writes is what the metrics load.
  assert.equal(CLASSIFIER_PATH, classifierCheckpoint(false));
  assert.equal(CLASSIFIER_QUICK_PATH, classifierCheckpoint(true));
  assert.equal(CLASSIFIER_CHECKPOINT, QUICK ? CLASSIFIER_QUICK_PATH : CLASSIFIER_PATH);
});

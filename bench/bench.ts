/**
 * Speed benchmarks: median milliseconds per training step at batch size 1 on
 * real MNIST images, the book's per-sample workloads. Run `deno task bench`.
 * Reference (PORTING.md, PyTorch 1.13 CPU, same machine): 0.23 ms SGD step,
 * 0.38 ms Adam step, 2.05 ms MNIST GAN iteration.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  Adam,
  BCELoss,
  initBackend,
  LayerNorm,
  LeakyReLU,
  Linear,
  manualSeed,
  MNIST_TRAIN_CSV,
  MnistDataset,
  Model,
  MSELoss,
  Sequential,
  SGD,
  Sigmoid,
} from "../mod.ts";

/** One benchmark's result. */
export interface BenchResult {
  name: string;
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  steps: number;
  referenceMs?: number;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

/** Times `step(i)` in rounds of `perRound` calls and reports per-call medians. */
export function timeSteps(
  name: string,
  step: (i: number) => void,
  opts: {
    warmup?: number;
    rounds?: number;
    perRound?: number;
    referenceMs?: number;
  } = {},
): BenchResult {
  const { warmup = 2000, rounds = 30, perRound = 100 } = opts;
  for (let i = 0; i < warmup; i++) step(i);
  const per: number[] = [];
  let k = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < perRound; i++) step(k++);
    per.push((performance.now() - t0) / perRound);
  }
  return {
    name,
    medianMs: quantile(per, 0.5),
    p10Ms: quantile(per, 0.1),
    p90Ms: quantile(per, 0.9),
    steps: rounds * perRound,
    referenceMs: opts.referenceMs,
  };
}

class Classifier extends Model {
  constructor(kind: "sgd" | "adam") {
    super();
    if (kind === "sgd") {
      this.model = new Sequential(
        new Linear(784, 200),
        new Sigmoid(),
        new Linear(200, 10),
        new Sigmoid(),
      );
      this.lossFunction = new MSELoss();
      this.optimiser = new SGD(this.parameters(), { lr: 0.01 });
    } else {
      this.model = new Sequential(
        new Linear(784, 200),
        new LeakyReLU(0.02),
        new LayerNorm(200),
        new Linear(200, 10),
        new Sigmoid(),
      );
      this.lossFunction = new BCELoss();
      this.optimiser = new Adam(this.parameters());
    }
    this.printEvery = 0;
  }
}

/** Runs the classifier step benchmarks (SGD and Adam) on real MNIST images. */
export async function benchClassifier(): Promise<BenchResult[]> {
  manualSeed(0);
  const data = await MnistDataset.load(MNIST_TRAIN_CSV, { limit: 1000 });
  const samples = Array.from({ length: data.length }, (_, i) => data.get(i));
  const results: BenchResult[] = [];
  for (const [kind, ref] of [["sgd", 0.23], ["adam", 0.38]] as const) {
    const c = new Classifier(kind);
    // The first step creates the gradients and optimiser state that persist.
    c.train(samples[0][1], samples[0][2]);
    const before = tf.memory().numTensors;
    results.push(
      timeSteps(`classifier ${kind === "sgd" ? "SGD (03)" : "Adam (04 combined)"} step`, (i) => {
        const [, image, target] = samples[i % samples.length];
        c.train(image, target);
      }, { referenceMs: ref }),
    );
    if (tf.memory().numTensors !== before) throw new Error(`${kind}: tensors leaked`);
    c.dispose();
  }
  for (const [, image, target] of samples) tf.dispose([image, target]);
  return results;
}

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(3)} ms`);

if (import.meta.main) {
  const all = ["classifier", "gan", "cnn", "faces"];
  const wanted = Deno.args.filter((a) => !a.startsWith("-"));
  const pick = wanted.length ? wanted : all;
  const unknown = pick.filter((p) => !all.includes(p));
  if (unknown.length) {
    console.error(`Unknown benchmark ${unknown.join(", ")}: choose from ${all.join(", ")}`);
    Deno.exit(2);
  }
  const info = await initBackend();
  const rows: string[] = [];
  const row = (name: string, ours: string, torch: string) => {
    rows.push(`| ${name} | ${ours} | ${torch} |`);
    console.log(`${name.padEnd(44)} ${ours.padStart(12)}   (PyTorch 1.13 CPU: ${torch})`);
  };
  console.log(`backend: ${info.backend} (${info.device})`);
  if (pick.includes("classifier")) {
    for (const r of await benchClassifier()) row(r.name, fmt(r.medianMs), fmt(r.referenceMs!));
  }
  if (pick.includes("gan")) {
    const { benchGan, TORCH_EPOCH_S, TORCH_ITERATION_MS } = await import("./gan.ts");
    const g = await benchGan({ batchSizes: [32, 64, 128] });
    row("MNIST GAN iteration, per sample (08)", fmt(g.iterationMs), fmt(TORCH_ITERATION_MS));
    for (const [b, sec] of Object.entries(g.epochSeconds)) {
      row(`MNIST GAN epoch, batch ${b}`, `${sec.toFixed(1)} s`, `${TORCH_EPOCH_S} s (per sample)`);
    }
  }
  if (pick.includes("cnn")) {
    const { benchCnn } = await import("./cnn.ts");
    const c = await benchCnn({ rounds: 10 });
    row("CNN classifier step (13)", fmt(c.medianMs), fmt(c.referenceMs));
    row(
      "CNN classifier epoch (13), estimated",
      `${c.epochSeconds.toFixed(1)} s`,
      `${c.referenceEpochSeconds} s`,
    );
  }
  if (pick.includes("faces")) {
    const { benchConvFaceGan, benchFcFaceGan } = await import("./faces.ts");
    const fc = await benchFcFaceGan({ iters: 3 });
    row("face GAN iteration, fully connected (12)", fmt(fc.medianMs), fmt(fc.referenceMs));
    const conv = await benchConvFaceGan({ iters: 2 });
    row("face GAN iteration, convolutional (14)", fmt(conv.medianMs), fmt(conv.referenceMs));
  }
  const table = [
    `Median time, batch size 1 unless stated; backend ${info.backend} (${info.device}).`,
    "",
    "| workload | this project | PyTorch 1.13 CPU, same machine |",
    "|---|---:|---:|",
    ...rows,
    "",
  ].join("\n");
  try {
    await Deno.mkdir("out", { recursive: true });
    await Deno.writeTextFile("out/bench.md.tmp", table);
    await Deno.rename("out/bench.md.tmp", "out/bench.md");
    console.log("wrote out/bench.md");
  } catch (e) {
    if (!(e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied)) {
      throw e;
    }
  }
}

/**
 * Speed benchmarks: median milliseconds per training step at batch size 1 on
 * real MNIST images, the book's per-sample workloads. Run `deno task bench`.
 * Reference (PORTING.md, PyTorch 1.13 CPU, same machine): 0.23 ms SGD step,
 * 0.38 ms Adam step, 2.05 ms MNIST GAN iteration.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { MnistDataset } from "../lib/mnist.ts";
import { Model } from "../lib/model.ts";
import { BCELoss, MSELoss } from "../lib/loss.ts";
import {
  LayerNorm,
  LeakyReLU,
  Linear,
  Sequential,
  Sigmoid,
} from "../lib/nn.ts";
import { Adam, SGD } from "../lib/optim.ts";
import { manualSeed } from "../lib/random.ts";

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
  const { warmup = 200, rounds = 30, perRound = 100 } = opts;
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

if (import.meta.main) {
  const info = await initBackend();
  console.log(`backend: ${info.name}`);
  manualSeed(0);
  const data = await MnistDataset.load("train", { limit: 5000 });
  const samples = Array.from({ length: 1000 }, (_, i) => data.get(i));
  const results: BenchResult[] = [];
  for (const [kind, ref] of [["sgd", 0.23], ["adam", 0.38]] as const) {
    const c = new Classifier(kind);
    const before = tf.memory().numTensors;
    results.push(
      timeSteps(
        `classifier ${kind === "sgd" ? "SGD (03)" : "Adam (04 combined)"} step`,
        (i) => {
          const [, image, target] = samples[i % samples.length];
          c.train(image, target);
        },
        { referenceMs: ref },
      ),
    );
    if (tf.memory().numTensors !== before) {
      throw new Error(`${kind}: tensors leaked`);
    }
    c.dispose();
  }
  for (const r of results) {
    const ref = r.referenceMs ? ` (PyTorch 1.13: ${r.referenceMs} ms)` : "";
    console.log(
      `${r.name.padEnd(40)} median ${r.medianMs.toFixed(3)} ms  p10 ${
        r.p10Ms.toFixed(3)
      }  p90 ${r.p90Ms.toFixed(3)}${ref}`,
    );
  }
}

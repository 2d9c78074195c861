/**
 * Speed of the book's CNN MNIST classifier (notebook 13): median milliseconds
 * per training step at batch size 1 on real MNIST images, and the epoch time
 * that implies (x 60,000). `deno run --allow-read --allow-env bench/cnn.ts`,
 * or call {@link benchCnn} from `bench/bench.ts`.
 * Stored PyTorch reference (bench/pytorch.ts: PyTorch 1.13, CPU, 1 thread, project VM, 2026-11,
 * not this run): 37 s per epoch; `deno task bench cnn --pytorch` times both in one run.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { CnnClassifier, initBackend, manualSeed, MNIST_TRAIN_CSV, MnistDataset } from "../mod.ts";
import { PYTORCH_CNN_EPOCH_SECONDS, TORCH_REFERENCE_SOURCE } from "./pytorch.ts";

export { PYTORCH_CNN_EPOCH_SECONDS };

/** Training images in one epoch. */
export const EPOCH_STEPS = 60_000;

/** Result of {@link benchCnn}; the first six fields match bench.ts's `BenchResult`. */
export interface CnnBenchResult {
  name: string;
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  steps: number;
  referenceMs: number;
  /** Median of single steps: less sensitive to a busy machine than the round medians. */
  stepMedianMs: number;
  /** medianMs x 60,000 / 1000: the estimated seconds per epoch. */
  epochSeconds: number;
  /** The stored PyTorch reference's seconds per epoch (bench/pytorch.ts says where and when). */
  referenceEpochSeconds: number;
}

/** Options of {@link benchCnn}. */
export interface BenchCnnOptions {
  /** Untimed steps first (default 200). */
  warmup?: number;
  /** Timed rounds (default 20). */
  rounds?: number;
  /** Steps per round (default 100). */
  perRound?: number;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

/** Times per-sample CNN training steps on real MNIST images (call `initBackend()` first). */
export async function benchCnn(opts: BenchCnnOptions = {}): Promise<CnnBenchResult> {
  const { warmup = 200, rounds = 20, perRound = 100 } = opts;
  const data = await MnistDataset.load(MNIST_TRAIN_CSV, { limit: 1000 });
  const samples = Array.from({ length: data.length }, (_, i) => data.get(i));
  manualSeed(0);
  const C = new CnnClassifier();
  C.printEvery = 0;
  try {
    const step = (i: number) => {
      const [, image, target] = samples[i % samples.length];
      C.train(image, target);
    };
    for (let i = 0; i < warmup; i++) step(i);
    const before = tf.memory().numTensors;
    const per: number[] = [];
    const single: number[] = [];
    let k = warmup;
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      for (let i = 0; i < perRound; i++) {
        const s0 = performance.now();
        step(k++);
        single.push(performance.now() - s0);
      }
      per.push((performance.now() - t0) / perRound);
    }
    if (tf.memory().numTensors !== before) {
      throw new Error(`CNN benchmark leaked ${tf.memory().numTensors - before} tensors`);
    }
    const medianMs = quantile(per, 0.5);
    return {
      name: "CNN classifier (13) step",
      medianMs,
      p10Ms: quantile(per, 0.1),
      p90Ms: quantile(per, 0.9),
      steps: rounds * perRound,
      referenceMs: 1000 * PYTORCH_CNN_EPOCH_SECONDS / EPOCH_STEPS,
      stepMedianMs: quantile(single, 0.5),
      epochSeconds: medianMs * EPOCH_STEPS / 1000,
      referenceEpochSeconds: PYTORCH_CNN_EPOCH_SECONDS,
    };
  } finally {
    C.dispose();
    for (const [, image, target] of samples) tf.dispose([image, target]);
  }
}

if (import.meta.main) {
  await initBackend({ verbose: true });
  const r = await benchCnn();
  console.log(
    `${r.name}: median ${r.medianMs.toFixed(3)} ms (p10 ${r.p10Ms.toFixed(3)}, p90 ${
      r.p90Ms.toFixed(3)
    }; single steps ${r.stepMedianMs.toFixed(3)}) -> ${
      r.epochSeconds.toFixed(0)
    } s per epoch of ${EPOCH_STEPS} ` +
      `(${TORCH_REFERENCE_SOURCE}: ${r.referenceEpochSeconds} s, ${
        r.referenceMs.toFixed(3)
      } ms per step)`,
  );
}

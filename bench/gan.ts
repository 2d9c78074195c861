/**
 * MNIST GAN speed: median ms per per-sample iteration (D real + D fake + G
 * step, the book's loop) on real MNIST images, and seconds per batched epoch
 * (extrapolated from a slice of it). Run `deno run --allow-read --allow-env bench/gan.ts`.
 * Stored PyTorch reference (bench/pytorch.ts: PyTorch 1.13, CPU, 1 thread, project VM, 2026-11, not
 * this run): 2.05 ms per iteration, 123 s per epoch; `deno task bench gan --pytorch` times both now.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  initBackend,
  manualSeed,
  MNIST_TRAIN_CSV,
  MnistDataset,
  MnistDiscriminator,
  MnistGenerator,
  trainEpoch,
} from "../mod.ts";
import { TORCH_EPOCH_S, TORCH_ITERATION_MS, TORCH_REFERENCE_SOURCE } from "./pytorch.ts";

export { TORCH_EPOCH_S, TORCH_ITERATION_MS };

/** What {@link benchGan} measured. */
export interface GanBench {
  /** Median ms per per-sample iteration. */
  iterationMs: number;
  /** 10th and 90th percentile of the per-round medians. */
  p10Ms: number;
  p90Ms: number;
  /** Seconds per 60,000-image epoch at each batch size (extrapolated). */
  epochSeconds: Record<number, number>;
}

/** Times the per-sample iteration and batched epochs on the first images of MNIST. */
export async function benchGan(
  opts: { rounds?: number; perRound?: number; batchSizes?: number[]; batchImages?: number } = {},
): Promise<GanBench> {
  const { rounds = 10, perRound = 100, batchSizes = [32, 64, 128], batchImages = 6400 } = opts;
  const data = await MnistDataset.load(MNIST_TRAIN_CSV, { limit: Math.max(batchImages, 1000) });
  manualSeed(0);
  const D = new MnistDiscriminator(), G = new MnistGenerator();
  D.printEvery = 0;
  G.printEvery = 0;
  try {
    await trainEpoch(D, G, data, { limit: 100 });
    const before = tf.memory().numTensors;
    const per: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const order = Array.from({ length: perRound }, (_, i) => (r * perRound + i) % data.length);
      const t0 = performance.now();
      await trainEpoch(D, G, data, { order, yieldEveryMs: Infinity });
      per.push((performance.now() - t0) / perRound);
    }
    if (tf.memory().numTensors !== before) throw new Error("GAN iteration leaked tensors");
    per.sort((a, b) => a - b);
    const q = (p: number) => per[Math.min(per.length - 1, Math.floor(p * per.length))];
    const epochSeconds: Record<number, number> = {};
    for (const bs of batchSizes) {
      await trainEpoch(D, G, data, { batchSize: bs, limit: 4 * bs });
      const t0 = performance.now();
      await trainEpoch(D, G, data, { batchSize: bs, limit: batchImages, yieldEveryMs: Infinity });
      epochSeconds[bs] = (performance.now() - t0) / 1000 * (60_000 / batchImages);
    }
    return { iterationMs: q(0.5), p10Ms: q(0.1), p90Ms: q(0.9), epochSeconds };
  } finally {
    D.dispose();
    G.dispose();
  }
}

if (import.meta.main) {
  const info = await initBackend();
  console.log(`backend: ${info.device}\nPyTorch figures: ${TORCH_REFERENCE_SOURCE}`);
  const r = await benchGan();
  console.log(
    `MNIST GAN iteration (per-sample)  median ${r.iterationMs.toFixed(3)} ms  p10 ${
      r.p10Ms.toFixed(3)
    }  p90 ${r.p90Ms.toFixed(3)} (PyTorch 1.13: ${TORCH_ITERATION_MS} ms)`,
  );
  console.log(
    `per-sample epoch (extrapolated)   ${
      (r.iterationMs * 60).toFixed(1)
    } s (PyTorch: ${TORCH_EPOCH_S} s)`,
  );
  for (const [bs, s] of Object.entries(r.epochSeconds)) {
    console.log(
      `batched epoch, batch ${bs.padEnd(4)}      ${s.toFixed(1)} s (${
        (TORCH_EPOCH_S / s).toFixed(1)
      }x faster than PyTorch per-sample)`,
    );
  }
}

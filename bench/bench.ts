/**
 * Speed benchmarks: median milliseconds per training step at batch size 1 on
 * real MNIST images, the book's per-sample workloads, beside PyTorch's.
 *
 *   deno task bench [classifier] [gan] [cnn] [faces] [--pytorch] [--no-webgpu]
 *
 * `--pytorch` runs bench/pytorch/bench.py (PyTorch on /usr/bin/python3, CPU, 1 thread) on
 * the same workloads in the same run, each right after ours, and prints both times and their
 * ratio (ours / PyTorch). Without it, or when PyTorch cannot run (the line says why), the
 * PyTorch column shows the stored reference figures of bench/pytorch.ts, measured on another
 * day, and says so. For gan and faces it then times the same GAN iterations on webgpu when a
 * WebGPU adapter exists (dispatches and queue submissions per iteration, beside the wasm
 * backend's kernel count; bench/webgpu.ts); `--no-webgpu` leaves that out.
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
import {
  runPytorch,
  TORCH_ADAM_MS,
  TORCH_EPOCH_S,
  TORCH_REFERENCE,
  TORCH_REFERENCE_SOURCE,
  TORCH_SGD_MS,
  type TorchBench,
  type TorchFigure,
  type TorchResult,
} from "./pytorch.ts";

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
  for (const [kind, ref] of [["sgd", TORCH_SGD_MS], ["adam", TORCH_ADAM_MS]] as const) {
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
const fmtS = (s: number) => `${s.toFixed(1)} s`;

/** A table row: our figure, PyTorch's (measured in this run or the stored reference). */
interface Row {
  name: string;
  ours: number;
  unit: "ms" | "s";
  torch?: number;
  /** Text instead of a PyTorch figure (no ratio then). */
  torchNote?: string;
  measured: boolean;
}

const FLAGS = ["--pytorch", "--no-webgpu"];

if (import.meta.main) {
  const all = ["classifier", "gan", "cnn", "faces"];
  const wanted = Deno.args.filter((a) => !a.startsWith("-"));
  const pick = wanted.length ? wanted : all;
  const unknown = [
    ...pick.filter((p) => !all.includes(p)),
    ...Deno.args.filter((a) => a.startsWith("-") && !FLAGS.includes(a)),
  ];
  if (unknown.length) {
    console.error(
      `Unknown benchmark or option ${unknown.join(", ")}: choose from ${all.join(", ")}, ` +
        FLAGS.join(", "),
    );
    Deno.exit(2);
  }
  const withTorch = Deno.args.includes("--pytorch");
  const info = await initBackend();
  console.log(`backend: ${info.backend} (${info.device})`);

  // PyTorch's figures for one group of benchmarks: run now, right after ours, or stored.
  let torchError: string | undefined;
  let torchVersion: { torch: string; threads: number; data: Set<string> } | undefined;
  const torchFigures = async (group: string) => {
    const figures = new Map<TorchBench, TorchFigure & { measured: boolean }>();
    if (withTorch && torchError === undefined) {
      console.log(`PyTorch: running bench/pytorch/bench.py ${group} ...`);
      const run = await runPytorch([group]);
      if ("error" in run) {
        torchError = run.error;
        console.log(`PyTorch: not run: ${run.error}; showing stored figures instead`);
      } else {
        for (const r of run.results as TorchResult[]) {
          figures.set(r.bench, { ms: r.ms, epochS: r.epoch_s, measured: true });
          torchVersion ??= { torch: r.torch, threads: r.threads, data: new Set() };
          torchVersion.data.add(r.data);
        }
      }
    }
    return (key: TorchBench) =>
      figures.get(key) ?? (TORCH_REFERENCE[key] ? { ...TORCH_REFERENCE[key], measured: false } : {
        measured: false,
      });
  };

  const rows: Row[] = [];
  const show = (unit: "ms" | "s", v: number) => (unit === "ms" ? fmt(v) : fmtS(v));
  const ratio = (r: Row) => (r.torch ? `${(r.ours / r.torch).toFixed(2)}x` : "-");
  const torchCell = (r: Row, mark: boolean) =>
    r.torch !== undefined
      ? `${show(r.unit, r.torch)}${mark && !r.measured ? " (stored)" : ""}`
      : r.torchNote ?? "-";
  const add = (
    name: string,
    ours: number,
    unit: "ms" | "s",
    figure: TorchFigure & { measured: boolean },
    note?: string,
  ) => {
    const torch = unit === "ms" ? figure.ms : figure.epochS;
    const r: Row = { name, ours, unit, torch, torchNote: note, measured: figure.measured };
    rows.push(r);
    console.log(
      `${name.padEnd(44)} ${show(unit, ours).padStart(10)}   PyTorch ${torchCell(r, false)}${
        torch === undefined ? "" : r.measured ? " (this run)" : " (stored)"
      }   ours / PyTorch ${ratio(r)}`,
    );
  };

  if (pick.includes("classifier")) {
    const results = await benchClassifier();
    const torch = await torchFigures("classifier");
    for (
      const [r, key] of results.map((r, i) =>
        [r, (["classifier_sgd", "classifier_adam"] as const)[i]] as const
      )
    ) {
      add(r.name, r.medianMs, "ms", torch(key));
    }
  }
  if (pick.includes("gan")) {
    const { benchGan } = await import("./gan.ts");
    const g = await benchGan({ batchSizes: [32, 64, 128] });
    const torch = await torchFigures("gan");
    add("MNIST GAN iteration, per sample (08)", g.iterationMs, "ms", torch("gan_iteration"));
    for (const [b, sec] of Object.entries(g.epochSeconds)) {
      add(
        `MNIST GAN epoch, batch ${b}`,
        sec,
        "s",
        torch(`gan_epoch_batch_${b}` as TorchBench),
        `none stored (per-sample epoch: ${TORCH_EPOCH_S} s)`,
      );
    }
  }
  if (pick.includes("cnn")) {
    const { benchCnn } = await import("./cnn.ts");
    const c = await benchCnn({ rounds: 10 });
    const torch = await torchFigures("cnn");
    add("CNN classifier step (13)", c.medianMs, "ms", torch("cnn_step"));
    add("CNN classifier epoch (13), estimated", c.epochSeconds, "s", torch("cnn_step"));
  }
  if (pick.includes("faces")) {
    const { benchConvFaceGan, benchFcFaceGan } = await import("./faces.ts");
    const fc = await benchFcFaceGan({ iters: 3 });
    const conv = await benchConvFaceGan({ iters: 2 });
    const torch = await torchFigures("faces");
    add("face GAN iteration, fully connected (12)", fc.medianMs, "ms", torch("face_fc_iteration"));
    add(
      "face GAN iteration, convolutional (14)",
      conv.medianMs,
      "ms",
      torch("face_conv_iteration"),
    );
  }

  const measured = rows.filter((r) => r.measured).length;
  const torchHead = measured === 0
    ? TORCH_REFERENCE_SOURCE
    : measured === rows.length
    ? `PyTorch ${torchVersion!.torch}, CPU, ${torchVersion!.threads} thread, this run`
    : `PyTorch ${torchVersion!.torch}, CPU, ${torchVersion!.threads} thread, this run; (stored): ` +
      TORCH_REFERENCE_SOURCE;
  const notes = [
    ...(torchError ? [`PyTorch did not run (${torchError}): stored figures shown.`] : []),
    ...(torchVersion && [...torchVersion.data].some((d) => d !== "mnist") &&
        pick.some((p) => p !== "faces")
      ? ["PyTorch timed random pixels where data/mnist_train.csv was missing (`deno task data`)."]
      : []),
  ];
  const tables = [
    `Median time, batch size 1 unless stated; backend ${info.backend} (${info.device}).`,
    "",
    `| workload | this project | ${torchHead} | ours / PyTorch |`,
    "|---|---:|---:|---:|",
    ...rows.map((r) =>
      `| ${r.name} | ${show(r.unit, r.ours)} | ${torchCell(r, measured > 0)} | ${ratio(r)} |`
    ),
    "",
    ...notes.flatMap((n) => [n, ""]),
  ];

  // The same GAN iterations on webgpu (time, dispatches, submissions) beside wasm's kernels.
  const gpuWorkloads = [
    ...(pick.includes("gan") ? ["mnist" as const] : []),
    ...(pick.includes("faces") ? ["fc" as const, "conv" as const] : []),
  ];
  if (gpuWorkloads.length && !Deno.args.includes("--no-webgpu")) {
    const { benchGpuWork, copyBandwidth, gpuTable, webgpuAdapter } = await import("./webgpu.ts");
    const adapter = await webgpuAdapter();
    if (!adapter) {
      console.log(
        "webgpu: no adapter (bash scripts/setup.sh --webgpu installs Mesa's software one)",
      );
    }
    const gpuRows = await benchGpuWork(gpuWorkloads, adapter, (line) => console.log(line));
    const bandwidth = adapter ? await copyBandwidth().catch(() => null) : null;
    const table = gpuTable(gpuRows, adapter?.name ?? null, bandwidth);
    console.log(`\n${table}`);
    tables.push(table);
  }

  try {
    await Deno.mkdir("out", { recursive: true });
    await Deno.writeTextFile("out/bench.md.tmp", tables.join("\n"));
    await Deno.rename("out/bench.md.tmp", "out/bench.md");
    console.log("wrote out/bench.md");
  } catch (e) {
    if (!(e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied)) {
      throw e;
    }
  }
}

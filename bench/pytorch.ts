/**
 * PyTorch's side of `deno task bench`: the stored reference figures, and a runner for
 * `bench/pytorch/bench.py`, which times the same workloads in PyTorch (CPU, 1 thread) so that
 * `deno task bench --pytorch` compares the two in one run, on one machine, at one moment.
 *
 * The stored figures were measured once, on another day: they say so wherever they are shown.
 * @module
 */
import { fileURLToPath } from "node:url";

/** The interpreter bench.py runs under (Debian's python3-torch: `bash scripts/setup.sh --pytorch`). */
export const PYTHON = "/usr/bin/python3";

/** The PyTorch benchmark script. */
export const PYTORCH_BENCH = fileURLToPath(new URL("./pytorch/bench.py", import.meta.url));

/**
 * Where and when the stored reference figures below were measured. Debian's python3-torch with
 * the reference BLAS (libblas3, what `setup.sh --pytorch` installs), where fresh memory was cheap;
 * notebook 14's figure would be several times smaller with OpenBLAS (see bench.py's docstring).
 */
export const TORCH_REFERENCE_SOURCE =
  "PyTorch 1.13, CPU, 1 thread, reference BLAS, project VM (2 cores), 2026-11; not this run";

/** Stored reference: ms per SGD step of notebook 03's classifier (batch 1). */
export const TORCH_SGD_MS = 0.23;
/** Stored reference: ms per Adam step of notebook 04's combined classifier (batch 1). */
export const TORCH_ADAM_MS = 0.38;
/** Stored reference: ms per per-sample iteration of notebook 08's MNIST GAN. */
export const TORCH_ITERATION_MS = 2.05;
/** Stored reference: seconds per per-sample epoch (60,000 images) of notebook 08's MNIST GAN. */
export const TORCH_EPOCH_S = 123;
/** Stored reference: seconds per epoch of notebook 13's CNN classifier (batch 1). */
export const PYTORCH_CNN_EPOCH_SECONDS = 37;
/** Stored reference: ms per iteration of notebook 12's fully connected face GAN. */
export const TORCH_FC_MS = 490;
/** Stored reference: ms per iteration of notebook 14's convolutional face GAN. */
export const TORCH_CONV_MS = 5060;

/** The benchmarks bench.py reports (its "bench" key). */
export type TorchBench =
  | "classifier_sgd"
  | "classifier_adam"
  | "gan_iteration"
  | "gan_epoch_batch_32"
  | "gan_epoch_batch_64"
  | "gan_epoch_batch_128"
  | "cnn_step"
  | "face_fc_iteration"
  | "face_conv_iteration";

/** A PyTorch figure: ms per step or iteration, seconds per epoch where there is one. */
export interface TorchFigure {
  ms?: number;
  epochS?: number;
}

/** The stored reference figures, by bench.py's keys (none for batched epochs). */
export const TORCH_REFERENCE: Partial<Record<TorchBench, TorchFigure>> = {
  classifier_sgd: { ms: TORCH_SGD_MS },
  classifier_adam: { ms: TORCH_ADAM_MS },
  gan_iteration: { ms: TORCH_ITERATION_MS, epochS: TORCH_EPOCH_S },
  cnn_step: { ms: 1000 * PYTORCH_CNN_EPOCH_SECONDS / 60_000, epochS: PYTORCH_CNN_EPOCH_SECONDS },
  face_fc_iteration: { ms: TORCH_FC_MS },
  face_conv_iteration: { ms: TORCH_CONV_MS },
};

/** One line of bench.py's output. */
export interface TorchResult {
  bench: TorchBench;
  name: string;
  /** Median ms per step (per batch iteration for batched epochs). */
  ms: number;
  p10_ms: number;
  p90_ms: number;
  steps: number;
  unit: string;
  /** Seconds per 60,000-image epoch (batched GAN epochs, CNN). */
  epoch_s?: number;
  torch: string;
  threads: number;
  /** "mnist" (data/mnist_train.csv) or "random" pixels. */
  data: string;
  quick: boolean;
  /** The libblas.so.3 torch loaded: "openblas", "reference" (libblas3), or its path. */
  blas?: string;
  /** GLIBC_TUNABLES bench.py ran under ("glibc.malloc.hugetlb=1"), or "default". */
  malloc?: string;
  /** The kernel's transparent huge page mode: "always", "madvise", "never". */
  thp?: string;
}

/** Results of one bench.py run, or why it could not run. */
export type TorchRun = { results: TorchResult[] } | { error: string };

/**
 * Runs bench.py for `workloads` ("classifier", "gan", "cnn", "faces") and parses its JSON
 * lines. Never throws: a missing permission, interpreter or torch comes back as `error`,
 * one line saying what to do.
 */
export async function runPytorch(workloads: string[], opts: { quick?: boolean } = {}): Promise<
  TorchRun
> {
  const perm = await Deno.permissions.query({ name: "run", command: PYTHON });
  if (perm.state !== "granted") {
    return { error: `needs --allow-run=${PYTHON} (deno task bench has it)` };
  }
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(PYTHON, {
      args: [PYTORCH_BENCH, ...workloads, ...(opts.quick ? ["--quick"] : [])],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return {
        error: `${PYTHON} not found: bash scripts/setup.sh --pytorch installs it and torch`,
      };
    }
    return { error: `${PYTHON} could not start: ${(e as Error).message}` };
  }
  const stderr = new TextDecoder().decode(out.stderr).trim();
  if (!out.success) {
    if (/No module named '?torch'?/.test(stderr)) {
      return { error: `${PYTHON} has no torch: bash scripts/setup.sh --pytorch installs it` };
    }
    const last = stderr.split("\n").at(-1) ?? "";
    return { error: `bench/pytorch/bench.py failed (exit ${out.code}): ${last}` };
  }
  const results: TorchResult[] = [];
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    if (!line.trim().startsWith("{")) continue;
    try {
      results.push(JSON.parse(line) as TorchResult);
    } catch {
      return { error: `bench/pytorch/bench.py printed a line that is not JSON: ${line}` };
    }
  }
  return { results };
}

if (import.meta.main) {
  const run = await runPytorch(Deno.args.filter((a) => !a.startsWith("-")), {
    quick: Deno.args.includes("--quick"),
  });
  if ("error" in run) {
    console.error(`PyTorch: ${run.error}`);
    Deno.exit(1);
  }
  for (const r of run.results) console.log(`${r.name.padEnd(44)} ${r.ms} ms (${r.unit})`);
}

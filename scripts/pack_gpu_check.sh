#!/usr/bin/env bash
# Packs the GPU check into .gpu/ (about 36 MB): Deno itself compressed with xz, the check
# bundled into one JS file, tfjs-backend-wasm's .wasm files and scripts/gpu_run.sh. Copy
# .gpu/ to a GPU machine that has an NVIDIA driver and run `bash .gpu/run.sh` there: it
# needs neither internet nor node_modules. Results in README.md ("GPU").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p .gpu
deno bundle --platform deno -o .gpu/gpu_check.js scripts/gpu_check.ts
cp node_modules/.deno/@tensorflow+tfjs-backend-wasm@4.22.0/node_modules/@tensorflow/tfjs-backend-wasm/wasm-out/*.wasm .gpu/
[ -f .gpu/deno.xz ] || xz -T2 -6 -c "$(readlink -f "$(command -v deno)")" > .gpu/deno.xz
cp scripts/gpu_run.sh .gpu/run.sh
du -sh .gpu

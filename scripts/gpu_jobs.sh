#!/usr/bin/env bash
# The long GPU jobs, packed with the check (scripts/pack_gpu_check.sh), run from the repo root
# on a GPU machine:
#   bash .gpu/jobs.sh [seconds]
# 1. One full epoch of notebook 14's convolutional face GAN on WebGPU. It stops itself after
#    `seconds` (default 400) with a checkpoint in .gpu/out/conv; run the command again on the
#    same machine to continue (the summary's time adds up the sittings).
# 2. Once that epoch is done: batched MNIST GAN epochs on WebGPU (batch 128 and 512), with the
#    time and quality of each epoch appended to .gpu/out/mnist_webgpu.jsonl.
# Run nothing else on the machine meanwhile: WebGPU needs a free CPU core to feed the GPU.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/gpu_env.sh
source "$here/env.sh"
cd "$here"
export TFJS_WASM_DIR=$PWD NO_COLOR=1 TFJS_BACKEND=webgpu,wasm
mkdir -p out
if [ ! -f out/conv/summary.json ]; then
  # SIGINT makes face_epoch save a checkpoint and exit 130.
  timeout -s INT "${1:-400}" /tmp/deno run -A face_epoch.js --kind conv --save-every 200 \
    --out out/conv 2>&1 | tr '\r' '\n' | grep -v "it/s" | tail -3
  [ -f out/conv/summary.json ] || { echo "conv epoch not finished: run again to resume"; exit 0; }
fi
cat out/conv/summary.json
for b in 128 512; do
  timeout 120 /tmp/deno run -A batch_sweep.js --mnist-dir mnist --classifier mnist/classifier.ckpt \
    --batch "$b" --lr 0.001 --lr-end 0.0001 --beta1 0.5 --epochs 2 --out out/mnist_webgpu.jsonl |
    grep epoch
done

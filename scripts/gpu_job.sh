#!/usr/bin/env bash
# The GPU job: everything the GPU issue measures, in one command that stops itself within
# 9 minutes, writing what it measured to an output folder. Packed by scripts/pack_gpu_check.sh
# into .gpu/ with Deno and bundled scripts (no internet or node_modules needed); run from the
# repo root on a machine with an NVIDIA driver:
#   bash .gpu/job.sh [out-folder] [seconds]        (default .gpu/out, 530 s)
# 1. iterations.md/.json: ms per batch-1 iteration of notebooks 08, 12, 14, 15 on webgpu and
#    wasm, with webgpu dispatches and queue submissions (wasm: kernels) per iteration;
#    iterations_conv_mm.*: 14 and 15 on webgpu with TF.js's tiled transposed convolution;
#    iterations_conv_stock.*: 14 with TF.js's own (naive) convolution gradients, not webgpu_conv.ts's;
# 2. agreement.md: the conv GAN on webgpu against wasm from one seed (scripts/gpu_check.ts);
# 3. mnist_batch128.jsonl: one batched MNIST GAN epoch (batch 128) on webgpu, time and quality;
# 4. fc/ and conv/: as much of one 20,000-image epoch of notebook 12, then 14, as the time left
#    allows, checkpointed; run the job again with the same folder to resume (summary.json and
#    the grid of faces appear when an epoch completes).
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/gpu_env.sh
source "$here/env.sh"
out="$(mkdir -p "${1:-$here/out}" && cd "${1:-$here/out}" && pwd)"
budget="${2:-530}"
cd "$here"
export TFJS_WASM_DIR=$PWD NO_COLOR=1 XDG_RUNTIME_DIR=/tmp
left() { echo $((budget - SECONDS)); }
log() { echo "[$SECONDS s] $*" | tee -a "$out/job.log"; }
nvidia-smi -L 2>&1 | head -2 | tee -a "$out/job.log"

# A step whose bundle or data was not carried to the machine is skipped, with a line saying so.
have() {
  for f in "$@"; do [ -e "$f" ] || { log "skipped: $f is missing"; return 1; }; done
}

if [ ! -f "$out/iterations.json" ] && have gpu_iterations.js; then
  log "iteration times"
  timeout 150 /tmp/deno run -A gpu_iterations.js --backends webgpu,wasm --iters 20 \
    --conv-iters 2 --out "$out/iterations.json" > "$out/iterations.md" 2>> "$out/job.log"
  cat "$out/iterations.md"
fi
if [ ! -f "$out/iterations_conv_mm.json" ] && have gpu_iterations.js; then
  log "convolutional iterations with TF.js's tiled transposed convolution"
  timeout 60 /tmp/deno run -A gpu_iterations.js --backends webgpu --notebooks 14,15 --conv-mm \
    --iters 10 --out "$out/iterations_conv_mm.json" > "$out/iterations_conv_mm.md" 2>> "$out/job.log"
  cat "$out/iterations_conv_mm.md"
fi
if [ ! -f "$out/iterations_conv_stock.json" ] && have gpu_iterations.js; then
  log "convolutional iteration with TF.js's own convolution gradients"
  GAN_WEBGPU_CONV=stock timeout 45 /tmp/deno run -A gpu_iterations.js --backends webgpu \
    --notebooks 14 --iters 5 --out "$out/iterations_conv_stock.json" \
    > "$out/iterations_conv_stock.md" 2>> "$out/job.log"
  cat "$out/iterations_conv_stock.md"
fi
if [ ! -f "$out/agreement.md" ] && have gpu_check.js; then
  log "agreement with wasm"
  timeout 120 /tmp/deno run -A gpu_check.js --backends webgpu,wasm --no-timing --check-steps 2 \
    > "$out/agreement.md" 2>> "$out/job.log"
  tail -8 "$out/agreement.md"
fi
if [ ! -f "$out/mnist_batch128.jsonl" ] && have batch_sweep.js mnist/classifier.ckpt; then
  log "batched MNIST epoch (batch 128)"
  TFJS_BACKEND=webgpu timeout 90 /tmp/deno run -A batch_sweep.js --mnist-dir mnist \
    --classifier mnist/classifier.ckpt --batch 128 --lr 0.002 --lr-end 0.0002 --beta1 0.5 \
    --epochs 1 --out "$out/mnist_batch128.jsonl" 2>> "$out/job.log" | grep epoch
fi
for kind in fc conv; do
  [ -f "$out/$kind/summary.json" ] && continue
  [ "$(left)" -gt 30 ] || break
  have face_epoch.js || break
  log "notebook $([ $kind = fc ] && echo 12 || echo 14) epoch, $(left) s left"
  # SIGINT makes face_epoch save a checkpoint and exit 130; a rerun resumes from it.
  TFJS_BACKEND=webgpu timeout -s INT "$(left)" /tmp/deno run -A face_epoch.js --kind "$kind" \
    --save-every 500 --out "$out/$kind" 2>&1 | tr '\r' '\n' | grep -v "it/s" | tail -3
  [ -f "$out/$kind/summary.json" ] && cat "$out/$kind/summary.json"
done
log "done"

#!/usr/bin/env bash
# Runs the packed GPU check (scripts/pack_gpu_check.sh) on a GPU machine, from the repo root:
#   bash .gpu/run.sh
# Vulkan and EGL loaders, if the machine lacks them, can be carried as Debian packages in .gl/
# (apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2).
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/gpu_env.sh
source "$here/env.sh"
nvidia-smi -L 2>&1 | head -2
/tmp/deno --version | head -1
cd "$here"
export TFJS_WASM_DIR=$PWD NO_COLOR=1
timeout 420 /tmp/deno run -A gpu_check.js --backends webgpu,wasm --iters 3 --check-steps 2
echo "exit $?"

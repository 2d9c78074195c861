#!/usr/bin/env bash
# Opt-in CUDA backend: installs @tensorflow/tfjs-node-gpu 4.22.0 into node_modules.
# Needs internet (its install script downloads libtensorflow 2.9.1) and, to use the GPU,
# CUDA 11.2 + cuDNN 8.1 on the library path. Then run with TFJS_BACKEND=tensorflow,wasm.
# Untested on this project's machines: they have neither internet nor CUDA.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
pkg="npm:@tensorflow/tfjs-node-gpu@4.22.0"
if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "warning: nvidia-smi not found; tfjs-node-gpu needs an NVIDIA driver, CUDA 11.2 and cuDNN 8.1" >&2
fi
# Runs the package's install script, which fetches libtensorflow.
deno install --allow-scripts="$pkg" "$pkg" || {
  echo "error: installing $pkg failed (it downloads libtensorflow at install time: is the internet reachable?)" >&2
  exit 1
}
dir=$(ls -d node_modules/.deno/@tensorflow+tfjs-node-gpu@4.22.0/node_modules/@tensorflow/tfjs-node-gpu 2>/dev/null | head -n 1)
if [ -z "$dir" ]; then
  echo "error: $pkg is not under node_modules after install" >&2
  exit 1
fi
# Deno looks the binding up under lib/napi-v8 whatever N-API version npm built (tensorflow/tfjs#8581).
if [ ! -e "$dir/lib/napi-v8/tfjs_binding.node" ]; then
  src=$(ls -d "$dir"/lib/napi-v*/ 2>/dev/null | head -n 1)
  if [ -z "$src" ]; then
    echo "error: no native binding under $dir/lib: the libtensorflow download failed" >&2
    exit 1
  fi
  mkdir -p "$dir/lib/napi-v8"
  cp -r "$src"* "$dir/lib/napi-v8/"
fi
echo "tfjs-node-gpu installed: run with TFJS_BACKEND=tensorflow,wasm (and --allow-ffi --allow-scripts)"

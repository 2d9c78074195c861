#!/usr/bin/env bash
# One-shot, idempotent set-up of a fresh checkout: Deno, the npm packages in deno.lock,
# Jupyter (Debian packages) and Deno's Jupyter kernel. Safe to run again: it only installs
# what is missing. Quiet when all is well; on failure it says which step failed and shows
# that step's output.
#
#   bash scripts/setup.sh [--pytorch] [--webgpu] && deno task test
#
# Optional extras, only when asked (flags combine, in any order):
#   --pytorch  PyTorch 1.13 for /usr/bin/python3 (Debian's python3-torch, with OpenBLAS): `deno task bench
#              --pytorch` times the same workloads in PyTorch, and `deno task golden` remakes
#              the golden fixtures.
#   --webgpu   Mesa's software Vulkan adapter (mesa-vulkan-drivers, llvmpipe), so the webgpu
#              code runs and its tests (`deno task test:webgpu`) run without a GPU.
set -euo pipefail

USAGE="usage: bash scripts/setup.sh [--pytorch] [--webgpu]"
WANT_PYTORCH=0
WANT_WEBGPU=0
for arg in "$@"; do
  case "$arg" in
  --pytorch) WANT_PYTORCH=1 ;;
  --webgpu) WANT_WEBGPU=1 ;;
  -h | --help)
    echo "$USAGE"
    exit 0
    ;;
  *)
    echo "setup: unknown option '$arg'; $USAGE" >&2
    exit 2
    ;;
  esac
done

DENO_VERSION="2.9.6"
APT_PACKAGES=(python3-nbclient python3-jupyter-core python3-jupyter-client jupyter-nbconvert)
APT_COMMAND="apt-get update && apt-get install -y ${APT_PACKAGES[*]}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOG="$(mktemp -t gan-setup.XXXXXX)"
trap 'rm -f "$LOG"' EXIT

say() { echo "setup: $*" >&2; }
die() {
  say "$*"
  exit 1
}

# Runs a command with its output in $LOG; on failure shows the output and stops.
step() {
  local what="$1"
  shift
  if ! "$@" >"$LOG" 2>&1; then
    cat "$LOG" >&2
    die "$what failed (command: $*); fix the problem above and run scripts/setup.sh again"
  fi
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# True when every Debian package named is installed (false without dpkg-query).
apt_installed() {
  command -v dpkg-query >/dev/null || return 1
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || return 1
  done
}

# Installs Debian packages for an optional extra: `apt_extra WHAT CHECK PACKAGE...` runs
# apt-get only when CHECK (a shell function) fails, and fails loudly if CHECK still fails.
APT_UPDATED=0
apt_extra() {
  local what="$1" check="$2"
  shift 2
  "$check" && return 0
  if ! command -v apt-get >/dev/null; then
    die "$what is missing and this is not a Debian-like system; install $* (or their equivalents) and run scripts/setup.sh again"
  fi
  if ! is_root; then
    die "$what is missing; as root run \`apt-get update && apt-get install -y $*\` and then scripts/setup.sh again"
  fi
  say "installing $what with apt-get: $*"
  if [ "$APT_UPDATED" -eq 0 ]; then
    step "apt-get update" apt-get update
    APT_UPDATED=1
  fi
  step "apt-get install $*" env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
  "$check" || die "$what is still missing after apt-get install $*"
}

deno_version() { deno --version 2>/dev/null | awk 'NR == 1 { print $2 }'; }

# 1. Deno, from npm (the npm package's postinstall links the native binary into npm's bin).
if [ "$(deno_version)" != "$DENO_VERSION" ]; then
  command -v npm >/dev/null ||
    die "Deno $DENO_VERSION is needed and npm is missing to install it; install Node.js and npm, or Deno $DENO_VERSION from https://deno.com"
  say "installing Deno $DENO_VERSION with npm (about 100 MB)"
  if ! npm install --global --ignore-scripts=false "deno@$DENO_VERSION" >"$LOG" 2>&1; then
    cat "$LOG" >&2
    if is_root; then
      die "npm could not install Deno; fix the problem above and run scripts/setup.sh again"
    fi
    die "npm could not install Deno; run \`sudo npm install --global deno@$DENO_VERSION\` (or set npm's prefix to a folder you own) and run scripts/setup.sh again"
  fi
  hash -r
  found="$(deno_version)"
  if [ "$found" != "$DENO_VERSION" ]; then
    npm_bin="$(npm prefix --global)/bin"
    die "npm installed Deno $DENO_VERSION in $npm_bin, but \`deno\` on PATH is ${found:-missing} ($(command -v deno || echo 'not found')); put $npm_bin first in PATH and run scripts/setup.sh again"
  fi
fi

# 2. The npm packages the project imports, exactly as deno.lock pins them.
(cd "$ROOT" && step "deno install --frozen (npm packages from deno.lock)" deno install --frozen)

# 3. Jupyter from Debian: nbclient runs the notebooks, nbconvert exports HTML.
jupyter_installed() {
  if command -v dpkg-query >/dev/null; then
    apt_installed "${APT_PACKAGES[@]}" || return 1
  fi
  [ -x /usr/bin/python3 ] &&
    /usr/bin/python3 -c "import nbclient, nbconvert, jupyter_client, nbformat" >/dev/null 2>&1
}
if ! jupyter_installed; then
  if ! command -v apt-get >/dev/null; then
    die "Jupyter for /usr/bin/python3 is missing and this is not a Debian-like system; install nbclient, nbconvert and jupyter_client for /usr/bin/python3 and run scripts/setup.sh again"
  fi
  if ! is_root; then
    die "Jupyter is missing; as root run \`$APT_COMMAND\` and then scripts/setup.sh again"
  fi
  say "installing Jupyter with apt-get: ${APT_PACKAGES[*]}"
  step "apt-get update" apt-get update
  APT_UPDATED=1
  step "apt-get install" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${APT_PACKAGES[@]}"
  jupyter_installed || die "Jupyter still cannot be imported by /usr/bin/python3 after apt-get install"
fi

# 4. Deno's Jupyter kernel ("deno"), pointing at this Deno. Cheap, so always refreshed.
step "deno jupyter --install --force (registering Deno's Jupyter kernel)" \
  deno jupyter --install --force

# 5. Optional: PyTorch for /usr/bin/python3 (--pytorch).
# Debian's torch calls the system libblas.so.3, which without OpenBLAS is the slow reference
# BLAS (measured 2026-12-02: notebook 14's PyTorch iteration 9.3 s with it, 1.6 s with OpenBLAS):
# a side-by-side benchmark against that would flatter us.
torch_installed() {
  [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import torch" >/dev/null 2>&1 &&
    apt_installed libopenblas0-pthread
}
if [ "$WANT_PYTORCH" -eq 1 ]; then
  apt_extra "PyTorch (with OpenBLAS) for /usr/bin/python3" torch_installed python3-torch \
    libopenblas0-pthread
fi

# 6. Optional: Mesa's software Vulkan adapter, which Deno's WebGPU finds (--webgpu).
webgpu_driver_installed() { apt_installed mesa-vulkan-drivers; }
if [ "$WANT_WEBGPU" -eq 1 ]; then
  apt_extra "Mesa's software Vulkan adapter" webgpu_driver_installed mesa-vulkan-drivers
fi

#!/usr/bin/env bash
# One-shot, idempotent set-up of a fresh checkout: Deno, the npm packages in deno.lock,
# Jupyter (Debian packages) and Deno's Jupyter kernel. Safe to run again: it only installs
# what is missing. Quiet when all is well; on failure it says which step failed and shows
# that step's output.
#
#   bash scripts/setup.sh && deno task test
set -euo pipefail

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
    local pkg
    for pkg in "${APT_PACKAGES[@]}"; do
      dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || return 1
    done
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
  step "apt-get install" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${APT_PACKAGES[@]}"
  jupyter_installed || die "Jupyter still cannot be imported by /usr/bin/python3 after apt-get install"
fi

# 4. Deno's Jupyter kernel ("deno"), pointing at this Deno. Cheap, so always refreshed.
step "deno jupyter --install --force (registering Deno's Jupyter kernel)" \
  deno jupyter --install --force

#!/usr/bin/env bash
# Installs, idempotently, everything the build and the tests need, from the registries only:
# the wasm32 target, pinned worker-build, wasm-bindgen-cli matching Cargo.lock exactly, and
# the npm tools (wrangler, miniflare, binaryen for wasm-opt, jose). What is already there at
# the right version is skipped, so the second run costs about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKER_BUILD_VERSION=0.8.7
# wasm-bindgen-cli must be exactly the wasm-bindgen version the crate links against.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"

say() { printf 'setup: %s\n' "$*" >&2; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# `--version` prints the bare version for worker-build and "wasm-bindgen X" for wasm-bindgen:
# compare the last word.
installed() { "$1" --version 2>/dev/null | awk '{ print $NF }'; }

if [ "$(installed worker-build)" != "$WORKER_BUILD_VERSION" ]; then
  say "installing worker-build $WORKER_BUILD_VERSION (a few minutes, once)"
  cargo install --locked --force worker-build --version "$WORKER_BUILD_VERSION"
fi

if [ "$(installed wasm-bindgen)" != "$WASM_BINDGEN_VERSION" ]; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
  cargo install --locked --force wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

# npm ci only when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --prefer-offline
fi

# The README's Python snippet runs in .venv (tests/resource-server.test.mjs), with the pinned
# wheels of examples/requirements.txt; installed again only when that file is newer.
if [ ! -f .venv/.installed ] || [ examples/requirements.txt -nt .venv/.installed ]; then
  say "installing the Python packages of the README's snippet into .venv"
  rm -rf .venv
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check --only-binary=:all: -r examples/requirements.txt
  touch .venv/.installed
fi

#!/usr/bin/env bash
# The whole suite, from a fresh clone: installs what is missing (scripts/setup.sh), checks
# format and lints, runs the native core tests, builds the Worker, and runs the black-box
# tests against it under workerd (miniflare).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

step() { printf '\n== %s\n' "$*" >&2; }

step "format"
cargo fmt --check
step "lint (native core and wasm32 Worker)"
cargo clippy --all-targets --locked -- -D warnings
cargo clippy --target wasm32-unknown-unknown --lib --locked -- -D warnings
step "core tests (native)"
cargo test --locked
step "build the Worker"
bash scripts/build.sh
step "black-box tests under workerd"
node --test --test-concurrency=1 tests/

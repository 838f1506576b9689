#!/usr/bin/env bash
# The whole suite, from a fresh clone: installs what is missing (scripts/setup.sh), checks
# format and lints, runs the native tests (core and CLI), builds the Worker and the operator
# CLI, and runs the black-box tests against them under workerd (miniflare).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

step() { printf '\n== %s\n' "$*" >&2; }

step "format"
cargo fmt --all --check
step "lint (native core and CLI, wasm32 Worker)"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p edge-token --target wasm32-unknown-unknown --lib --locked -- -D warnings
step "core and CLI tests (native)"
cargo test --workspace --locked
step "build the Worker and the CLI"
bash scripts/build.sh
cargo build -p edge-token-admin --locked
step "black-box tests under workerd"
node --test --test-concurrency=1 tests/

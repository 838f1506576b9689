#!/usr/bin/env bash
# The whole suite, from a fresh clone: installs what is missing (scripts/setup.sh), checks
# format and lints, runs the native tests (core and CLI), builds both Workers (token and admin)
# and the operator CLI, checks that each Worker's deploy configuration bundles
# (`wrangler deploy --dry-run`, no account needed), and runs the black-box tests against them
# under workerd (miniflare).
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
cargo clippy -p edge-token --target wasm32-unknown-unknown --lib --locked --features admin-worker -- -D warnings
step "core and CLI tests (native)"
cargo test --workspace --locked
# `wrangler deploy --dry-run` runs the file's [build] command (scripts/build.sh token|admin) and
# bundles as a deployment would, without an account: a broken configuration fails here. The
# token Worker first, as deployed: it owns the guard objects.
step "build both Workers (wrangler deploy --dry-run of each) and the CLI"
for config in wrangler.toml wrangler.admin.toml; do
  npx --no-install wrangler deploy --dry-run --config "$config" --outdir "build/dry-run/${config%.toml}"
done
cargo build -p edge-token-admin --locked
step "black-box tests under workerd"
node --test --test-concurrency=1 tests/

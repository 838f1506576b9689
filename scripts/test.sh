#!/usr/bin/env bash
# The whole suite, from a fresh clone: installs what is missing (scripts/setup.sh), checks
# format and lints, runs the native tests (core and CLI), builds the three Workers (guard, token
# and admin) and the operator CLI, checks that each Worker's deploy configuration bundles in each
# environment (`wrangler deploy --dry-run`, no account needed), and runs the black-box tests
# against them under workerd (miniflare).
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
cargo clippy -p edge-token --target wasm32-unknown-unknown --lib --locked --features guard-worker -- -D warnings
step "core and CLI tests (native)"
cargo test --workspace --locked
# `wrangler deploy --dry-run` runs the file's [build] command (scripts/build.sh guard|token|admin)
# and bundles as a deployment would, without an account: a broken configuration fails here. The
# guard Worker first, as deployed: the other two bind its objects. Each file three times: the top
# level (`--env=""`), which builds, then its environments (docs/operating.md) side by side,
# whose builds find it up to date. (tests/environments.test.mjs checks that no environment
# lacks a binding: a dry run does not.)
step "build the three Workers (wrangler deploy --dry-run of each file and environment) and the CLI"
dry_run() { # config env: the top level in view (it builds), an environment's output kept aside
  local out="build/dry-run/${1%.toml}${2:+-$2}"
  if [ -z "$2" ]; then
    npx --no-install wrangler deploy --dry-run --config "$1" --env="" --outdir "$out"
  elif ! npx --no-install wrangler deploy --dry-run --config "$1" --env="$2" --outdir "$out" >"$out.log" 2>&1; then
    cat "$out.log" >&2
    echo "dry run of $1 --env $2: failed" >&2
    return 1
  fi
}
mkdir -p build/dry-run
for config in wrangler.guard.toml wrangler.toml wrangler.admin.toml; do
  dry_run "$config" ""
  pids=()
  for env in staging production; do
    dry_run "$config" "$env" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  echo "dry runs of $config --env staging, --env production: ok" >&2
done
cargo build -p edge-token-admin --locked
# The example resource server (its own workspace; tests/resource-server.test.mjs runs it):
# format, then its build (skipped when up to date; compile warnings denied in its source) and
# bundle, as for the Workers above.
step "the example resource server (examples/resource-server)"
cargo fmt --check --manifest-path examples/resource-server/Cargo.toml
npx --no-install wrangler deploy --dry-run --config examples/resource-server/wrangler.toml --outdir build/dry-run/resource-server
step "black-box tests under workerd"
node --test --test-concurrency=1 tests/

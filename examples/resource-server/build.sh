#!/usr/bin/env bash
# Builds the example resource server into examples/resource-server/build/ with the pinned tools
# of scripts/setup.sh, as scripts/build.sh builds the token Worker: worker-build pointed at our
# wasm-bindgen, wasm-opt and esbuild, never downloading anything. It compiles into the main
# crate's target dir, whose release artifacts of the shared crates it reuses, and is skipped
# when its last build is newer than every input (src/, Cargo.toml, Cargo.lock, this script).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$here"
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
export WASM_BINDGEN_BIN="$CARGO_BIN/wasm-bindgen"
export WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$root/node_modules/.bin/esbuild"
# One worker-build at a time in the shared target dir (the lock scripts/build.sh takes).
mkdir -p "$CARGO_TARGET_DIR"
exec 9>"$CARGO_TARGET_DIR/.worker-build.lock"
flock 9
stamp=build/.built
if [ -f "$stamp" ] && [ -f build/index.js ] &&
  [ -z "$(find src Cargo.toml Cargo.lock build.sh -newer "$stamp" -print -quit)" ]; then
  echo "resource-server build.sh: build/ is up to date: not rebuilt" >&2
  exit 0
fi
rm -f "$stamp"
started="$CARGO_TARGET_DIR/.worker-build-resource-server.started"
touch "$started"
worker-build --release --out-dir build --locked
wasm_features=(mutable-globals sign-ext nontrapping-float-to-int bulk-memory multivalue
  reference-types exception-handling)
"$WASM_OPT_BIN" build/index_bg.wasm -o build/index_bg.opt.wasm -O --strip-debug \
  "${wasm_features[@]/#/--enable-}"
mv build/index_bg.opt.wasm build/index_bg.wasm
mv "$started" "$stamp"

#!/usr/bin/env bash
# Builds the Worker (build/index.js + build/index_bg.wasm) with the pinned tools from setup.sh,
# never downloading anything: worker-build is pointed at our wasm-bindgen, wasm-opt and esbuild.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"
export WASM_BINDGEN_BIN="$CARGO_BIN/wasm-bindgen"
export WASM_OPT_BIN="$PWD/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$PWD/node_modules/.bin/esbuild"
worker-build --release "$@"

# wasm-opt as worker-build would run it (-O, the wasm features workerd supports), but without
# the name section: it only names functions in the stack trace of a panic, which aborts here.
features=(mutable-globals sign-ext nontrapping-float-to-int bulk-memory multivalue
  reference-types exception-handling)
"$WASM_OPT_BIN" build/index_bg.wasm -o build/index_bg.opt.wasm -O --strip-debug \
  "${features[@]/#/--enable-}"
mv build/index_bg.opt.wasm build/index_bg.wasm

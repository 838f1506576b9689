#!/usr/bin/env bash
# Builds one of the three Workers with the pinned tools from setup.sh, never downloading
# anything: worker-build is pointed at our wasm-bindgen, wasm-opt and esbuild.
#   bash scripts/build.sh [token]   the token Worker (wrangler.toml) into build/
#   bash scripts/build.sh admin     the admin Worker (wrangler.admin.toml) into build/admin/:
#                                   the same crate with the feature `admin-worker`
#   bash scripts/build.sh guard     the guard Worker (wrangler.guard.toml) into build/guard/:
#                                   the same crate with the feature `guard-worker`
# Each build replaces only its own files: the token Worker's build leaves build/admin/ and
# build/guard/ as they are (worker-build moves in just the entries it made).
# Further arguments go to worker-build (then to cargo build).
# Without further arguments, a Worker whose last build is newer than every input (src/,
# Cargo.toml, Cargo.lock, this script) is not built again: `wrangler dev` runs [build] at start
# and once more when its watcher is ready, so `npm start` would otherwise build twice.
set -euo pipefail
cd "$(dirname "$0")/.."
worker=${1:-token}
[ $# -gt 0 ] && shift
case "$worker" in
  token) out=build; features=() ;;
  admin) out=build/admin; features=(--features admin-worker) ;;
  guard) out=build/guard; features=(--features guard-worker) ;;
  *) echo "build.sh: unknown Worker '$worker' (token, admin or guard)" >&2; exit 2 ;;
esac
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"
export WASM_BINDGEN_BIN="$CARGO_BIN/wasm-bindgen"
export WASM_OPT_BIN="$PWD/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$PWD/node_modules/.bin/esbuild"
# The Workers come out of one cargo artifact (target/wasm32-unknown-unknown/release/
# edge_token.wasm, rewritten by each feature set): one build at a time, so that `npm start`'s
# `wrangler dev` processes, which build on start and on change, never read each other's.
mkdir -p target
exec 9>target/.worker-build.lock
flock 9
stamp="$out/.built"
if [ $# -eq 0 ] && [ -f "$stamp" ] && [ -f "$out/index.js" ] &&
  [ -z "$(find src Cargo.toml Cargo.lock scripts/build.sh -newer "$stamp" -print -quit)" ]; then
  echo "build.sh: $out/ is up to date (newer than src, Cargo.toml, Cargo.lock, scripts/build.sh): not rebuilt" >&2
  exit 0
fi
# The stamp takes the time the build starts: an input changed during the build is newer.
rm -f "$stamp"
started="target/.worker-build-$worker.started"
touch "$started"
worker-build --release --out-dir "$out" "$@" "${features[@]}"

# wasm-opt as worker-build would run it (-O, the wasm features workerd supports), but without
# the name section: it only names functions in the stack trace of a panic, which aborts here.
wasm_features=(mutable-globals sign-ext nontrapping-float-to-int bulk-memory multivalue
  reference-types exception-handling)
"$WASM_OPT_BIN" "$out/index_bg.wasm" -o "$out/index_bg.opt.wasm" -O --strip-debug \
  "${wasm_features[@]/#/--enable-}"
mv "$out/index_bg.opt.wasm" "$out/index_bg.wasm"
# Put in place last: a build that failed half-way leaves no stamp, so the next one runs in full.
if [ $# -eq 0 ]; then mv "$started" "$stamp"; fi

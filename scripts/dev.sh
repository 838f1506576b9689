#!/usr/bin/env bash
# `npm start`: installs what is missing (setup.sh), prepares the local state (.dev.vars, the demo
# client in wrangler's local KV; prints its secret and a curl line), then runs `wrangler dev` on
# 127.0.0.1:8787, which builds the Worker first (wrangler.toml [build]).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node scripts/dev-init.mjs
exec npx --no-install wrangler dev --var ISSUER:http://127.0.0.1:8787 "$@"

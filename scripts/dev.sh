#!/usr/bin/env bash
# `npm start`: installs what is missing (setup.sh), prepares the local state (.dev.vars, the demo
# client in wrangler's local KV; prints its secret and a curl line), then runs both Workers with
# `wrangler dev`, each building itself first (its file's [build]):
#   the token Worker (wrangler.toml) on 127.0.0.1:8787, in the background;
#   the admin Worker (wrangler.admin.toml) on 127.0.0.1:8788, once the token Worker is up.
# Two processes on one local state: both read .dev.vars and the KV under .wrangler/state, and
# wrangler's dev registry connects the admin Worker's guard bindings (script_name) to the
# token Worker's objects. (`wrangler dev -c A -c B` would serve only the first on a port.)
# Ctrl-C stops both; arguments go to both `wrangler dev`s.
set -euo pipefail
cd "$(dirname "$0")/.."
# Before anything touches the local state: a second `npm start` stops here, saying so.
node scripts/dev-ports.mjs 8787 8788
bash scripts/setup.sh
node scripts/dev-init.mjs
wrangler=node_modules/.bin/wrangler
issuer=(--var ISSUER:http://127.0.0.1:8787)

"$wrangler" dev "${issuer[@]}" --show-interactive-dev-session=false "$@" &
token=$!
trap 'kill "$token" 2>/dev/null || true; wait "$token" 2>/dev/null || true' EXIT INT TERM

# The admin Worker binds to the token Worker's objects: start it once those exist. The first
# build takes minutes; give up after 15.
for _ in $(seq 1 900); do
  curl -s -o /dev/null --max-time 2 http://127.0.0.1:8787/.well-known/jwks.json && break
  kill -0 "$token" 2>/dev/null || { echo "dev: the token Worker stopped" >&2; exit 1; }
  sleep 1
done
"$wrangler" dev -c wrangler.admin.toml "${issuer[@]}" --inspector-port 9230 "$@"

#!/usr/bin/env bash
# `npm start`: installs what is missing (setup.sh), prepares the local state (.dev.vars, the demo
# client in wrangler's local KV; prints its secret and a curl line), then runs the three Workers
# with `wrangler dev`, each building itself first (its file's [build]; scripts/build.sh skips a
# build that is newer than its inputs, so the build wrangler runs again when its watcher starts is
# free):
#   the guard Worker (wrangler.guard.toml, the guard objects) on 127.0.0.1:8789, in the background;
#   the token Worker (wrangler.toml) on 127.0.0.1:8787, in the background, once the guard Worker is up;
#   the admin Worker (wrangler.admin.toml) on 127.0.0.1:8788, once the token Worker is up;
#   beside them, a mutual-TLS front (scripts/mtls-front.mjs) on https://127.0.0.1:8443, which
#   plays Cloudflare's mTLS edge for the token Worker (request.cf.tlsClientAuth; RFC 8705).
# Three processes on one local state: they read .dev.vars and the KV under .wrangler/state, and
# wrangler's dev registry connects the token and admin Workers' guard bindings (script_name) to
# the guard Worker's objects. (`wrangler dev -c A -c B` would serve only the first on a port.)
# wrangler dev reads .dev.vars only when it loads its configuration, and watches only that
# file: scripts/dev-watch.mjs touches both configurations when .dev.vars changes (`keys add`,
# `promote`, `retire`), so both Workers reload with the new keys, the local KV and the demo
# secret as they were.
# Ctrl-C stops all three; arguments go to every `wrangler dev`. EDGE_TOKEN_DEV_PORT,
# EDGE_TOKEN_DEV_ADMIN_PORT and EDGE_TOKEN_DEV_GUARD_PORT (and EDGE_TOKEN_DEV_INSPECTOR_PORT and
# EDGE_TOKEN_DEV_GUARD_INSPECTOR_PORT, the admin and guard Workers' inspectors;
# EDGE_TOKEN_DEV_TLS_PORT, the mutual-TLS front's) move the ports,
# e.g. for a second checkout; EDGE_TOKEN_DEV_SKIP_SETUP=1 skips setup.sh (the
# test of `npm start` runs it in a copy that shares the checkout's node_modules).
set -euo pipefail
cd "$(dirname "$0")/.."
export EDGE_TOKEN_DEV_PORT=${EDGE_TOKEN_DEV_PORT:-8787}
export EDGE_TOKEN_DEV_ADMIN_PORT=${EDGE_TOKEN_DEV_ADMIN_PORT:-8788}
export EDGE_TOKEN_DEV_GUARD_PORT=${EDGE_TOKEN_DEV_GUARD_PORT:-8789}
export EDGE_TOKEN_DEV_TLS_PORT=${EDGE_TOKEN_DEV_TLS_PORT:-8443}
# No fetch of the `Request.cf` sample from workers.cloudflare.com (miniflare's switch; offline it
# printed a getaddrinfo ENOTFOUND trace): the Workers read only `country` and `tlsClientAuth`,
# which the sample does not need to hold (the mutual-TLS front sets `tlsClientAuth`).
export CLOUDFLARE_CF_FETCH_ENABLED=${CLOUDFLARE_CF_FETCH_ENABLED:-false}
# Before anything touches the local state: a second `npm start` stops here, saying so.
node scripts/dev-ports.mjs "$EDGE_TOKEN_DEV_PORT" "$EDGE_TOKEN_DEV_ADMIN_PORT" "$EDGE_TOKEN_DEV_GUARD_PORT" \
  "$EDGE_TOKEN_DEV_TLS_PORT"
[ "${EDGE_TOKEN_DEV_SKIP_SETUP:-}" = 1 ] || bash scripts/setup.sh
node scripts/dev-init.mjs
wrangler=node_modules/.bin/wrangler
issuer=(--var "ISSUER:http://127.0.0.1:$EDGE_TOKEN_DEV_PORT")

# The guard objects first: the token and admin Workers bind them. Its fetch answers 404 to
# anything, which is all the wait below needs. The first build takes minutes; give up after 15.
"$wrangler" dev -c wrangler.guard.toml --port "$EDGE_TOKEN_DEV_GUARD_PORT" \
  --inspector-port "${EDGE_TOKEN_DEV_GUARD_INSPECTOR_PORT:-9231}" --show-interactive-dev-session=false "$@" &
guard=$!
token=
watcher=
front=
trap 'kill $guard $token $watcher $front 2>/dev/null || true; wait $guard $token $watcher $front 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 900); do
  curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$EDGE_TOKEN_DEV_GUARD_PORT/" && break
  kill -0 "$guard" 2>/dev/null || { echo "dev: the guard Worker stopped" >&2; exit 1; }
  sleep 1
done

"$wrangler" dev "${issuer[@]}" --port "$EDGE_TOKEN_DEV_PORT" --show-interactive-dev-session=false "$@" &
token=$!
node scripts/dev-watch.mjs .dev.vars wrangler.toml wrangler.admin.toml &
watcher=$!
node scripts/mtls-front.mjs "$EDGE_TOKEN_DEV_TLS_PORT" "$EDGE_TOKEN_DEV_PORT" &
front=$!

# The admin Worker after the token Worker (its build waits for the token Worker's anyway); give
# up after 15 minutes.
for _ in $(seq 1 900); do
  curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$EDGE_TOKEN_DEV_PORT/.well-known/jwks.json" && break
  kill -0 "$token" 2>/dev/null || { echo "dev: the token Worker stopped" >&2; exit 1; }
  sleep 1
done
"$wrangler" dev -c wrangler.admin.toml "${issuer[@]}" --port "$EDGE_TOKEN_DEV_ADMIN_PORT" \
  --inspector-port "${EDGE_TOKEN_DEV_INSPECTOR_PORT:-9230}" "$@"

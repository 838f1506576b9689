#!/usr/bin/env bash
# workerd with V8 flags, for Miniflare (MINIFLARE_WORKERD_PATH=bench/workerd-v8.sh): bench/profile.mjs
# sets WORKERD_BIN (the real binary) and WORKERD_V8_FLAGS. Miniflare writes the config to
# workerd's stdin; bench/v8-flags.mjs adds the flags to it on the way. `exec` keeps the pid
# Miniflare started, so workerd is its child, stopped by it, and perf finds /tmp/perf-<pid>.map.
set -euo pipefail
: "${WORKERD_BIN:?the real workerd binary}"
# The process substitution reads this script's stdin (the config); 3 is Miniflare's control pipe.
exec "$WORKERD_BIN" "$@" < <(node "$(dirname "$0")/v8-flags.mjs" 3>&-)

#!/usr/bin/env bash
# make demo: set up, build the npm package and the reference server, and serve the demo page on
# http://127.0.0.1:8080 with 30-second access tokens (so silent refreshes are visible) and the
# test hooks on (so the page's fault buttons work). Ctrl-C stops the server.
#
# Steps and their cost on a 2-core machine (cold = fresh clone on a fresh machine):
#   1. scripts/setup.sh: wasm32 target, wasm-bindgen-cli, wasm-pack, Chromium, npm packages
#      (cold 8-12 minutes, mostly two `cargo install`s; warm: seconds)
#   2. scripts/build-pkg.sh pkg: release wasm build, wasm-bindgen, wasm-opt (cold 1-2 minutes, warm ~15 s)
#   3. cargo build -p tokenwarden-server (cold 2-3 minutes, warm: seconds)
#   4. start oidc-provider on port+1 (the page's "OAuth provider" mode, /?mode=oauth) and the
#      server, and print the URL and the demo credentials
# Env: TW_DEMO_PORT (default 8080; the provider takes the next port), TW_DEMO_ACCESS_TTL
# (seconds, default 30).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"

PORT="${TW_DEMO_PORT:-8080}"
TTL="${TW_DEMO_ACCESS_TTL:-30}"
bold() { printf '\033[1m%s\033[0m\n' "$*"; }
elapsed() { echo "  done in $((SECONDS - $1)) s"; }

bold "demo 1/4: set-up (scripts/setup.sh; cold 8-12 min, warm seconds)"
t=$SECONDS; scripts/setup.sh; elapsed "$t"

bold "demo 2/4: npm package into pkg/ (scripts/build-pkg.sh; cold 1-2 min, warm ~15 s)"
t=$SECONDS; scripts/build-pkg.sh pkg; elapsed "$t"

bold "demo 3/4: reference server (cargo build -p tokenwarden-server; cold 2-3 min, warm seconds)"
t=$SECONDS; cargo build -p tokenwarden-server; elapsed "$t"
SERVER_BIN="${CARGO_TARGET_DIR:-target}/debug/tokenwarden-server"

bold "demo 3b: the Leptos and Yew example apps into target/examples/ (scripts/build-example-apps.sh; cold about 11 min on 2 cores, warm seconds)"
t=$SECONDS; scripts/build-example-apps.sh; elapsed "$t"

OAUTH_PORT=$((PORT + 1))
bold "demo 4/4: starting oidc-provider on port $OAUTH_PORT and the server on port $PORT (access tokens live $TTL s, test hooks on)"
LOG=$(mktemp)
OAUTH_LOG=$(mktemp)
stop() {
  kill "${SERVER_PID:-}" "${OAUTH_PID:-}" 2>/dev/null || true
  wait "${SERVER_PID:-}" "${OAUTH_PID:-}" 2>/dev/null || true
  rm -f "$LOG" "$OAUTH_LOG"
}
trap stop EXIT
trap 'exit 130' INT TERM
# The page's "OAuth provider" mode (/?mode=oauth) logs in at this provider (its issuer is the
# page's port + 1); the server accepts the provider's access tokens on /api/*.
node tests/oauth/provider.mjs --port "$OAUTH_PORT" --access-ttl "$TTL" \
  --redirect-uri "http://127.0.0.1:$PORT/?mode=oauth" --post-logout-redirect-uri "http://127.0.0.1:$PORT/?mode=oauth" \
  >"$OAUTH_LOG" 2>&1 &
OAUTH_PID=$!
for _ in $(seq 1 100); do grep -q '^listening on' "$OAUTH_LOG" && break; sleep 0.1; done
grep -q '^listening on' "$OAUTH_LOG" || { cat "$OAUTH_LOG" >&2; echo "demo: oidc-provider did not start (port $OAUTH_PORT in use?)" >&2; exit 1; }
start_server "$LOG" --port "$PORT" --test-hooks --access-ttl "$TTL" --www-dir www --pkg-dir pkg \
  --examples-dir "${CARGO_TARGET_DIR:-target}/examples" \
  --trust-issuer "http://127.0.0.1:$OAUTH_PORT" --trust-audience https://api.tokenwarden.test/ || {
  echo "demo: the server did not start (is port $PORT in use? try TW_DEMO_PORT=8081 make demo)" >&2
  exit 1
}
URL=$SERVER_URL

cat <<EOF

  tokenwarden demo: $URL/
  The Leptos app:   $URL/examples/leptos/
  The Yew app:      $URL/examples/yew/

  Log in with   demo / demo-password
  Access tokens live $TTL s: watch the silent refresh on the timeline, then use the
  "Break things" buttons (fail a refresh, revoke the session, skew the server clock).
  Refresh knobs go in the URL, e.g. $URL/?minRefreshLeadMs=10000
  OAuth provider mode: $URL/?mode=oauth (oidc-provider on port $OAUTH_PORT; any login and
  password, then consent)

  Ctrl-C stops the server. Server log follows.

EOF
tail -n +1 -f "$LOG" --pid="$SERVER_PID" &
wait "$SERVER_PID"

#!/usr/bin/env bash
# Browser tests of the token manager: wasm-bindgen-test in headless Chromium against the
# reference server. Starts the server (test hooks on, 4 s access tokens, any loopback origin
# allowed for the runner's random port), passes its URL to the tests at compile time
# (TW_SERVER_URL), runs the suites, and stops the server on exit.
# Usage: scripts/test-browser.sh [TEST_NAME...]   (default: every tests/browser suite)
# Env: TW_SERVER_BIN (prebuilt server), CARGO_TARGET_DIR, CHROMEDRIVER, WASM_BINDGEN_TEST_TIMEOUT.
# Needs: wasm32-unknown-unknown target, wasm-bindgen-test-runner matching Cargo.lock,
# chromium + chromedriver (see /work/shared/TOOLCHAIN.md or scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
TESTS=("$@")
if [ ${#TESTS[@]} -eq 0 ]; then TESTS=(browser_manager); fi

# TW_SERVER_BIN: use an already built server instead of building it here.
SERVER_BIN="${TW_SERVER_BIN:-}"
if [ -z "$SERVER_BIN" ]; then
  cargo build -p tokenwarden-server
  SERVER_BIN="${CARGO_TARGET_DIR:-target}/debug/tokenwarden-server"
fi
LOG=$(mktemp)
"$SERVER_BIN" --port 0 --test-hooks --allow-any-loopback-origin --access-ttl 4 >"$LOG" 2>&1 &
SERVER_PID=$!
cleanup() { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; rm -f "$LOG"; }
trap cleanup EXIT

URL=""
for _ in $(seq 1 100); do
  URL=$(sed -n 's/.*listening on \(http:\/\/[0-9.:]*\).*/\1/p' "$LOG" | head -n1)
  [ -n "$URL" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$LOG" >&2; echo "test-browser: server exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "$URL" ] || { cat "$LOG" >&2; echo "test-browser: server did not start" >&2; exit 1; }
echo "test-browser: server at $URL"

export TW_SERVER_URL="$URL"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-60}"
ARGS=()
for t in "${TESTS[@]}"; do ARGS+=(--test "$t"); done
cargo test -p tokenwarden --target wasm32-unknown-unknown "${ARGS[@]}"

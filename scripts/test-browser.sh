#!/usr/bin/env bash
# Browser tests of the token manager: wasm-bindgen-test in headless Chromium against the
# reference server. Starts two servers (test hooks on, 4 s access tokens, any loopback origin
# allowed for the runner's random port; the second with `--refresh-transport body`), passes their
# URLs to the tests at compile time (TW_SERVER_URL, TW_SERVER2_URL), runs the suites, and stops
# the servers on exit.
# Usage: scripts/test-browser.sh [TEST_NAME...]   (default: every tests/browser suite)
# Env: TW_SERVER_BIN (prebuilt server), CARGO_TARGET_DIR, CHROMEDRIVER, WASM_BINDGEN_TEST_TIMEOUT.
# Needs: wasm32-unknown-unknown target, wasm-bindgen-test-runner matching Cargo.lock,
# chromium + chromedriver (see /work/shared/TOOLCHAIN.md or scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
TESTS=("$@")
if [ ${#TESTS[@]} -eq 0 ]; then TESTS=(browser_manager); fi

# TW_SERVER_BIN: use an already built server instead of building it here.
SERVER_BIN="${TW_SERVER_BIN:-}"
if [ -z "$SERVER_BIN" ]; then
  cargo build -p tokenwarden-server
  SERVER_BIN="${CARGO_TARGET_DIR:-target}/debug/tokenwarden-server"
fi
# Two servers: the main one (refresh token in an HttpOnly cookie) and a second one with the
# refresh token in the response body, for memory mode; the second also plays "another local
# port that is not allowed" (its /api/echo reports whether an Authorization header arrived).
LOGS=()
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -f "${LOGS[@]}"
}
trap cleanup EXIT

# start_url VAR ARGS...: starts a server (scripts/lib.sh) and stores its URL in VAR.
start_url() {
  local var=$1 log
  shift
  log=$(mktemp)
  LOGS+=("$log")
  start_server "$log" --port 0 --test-hooks --allow-any-loopback-origin --access-ttl 4 "$@" \
    || { PIDS+=("$SERVER_PID"); echo "test-browser: server did not start" >&2; exit 1; }
  PIDS+=("$SERVER_PID")
  printf -v "$var" '%s' "$SERVER_URL"
}
start_url URL
start_url URL2 --refresh-transport body
echo "test-browser: servers at $URL (cookie) and $URL2 (body)"

export TW_SERVER_URL="$URL" TW_SERVER2_URL="$URL2"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-60}"
ARGS=()
for t in "${TESTS[@]}"; do ARGS+=(--test "$t"); done
# `testing`: the test kit's hooks of the Rust shell, which the npm build leaves out.
wasm-pack test --headless --chrome -p tokenwarden --features testing "${ARGS[@]}"

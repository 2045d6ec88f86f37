#!/usr/bin/env bash
# DPoP browser tests: wasm-bindgen-test in headless Chromium against one reference server run
# with `--dpop --dpop-nonce` (test hooks on, any loopback origin allowed), whose URL reaches the
# tests at compile time (TW_DPOP_SERVER_URL). About 1 minute warm.
# Env: TW_SERVER_BIN (prebuilt server), CHROMEDRIVER, WASM_BINDGEN_TEST_TIMEOUT.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
SERVER_BIN="${TW_SERVER_BIN:-}"
if [ -z "$SERVER_BIN" ]; then
  cargo build -p tokenwarden-server
  SERVER_BIN="${CARGO_TARGET_DIR:-target}/debug/tokenwarden-server"
fi
LOG=$(mktemp)
cleanup() { kill "${SERVER_PID:-}" 2>/dev/null || true; wait "${SERVER_PID:-}" 2>/dev/null || true; rm -f "$LOG"; }
trap cleanup EXIT
start_server "$LOG" --port 0 --test-hooks --allow-any-loopback-origin --dpop --dpop-nonce --quiet \
  || { echo "test-dpop-browser: server did not start" >&2; exit 1; }
echo "test-dpop-browser: DPoP server at $SERVER_URL; running tests/browser/dpop.rs in Chromium"
export TW_DPOP_SERVER_URL="$SERVER_URL"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-60}"
cargo test -p tokenwarden --target wasm32-unknown-unknown --test browser_dpop

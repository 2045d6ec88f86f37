#!/usr/bin/env bash
# End-to-end tests of the demo page: Playwright (playwright-core) drives Debian's Chromium against
# the real reference server, which the tests start themselves (--port 0, 5 s access tokens, test
# hooks). Screenshots of every step land in target/e2e/. About 1 minute.
# Needs: pkg/ built (scripts/build-pkg.sh pkg or make pkg), node_modules (scripts/setup.sh).
# Env: TW_SERVER_BIN (use this server binary instead of building one), CHROMIUM, TW_E2E_OUT.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f pkg/web/index.js ]; then
  echo "test-e2e: pkg/ is missing; build it first with: scripts/build-pkg.sh pkg (or make pkg)" >&2
  exit 1
fi
if [ ! -d node_modules/playwright-core ]; then
  echo "test-e2e: node_modules/playwright-core is missing; run scripts/setup.sh" >&2
  exit 1
fi

if [ -z "${TW_SERVER_BIN:-}" ]; then
  echo "test-e2e: cargo build -p tokenwarden-server (seconds when up to date)"
  cargo build -p tokenwarden-server
  TW_SERVER_BIN="${CARGO_TARGET_DIR:-target}/debug/tokenwarden-server"
fi
export TW_SERVER_BIN
export TW_E2E_OUT="${TW_E2E_OUT:-target/e2e}"
mkdir -p "$TW_E2E_OUT"

echo "test-e2e: node --test tests/e2e/ (server: $TW_SERVER_BIN, screenshots: $TW_E2E_OUT/)"
node --test --test-concurrency=1 tests/e2e/

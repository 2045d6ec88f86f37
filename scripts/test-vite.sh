#!/usr/bin/env bash
# The npm package in a Vite app, without plugins or config: scaffolds the vanilla template in a
# temporary folder (`npm create vite` — create-vite ships its templates, so only the npm registry
# is needed), installs ./pkg into it, replaces src/main.js with a login through TokenManager,
# builds with `vite build`, serves dist/ from the reference server (same origin, so the HttpOnly
# refresh-cookie flow works), and checks from headless Chromium (Playwright) that the app logs
# in (`state === 'authenticated'`) and that `tm.fetch('/api/me')` answers 200 with the header,
# in page custody and in worker custody (the package's worker.js, bundled by Vite).
# Usage: scripts/test-vite.sh      (about 30 s warm; needs the npm registry)
# Env: TW_SERVER_BIN (prebuilt server), TW_CREATE_VITE (default vite@9), KEEP=1 keeps the app.
# Builds pkg/ (scripts/build-pkg.sh) if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ROOT=$PWD
export PATH="$ROOT/node_modules/.bin:$PATH"
[ -f pkg/package.json ] || scripts/build-pkg.sh pkg
SERVER_BIN="${TW_SERVER_BIN:-}"
if [ -z "$SERVER_BIN" ]; then
  cargo build -p tokenwarden-server
  SERVER_BIN="${CARGO_TARGET_DIR:-target}/debug/tokenwarden-server"
fi
SERVER_BIN=$(realpath "$SERVER_BIN")
NPM=(npm --no-audit --no-fund --loglevel=error)

DIR=$(mktemp -d)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [ "${KEEP:-}" = 1 ]; then echo "test-vite: kept $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup EXIT

echo "test-vite: npm create ${TW_CREATE_VITE:-vite@9} (vanilla template) in $DIR/app"
( cd "$DIR" && "${NPM[@]}" create --yes "${TW_CREATE_VITE:-vite@9}" app -- --template vanilla --no-interactive </dev/null >/dev/null )
APP="$DIR/app"
[ -f "$APP/package.json" ] && [ -f "$APP/index.html" ] || { echo "test-vite: create-vite made no app" >&2; exit 1; }
( cd "$APP" && "${NPM[@]}" install >/dev/null && "${NPM[@]}" install "$ROOT/pkg" >/dev/null )

# The template's entry point, replaced by a login (relative URLs: the page's own origin).
cat > "$APP/src/main.js" <<'JS'
import { TokenManager } from 'tokenwarden';

const out = document.querySelector('#app');
const report = (result) => {
  window.__tokenwarden = result;
  out.textContent = JSON.stringify(result);
};
try {
  const tm = new TokenManager({
    loginUrl: '/auth/login',
    refreshUrl: '/auth/refresh',
    logoutUrl: '/auth/logout',
  });
  await tm.login({ username: 'demo', password: 'demo-password' });
  const response = await tm.fetch('/api/me');
  const body = await response.json();
  // Worker custody: the package's worker.js, bundled by Vite from new URL(..., import.meta.url).
  const inWorker = new TokenManager({ custody: 'worker', loginUrl: '/auth/login', refreshUrl: '/auth/refresh', crossTab: false });
  await inWorker.login({ username: 'demo', password: 'demo-password' });
  const workerStatus = (await inWorker.fetch('/api/me')).status;
  report({
    worker: `${inWorker.state} ${workerStatus}`,
    state: tm.state,
    status: response.status,
    header: body.authorization_header_received,
    sub: tm.claims && tm.claims.sub,
    storage: localStorage.length + sessionStorage.length,
  });
} catch (error) {
  report({ error: String(error && (error.code || error.message || error)) });
}
JS
echo "test-vite: vite build"
( cd "$APP" && npx vite build --logLevel warn )
ls "$APP/dist/assets" | grep -q '\.wasm$' || { echo "test-vite: no .wasm asset in dist/" >&2; exit 1; }

LOG="$DIR/server.log"
start_server "$LOG" --port 0 --www-dir "$APP/dist" --pkg-dir "$DIR/none" \
  || { echo "test-vite: server did not start" >&2; exit 1; }
URL=$SERVER_URL
echo "test-vite: serving dist/ at $URL"

TW_URL="$URL" TW_ROOT="$ROOT" node --input-type=module <<'JS'
const { launchChromium } = await import(`${process.env.TW_ROOT}/tests/support/harness.mjs`);
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  await page.goto(process.env.TW_URL + '/');
  await page.waitForFunction(() => window.__tokenwarden !== undefined, null, { timeout: 30_000 })
    .catch(() => { throw new Error(`the app did not finish: ${problems.join('; ') || 'no error'}`); });
  const result = await page.evaluate(() => window.__tokenwarden);
  const expected = { worker: 'authenticated 200', state: 'authenticated', status: 200, header: true, sub: 'demo', storage: 0 };
  if (JSON.stringify(result) !== JSON.stringify(expected)) {
    throw new Error(`unexpected result ${JSON.stringify(result)} (${problems.join('; ')})`);
  }
  console.log(`test-vite: the Vite app logged in from Chromium: ${JSON.stringify(result)}`);
} finally {
  await browser.close();
}
JS

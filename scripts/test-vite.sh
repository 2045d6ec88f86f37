#!/usr/bin/env bash
# The npm package in a Vite app, without plugins or config: scaffolds the vanilla template in a
# temporary folder (`npm create vite` — create-vite ships its templates, so only the npm registry
# is needed), installs ./pkg into it, replaces src/main.js with a login through TokenManager,
# builds with `vite build`, serves dist/ from the reference server (same origin, so the HttpOnly
# refresh-cookie flow works), and checks from headless Chromium (Playwright) that the app logs
# in (`state === 'authenticated'`) and that `tm.fetch('/api/me')` answers 200 with the header,
# in page custody and in worker custody (the package's worker.js, bundled by Vite), and that dist/
# holds exactly one .wasm, the tokenwarden entry's. Then the same app on `tokenwarden/oauth`: built
# into dist-oauth/ (exactly one .wasm, the oauth entry's), served with a /config.json by a loopback
# static server, it logs in by redirect at oidc-provider (tests/oauth/provider.mjs: PKCE, code
# exchange, ID token verified) and calls the reference server's API with the provider's token.
# Usage: scripts/test-vite.sh      (about 45 s warm; needs the npm registry)
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
# one_wasm DIST ENTRY_DIR: the build holds exactly one .wasm, and it is that entry's.
one_wasm() {
  local found
  mapfile -t found < <(find "$1" -name '*.wasm')
  [ "${#found[@]}" = 1 ] || { echo "test-vite: $1 holds ${#found[@]} .wasm files (${found[*]}), expected 1" >&2; exit 1; }
  cmp -s "${found[0]}" "$2/web/tokenwarden_bg.wasm" \
    || { echo "test-vite: ${found[0]} is not $2's wasm" >&2; exit 1; }
  echo "test-vite: ${1##*/}/ holds one .wasm, $2's ($(stat -c %s "${found[0]}") bytes)"
}
one_wasm "$APP/dist" pkg

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

kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""

# The same app on tokenwarden/oauth: a redirect login at oidc-provider, then the API.
cat > "$APP/src/main.js" <<'JS'
import { TokenManager } from 'tokenwarden/oauth';

const config = await (await fetch('/config.json')).json();
const tm = new TokenManager({
  oauth: {
    issuer: config.issuer,
    clientId: config.clientId,
    redirectUri: config.redirectUri,
    scope: 'openid profile offline_access api:read',
    resource: config.resource,
  },
  allowedOrigins: [config.api],
});
window.tm = tm;
const report = (result) => {
  window.__tokenwarden = result;
  document.querySelector('#app').textContent = JSON.stringify(result);
};
try {
  if (new URLSearchParams(location.search).has('code')) {
    await tm.handleRedirectCallback();
    const response = await tm.fetch(`${config.api}/api/me`);
    report({ state: tm.state, sub: tm.claims && tm.claims.sub, status: response.status });
  } else {
    report({ started: await tm.start() });
  }
} catch (error) {
  report({ error: String(error && (error.code || error.message || error)) });
}
JS
echo "test-vite: vite build (tokenwarden/oauth) into dist-oauth/"
( cd "$APP" && npx vite build --logLevel warn --outDir dist-oauth )
one_wasm "$APP/dist-oauth" pkg/oauth

TW_DIST="$APP/dist-oauth" TW_ROOT="$ROOT" TW_SERVER_BIN="$SERVER_BIN" node --input-type=module <<'JS'
const { readFile } = await import('node:fs/promises');
const { createServer } = await import('node:http');
const { extname, join, normalize } = await import('node:path');
const { launchChromium, startProvider, startServer, stopProvider, stopServer } =
  await import(`${process.env.TW_ROOT}/tests/support/harness.mjs`);
process.chdir(process.env.TW_ROOT); // the harness starts tests/oauth/provider.mjs from the repository
const DIST = process.env.TW_DIST;
const RESOURCE = 'https://api.tokenwarden.test/';
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css', '.svg': 'image/svg+xml' };
let config;
const app = createServer(async (req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  if (path === '/config.json') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(config));
    return;
  }
  const file = normalize(join(DIST, path === '/' ? 'index.html' : path));
  if (!file.startsWith(DIST)) { res.writeHead(404).end(); return; }
  try {
    const body = await readFile(file);
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
  } catch { res.writeHead(404).end(); }
});
await new Promise((ok) => app.listen(0, '127.0.0.1', ok));
const origin = `http://127.0.0.1:${app.address().port}`;
let provider, api, browser;
try {
  provider = await startProvider(['--redirect-uri', `${origin}/`]);
  api = await startServer(['--port', '0', '--quiet', '--allow-origin', origin,
    '--trust-issuer', provider.issuer, '--trust-audience', RESOURCE]);
  config = { issuer: provider.issuer, clientId: 'tokenwarden-spa', redirectUri: `${origin}/`, resource: RESOURCE, api: api.base };
  browser = await launchChromium();
  const page = await browser.newPage();
  page.setDefaultTimeout(30_000);
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  const wasm = [];
  page.on('request', (r) => { if (r.url().endsWith('.wasm')) wasm.push(new URL(r.url()).pathname); });
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => window.__tokenwarden !== undefined);
  const first = await page.evaluate(() => window.__tokenwarden);
  if (first.started !== false) throw new Error(`before login: ${JSON.stringify(first)} ${problems.join('; ')}`);
  await page.evaluate(() => { window.tm.loginWithRedirect(); });
  await page.waitForURL(`${provider.issuer}/interaction/**`);
  await page.locator('input[name="login"]').fill('alice');
  await page.locator('input[name="password"]').fill('any password');
  await page.locator('button[type="submit"]').first().click();
  await page.waitForURL((url) => url.href.startsWith(`${origin}/`) || /\/interaction\//.test(url.href));
  if (page.url().includes('/interaction/')) await page.locator('button[type="submit"]').first().click();
  await page.waitForURL(`${origin}/**`);
  await page.waitForFunction(() => window.__tokenwarden !== undefined);
  const result = await page.evaluate(() => window.__tokenwarden);
  const expected = { state: 'authenticated', sub: 'alice', status: 200 };
  if (JSON.stringify(result) !== JSON.stringify(expected)) {
    throw new Error(`unexpected result ${JSON.stringify(result)} (${problems.join('; ')})`);
  }
  if (new Set(wasm).size !== 1) throw new Error(`the page fetched ${JSON.stringify(wasm)}, expected one wasm`);
  console.log(`test-vite: the tokenwarden/oauth Vite app logged in at oidc-provider from Chromium: ${JSON.stringify(result)}; wasm fetched: ${[...new Set(wasm)]}`);
} finally {
  await browser?.close();
  await stopServer(api);
  await stopProvider(provider);
  await new Promise((ok) => app.close(ok));
}
JS

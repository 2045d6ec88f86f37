// The example apps on the Rust API, the Leptos app (examples/leptos-app) and the Yew app
// (examples/yew-app), in headless Chromium against the real reference server, driven like a
// person would: log in, load items, add one, live through a failed refresh and silent refreshes
// of 5-second tokens, log out; in page custody and in worker custody (`?custody=worker`: the Rust
// API's `Custody::Worker`, the session in the npm package's worker served from pkg/web/). Both
// apps show the same page (the same ids, labels and texts), so the same steps drive both. A
// custody scan shows what a script in the page can read of the app's wasm memory and JS heap in
// each. Screenshots land in target/e2e/<app>-*.png.
//
// Run with `make test-apps` (builds the apps once into target/examples/<app>/ with
// scripts/build-example-apps.sh, the server, and pkg/ if test-js has not). Env: TW_SERVER_BIN,
// CHROMIUM, TW_E2E_OUT, TW_EXAMPLES_DIR (default target/examples), TW_PKG_DIR (default pkg),
// TW_APPS (default "leptos yew").
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  heapSnapshot, launchChromium, recordTokens, startServer, stopServer,
} from '../support/harness.mjs';

const OUT = resolve(process.env.TW_E2E_OUT ?? 'target/e2e');
const EXAMPLES = resolve(process.env.TW_EXAMPLES_DIR ?? 'target/examples');
const PKG = resolve(process.env.TW_PKG_DIR ?? 'pkg');
const ACCESS_TTL = 5;
// With 5 s tokens and these knobs the app refreshes about 3.5 s after each token arrives.
const QUERY = '?minRefreshLeadMs=1500&minRefreshIntervalMs=1000&backoffInitialMs=500';
const APPS = (process.env.TW_APPS ?? 'leptos yew').split(/\s+/).filter(Boolean);
const TITLE = { leptos: 'Leptos', yew: 'Yew' };
const STEP_TIMEOUT = 30_000;

let server;
let browser;

before(async () => {
  for (const app of APPS) {
    assert.ok(existsSync(join(EXAMPLES, app, 'index.html')),
      `${EXAMPLES}/${app}/ is missing: run scripts/build-example-apps.sh (make example-apps)`);
  }
  assert.ok(existsSync(join(PKG, 'web', 'worker.js')),
    `${PKG}/web/worker.js is missing: run scripts/build-pkg.sh pkg (worker custody serves it)`);
  mkdirSync(OUT, { recursive: true });
  const log = createWriteStream(join(OUT, 'apps-server.log'));
  server = await startServer(['--port', '0', '--test-hooks', '--access-ttl', String(ACCESS_TTL),
    '--www-dir', resolve('www'), '--pkg-dir', PKG, '--examples-dir', EXAMPLES],
  { log, timeoutMs: 30_000 });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await stopServer(server);
});

const shotOf = (app, page, name) => page.screenshot({ path: join(OUT, `${app}-${name}.png`), fullPage: true });
const pageOf = (app, custody) => `/examples/${app}/${QUERY}${custody === 'worker' ? '&custody=worker' : ''}`;
const stateIs = (page, ...states) => page.waitForFunction(
  (wanted) => wanted.includes(document.getElementById('state')?.textContent), states);
const stats = async () => (await fetch(`${server.base}/__test/stats`)).json();
const hook = (name, body) => fetch(`${server.base}/__test/${name}`, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
});

for (const app of APPS) {
for (const custody of ['page', 'worker']) {
test(`the ${TITLE[app]} app, custody ${custody}: log in, items, refreshes, log out`, async (t) => {
  const shot = (page, name) => shotOf(app, page, custody === 'page' ? name : `worker-${name}`);
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(`${server.base}${pageOf(app, custody)}`);
  await page.locator('body[data-ready="true"]').waitFor();
  await stateIs(page, 'anonymous');

  if (custody === 'page') await t.test('the demo page links to it', async () => {
    const demo = await context.newPage();
    await demo.goto(`${server.base}/`);
    const href = await demo.getByRole('link', { name: `the ${TITLE[app]} app` }).getAttribute('href');
    assert.equal(href, `/examples/${app}/`);
    await demo.close();
  });

  await t.test('logs in and shows the claims', async () => {
    await shot(page, '01-login-form');
    await page.getByLabel('Username').fill('demo');
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('#notice', { hasText: 'ERR_LOGIN_FAILED' }).waitFor();
    await page.getByLabel('Password').fill('demo-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await stateIs(page, 'authenticated', 'refreshing');
    await page.locator('#sub', { hasText: 'demo' }).waitFor();
    assert.equal(await page.locator('#scope').textContent(), 'read write');
    assert.match(await page.locator('#countdown').textContent(), /^\d+\.\d s$/);
    // The session lives in a worker only in worker custody.
    assert.equal(page.workers().length, custody === 'worker' ? 1 : 0, 'workers');
    await shot(page, '02-logged-in');
  });

  await t.test('loads items and adds one through the manager', async () => {
    await page.getByRole('button', { name: 'Load items' }).click();
    await page.locator('#items li').nth(2).waitFor();
    assert.deepEqual(await page.locator('#items li').allTextContents(), ['apples', 'pears', 'plums']);
    await page.getByLabel('New item').fill('figs');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.locator('#api-status', { hasText: 'item added' }).waitFor();
    assert.deepEqual(await page.locator('#items li').allTextContents(), ['apples', 'pears', 'plums', 'figs']);
    await shot(page, '03-items');
  });

  await t.test('refreshes silently before the 5 s token expires', async () => {
    const before = (await stats()).refreshes;
    const exp = await page.locator('#exp').textContent();
    await page.waitForFunction((old) => {
      const now = document.getElementById('exp')?.textContent;
      return now && now !== old;
    }, exp);
    assert.ok((await stats()).refreshes > before, 'the server saw a refresh');
    await stateIs(page, 'authenticated', 'refreshing');
    await page.getByRole('button', { name: 'Load items' }).click();
    await page.locator('#api-status', { hasText: 'items loaded' }).waitFor();
    await shot(page, '04-silent-refresh');
  });

  await t.test('survives a failed refresh (503) and recovers', async () => {
    const before = await stats();
    assert.equal((await hook('faults', { count: 1, status: 503 })).status, 200);
    await page.locator('#notice', { hasText: 'a refresh failed' }).waitFor();
    await shot(page, '05-refresh-failed');
    // The retry succeeds: a new token arrives and requests still work.
    const exp = await page.locator('#exp').textContent();
    await page.waitForFunction((old) => document.getElementById('exp')?.textContent !== old, exp);
    assert.ok((await stats()).refreshes >= before.refreshes + 2, 'the failed refresh was retried');
    await stateIs(page, 'authenticated', 'refreshing');
    await page.getByRole('button', { name: 'Load items' }).click();
    await page.locator('#api-status', { hasText: 'items loaded' }).waitFor();
    await shot(page, '06-recovered');
  });

  await t.test('logs out', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await stateIs(page, 'anonymous');
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    assert.equal(await page.locator('#countdown').textContent(), 'no session');
    // A reload finds no session to restore.
    await page.reload();
    await page.locator('body[data-ready="true"]').waitFor();
    await page.waitForTimeout(500);
    await stateIs(page, 'anonymous');
    await shot(page, '07-logged-out');
  });

  assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), [], 'page errors');
  await context.close();
});
}
}

async function logIn(page) {
  await page.getByLabel('Username').fill('demo');
  await page.getByLabel('Password').fill('demo-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#sub', { hasText: 'demo' }).waitFor();
}

// What a script in the page can read while the session is live and requests succeed: the app's
// own wasm memory (the module's init() hands back the live instance's exports) and the page's JS
// heap. Page custody is the control that shows the scan finds tokens.
for (const app of APPS) {
for (const custody of ['page', 'worker']) {
  test(`the ${TITLE[app]} app, custody ${custody}: what a script in the page can reach`, async () => {
    const context = await browser.newContext();
    const issued = recordTokens(context);
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT);
    await page.goto(`${server.base}${pageOf(app, custody)}`);
    await page.locator('body[data-ready="true"]').waitFor();
    await logIn(page);
    await page.getByRole('button', { name: 'Load items' }).click();
    await page.locator('#api-status', { hasText: 'items loaded' }).waitFor();
    // A silent refresh, then a request with the new token.
    const exp = await page.locator('#exp').textContent();
    await page.waitForFunction((old) => document.getElementById('exp')?.textContent !== old, exp);
    await page.getByLabel('New item').fill('quinces');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.locator('#api-status', { hasText: 'item added' }).waitFor();
    const tokens = [...issued];
    assert.ok(tokens.length >= 2, `the scan knows the issued tokens (${tokens.length})`);
    const heap = await heapSnapshot(context, page);
    const inHeap = tokens.filter((token) => heap.includes(token.slice(-32))).length;
    const scan = await page.evaluate(async ({ needles, app }) => {
      const glue = await import(`/examples/${app}/tokenwarden_${app}_app.js`);
      const bytes = new Uint8Array((await glue.default()).memory.buffer);
      const encoder = new TextEncoder();
      let found = 0;
      for (const needle of needles.map((n) => encoder.encode(n.slice(-32)))) {
        outer: for (let i = bytes.indexOf(needle[0]); i !== -1; i = bytes.indexOf(needle[0], i + 1)) {
          for (let j = 1; j < needle.length; j += 1) if (bytes[i + j] !== needle[j]) continue outer;
          found += 1;
        }
      }
      return { found, memoryBytes: bytes.length };
    }, { needles: tokens, app });
    console.log(`# ${TITLE[app]} app, custody ${custody}: ${tokens.length} access tokens issued; found in the app's wasm memory (${scan.memoryBytes} bytes): ${scan.found}, in the page's JS heap: ${inHeap}`);
    if (custody === 'worker') {
      assert.equal(scan.found, 0, "a token in the app's wasm memory");
      assert.equal(inHeap, 0, "a token in the page's JS heap");
    } else {
      assert.ok(scan.found > 0, 'the control: the scan finds the live token in page custody');
    }
    await context.close();
  });
}
}

for (const app of APPS) {
test(`the ${TITLE[app]} app, custody worker: a stopped worker fails the request in flight (ERR_WORKER_LOST) and logs out (workerLost); a new login works`, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  await page.goto(`${server.base}${pageOf(app, 'worker')}`);
  await page.locator('body[data-ready="true"]').waitFor();
  await logIn(page);
  // The next refresh hangs for 15 s: once the token has expired, a request waits in the worker.
  assert.equal((await hook('faults', { count: 1, delay_ms: 15_000 })).status, 200);
  const exp = Number(await page.locator('#exp').textContent());
  await page.waitForFunction((at) => Date.now() > at * 1000 + 300, exp);
  await page.getByRole('button', { name: 'Load items' }).click();
  await page.waitForTimeout(300);
  assert.equal(await page.locator('#api-status').textContent(), '', 'the request is waiting');
  const [worker] = page.workers();
  const t0 = Date.now();
  await worker.evaluate(() => self.close()).catch(() => {});
  await page.locator('#api-status', { hasText: 'ERR_WORKER_LOST' }).waitFor();
  await page.locator('#notice', { hasText: 'logged out (workerLost)' }).waitFor();
  console.log(`# ${TITLE[app]} app: the stopped worker was noticed after ${Date.now() - t0} ms`);
  await stateIs(page, 'anonymous');
  await logIn(page);
  await page.getByRole('button', { name: 'Load items' }).click();
  await page.locator('#api-status', { hasText: 'items loaded' }).waitFor();
  await shotOf(app, page, 'worker-08-after-loss');
  await context.close();
});
}

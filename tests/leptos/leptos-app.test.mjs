// The Leptos example app (examples/leptos-app) in headless Chromium against the real reference
// server, driven like a person would: log in, load items, add one, live through a failed refresh
// and silent refreshes of 5-second tokens, log out. Screenshots land in target/e2e/leptos-*.png.
//
// Run with `make test-leptos` (builds the app once into target/examples/leptos/ with
// scripts/build-leptos-app.sh, and the server). Env: TW_SERVER_BIN, CHROMIUM, TW_E2E_OUT,
// TW_EXAMPLES_DIR (default target/examples).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { launchChromium, startServer, stopServer } from '../support/harness.mjs';

const OUT = resolve(process.env.TW_E2E_OUT ?? 'target/e2e');
const EXAMPLES = resolve(process.env.TW_EXAMPLES_DIR ?? 'target/examples');
const ACCESS_TTL = 5;
// With 5 s tokens and these knobs the app refreshes about 3.5 s after each token arrives.
const PAGE = '/examples/leptos/?minRefreshLeadMs=1500&minRefreshIntervalMs=1000&backoffInitialMs=500';
const STEP_TIMEOUT = 30_000;

let server;
let browser;

before(async () => {
  assert.ok(existsSync(join(EXAMPLES, 'leptos', 'index.html')),
    `${EXAMPLES}/leptos/ is missing: run scripts/build-leptos-app.sh (make leptos-app)`);
  mkdirSync(OUT, { recursive: true });
  const log = createWriteStream(join(OUT, 'leptos-server.log'));
  server = await startServer(['--port', '0', '--test-hooks', '--access-ttl', String(ACCESS_TTL),
    '--www-dir', resolve('www'), '--pkg-dir', resolve('pkg'), '--examples-dir', EXAMPLES],
  { log, timeoutMs: 30_000 });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await stopServer(server);
});

const shot = (page, name) => page.screenshot({ path: join(OUT, `leptos-${name}.png`), fullPage: true });
const stateIs = (page, ...states) => page.waitForFunction(
  (wanted) => wanted.includes(document.getElementById('state')?.textContent), states);
const stats = async () => (await fetch(`${server.base}/__test/stats`)).json();
const hook = (name, body) => fetch(`${server.base}/__test/${name}`, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
});

test('the Leptos app: log in, items, refreshes, log out', async (t) => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(`${server.base}${PAGE}`);
  await page.locator('body[data-ready="true"]').waitFor();
  await stateIs(page, 'anonymous');

  await t.test('the demo page links to it', async () => {
    const demo = await context.newPage();
    await demo.goto(`${server.base}/`);
    const href = await demo.getByRole('link', { name: /Leptos app/ }).getAttribute('href');
    assert.equal(href, '/examples/leptos/');
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

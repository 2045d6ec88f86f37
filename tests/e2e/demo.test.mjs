// End-to-end tests of the demo page (www/) in headless Chromium against the real reference
// server, driven like a person would: the login form, the API buttons, the fault buttons.
// Every step saves a screenshot under target/e2e/.
//
// Run with scripts/test-e2e.sh (builds the server if needed; expects pkg/ to be built).
// Env: TW_SERVER_BIN (server binary), CHROMIUM (browser), TW_E2E_OUT (screenshot directory).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { launchChromium, startServer as start, stopServer } from '../support/harness.mjs';

const OUT = resolve(process.env.TW_E2E_OUT ?? 'target/e2e');
// 5 s access tokens; the page's refresh lead and loop guard are shortened to match, so a silent
// refresh happens about 3.5 s after each token arrives.
const ACCESS_TTL = 5;
const PAGE = '/?minRefreshLeadMs=1500&minRefreshIntervalMs=1000';
// Generous: a loaded 2-core machine can be slow to start Chromium and instantiate the wasm.
const STEP_TIMEOUT = 30_000;

let server;
let browser;

function startServer() {
  mkdirSync(OUT, { recursive: true });
  const log = createWriteStream(join(OUT, 'server.log'));
  const args = ['--port', '0', '--test-hooks', '--access-ttl', String(ACCESS_TTL),
    '--www-dir', resolve('www'), '--pkg-dir', resolve('pkg')];
  return start(args, { log, timeoutMs: 30_000 });
}

before(async () => {
  server = await startServer();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await stopServer(server);
});

/**
 * Opens the demo in a fresh context (no cookies) and collects page errors, console errors (a
 * failed request shows there as "Failed to load resource") and responses with an error status.
 */
async function openDemo(contextOptions = {}) {
  const context = await browser.newContext(contextOptions);
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  const errors = [];
  const consoleErrors = [];
  const failed = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('requestfailed', (r) => failed.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.request().method()} ${r.url()}: ${r.status()}`); });
  await page.goto(`${server.base}${PAGE}`);
  await page.locator('body[data-ready="true"]').waitFor();
  return { context, page, errors, consoleErrors, failed };
}

const shot = (page, name, options = {}) => page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true, ...options });
const stateIs = (page, ...states) => page.waitForFunction(
  (wanted) => wanted.includes(document.getElementById('state').textContent), states);
const timelineCount = (page, key) => page.locator('#timeline').evaluate((svg, k) => Number(svg.dataset[k] ?? 0), key);
const timelineAbove = (page, key, n, timeout = STEP_TIMEOUT) => page.waitForFunction(
  ([k, min]) => Number(document.getElementById('timeline').dataset[k] ?? 0) > min, [key, n], { timeout });

async function logIn(page) {
  const username = page.getByLabel('Username');
  await username.focus();
  await username.fill('demo');
  await page.keyboard.press('Tab');
  await page.keyboard.type('demo-password');
  await page.keyboard.press('Enter'); // submits the form from the keyboard
  await stateIs(page, 'authenticated', 'refreshing');
}

/** Clicks an API button (found by its accessible name) and returns the finished log row's data. */
async function callApi(page, label) {
  const rows = page.locator(`#request-log tr[data-call="${label}"]`);
  const before = await rows.count();
  await page.getByRole('button', { name: label }).click();
  await page.waitForFunction(([l, n]) =>
    document.querySelectorAll(`#request-log tr[data-call="${l}"]`).length > n, [label, before]);
  return rows.first().evaluate((row) => ({ ...row.dataset }));
}

test('the demo flow in a desktop browser', { timeout: 240_000 }, async (t) => {
  const { context, page, errors, consoleErrors, failed } = await openDemo({ viewport: { width: 1280, height: 900 } });

  await t.test('starts anonymous: no session to restore', async () => {
    await stateIs(page, 'anonymous');
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    // A first visit sends no refresh request that could fail: no hint cookie, no call.
    assert.deepEqual(failed, [], 'a request failed on the first visit');
    assert.deepEqual(consoleErrors, [], 'the console shows errors on the first visit');
    await shot(page, '01-start');
  });

  await t.test('logs in through the form', async () => {
    await logIn(page);
    assert.match(await page.locator('#claims').textContent(), /"sub": "demo"/);
    assert.equal(await page.locator('#expiry-source').textContent(), 'expires_in');
    assert.equal(await page.locator('#login-panel').isHidden(), true);
    await shot(page, '02-logged-in');
  });

  await t.test('calls the API through tm.fetch', async () => {
    const me = await callApi(page, 'GET /api/me');
    assert.deepEqual([me.status, me.bearer], ['200', 'true']);
    const items = await callApi(page, 'GET /api/items');
    assert.equal(items.status, '200');
    const admin = await callApi(page, 'GET /api/admin');
    assert.equal(admin.status, '403');
    const echo = await callApi(page, 'POST /api/echo');
    assert.deepEqual([echo.status, echo.bearer, echo.attempts], ['200', 'true', '1']);
    await shot(page, '03-api');
  });

  await t.test('refreshes silently, visible on the timeline', async () => {
    const ok = await timelineCount(page, 'refreshOk');
    await timelineAbove(page, 'refreshOk', ok);
    await page.locator('#timeline .tl-refresh.ok').first().waitFor();
    assert.ok(Number(await page.locator('#token-count').textContent()) >= 2);
    const me = await callApi(page, 'GET /api/me');
    assert.deepEqual([me.status, me.bearer], ['200', 'true']);
    await shot(page, '04-silent-refresh');
  });

  await t.test('a failed refresh is retried and the session recovers', async () => {
    const failed = await timelineCount(page, 'refreshFailed');
    await page.getByRole('button', { name: 'Fail the next refresh (503)' }).click();
    await page.locator('#fault-status', { hasText: '503' }).waitFor();
    await timelineAbove(page, 'refreshFailed', failed);
    const ok = await timelineCount(page, 'refreshOk');
    await timelineAbove(page, 'refreshOk', ok); // the retry succeeded
    await stateIs(page, 'authenticated', 'refreshing');
    await page.locator('#timeline .tl-retry').first().waitFor();
    await page.getByText('Event list').click();
    await page.locator('#event-log li', { hasText: 'refresh failed: server_error 503' }).first().waitFor();
    const me = await callApi(page, 'GET /api/me');
    assert.equal(me.status, '200');
    await shot(page, '05-refresh-failed-and-recovered');
  });

  await t.test('measures a skewed server clock', async () => {
    await page.getByRole('button', { name: 'Skew the server clock +300 s' }).click();
    await page.locator('#fault-clock[aria-pressed="true"]').waitFor();
    await page.getByRole('button', { name: 'Refresh now' }).click();
    await page.locator('#clock-offset', { hasText: 'server ahead' }).waitFor();
    const offset = Number.parseFloat((await page.locator('#clock-offset').textContent()).replace('−', '-'));
    assert.ok(offset > 295 && offset < 305, `offset ${offset}`);
    await shot(page, '06-clock-skew');
    await page.getByRole('button', { name: 'Reset the server clock' }).click();
    await page.locator('#fault-clock[aria-pressed="false"]').waitFor();
    await page.getByRole('button', { name: 'Refresh now' }).click();
    await page.locator('#clock-offset', { hasText: 'in sync' }).waitFor();
  });

  await t.test('a session revoked on the server ends with invalid_grant', async () => {
    await page.getByRole('button', { name: 'Revoke the session on the server' }).click();
    await page.locator('#fault-status', { hasText: 'Revoked' }).waitFor();
    // The next scheduled refresh is refused: the manager wipes the token and says why.
    await page.locator('#session-status[data-reason="invalid_grant"]').waitFor();
    await stateIs(page, 'anonymous');
    assert.match(await page.locator('#session-status').textContent(), /invalid_grant/);
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    await shot(page, '07-revoked');
  });

  await t.test('logout wipes the session and leaves no storage behind', async () => {
    await logIn(page);
    assert.equal((await callApi(page, 'GET /api/me')).status, '200');
    await page.getByRole('button', { name: 'Log out' }).click();
    await stateIs(page, 'anonymous');
    await page.locator('#session-status[data-reason="logout"]').waitFor();
    const storage = await page.evaluate(async () => ({
      localStorage: localStorage.length,
      sessionStorage: sessionStorage.length,
      indexedDB: (await indexedDB.databases()).length,
      cookie: document.cookie,
    }));
    assert.deepEqual(storage, { localStorage: 0, sessionStorage: 0, indexedDB: 0, cookie: '' });
    // The HttpOnly refresh cookie, invisible to the page, was cleared by the server as well.
    await assert.doesNotReject(async () => {
      for (let i = 0; i < 50; i++) {
        const cookies = await context.cookies();
        if (!cookies.some((c) => c.name === '__Host-tw_refresh')) return;
        await page.waitForTimeout(100);
      }
      throw new Error('__Host-tw_refresh cookie still set');
    });
    await page.getByRole('button', { name: 'Inspect storage' }).click();
    await page.locator('#storage dd', { hasText: 'ERR_TOKEN_NOT_EXPOSED' }).waitFor();
    await shot(page, '08-logged-out-storage-empty');
  });

  assert.deepEqual(errors, []);
  await context.close();
});

test('usable on a 390x844 phone screen, by keyboard, with labels', { timeout: 120_000 }, async () => {
  const { context, page, errors } = await openDemo({
    viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2,
  });
  // Every control has an accessible name; the logs are live regions.
  const unnamed = await page.evaluate(() => [...document.querySelectorAll('input, button, select, textarea')]
    .filter((c) => !(c.labels?.length || c.getAttribute('aria-label') || c.textContent.trim()))
    .map((c) => c.outerHTML));
  assert.deepEqual(unnamed, []);
  assert.equal(await page.locator('#request-log').getAttribute('aria-live'), 'polite');
  await shot(page, '09-phone-start', { fullPage: false });

  await logIn(page);
  assert.equal((await callApi(page, 'GET /api/me')).status, '200');
  assert.equal((await callApi(page, 'GET /api/admin')).status, '403');
  const width = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: innerWidth }));
  assert.ok(width.scroll <= width.inner, `page scrolls sideways: ${JSON.stringify(width)}`);
  await page.locator('#session-panel').scrollIntoViewIfNeeded();
  await shot(page, '10-phone-session', { fullPage: false });
  await page.locator('#timeline-panel').scrollIntoViewIfNeeded();
  await timelineAbove(page, 'refreshOk', 0);
  await shot(page, '11-phone-timeline', { fullPage: false });

  // Keyboard: Tab reaches the API buttons and Enter activates one.
  await page.getByRole('button', { name: 'Log out' }).focus();
  let focused = '';
  for (let i = 0; i < 10 && focused !== 'GET /api/items'; i++) {
    await page.keyboard.press('Tab');
    focused = await page.evaluate(() => document.activeElement?.dataset.call ?? '');
  }
  assert.equal(focused, 'GET /api/items');
  const rows = await page.locator('#request-log tr').count();
  await page.keyboard.press('Enter');
  await page.waitForFunction((n) => document.querySelectorAll('#request-log tr').length > n, rows);
  await shot(page, '12-phone-full');
  assert.deepEqual(errors, []);
  await context.close();
});

test('two tabs share one session, and each timeline shows the other tab', { timeout: 120_000 }, async () => {
  const { context, page: first, errors } = await openDemo();
  await logIn(first);
  const before = await (await fetch(`${server.base}/__test/stats`)).json();
  // A second tab of the same browser profile: it is handed the session by the first tab.
  const second = await context.newPage();
  second.setDefaultTimeout(STEP_TIMEOUT);
  second.on('pageerror', (e) => errors.push(e.message));
  await second.goto(`${server.base}${PAGE}`);
  await second.locator('body[data-ready="true"]').waitFor();
  await stateIs(second, 'authenticated', 'refreshing');
  await timelineAbove(second, 'fromOtherTabs', 0);
  await second.getByText('Session handed over by another open tab').waitFor();
  const afterHandOver = await (await fetch(`${server.base}/__test/stats`)).json();
  assert.equal(afterHandOver.refreshes, before.refreshes, 'the new tab called /auth/refresh');
  // Whichever tab refreshes next, the other one shows the shared token on its timeline.
  const [firstBefore, secondBefore] = [await timelineCount(first, 'fromOtherTabs'), await timelineCount(second, 'fromOtherTabs')];
  await Promise.race([
    timelineAbove(first, 'fromOtherTabs', firstBefore, 4 * ACCESS_TTL * 1000),
    timelineAbove(second, 'fromOtherTabs', secondBefore, 4 * ACCESS_TTL * 1000),
  ]);
  const stats = await (await fetch(`${server.base}/__test/stats`)).json();
  assert.equal(stats.reuse_detected, 0);
  await shot(first, '13-two-tabs-first');
  await shot(second, '14-two-tabs-second');
  // Logout in one tab ends the other with the reason otherTab.
  await first.getByRole('button', { name: 'Log out' }).click();
  await stateIs(second, 'anonymous');
  await second.locator('#session-status[data-reason="otherTab"]').waitFor();
  assert.deepEqual(errors, []);
  await context.close();
});

test('worker custody: the switch, the flow, no token readable by the page', { timeout: 120_000 }, async () => {
  const { context, page, errors, consoleErrors, failed } = await openDemo();
  assert.equal(await page.locator('#custody').textContent(), 'page');
  await page.getByRole('link', { name: 'Switch to worker custody' }).click();
  await page.waitForURL(/custody=worker/);
  failed.length = 0; // the first page's own requests, cut short by the navigation
  await page.locator('body[data-ready="true"]').waitFor();
  assert.equal(await page.locator('#custody').textContent(), 'worker');
  assert.match(await page.locator('#options').textContent(), /"custody": "worker"/);
  await stateIs(page, 'anonymous');
  assert.deepEqual(failed, [], 'a request failed on the first visit');
  await logIn(page);
  assert.match(await page.locator('#claims').textContent(), /"sub": "demo"/);
  const me = await callApi(page, 'GET /api/me');
  assert.deepEqual([me.status, me.bearer, me.attempts], ['200', 'true', 'n/a']);
  const echo = await callApi(page, 'POST /api/echo');
  assert.deepEqual([echo.status, echo.bearer], ['200', 'true']);
  // A silent refresh in the worker shows as a new token.
  await page.waitForFunction(() => Number(document.getElementById('token-count').textContent) >= 2, null, { timeout: 4 * ACCESS_TTL * 1000 });
  assert.equal((await callApi(page, 'GET /api/me')).status, '200');
  await page.getByRole('button', { name: 'Inspect storage' }).click();
  await page.locator('#storage dd', { hasText: 'ERR_TOKEN_NOT_EXPOSED' }).waitFor();
  await shot(page, '15-worker-custody');
  await page.getByRole('button', { name: 'Log out' }).click();
  await stateIs(page, 'anonymous');
  await page.locator('#session-status[data-reason="logout"]').waitFor();
  await page.getByRole('link', { name: 'Switch to page custody' }).click();
  await page.locator('body[data-ready="true"]').waitFor();
  assert.equal(await page.locator('#custody').textContent(), 'page');
  assert.deepEqual(errors, []);
  assert.deepEqual(consoleErrors, []);
  await context.close();
});

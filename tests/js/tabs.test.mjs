// Many tabs, one session: several pages of one browser context against the reference server
// (test hooks on, 3 s access tokens), judged by the server's /__test/stats. Also a tab whose
// main thread stalls past its token's expiry (a sleeping machine, a frozen background tab).
// Needs the package (scripts/build-pkg.sh; TW_PKG_DIR picks the directory, default pkg) and the
// server binary (TW_SERVER_BIN, default target/debug/tokenwarden-server).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { launchChromium, startServer, stopServer } from '../support/harness.mjs';

const PKG = resolve(process.env.TW_PKG_DIR ?? 'pkg');
const TTL_S = 3;
// Refresh 1.2 s before expiry (the server truncates iat to the second, so a token can be up to
// 1 s shorter-lived than expires_in says): one tab alone refreshes every 1.8-1.92 s.
const LEAD_MS = 1200;
const PERIOD_MS = TTL_S * 1000 - LEAD_MS;
let browser, www;
const servers = [];


async function hook(base, method, path, body) {
  const res = await fetch(base + path, {
    method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined,
  });
  return res.status === 204 ? null : res.json();
}
const stats = (base) => hook(base, 'GET', '/__test/stats');
const reset = (base) => hook(base, 'POST', '/__test/reset', {});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const PAGE = `<!doctype html><meta charset="utf-8"><title>loading</title>
<script type="module">
  const q = new URLSearchParams(location.search);
  if (q.get('nolocks')) Object.defineProperty(navigator, 'locks', { value: undefined, configurable: true });
  const { TokenManager } = await import('/pkg/web/index.js');
  const options = {
    refreshUrl: '/auth/refresh', loginUrl: '/auth/login', logoutUrl: '/auth/logout',
    refreshToken: q.get('mode') ?? 'cookie',
    refreshLeadFraction: 0.4, minRefreshLeadMs: ${LEAD_MS}, maxRefreshLeadMs: ${LEAD_MS},
    minRefreshIntervalMs: 500, backoffInitialMs: 200,
  };
  if (q.get('channel')) options.channelName = q.get('channel');
  if (q.get('timeout')) options.requestTimeoutMs = Number(q.get('timeout'));
  if (q.get('crossTab') === 'off') options.crossTab = false;
  if (q.get('custody')) options.custody = q.get('custody');
  const tm = new TokenManager(options);
  const events = [];
  for (const name of ['change', 'refreshed', 'refreshFailed', 'expired', 'loggedOut']) {
    tm.on(name, (e) => events.push({ ...e, at: Date.now() }));
  }
  const api = { statuses: [], errors: [] };
  window.tw = {
    tm, events, api,
    async call() {
      try { const r = await tm.fetch('/api/me'); api.statuses.push(r.status); return r.status; }
      catch (e) { api.errors.push(e.code ?? String(e)); return e.code ?? String(e); }
    },
    async login() { await tm.login({ username: 'demo', password: 'demo-password' }); return tm.state; },
  };
  window.tw.started = q.get('start') ? await tm.start() : null;
  document.title = 'ready';
</script>`;

before(async () => {
  www = mkdtempSync(join(tmpdir(), 'tw-tabs-'));
  writeFileSync(join(www, 'index.html'), PAGE);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await Promise.all(servers.map(stopServer));
  rmSync(www, { recursive: true, force: true });
});

async function server(extra = []) {
  const started = await startServer(['--port', '0', '--quiet', '--test-hooks', '--access-ttl', String(TTL_S), '--www-dir', www, '--pkg-dir', PKG, ...extra]);
  servers.push(started);
  return started;
}

/** Opens a tab; records its calls to /auth/refresh and its page errors. */
async function open(context, base, query = '') {
  const page = await context.newPage();
  page.refreshCalls = 0;
  page.errors = [];
  page.on('request', (r) => { if (new URL(r.url()).pathname === '/auth/refresh') page.refreshCalls += 1; });
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(`${base}/${query}`);
  await page.waitForFunction(() => document.title === 'ready', null, { timeout: 30_000 });
  return page;
}

const state = (page) => page.evaluate(() => window.tw.tm.state);
const waitState = (page, want, timeout = 15_000) =>
  page.waitForFunction((w) => window.tw.tm.state === w, want, { timeout, polling: 25 });

/** Calls the API from every tab every `every` ms for `ms`. */
async function traffic(pages, ms, every = 400) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await Promise.all(pages.map((p) => p.evaluate(() => { window.tw.call(); })));
    await sleep(every);
  }
  // Let the last calls settle.
  await Promise.all(pages.map((p) => p.waitForFunction(() => true)));
  await sleep(500);
}

/** Gaps (ms) between consecutive `refreshed` events of all tabs since `t0`. */
async function refreshGaps(pages, t0) {
  const times = [];
  for (const page of pages) {
    times.push(...await page.evaluate((since) => window.tw.events.filter((e) => e.type === 'refreshed' && e.source === 'self' && e.at >= since).map((e) => e.at), t0));
  }
  times.sort((x, y) => x - y);
  return times.slice(1).map((t, i) => t - times[i]);
}

async function apiResults(page) {
  return page.evaluate(() => ({ statuses: window.tw.api.statuses, errors: window.tw.api.errors }));
}

async function threeTabs(base, query = '') {
  const context = await browser.newContext();
  const first = await open(context, base, query);
  assert.equal(await first.evaluate(() => window.tw.login()), 'authenticated');
  const sep = query ? '&' : '?';
  const others = [await open(context, base, `${query}${sep}start=1`), await open(context, base, `${query}${sep}start=1`)];
  for (const page of others) {
    assert.equal(await page.evaluate(() => window.tw.started), true, 'a new tab takes over the session');
    // Worker custody shares no token: a new tab's worker refreshes with the shared cookie.
    if (!query.includes('custody=worker')) assert.equal(page.refreshCalls, 0, 'hand-over, not a refresh');
  }
  return { context, pages: [first, ...others] };
}

/**
 * Resets the server's counters, keeps `pages` calling the API for `lifetimes` token lifetimes,
 * and returns the counters, the most refreshes one tab alone would make (`bound`) and the gaps
 * between consecutive refreshes.
 */
async function refreshStream(base, pages, lifetimes) {
  await reset(base);
  const t0 = Date.now();
  await traffic(pages, lifetimes * TTL_S * 1000);
  const elapsed = Date.now() - t0;
  const s = await stats(base);
  // A token must be replaced every PERIOD_MS at the latest: ceil(elapsed / PERIOD_MS) of them,
  // plus one for the period under way when the counters were reset.
  const bound = Math.ceil(elapsed / PERIOD_MS) + 1;
  const gaps = await refreshGaps(pages, t0);
  return { t0, elapsed, s, bound, gaps };
}

/** Three tabs, ten token lifetimes: no reuse, one refresh stream, no 401. */
async function tenLifetimes(base, query = '') {
  const { context, pages } = await threeTabs(base, query);
  const { t0, elapsed, s, bound, gaps } = await refreshStream(base, pages, 10);
  console.log(`# ${query || 'cookie'}: ${elapsed} ms, refreshes ${s.refreshes} (one tab alone: <= ${bound}; 3 uncoordinated tabs: about ${3 * Math.round(elapsed / PERIOD_MS)}), shortest gap between two refreshes ${Math.min(...gaps)} ms, reuse_detected ${s.reuse_detected}, api ${s.api_requests}, api 401 ${s.api_unauthorized}`);
  assert.equal(s.reuse_detected, 0);
  assert.equal(gaps.length + 1, s.refreshes, 'every refresh was made by one of the tabs');
  // Each refresh reaches the two other tabs as a `refreshed` event with source `otherTab`.
  let shared = 0;
  for (const page of pages) {
    shared += await page.evaluate((since) => window.tw.events.filter((e) => e.type === 'refreshed' && e.source === 'otherTab' && e.at >= since).length, t0);
  }
  assert.ok(shared >= s.refreshes, `siblings saw ${shared} shared tokens for ${s.refreshes} refreshes`);
  assert.ok(Math.min(...gaps) >= PERIOD_MS * 0.8, `no two refreshes back to back: gaps ${gaps}`);
  assert.ok(s.refreshes >= Math.floor(elapsed / (TTL_S * 1000)), `the session was kept alive (${s.refreshes} refreshes)`);
  assert.ok(s.refreshes <= bound, `at most one refresh per token lifetime: ${s.refreshes} > ${bound}`);
  assert.equal(s.api_unauthorized, 0, 'no API call saw a 401');
  await assertTabsHealthy(pages, 20);
  await context.close();
}

/** Every tab made more than `min` calls, all answered 200, saw no page error and holds a session. */
async function assertTabsHealthy(pages, min) {
  for (const page of pages) {
    const { statuses, errors } = await apiResults(page);
    assert.deepEqual(errors, []);
    assert.ok(statuses.length > min && statuses.every((code) => code === 200), `statuses ${statuses}`);
    assert.deepEqual(page.errors, []);
    assert.notEqual(await state(page), 'anonymous');
  }
}

test('3 tabs for 10 token lifetimes: one refresh per lifetime, no reuse, no 401', async () => {
  const { base } = await server();
  await tenLifetimes(base);
});

for (const query of ['', '?custody=worker'])
test(`a tab closed while it holds the refresh lock does not block the others${query ? ' (custody worker)' : ''}`, async () => {
  const { base } = await server();
  const { context, pages } = await threeTabs(base, query);
  const [holder, a, b] = pages;
  await reset(base);
  await hook(base, 'POST', '/__test/faults', { count: 1, delay_ms: 3000 });
  // The holder's refresh hangs for 3 s inside the lock.
  await holder.evaluate(() => { window.tw.tm.refresh().catch(() => {}); });
  await a.waitForFunction(async () => {
    const { held } = await navigator.locks.query();
    return held.some((l) => l.name.endsWith(':refresh'));
  }, null, { timeout: 10_000, polling: 25 });
  // The lock is taken before the request leaves the page: wait for the server to see it.
  let before = await stats(base);
  for (const deadline = Date.now() + 2_500; before.refreshes === 0 && Date.now() < deadline;) {
    await sleep(25);
    before = await stats(base);
  }
  assert.equal(before.refreshes, 1, 'the hanging refresh reached the server');
  await holder.close();
  // The lock is free again at once, and the next refresh happens.
  await a.waitForFunction(async () => {
    const { held } = await navigator.locks.query();
    return !held.some((l) => l.name.endsWith(':refresh'));
  }, null, { timeout: 5_000, polling: 25 });
  const t0 = Date.now();
  await traffic([a, b], 2 * TTL_S * 1000);
  const s = await stats(base);
  console.log(`# closed holder: refreshes ${s.refreshes} (1 hung), rotations ${s.rotations}, reuse_detected ${s.reuse_detected}, api 401 ${s.api_unauthorized} in ${Date.now() - t0} ms`);
  assert.ok(s.rotations >= 2, `refreshes went on after the holder closed (rotations ${s.rotations})`);
  for (const page of [a, b]) {
    assert.equal(await state(page) === 'anonymous', false);
    const { statuses, errors } = await apiResults(page);
    assert.deepEqual(errors, []);
    assert.ok(statuses.length > 0 && statuses.every((code) => code === 200), `statuses ${statuses}`);
  }
  await context.close();
});

for (const query of ['', '?custody=worker'])
test(`logout in one tab logs out the others within a second${query ? ' (custody worker)' : ''}`, async () => {
  const { base } = await server();
  const { context, pages } = await threeTabs(base, query);
  const [first, ...others] = pages;
  const t0 = Date.now();
  await first.evaluate(() => window.tw.tm.logout());
  for (const page of others) {
    await waitState(page, 'anonymous', 1_000);
  }
  console.log(`# logout reached the other tabs in ${Date.now() - t0} ms`);
  for (const page of others) {
    const reasons = await page.evaluate(() => window.tw.events.filter((e) => e.type === 'loggedOut').map((e) => e.reason));
    assert.deepEqual(reasons, ['otherTab']);
    assert.equal(await page.evaluate(() => window.tw.call()), 'ERR_LOGGED_OUT');
  }
  const s = await stats(base);
  assert.equal(s.active_families, 0, 'the server revoked the session');
  await context.close();
});

/** The channel name a manager of `base` uses (FNV-1a 64 of its refresh URL and origins). */
function channelName(base) {
  let hash = 0xcbf29ce484222325n;
  for (const part of [`${base}/auth/refresh`, base, '']) {
    for (const byte of [...new TextEncoder().encode(part), 0]) {
      hash ^= BigInt(byte);
      hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
    }
  }
  return `tokenwarden:${hash.toString(16).padStart(16, '0')}`;
}

// Security review: any same-origin script can post on the channel. It cannot make a tab adopt a
// token for another user, nor, with a NaN epoch, make the tab ignore the session's real logout.
test('forged channel messages: no foreign token adopted, logout still reaches every tab', async () => {
  const { base } = await server();
  const context = await browser.newContext();
  const first = await open(context, base);
  assert.equal(await first.evaluate(() => window.tw.login()), 'authenticated');
  const second = await open(context, base, '?start=1');
  assert.equal(await second.evaluate(() => window.tw.started), true);
  const forged = await second.evaluate((name) => {
    const b64 = (o) => btoa(JSON.stringify(o)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const exp = Math.floor(Date.now() / 1000) + 300;
    const token = `${b64({ alg: 'none' })}.${b64({ sub: 'mallory', exp })}.c2ln`;
    const channel = new BroadcastChannel(name);
    const since = Date.now();
    const from = 4242;
    // A token for another user, then the same with a NaN epoch (which, once adopted, made the
    // tab ignore later logouts), then garbage numbers.
    channel.postMessage({ v: 1, t: 'token', from, at: Date.now(), epoch: 77, expiresIn: 300, accessToken: token });
    channel.postMessage({ v: 1, t: 'token', from, at: Date.now() + 1, epoch: NaN, expiresIn: 300, accessToken: token });
    channel.postMessage({ v: 1, t: 'logout', from, epoch: NaN });
    channel.postMessage({ v: 1, t: 'claim', from, until: Infinity });
    channel.close();
    return new Promise((r) => setTimeout(() => r({
      sub: window.tw.tm.claims?.sub,
      adopted: window.tw.events.filter((e) => e.type === 'refreshed' && e.source === 'otherTab' && e.at >= since).length,
      state: window.tw.tm.state,
    }), 500));
  }, channelName(base));
  assert.equal(forged.sub, 'demo', 'a forged token for another user was adopted');
  assert.equal(forged.adopted, 0);
  assert.equal(forged.state, 'authenticated');
  await first.evaluate(() => window.tw.tm.logout());
  await waitState(second, 'anonymous', 1_500);
  assert.deepEqual(second.errors, []);
  await context.close();
});

for (const custody of ['page', 'worker'])
test(`a new tab opened while logged in is authenticated ${custody === 'page' ? 'without calling /auth/refresh' : 'with one refresh of the shared cookie (custody worker)'}`, async () => {
  const { base } = await server();
  const context = await browser.newContext();
  const first = await open(context, base, `?custody=${custody}`);
  await first.evaluate(() => window.tw.login());
  await reset(base);
  const fresh = await open(context, base, `?custody=${custody}&start=1`);
  assert.equal(await fresh.evaluate(() => window.tw.started), true);
  assert.equal(await state(fresh), 'authenticated');
  assert.equal((await stats(base)).refreshes, custody === 'page' ? 0 : 1);
  assert.equal(await fresh.evaluate(() => window.tw.call()), 200);
  const s = await stats(base);
  assert.equal(s.reuse_detected, 0);
  // Another app on the same origin (another channel) does not get the session handed over.
  const other = await open(context, base, `?custody=${custody}&start=1&channel=other-app`);
  assert.equal((await stats(base)).refreshes, custody === 'page' ? 1 : 2, 'with no sibling on its channel, start() refreshes');
  assert.equal(await state(other), 'authenticated');
  await context.close();
});

test('memory mode: hand-over alone carries the session across tabs', async () => {
  const { base } = await server(['--refresh-transport', 'body']);
  await tenLifetimes(base, '?mode=memory');
  // Logout from a tab that got the session by hand-over.
  const { context, pages } = await threeTabs(base, '?mode=memory');
  const families = (await stats(base)).active_families;
  await pages[2].evaluate(() => window.tw.tm.logout());
  for (const page of pages.slice(0, 2)) await waitState(page, 'anonymous', 1_000);
  assert.equal((await stats(base)).active_families, families - 1, 'the handed-over refresh token was revoked');
  await context.close();
});

// Security review: a same-origin script that holds the refresh lock and posts a claim every 4 s
// kept every tab from refreshing (each claim moved the steal deadline). With the request timeout
// at 2 s a steal comes after 7 s (a claim may postpone it once in worker custody).
for (const query of ['', '?custody=worker'])
test(`forged claims from a script holding the refresh lock do not starve refresh${query ? ' (custody worker)' : ''}`, async () => {
  const { base } = await server();
  const context = await browser.newContext();
  const sep = query ? '&' : '?';
  const tab = await open(context, base, `${query}${sep}timeout=2000`);
  assert.equal(await tab.evaluate(() => window.tw.login()), 'authenticated');
  const attacker = await context.newPage();
  await attacker.goto(`${base}/healthz`);
  await attacker.evaluate((name) => {
    navigator.locks.request(`${name}:refresh`, () => new Promise(() => {}));
    const channel = new BroadcastChannel(name);
    const claim = () => channel.postMessage({ v: 1, t: 'claim', from: 4243, until: Date.now() + 60_000 });
    claim();
    setInterval(claim, 4_000);
  }, channelName(base));
  await reset(base);
  const t0 = Date.now();
  let rotations = 0;
  while (rotations === 0 && Date.now() - t0 < 25_000) {
    await sleep(250);
    rotations = (await stats(base)).rotations;
  }
  console.log(`# forged claims${query ? ' (worker)' : ''}: first refresh after ${Date.now() - t0} ms`);
  assert.ok(rotations > 0, 'a tab refreshed despite the forged claims');
  const status = await tab.evaluate(() => Promise.race([window.tw.call(), new Promise((r) => setTimeout(() => r('waiting'), 5_000))]));
  assert.equal(status, 200);
  await context.close();
});

test('without Web Locks the BroadcastChannel fallback keeps one refresh stream', async () => {
  const { base } = await server();
  const { context, pages } = await threeTabs(base, '?nolocks=1');
  const { elapsed, s, bound, gaps } = await refreshStream(base, pages, 5);
  assert.ok(Math.min(...gaps) >= PERIOD_MS * 0.8, `no two refreshes back to back: gaps ${gaps}`);
  console.log(`# fallback: ${elapsed} ms, refreshes ${s.refreshes} (<= ${bound}), reuse_detected ${s.reuse_detected}, api 401 ${s.api_unauthorized}`);
  assert.equal(s.reuse_detected, 0);
  assert.ok(s.refreshes <= bound, `${s.refreshes} > ${bound}`);
  assert.equal(s.api_unauthorized, 0);
  await context.close();
});

test('a tab stalled for two token lifetimes (a sleeping laptop) is authorized on its first request after waking', async () => {
  const { base } = await server();
  const context = await browser.newContext();
  const page = await open(context, base, '?crossTab=off');
  assert.equal(await page.evaluate(() => window.tw.login()), 'authenticated');
  await reset(base);
  // Stall the page's main thread as a suspended machine or a frozen background tab would: the
  // debugger stops the next script to run, so no timer, task or event runs in the page while
  // the wall clock keeps going. That script is an API call, so on waking the call runs before
  // the overdue refresh timer can: the request gate itself must notice the expired token.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Debugger.enable');
  const paused = new Promise((resolve) => cdp.once('Debugger.paused', resolve));
  await cdp.send('Debugger.pause');
  const called = page.evaluate(() => { window.tw.first = window.tw.call(); });
  await paused;
  await sleep(2 * TTL_S * 1000);
  assert.equal((await stats(base)).refreshes, 0, 'nothing ran while the page was stalled');
  await cdp.send('Debugger.resume');
  await called;
  await cdp.send('Debugger.disable');
  const status = await page.evaluate(() => window.tw.first);
  const s = await stats(base);
  console.log(`# stalled ${2 * TTL_S} s past the refresh deadline: first call ${status}, refreshes ${s.refreshes}, api 401 ${s.api_unauthorized}`);
  assert.equal(status, 200);
  assert.equal(s.api_unauthorized, 0, 'the expired token was never sent');
  assert.equal(s.refreshes, 1, 'one refresh on waking, not one per missed deadline');
  assert.equal(s.reuse_detected, 0);
  assert.equal(await state(page), 'authenticated');
  const events = await page.evaluate(() => window.tw.events.map((e) => e.type));
  assert.equal(events.includes('loggedOut'), false, `events ${events}`);
  assert.deepEqual(page.errors, []);
  await context.close();
});

// Worker custody keeps tokens off the channel: each tab's worker refreshes for itself with the
// cookie the browser shares, one at a time under the refresh lock, so rotation never sees
// reuse; logout still reaches every tab. The cost: one refresh per tab per token lifetime.
test('custody worker: 3 tabs for 5 token lifetimes: no reuse, no 401, each worker refreshes for itself', async () => {
  const { base } = await server();
  const { context, pages } = await threeTabs(base, '?custody=worker');
  const { t0, elapsed, s, bound } = await refreshStream(base, pages, 5);
  let shared = 0;
  for (const page of pages) {
    shared += await page.evaluate((since) => window.tw.events.filter((e) => e.type === 'refreshed' && e.source === 'otherTab' && e.at >= since).length, t0);
  }
  console.log(`# custody worker: ${elapsed} ms, refreshes ${s.refreshes} (one tab alone: <= ${bound}), reuse_detected ${s.reuse_detected}, api ${s.api_requests}, api 401 ${s.api_unauthorized}`);
  assert.equal(s.reuse_detected, 0);
  assert.equal(shared, 0, 'no token came from another tab');
  assert.ok(s.refreshes >= 3 * Math.floor(elapsed / (TTL_S * 1000)), `every worker kept its session alive (${s.refreshes} refreshes)`);
  assert.ok(s.refreshes <= 3 * bound, `at most one refresh per worker per lifetime: ${s.refreshes} > ${3 * bound}`);
  assert.equal(s.api_unauthorized, 0, 'no API call saw a 401');
  await assertTabsHealthy(pages, 10);
  await context.close();
});

// Memory mode cannot hand a refresh token to a sibling without putting it on the channel: in
// worker custody each tab logs in on its own (documented), and logout still ends every tab.
test('custody worker, memory mode: a new tab needs its own login; logout reaches every tab', async () => {
  const { base } = await server(['--refresh-transport', 'body']);
  const context = await browser.newContext();
  const first = await open(context, base, '?custody=worker&mode=memory');
  assert.equal(await first.evaluate(() => window.tw.login()), 'authenticated');
  const second = await open(context, base, '?custody=worker&mode=memory&start=1');
  assert.equal(await second.evaluate(() => window.tw.started), false);
  assert.equal(await second.evaluate(() => window.tw.login()), 'authenticated');
  assert.equal(await second.evaluate(() => window.tw.call()), 200);
  assert.equal((await stats(base)).active_families, 2);
  await first.evaluate(() => window.tw.tm.logout());
  await waitState(second, 'anonymous', 1_000);
  assert.equal(await second.evaluate(() => window.tw.call()), 'ERR_LOGGED_OUT');
  assert.deepEqual([first.errors, second.errors], [[], []]);
  await context.close();
});

// The React example (examples/react-app, built with `vite build` into $TW_REACT_DIST, and as a
// development build into $TW_REACT_DEV_DIST, where StrictMode runs every effect twice on mount)
// in headless Chromium, on both profiles: the reference dialect served by the reference server
// (page and worker custody), and the OAuth profile against oidc-provider (tests/oauth/provider.mjs)
// with the reference server as the API. Each case: the guard without a session (onMissing),
// login, the guarded page, an API call through tm.fetch, a silent refresh visible in the UI with
// at most two commits of the session panel, logout in a second tab reaching the first; OAuth:
// the StrictMode callback exchanges the code exactly once. Both profiles run in both custodies; in
// worker custody tabs share no tokens, so the OAuth second tab logs in again (silently: the
// provider remembers the login), and the page's storage and JS heap hold no token.
// Run: make test-react (builds the example; needs pkg/ and the server binary).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { heapSnapshot, launchChromium, startProvider, startServer, stopProvider, stopServer } from '../support/harness.mjs';

const DIST = resolve(process.env.TW_REACT_DIST ?? 'target/react-app/dist');
const DEV_DIST = resolve(process.env.TW_REACT_DEV_DIST ?? 'target/react-app/dist-dev');
const CLIENT_ID = 'tokenwarden-spa';
const RESOURCE = 'https://api.tokenwarden.test/';
// 8-second access tokens refreshed 2 s before expiry: a silent refresh every 6 s or so.
const ACCESS_TTL = '8';
const TUNING = { minRefreshLeadMs: 2000, minRefreshIntervalMs: 1000 };
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

let browser;
const cleanups = [];

/** A copy of the built app with its /config.json. */
async function site(dist, config) {
  const dir = await mkdtemp(join(tmpdir(), 'tw-react-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await cp(dist, dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

/** A static server for `dir` (the OAuth app's origin, which is its redirect URI). */
async function staticServer(dir) {
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const file = resolve(dir, path === '/' ? 'index.html' : path.slice(1));
    try {
      if (!file.startsWith(dir)) throw new Error('outside');
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  cleanups.push(() => new Promise((r) => server.close(r)));
  return `http://127.0.0.1:${server.address().port}`;
}

// Per build: the production build (what users ship) and a development build, where StrictMode
// runs every effect twice on mount (React does that in development only).
const BUILDS = { prod: DIST, dev: DEV_DIST };
const dialect = {}; // build -> { origin }
const oauth = {}; // build -> { origin, issuer, api }

before(async () => {
  for (const [build, dist] of Object.entries(BUILDS)) {
    const dir = await site(dist, { profile: 'dialect', tuning: TUNING });
    const server = await startServer(['--port', '0', '--quiet', '--access-ttl', ACCESS_TTL, '--www-dir', dir,
      '--pkg-dir', join(dir, 'none')]);
    cleanups.push(() => stopServer(server));
    dialect[build] = { origin: server.base };
  }
  // One provider and one API for both builds' origins.
  const dirs = {};
  for (const [build, dist] of Object.entries(BUILDS)) {
    dirs[build] = await site(dist, {});
    oauth[build] = { origin: await staticServer(dirs[build]) };
  }
  const origins = Object.values(oauth).map((o) => o.origin);
  const provider = await startProvider([...origins.flatMap((o) => ['--redirect-uri', `${o}/`, '--redirect-uri', `${o}/?custody=worker`]),
    '--access-ttl', ACCESS_TTL]);
  cleanups.push(() => stopProvider(provider));
  const api = await startServer(['--port', '0', '--quiet', ...origins.flatMap((o) => ['--allow-origin', o]),
    '--trust-issuer', provider.issuer, '--trust-audience', RESOURCE, '--pkg-dir', join(dirs.prod, 'none')]);
  cleanups.push(() => stopServer(api));
  for (const [build, dir] of Object.entries(dirs)) {
    Object.assign(oauth[build], { issuer: provider.issuer, api: api.base });
    await writeFile(join(dir, 'config.json'), JSON.stringify({
      profile: 'oauth', issuer: provider.issuer, clientId: CLIENT_ID, resource: RESOURCE, api: api.base, tuning: TUNING,
    }));
  }
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function openPage(context, url) {
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  // Errors of the app's pages (not the provider's forms, nor a missing favicon).
  page.on('console', (m) => {
    const where = m.location().url ?? '';
    if (m.type() !== 'error' || where.endsWith('/favicon.ico') || !where.startsWith(new URL(url).origin)) return;
    page.problems.push(`console: ${m.text()} (${where})`);
  });
  await page.goto(url);
  return page;
}

const session = (page) => page.getByTestId('session').evaluate((el) => ({
  state: el.dataset.state, renders: Number(el.dataset.renders), expiresAt: Number(el.dataset.expiresAt),
}));
const text = (page, id) => page.getByTestId(id).textContent();

/** Fills oidc-provider's development login and consent forms. */
async function providerForms(page, issuer) {
  await page.waitForURL(`${issuer}/interaction/**`);
  const login = page.locator('input[name="login"]');
  await login.fill('alice');
  await page.locator('input[name="password"]').fill('any password');
  await page.locator('button[type="submit"]').first().click();
  await login.waitFor({ state: 'detached' });
  // The consent page (offline_access, the API's scope), unless the provider went straight back.
  if (page.url().startsWith(`${issuer}/interaction/`)) await page.locator('button[type="submit"]').first().click();
}

/** Waits until the element with data-testid `id` reads `expected`. */
const waitText = (page, id, expected) => page.waitForFunction(
  ([testId, want]) => document.querySelector(`[data-testid="${testId}"]`)?.textContent === want, [id, expected],
).catch(async (e) => { throw new Error(`${id}: ${await page.getByTestId(id).textContent().catch(() => 'absent')}, wanted ${expected}: ${e.message}`); });

async function run({ profile, custody, build }) {
  const env = (profile === 'oauth' ? oauth : dialect)[build];
  const { issuer } = oauth[build];
  const query = custody === 'worker' ? '?custody=worker' : '';
  const context = await browser.newContext();
  const exchanges = [];
  const tokens = []; // the provider's token strings (access, refresh, ID), for worker custody's check
  context.on('request', (request) => {
    if (profile === 'oauth' && request.method() === 'POST' && request.url() === `${issuer}/token`
      && new URLSearchParams(request.postData() ?? '').get('grant_type') === 'authorization_code') exchanges.push(request.url());
  });
  context.on('response', async (response) => {
    if (profile !== 'oauth' || response.url() !== `${issuer}/token` || response.request().method() !== 'POST') return;
    try {
      const body = await response.json();
      tokens.push(...[body.access_token, body.refresh_token, body.id_token].filter(Boolean));
    } catch { /* preflight */ }
  });
  try {
    // The guard: the account page without a session shows the fallback and calls onMissing.
    const codesBefore = (await (await fetch(`${issuer}/__test/records`)).json()).codes.consumed;
    const tab = await openPage(context, `${env.origin}/${query}#/account`);
    if (profile === 'oauth') {
      // onMissing starts the redirect login; the provider's forms; back at the redirect URI the
      // StrictMode app completes the callback (its effects run twice) and opens the account page.
      await providerForms(tab, issuer);
      await tab.getByTestId('account').waitFor();
      assert.match(await text(tab, 'mode'), /callback success/);
      assert.equal(exchanges.length, 1, 'one authorization code exchange for StrictMode\'s two effect runs');
      const records = await (await fetch(`${issuer}/__test/records`)).json();
      assert.equal(records.codes.consumed, codesBefore + 1);
      assert.equal(records.reuseDetections, 0);
      assert.equal(new URL(tab.url()).searchParams.get('code'), null, 'the code left the address bar');
    } else {
      await tab.getByTestId('signin').waitFor();
      await waitText(tab, 'notice', 'Sign in to open your account.'); // onMissing was called
      assert.equal(await tab.getByTestId('account').count(), 0, 'the guard hides the page');
      await tab.locator('input[name="password"]').fill('demo-password');
      await tab.getByRole('button', { name: 'Sign in' }).click();
      await tab.getByTestId('account').waitFor();
    }
    assert.match(await text(tab, 'mode'), new RegExp(`${profile} · ${custody} custody`));
    assert.equal(await text(tab, 'state'), 'authenticated');
    assert.equal(await text(tab, 'sub'), profile === 'oauth' ? 'alice' : 'demo');
    assert.equal(await tab.evaluate(() => localStorage.length + sessionStorage.length), 0, 'nothing in storage');
    if (profile === 'oauth' && custody === 'worker') {
      // The worker exchanged the code and holds the tokens: none in the page's JS heap or DOM.
      assert.ok(tokens.length >= 2, `the provider's answer was seen (${tokens.length})`);
      const heap = await heapSnapshot(context, tab);
      const dom = await tab.content();
      assert.deepEqual(tokens.filter((t) => heap.includes(t.slice(-32)) || dom.includes(t)), [], 'no token in the page');
    }

    // An API call through tm.fetch.
    await tab.getByRole('button', { name: 'Call /api/me' }).click();
    const api = tab.getByTestId('api');
    await api.waitFor();
    assert.equal(await api.getAttribute('data-status'), '200', await api.textContent());
    assert.equal(JSON.parse(await api.textContent()).sub, profile === 'oauth' ? 'alice' : 'demo');

    // A silent refresh, visible in the UI, re-renders the session panel at most twice
    // ("refreshing", then the new token) and nothing renders in between.
    const first = await session(tab);
    await tab.waitForFunction((at) => Number(document.querySelector('[data-testid="session"]').dataset.expiresAt) > at,
      first.expiresAt, { timeout: 20_000 });
    await tab.waitForFunction(() => document.querySelector('[data-testid="session"]').dataset.state === 'authenticated');
    const second = await session(tab);
    assert.ok(second.renders - first.renders <= 2, `${second.renders - first.renders} renders for one refresh`);
    const quiet = await session(tab);
    await tab.waitForTimeout(500);
    assert.equal((await session(tab)).renders, quiet.renders, 'no renders without a change');

    // Logout in a second tab reaches this one.
    const other = await openPage(context, `${env.origin}/${query}#/account`);
    await other.getByTestId('account').waitFor();
    assert.equal(await text(other, 'sub'), profile === 'oauth' ? 'alice' : 'demo');
    await other.getByRole('button', { name: 'Sign out' }).click();
    await other.getByTestId('signin').waitFor();
    await tab.getByTestId('signin').waitFor();
    await waitText(tab, 'notice', 'Signed out (otherTab).');
    await waitText(other, 'notice', 'Signed out (logout).');
    assert.equal(await text(tab, 'state'), 'anonymous');
    if (profile === 'oauth' && custody === 'worker') {
      // Worker custody shares no tokens between tabs: the second tab's worker logged in itself.
      assert.equal(exchanges.length, 2, 'the second tab logged in by redirect (the provider remembered the login)');
    } else {
      assert.equal(exchanges.length, profile === 'oauth' ? 1 : 0, 'the second tab adopted the session (no new login)');
    }
    for (const page of [tab, other]) {
      assert.equal(await page.getByTestId('error').count(), 0, await page.content());
      assert.deepEqual(page.problems, []);
    }
    return { rendersPerRefresh: second.renders - first.renders };
  } finally {
    await context.close();
  }
}

// The development build runs StrictMode's double effects: the OAuth callback, the guard's
// onMissing and the session restore each happen once all the same.
const CASES = [['dialect', 'page', 'dev'], ['dialect', 'worker', 'prod'], ['oauth', 'page', 'dev'], ['oauth', 'page', 'prod'],
  ['oauth', 'worker', 'dev']];
for (const [profile, custody, build] of CASES) {
  test(`React app (${build} build), ${profile} profile, ${custody} custody: guard, login, API, refresh, logout from another tab`, async () => {
    const { rendersPerRefresh } = await run({ profile, custody, build });
    console.log(`react app ${build} ${profile}/${custody}: ${rendersPerRefresh} session-panel commits for one silent refresh`);
  });
}

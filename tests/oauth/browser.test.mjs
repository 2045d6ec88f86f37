// The npm package's OAuth profile in headless Chromium against a certified OpenID provider
// (npm oidc-provider, tests/oauth/provider.mjs) and the reference server as the API, told to
// trust the provider's access tokens (--trust-issuer, --trust-audience). Playwright drives the
// provider's own login and consent forms; the provider's records (GET /__test/records) show
// what happened to every refresh token.
//
// Three loopback servers, all on port 0: a static server for the app (tests/oauth/app/ and
// pkg/; its origin is the redirect URI), the provider, and the reference server.
// Run: make test-oauth (needs pkg/ and the server binary; about 20 s warm).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, resolve } from 'node:path';
import { launchChromium, startProvider, startServer, stopProvider, stopServer } from '../support/harness.mjs';

const CLIENT_ID = 'tokenwarden-spa';
const RESOURCE = 'https://api.tokenwarden.test/';
const STEP_TIMEOUT = 30_000;
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

let app; // { server, origin }
let provider; // { child, issuer }
let api; // reference server { child, base }
let browser;

/** Serves tests/oauth/app/ at /, pkg/ at /pkg/, and /config.js naming the provider and API. */
async function startApp() {
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/config.js') {
      res.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'no-store' });
      res.end(`export default ${JSON.stringify({
        issuer: provider.issuer, clientId: CLIENT_ID, redirectUri: `${app.origin}/`,
        resource: RESOURCE, api: api.base,
      })};`);
      return;
    }
    const file = path.startsWith('/pkg/')
      ? resolve('pkg', path.slice(5))
      : resolve('tests/oauth/app', path === '/' ? 'index.html' : path.slice(1));
    if (!file.startsWith(resolve('pkg')) && !file.startsWith(resolve('tests/oauth/app'))) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

before(async () => {
  console.log('oauth browser: starting the app server, oidc-provider, the reference server and Chromium (about 3 s)');
  app = await startApp();
  provider = await startProvider(['--redirect-uri', `${app.origin}/`, '--post-logout-redirect-uri', `${app.origin}/`]);
  api = await startServer(['--port', '0', '--quiet', '--allow-origin', app.origin,
    '--trust-issuer', provider.issuer, '--trust-audience', RESOURCE]);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await stopServer(api);
  await stopProvider(provider);
  await new Promise((r) => app?.server.close(r) ?? r());
});

const records = async () => (await fetch(`${provider.issuer}/__test/records`)).json();

/** A page of `context` that records every token endpoint answer (to try tokens afterwards). */
async function openApp(context, tokenAnswers = []) {
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.on('response', async (res) => {
    if (res.url() === `${provider.issuer}/token` && res.request().method() === 'POST') {
      try { tokenAnswers.push(await res.json()); } catch { /* preflight or empty */ }
    }
  });
  await page.goto(`${app.origin}/`);
  await page.locator('body[data-ready="true"]').waitFor();
  return page;
}

/** From the app, starts a login and fills the provider's login and consent forms. */
async function providerForms(page, account = 'alice') {
  await page.evaluate(() => { window.tm.loginWithRedirect(); });
  await page.waitForURL(`${provider.issuer}/interaction/**`);
  await page.locator('input[name="login"]').fill(account);
  await page.locator('input[name="password"]').fill('any password');
  await page.locator('button[type="submit"]').first().click();
  // The consent page (offline_access, the API's scope), then back to the app.
  await page.waitForURL((url) => url.href.startsWith(`${app.origin}/`) || /\/interaction\//.test(url.href));
  if (page.url().includes('/interaction/')) await page.locator('button[type="submit"]').first().click();
}

async function logIn(page, account) {
  await providerForms(page, account);
  await page.waitForURL(`${app.origin}/?**`);
  await page.locator('body[data-ready="true"]').waitFor();
  return page.evaluate(() => window.result);
}

/** Waits until `answers` holds `count` token endpoint answers (the listener reads bodies async). */
async function answered(answers, count) {
  for (let i = 0; i < 200 && answers.length < count; i += 1) await new Promise((r) => setTimeout(r, 25));
  assert.ok(answers.length >= count, `token endpoint answers: ${answers.length} of ${count}`);
}

const apiMe = (page) => page.evaluate(async (url) => {
  const res = await window.tm.fetch(url);
  return { status: res.status, body: await res.json() };
}, `${api.base}/api/me`);

let context;
let tab;
const tokenAnswers = [];

test('login by redirect through the provider\'s forms; the API accepts the provider\'s token', async () => {
  context = await browser.newContext();
  tab = await openApp(context, tokenAnswers);
  assert.equal(await tab.evaluate(() => window.result.started), false, 'no session before login');
  const result = await logIn(tab, 'alice');
  assert.deepEqual(result.callback, { ok: true });
  const address = new URL(tab.url());
  assert.equal(address.searchParams.get('code'), null, 'code removed from the address bar');
  assert.equal(address.searchParams.get('state'), null, 'state removed from the address bar');
  assert.equal(await tab.evaluate(() => sessionStorage.length), 0, 'the transaction is deleted at the callback');
  assert.equal(await tab.evaluate(() => window.tm.state), 'authenticated');
  const claims = await tab.evaluate(() => window.tm.claims);
  assert.equal(claims.iss, provider.issuer);
  assert.equal(claims.aud, RESOURCE);
  const me = await apiMe(tab);
  assert.equal(me.status, 200, JSON.stringify(me.body));
  assert.equal(me.body.sub, 'alice');
  await answered(tokenAnswers, 1);
  const [first] = tokenAnswers;
  assert.ok(first.refresh_token && first.id_token, 'a refresh token and an ID token');
});

test('refresh with the refresh_token grant rotates the refresh token', async () => {
  const before = await records();
  const seen = tokenAnswers.length;
  await tab.evaluate(() => window.tm.refresh());
  await answered(tokenAnswers, seen + 1);
  const after = await records();
  assert.equal(after.refreshTokens.length, before.refreshTokens.length + 1, 'a new refresh token');
  assert.ok(after.refreshTokens.at(-2).consumedAt, 'the previous one was consumed (rotated)');
  assert.equal(after.reuseDetections, 0);
  assert.notEqual(tokenAnswers.at(-1).refresh_token, tokenAnswers.at(-2).refresh_token);
  assert.equal((await apiMe(tab)).status, 200);
});

test('a second tab adopts the session (with the refresh token); refreshes from both tabs never reuse a token', async () => {
  const second = await openApp(context, tokenAnswers);
  assert.equal(await second.evaluate(() => window.result.started), true, 'adopted from the sibling');
  assert.equal(await second.evaluate(() => window.tm.state), 'authenticated');
  assert.equal((await apiMe(second)).status, 200);
  assert.equal(await second.evaluate(() => sessionStorage.length), 0, 'nothing written to storage');
  // Each tab refreshes in turn, then both at once: one refresh token chain, no reuse.
  await second.evaluate(() => window.tm.refresh());
  await tab.evaluate(() => window.tm.refresh());
  await Promise.all([tab.evaluate(() => window.tm.refresh()), second.evaluate(() => window.tm.refresh())]);
  const after = await records();
  assert.equal(after.reuseDetections, 0, 'the provider detected no reuse');
  assert.equal(after.grantRevocations.length, 0);
  const chain = after.refreshTokens.filter((r) => r.grantId === after.refreshTokens.at(-1).grantId);
  assert.ok(chain.length >= 4, `rotations: ${chain.length}`);
  assert.ok(chain.slice(0, -1).every((r) => r.consumedAt && !r.destroyedAt), 'each token used once');
  assert.equal((await apiMe(tab)).status, 200);
  assert.equal((await apiMe(second)).status, 200);
  await second.close();
});

test('logout revokes the refresh token (RFC 7009); the provider refuses it afterwards', async () => {
  // Every answer so far issued one refresh token (in this context only).
  await answered(tokenAnswers, (await records()).refreshTokens.length);
  const last = tokenAnswers.at(-1).refresh_token;
  await tab.evaluate(() => window.tm.logout());
  assert.equal(await tab.evaluate(() => window.tm.state), 'anonymous');
  const after = await records();
  assert.ok(after.grantRevocations.some((r) => r.route === 'revocation'), 'revoked at the revocation endpoint');
  const res = await fetch(`${provider.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: last, client_id: CLIENT_ID }),
  });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error, 'invalid_grant');
  const code = await tab.evaluate((url) => window.tm.fetch(url).then(() => null, (e) => e.code), `${api.base}/api/me`);
  assert.equal(code, 'ERR_LOGGED_OUT', 'requests fail fast after logout');
  await context.close();
});

test('a tampered state is refused with ERR_OAUTH_STATE_MISMATCH and the real callback still completes', async () => {
  const ctx = await browser.newContext();
  const page = await openApp(ctx);
  // The app leaves this callback to the test, which tampers with it first.
  await page.evaluate(() => { window.name = 'hold'; });
  await providerForms(page, 'bob');
  await page.waitForURL((url) => url.origin === app.origin && url.searchParams.has('code'));
  await page.locator('body[data-ready="true"]').waitFor();
  const genuine = new URL(page.url());
  const tampered = new URL(genuine);
  tampered.searchParams.set('state', `${genuine.searchParams.get('state').slice(0, -2)}AA`);
  const callback = (url) => page.evaluate((u) => window.tm.handleRedirectCallback(u).then(
    () => ({ ok: true }), (e) => ({ ok: false, code: e.code })), url);
  assert.deepEqual(await callback(tampered.href), { ok: false, code: 'ERR_OAUTH_STATE_MISMATCH' });
  assert.equal(await page.evaluate(() => window.tm.state), 'anonymous');
  assert.equal(await page.evaluate(() => sessionStorage.length), 1, 'the pending login is kept');
  assert.deepEqual(await callback(genuine.href), { ok: true });
  const me = await apiMe(page);
  assert.equal(me.status, 200);
  assert.equal(me.body.sub, 'bob');
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  // A replay of the same callback finds no transaction, and the session stays.
  assert.deepEqual(await callback(genuine.href), { ok: false, code: 'ERR_OAUTH_NO_TRANSACTION' });
  assert.equal(await page.evaluate(() => window.tm.state), 'authenticated');
  await ctx.close();
});

test('error=access_denied from the provider is a typed error and ends the pending login', async () => {
  const ctx = await browser.newContext();
  const page = await openApp(ctx);
  await page.evaluate(() => { window.tm.loginWithRedirect(); });
  await page.waitForURL(`${provider.issuer}/interaction/**`);
  // The development login page's "Cancel" link aborts the interaction with access_denied.
  await page.getByRole('link', { name: /cancel/i }).click();
  await page.waitForURL(`${app.origin}/?**`);
  await page.locator('body[data-ready="true"]').waitFor();
  const result = await page.evaluate(() => window.result.callback);
  assert.equal(result.code, 'ERR_OAUTH_ACCESS_DENIED');
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  assert.equal(new URL(page.url()).searchParams.get('error'), null, 'the error is removed from the address bar');
  await ctx.close();
});

test('a refresh token the provider no longer honours (invalid_grant) ends the session with a typed reason', async () => {
  const ctx = await browser.newContext();
  const answers = [];
  const page = await openApp(ctx, answers);
  await logIn(page, 'carol');
  await answered(answers, 1);
  assert.equal(await page.evaluate(() => window.tm.state), 'authenticated');
  // Revoked behind the manager's back (as an admin or another device's logout would).
  const res = await fetch(`${provider.issuer}/token/revocation`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: answers.at(-1).refresh_token, token_type_hint: 'refresh_token', client_id: CLIENT_ID }),
  });
  assert.equal(res.status, 200);
  const outcome = await page.evaluate(() => new Promise((ok) => {
    window.tm.on('loggedOut', ({ reason }) => ok({ reason, state: window.tm.state }));
    window.tm.refresh().catch((e) => { window.refreshError = e.code; });
  }));
  assert.deepEqual(outcome, { reason: 'invalid_grant', state: 'anonymous' });
  assert.equal(await page.evaluate(() => window.refreshError), 'ERR_LOGGED_OUT');
  await ctx.close();
});

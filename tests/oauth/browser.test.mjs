// The npm package's OAuth profile in headless Chromium against a certified OpenID provider
// (npm oidc-provider, tests/oauth/provider.mjs) and the reference server as the API, told to
// trust the provider's access tokens (--trust-issuer, --trust-audience). Playwright drives the
// provider's own login and consent forms; the provider's records (GET /__test/records) show
// what happened to every refresh token.
//
// Three loopback servers, all on port 0: a static server for the app (tests/oauth/app/ and
// pkg/; its origin is the redirect URI), the provider, and the reference server.
// With TW_OAUTH_DPOP=1 (tests/oauth/browser-dpop.test.mjs) the same suite runs with DPoP
// (RFC 9449): the provider with `features.dPoP` and a nonce required on every proof, the app
// with `dpop: true`, the reference server with `--dpop --dpop-nonce` verifying the provider's
// DPoP-bound tokens (`cnf.jkt`) and proofs on /api/*; the DPoP-only checks are marked `DPOP`.
// The same app under /worker/ runs in worker custody (its own redirect URI): the tests named
// "worker custody" check the OAuth profile there, the page's realm holding no token.
// Run: make test-oauth (needs pkg/ and the server binary; about 30 s warm per mode).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, resolve } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import {
  fetchTrusting, heapSnapshot, launchChromium, startProvider, startServer, stopProvider, stopServer,
} from '../support/harness.mjs';
import { makeCa } from '../support/test-ca.mjs';

const CLIENT_ID = 'tokenwarden-spa';
const RESOURCE = 'https://api.tokenwarden.test/';
// `oauth.resources`: two more APIs, each a reference server accepting only its own audience.
const RESOURCE_A = 'https://orders.tokenwarden.test/';
const RESOURCE_B = 'https://billing.tokenwarden.test/';
const STEP_TIMEOUT = 30_000;
const DPOP = process.env.TW_OAUTH_DPOP === '1';
const MODE = DPOP ? 'oauth browser (DPoP)' : 'oauth browser';
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

let app; // { server, origin }
let tlsDir; // the test CA, made for this run: the provider is served over https
let fetchProvider = fetch; // Node's fetch, trusting that CA
let provider; // { child, issuer }
let api; // reference server { child, base }
let apiA, apiB; // the two APIs of `oauth.resources`
let browser;

/**
 * Serves tests/oauth/app/ at / (and its index.html at /worker/: the app in worker custody), pkg/
 * at /pkg/, and /config.js naming the provider and API.
 */
async function startApp() {
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/config.js') {
      res.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'no-store' });
      res.end(`export default ${JSON.stringify({
        issuer: provider.issuer, clientId: CLIENT_ID, redirectUri: `${app.origin}/`,
        resource: RESOURCE, api: api.base, dpop: DPOP,
        apiA: apiA.base, resourceA: RESOURCE_A, apiB: apiB.base, resourceB: RESOURCE_B,
      })};`);
      return;
    }
    const file = path.startsWith('/pkg/')
      ? resolve('pkg', path.slice(5))
      : resolve('tests/oauth/app', path === '/' || path === '/worker/' ? 'index.html' : path.slice(1));
    // Every page of the app, as of the provider (--coop), sets Cross-Origin-Opener-Policy:
    // same-origin, which takes `window.opener` from a login popup (loginWithPopup's case).
    res.setHeader('cross-origin-opener-policy', 'same-origin');
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
  console.log(`${MODE}: starting the app server, oidc-provider, the reference server and Chromium (about 3 s)`);
  app = await startApp();
  // Like a real provider, this one is https (a CA made now): the browser, Node and the
  // reference server's --trust-issuer (--trust-ca) all reach it over TLS.
  tlsDir = mkdtempSync(join(tmpdir(), 'tw-oauth-tls-'));
  const tls = makeCa(tlsDir, 'provider');
  fetchProvider = fetchTrusting(tls.ca);
  provider = await startProvider(['--redirect-uri', `${app.origin}/`, '--post-logout-redirect-uri', `${app.origin}/`,
    '--redirect-uri', `${app.origin}/worker/`, '--post-logout-redirect-uri', `${app.origin}/worker/`,
    '--redirect-uri', `${app.origin}/popup.html`, '--coop',
    '--tls-cert', tls.cert, '--tls-key', tls.key, '--extra-resource', RESOURCE_A, '--extra-resource', RESOURCE_B,
    ...(DPOP ? ['--dpop'] : [])]);
  assert.match(provider.issuer, /^https:/);
  api = await startServer(['--port', '0', '--quiet', '--allow-origin', app.origin,
    '--trust-issuer', provider.issuer, '--trust-audience', RESOURCE, '--trust-ca', tls.ca,
    ...(DPOP ? ['--dpop', '--dpop-nonce', '--test-hooks'] : [])]);
  [apiA, apiB] = await Promise.all([RESOURCE_A, RESOURCE_B].map((audience) => startServer(['--port', '0', '--quiet',
    '--allow-origin', app.origin, '--trust-issuer', provider.issuer, '--trust-audience', audience, '--trust-ca', tls.ca,
    ...(DPOP ? ['--dpop', '--dpop-nonce'] : [])])));
  browser = await launchChromium({ trustCert: tls.cert });
});

after(async () => {
  await browser?.close();
  await stopServer(api);
  await stopServer(apiA);
  await stopServer(apiB);
  await stopProvider(provider);
  await new Promise((r) => app?.server.close(r) ?? r());
  if (tlsDir) rmSync(tlsDir, { recursive: true, force: true });
});

const records = async () => (await fetchProvider(`${provider.issuer}/__test/records`)).json();
/** The reference server's DPoP counters (`--test-hooks`). */
const apiDpop = async () => (await (await fetch(`${api.base}/__test/stats`)).json()).dpop;

/**
 * A page of `context` that records every successful token endpoint answer (to try tokens
 * afterwards) and, in `nonceAnswers`, the `400 use_dpop_nonce` ones.
 */
async function openApp(context, tokenAnswers = [], nonceAnswers = [], path = '/') {
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.on('response', async (res) => {
    if (res.url() === `${provider.issuer}/token` && res.request().method() === 'POST') {
      try {
        const body = await res.json();
        if (res.status() === 200) tokenAnswers.push(body);
        else if (body.error === 'use_dpop_nonce') nonceAnswers.push(body);
      } catch { /* preflight or empty */ }
    }
  });
  await page.goto(`${app.origin}${path}`);
  await page.locator('body[data-ready="true"]').waitFor();
  return page;
}

/** From the app, starts a login and fills the provider's login and consent forms. */
async function providerForms(page, account = 'alice') {
  await page.evaluate(() => { window.tm.loginWithRedirect(); });
  await fillForms(page, account);
}

/** In `page` (the app's tab, or a login popup), the provider's login and consent forms. */
async function fillForms(page, account) {
  await page.waitForURL(`${provider.issuer}/interaction/**`);
  await page.locator('input[name="login"]').fill(account);
  await page.locator('input[name="password"]').fill('any password');
  await page.locator('button[type="submit"]').first().click();
  // The consent page (offline_access, the API's scope), then back to the app.
  await page.waitForURL((url) => url.href.startsWith(`${app.origin}/`) || /\/interaction\//.test(url.href));
  if (page.url().includes('/interaction/')) await page.locator('button[type="submit"]').first().click();
}

async function logIn(page, account, path = '/') {
  await providerForms(page, account);
  await page.waitForURL(`${app.origin}${path}?**`);
  await page.locator('body[data-ready="true"]').waitFor();
  return page.evaluate(() => window.result);
}

/**
 * Logs `account` in through the provider's forms (the app at `path`), checks the callback's
 * outcome (tokens installed, the address bar and the transaction cleaned) and an API call with
 * the provider's token; the access token's claims.
 */
async function logInAndCallApi(page, account, path = '/') {
  const result = await logIn(page, account, path);
  assert.deepEqual(result.callback, { ok: true });
  const address = new URL(page.url());
  assert.equal(address.pathname, path);
  assert.equal(address.searchParams.get('code'), null, 'code removed from the address bar');
  assert.equal(address.searchParams.get('state'), null, 'state removed from the address bar');
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'the transaction is deleted at the callback');
  assert.equal(await page.evaluate(() => window.tm.state), 'authenticated');
  const claims = await page.evaluate(() => window.tm.claims);
  assert.equal(claims.iss, provider.issuer);
  assert.equal(claims.aud, RESOURCE);
  const me = await apiMe(page);
  assert.equal(me.status, 200, JSON.stringify(me.body));
  assert.equal(me.body.sub, account);
  return claims;
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
const nonceAnswers = [];

/** A DPoP proof from a key that is not the session's (Node's WebCrypto), for replays. */
async function foreignProof(htm, htu, { nonce, ath } = {}) {
  const { subtle } = globalThis.crypto;
  const pair = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  const { kty, crv, x, y } = await subtle.exportKey('jwk', pair.publicKey);
  const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
  const input = `${b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } })}.${b64({
    htm, htu, iat: Math.floor(Date.now() / 1000), jti: crypto.randomUUID(), nonce, ath,
  })}`;
  const sig = await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, pair.privateKey, Buffer.from(input));
  return `${input}.${Buffer.from(sig).toString('base64url')}`;
}

/** A refresh with `refreshToken` from Node (no key of the session's; `proof` optional). */
const nodeRefresh = (refreshToken, proof) => fetchProvider(`${provider.issuer}/token`, {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...(proof ? { dpop: proof } : {}) },
  body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: CLIENT_ID }),
});

test('login by redirect through the provider\'s forms; the API accepts the provider\'s token', async () => {
  context = await browser.newContext();
  tab = await openApp(context, tokenAnswers, nonceAnswers);
  assert.equal(await tab.evaluate(() => window.result.started), false, 'no session before login');
  // The package's JS driver runs the OAuth profile, with DPoP too (no Rust shell in the package).
  assert.equal(await tab.evaluate(() => typeof window.tm.__full), 'function');
  const claims = await logInAndCallApi(tab, 'alice');
  await answered(tokenAnswers, 1);
  const [first] = tokenAnswers;
  assert.ok(first.refresh_token && first.id_token, 'a refresh token and an ID token');
  if (!DPOP) {
    assert.equal(first.token_type, 'Bearer');
    return;
  }
  // DPOP: the code exchange carried a proof; the provider asked for its nonce exactly once.
  assert.equal(first.token_type, 'DPoP');
  const jkt = await tab.evaluate(() => window.tm.dpopJkt);
  assert.match(jkt, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(claims.cnf?.jkt, jkt, 'the access token is bound to the tab\'s key');
  assert.equal(nonceAnswers.length, 1, 'one use_dpop_nonce answer at the code exchange');
  assert.equal((await records()).dpop.useNonce, 1);
  // The API asked for its own nonce once too (the first /api/me), then accepted the proof.
  const stats = await apiDpop();
  assert.equal(stats.refused.nonce_missing, 1, JSON.stringify(stats));
  assert.ok(stats.accepted >= 1, JSON.stringify(stats));
});

// Registered only with DPoP (no skipped test in the Bearer run).
if (DPOP) test('DPOP: the provider\'s tokens are useless without the tab\'s key', async () => {
  const access = tokenAnswers.at(-1).access_token;
  const me = `${api.base}/api/me`;
  const before = await apiDpop();
  const bearer = await fetch(me, { headers: { authorization: `Bearer ${access}` } });
  assert.equal(bearer.status, 401, 'as a bearer token');
  const bare = await fetch(me, { headers: { authorization: `DPoP ${access}` } });
  assert.equal(bare.status, 401, 'without a proof');
  const ath = Buffer.from(await crypto.subtle.digest('SHA-256', Buffer.from(access))).toString('base64url');
  const nonce = bare.headers.get('dpop-nonce');
  const foreign = await fetch(me, {
    headers: { authorization: `DPoP ${access}`, dpop: await foreignProof('GET', me, { nonce, ath }) },
  });
  assert.equal(foreign.status, 401, 'with another key\'s proof');
  // RFC 9449 §7.1: a valid proof from a key the token is not bound to makes the token invalid.
  assert.match(foreign.headers.get('www-authenticate'), /^DPoP error="invalid_token"/);
  const after = await apiDpop();
  const refused = (s, reason) => (s.refused[reason] ?? 0);
  assert.equal(refused(after, 'missing') - refused(before, 'missing'), 2, JSON.stringify(after));
  assert.equal(refused(after, 'key_mismatch') - refused(before, 'key_mismatch'), 1, JSON.stringify(after));
  // The refresh token from Node: without a proof, then with another key's (after its nonce).
  const refresh = tokenAnswers.at(-1).refresh_token;
  const noProof = await nodeRefresh(refresh);
  assert.equal(noProof.status, 400);
  assert.equal((await noProof.json()).error, 'invalid_grant');
  const probe = await nodeRefresh(refresh, await foreignProof('POST', `${provider.issuer}/token`));
  assert.equal((await probe.json()).error, 'use_dpop_nonce');
  const withNonce = await nodeRefresh(refresh, await foreignProof('POST', `${provider.issuer}/token`,
    { nonce: probe.headers.get('dpop-nonce') }));
  assert.equal(withNonce.status, 400);
  assert.equal((await withNonce.json()).error, 'invalid_grant', 'bound to another key');
  // Neither consumed the token: the tab still refreshes with it.
  const seen = tokenAnswers.length;
  await tab.evaluate(() => window.tm.refresh());
  await answered(tokenAnswers, seen + 1);
  assert.equal((await records()).reuseDetections, 0);
  assert.equal((await apiMe(tab)).status, 200);
  // The API's nonce changes mid-session: exactly one retry, then accepted.
  const rotated = await fetch(`${api.base}/__test/dpop-nonce`, { method: 'POST' });
  assert.equal(rotated.status, 200);
  const beforeRotation = await apiDpop();
  assert.equal((await apiMe(tab)).status, 200);
  const afterRotation = await apiDpop();
  assert.equal(refused(afterRotation, 'nonce_invalid') - refused(beforeRotation, 'nonce_invalid'), 1);
  assert.equal(afterRotation.accepted - beforeRotation.accepted, 1);
  // The provider's nonce, kept from the code exchange, served every refresh since: no retry.
  assert.equal(nonceAnswers.length, 1);
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
  if (DPOP) {
    assert.equal(tokenAnswers.at(-1).token_type, 'DPoP', 'the refresh carried a proof');
    const jkt = await tab.evaluate(() => window.tm.dpopJkt);
    assert.equal(await tab.evaluate(() => window.tm.claims.cnf.jkt), jkt, 'the new token has the same key');
    // The nonce of the code exchange is remembered (oidc-provider accepts one for minutes).
    assert.equal(nonceAnswers.length, 1, 'no nonce retry on refresh');
  }
});

test('a second tab adopts the session (with the refresh token); refreshes from both tabs never reuse a token', async () => {
  const second = await openApp(context, tokenAnswers, nonceAnswers);
  assert.equal(await second.evaluate(() => window.result.started), true, 'adopted from the sibling');
  if (DPOP) {
    const jkt = await tab.evaluate(() => window.tm.dpopJkt);
    assert.equal(await second.evaluate(() => window.tm.dpopJkt), jkt, 'one key across tabs');
  }
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
  if (DPOP) {
    // Nonces are not handed over: at most the second tab's first refresh retried, once.
    assert.ok(nonceAnswers.length <= 2, `use_dpop_nonce answers: ${nonceAnswers.length}`);
    // The provider counts one more: the Node probe of the replay test above.
    assert.equal((await records()).dpop.useNonce, nonceAnswers.length + 1);
    assert.equal((await records()).dpop.invalidProof, 0);
  }
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
  const res = await nodeRefresh(last);
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error, 'invalid_grant');
  const code = await tab.evaluate((url) => window.tm.fetch(url).then(() => null, (e) => e.code), `${api.base}/api/me`);
  assert.equal(code, 'ERR_LOGGED_OUT', 'requests fail fast after logout');
  assert.equal(await tab.evaluate(() => window.tm.dpopJkt), null, 'no key after logout');
  await context.close();
});

/**
 * A new browser context whose page came back from the provider's forms (as `account`) with a
 * code the app has not handled: it leaves the callback to the test. `{ctx, page}`.
 */
async function heldCallback(account, path = '/') {
  const ctx = await browser.newContext();
  const page = await openApp(ctx, [], [], path);
  await page.evaluate(() => { document.cookie = 'hold=1; path=/'; });
  await providerForms(page, account);
  await page.waitForURL((url) => url.origin === app.origin && url.searchParams.has('code'));
  await page.locator('body[data-ready="true"]').waitFor();
  return { ctx, page };
}

// Both custodies: the same checks, the same codes (worker custody: made in the worker).
for (const [path, custody] of [['/', 'page'], ['/worker/', 'worker']])
test(`${custody} custody: a tampered state is refused with ERR_OAUTH_STATE_MISMATCH and the real callback still completes`, async () => {
  // The test tampers with the callback first.
  const { ctx, page } = await heldCallback('bob', path);
  assert.equal(await page.evaluate(() => window.tm.custody), custody);
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

// (Worker custody: in the Bearer run only; the DPoP run adds nothing to this path.)
for (const [path, custody] of DPOP ? [['/', 'page']] : [['/', 'page'], ['/worker/', 'worker']])
test(`${custody} custody: error=access_denied from the provider is a typed error and ends the pending login`, async () => {
  const ctx = await browser.newContext();
  const page = await openApp(ctx, [], [], path);
  await page.evaluate(() => { window.tm.loginWithRedirect(); });
  await page.waitForURL(`${provider.issuer}/interaction/**`);
  // The development login page's "Cancel" link aborts the interaction with access_denied.
  await page.getByRole('link', { name: /cancel/i }).click();
  await page.waitForURL(`${app.origin}${path}?**`);
  await page.locator('body[data-ready="true"]').waitFor();
  const result = await page.evaluate(() => window.result.callback);
  assert.equal(result.code, 'ERR_OAUTH_ACCESS_DENIED');
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  assert.equal(new URL(page.url()).searchParams.get('error'), null, 'the error is removed from the address bar');
  await ctx.close();
});

// (Both custodies in the Bearer run; the DPoP run adds nothing to discovery.)
for (const [path, custody] of DPOP ? [] : [['/', 'page'], ['/worker/', 'worker']])
test(`${custody} custody: calls racing the first discovery share one fetch of the provider's metadata`, async () => {
  const ctx = await browser.newContext();
  const discoveries = [];
  ctx.on('request', (request) => {
    if (request.url().startsWith(`${provider.issuer}/.well-known/`)) discoveries.push(request.url());
  });
  const page = await openApp(ctx, [], [], path);
  assert.equal(discoveries.length, 0, 'no discovery before the first call that needs it');
  // Two logins started at once (as a double click would): both wait on the same fetch.
  await Promise.all([
    page.waitForURL(`${provider.issuer}/interaction/**`),
    page.evaluate(() => { window.tm.loginWithRedirect(); window.tm.loginWithRedirect(); }),
  ]);
  assert.deepEqual(discoveries, [`${provider.issuer}/.well-known/openid-configuration`]);
  await ctx.close();
});

/** A new browser context with `account` logged in (the app at `path`): `{ctx, page, answers}` (its token endpoint answers). */
async function loggedIn(account, path = '/') {
  const ctx = await browser.newContext();
  const answers = [];
  const page = await openApp(ctx, answers, [], path);
  await logIn(page, account, path);
  await answered(answers, 1);
  return { ctx, page, answers };
}

test('a refresh token the provider no longer honours (invalid_grant) ends the session with a typed reason', async () => {
  const { ctx, page, answers } = await loggedIn('carol');
  assert.equal(await page.evaluate(() => window.tm.state), 'authenticated');
  // Revoked behind the manager's back (as an admin or another device's logout would).
  const res = await fetchProvider(`${provider.issuer}/token/revocation`, {
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

/**
 * `logout({endSession: true})` from the app at `path`, logged in with `answers`: the refresh
 * token is revoked, then the page is at the provider's logout page with the ID token hint.
 */
async function endSession(page, answers, path = '/') {
  const revoked = (await records()).grantRevocations.filter((r) => r.route === 'revocation').length;
  await Promise.all([
    page.waitForURL(`${provider.issuer}/session/end?**`),
    page.evaluate(() => { window.tm.logout({ endSession: true }); }),
  ]);
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('client_id'), CLIENT_ID);
  assert.equal(url.searchParams.get('post_logout_redirect_uri'), `${app.origin}${path}`);
  // The latest ID token (a refresh answer may carry a new one).
  assert.equal(url.searchParams.get('id_token_hint'), answers.findLast((x) => x.id_token).id_token, 'the ID token of this login');
  const after = (await records()).grantRevocations.filter((r) => r.route === 'revocation').length;
  assert.equal(after, revoked + 1, 'the refresh token was revoked before the navigation');
  const res = await nodeRefresh(answers.at(-1).refresh_token);
  assert.equal((await res.json()).error, 'invalid_grant', 'the provider refuses the refresh token');
}

test('logout({endSession: true}) revokes the refresh token, then navigates to the provider\'s logout page with the ID token hint', async () => {
  const { ctx, page, answers } = await loggedIn('dave');
  await endSession(page, answers);
  await ctx.close();
});

// (Page custody: in worker custody tabs do not share tokens.)
test('a tab that adopted the session sends the ID token hint at logout({endSession: true}) too', async () => {
  const { ctx, page, answers } = await loggedIn('ivan');
  const second = await openApp(ctx, answers);
  assert.equal(await second.evaluate(() => window.result.started), true, 'adopted from the sibling');
  await endSession(second, answers);
  await page.close();
  await ctx.close();
});

test('an ID token whose nonce is not the login\'s is refused after its signature check (ERR_OAUTH_NONCE_MISMATCH); nothing is installed', async () => {
  const { ctx, page } = await heldCallback('erin');
  const outcome = await page.evaluate(() => {
    // The stored login's nonce no longer matches the one the provider put in the ID token.
    const key = sessionStorage.key(0);
    const record = JSON.parse(sessionStorage.getItem(key));
    record.nonce = `${record.nonce.slice(0, -2)}${record.nonce.endsWith('AA') ? 'BB' : 'AA'}`;
    sessionStorage.setItem(key, JSON.stringify(record));
    return window.tm.handleRedirectCallback().then(() => ({ ok: true }), (e) => ({ ok: false, code: e.code }));
  });
  assert.deepEqual(outcome, { ok: false, code: 'ERR_OAUTH_NONCE_MISMATCH' });
  assert.equal(await page.evaluate(() => window.tm.state), 'anonymous');
  assert.equal(await page.evaluate(() => window.tm.claims), null);
  await ctx.close();
});

// `route.fetch()` replays a request through Playwright's own HTTP client, which knows nothing of
// the test CA (Chromium trusts the provider's certificate by its key, see launchChromium): the
// contexts that rewrite the provider's answers let that client skip the certificate check.
const REWRITING = { ignoreHTTPSErrors: true };

test('an ID token whose signature does not verify is refused (ERR_JWS_SIGNATURE_VERIFICATION_FAILED); nothing is installed', async () => {
  const ctx = await browser.newContext(REWRITING);
  const page = await openApp(ctx);
  // The provider's real answer to the code exchange, with one character of the ID token's
  // signature changed: WebCrypto's verdict is the only check that can catch it.
  let tampered = 0;
  await page.route(`${provider.issuer}/token`, async (route) => {
    if (route.request().method() !== 'POST') return route.continue();
    const response = await route.fetch();
    const body = await response.json();
    if (response.status() === 200 && body.id_token) {
      const [h, p, sig] = body.id_token.split('.');
      const i = Math.floor(sig.length / 2);
      body.id_token = [h, p, `${sig.slice(0, i)}${sig[i] === 'A' ? 'B' : 'A'}${sig.slice(i + 1)}`].join('.');
      tampered += 1;
    }
    return route.fulfill({ response, json: body });
  });
  await providerForms(page, 'frank');
  await page.waitForURL(`${app.origin}/?**`);
  await page.locator('body[data-ready="true"]').waitFor();
  const result = await page.evaluate(() => window.result.callback);
  assert.equal(tampered, 1, 'the code exchange carried a tampered ID token');
  assert.equal(result.code, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED', JSON.stringify(result));
  assert.equal(await page.evaluate(() => window.tm.state), 'anonymous', 'no session');
  assert.equal(await page.evaluate(() => window.tm.claims), null, 'no token installed');
  await ctx.close();
});

/**
 * `refresh()` in `page`, with the outcome: `{ok: true}` or the rejection's code and its cause's
 * code, and the `refreshFailed` event's reason and error code.
 */
const refreshOutcome = (page) => page.evaluate(() => new Promise((ok) => {
  let event;
  const off = window.tm.on('refreshFailed', (e) => { event = { reason: e.reason, error: e.error?.code }; });
  window.tm.refresh().then(() => ({ ok: true }), (e) => ({ code: e.code, cause: e.cause?.code }))
    .then((result) => { off(); ok(event ? { ...result, event } : result); });
}));

// Worker custody: the signature case (the same driver runs there; the cause crosses the port).
for (const [path, custody] of [['/', 'page'], ['/worker/', 'worker']])
test(`${custody} custody: an ID token in a refresh answer is verified like the login's (OIDC Core §12.2): a bad signature, another user's or another login's ID token fails the refresh with a typed cause; the session keeps its token`, async () => {
  // Signed by the provider and valid now: another user's ID token, and (below) the ID token of
  // an earlier login of the same user.
  let otherUser, earlierLogin;
  if (custody === 'page') {
    const other = await loggedIn('heidi');
    otherUser = other.answers[0].id_token;
    await other.ctx.close();
  }
  const cases = [
    ['a signature that does not verify', (t) => {
      const [h, p, sig] = t.split('.');
      const i = Math.floor(sig.length / 2);
      return [h, p, `${sig.slice(0, i)}${sig[i] === 'A' ? 'B' : 'A'}${sig.slice(i + 1)}`].join('.');
    }, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED'],
    ['another user\'s', () => otherUser, 'ERR_OAUTH_ID_TOKEN_SUBJECT_MISMATCH'],
    ['another login\'s (its nonce is not this session\'s)', () => earlierLogin, 'ERR_OAUTH_NONCE_MISMATCH'],
  ];
  for (const [what, change, code] of custody === 'page' ? cases : cases.slice(0, 1)) {
    // A login of its own for each case: the refused answer's refresh token is never installed.
    const ctx = await browser.newContext(REWRITING);
    const answers = [];
    const page = await openApp(ctx, answers, [], path);
    await logIn(page, 'grace', path);
    await answered(answers, 1);
    earlierLogin ??= answers[0].id_token;
    // An untouched refresh answer (its ID token verified) is installed.
    assert.deepEqual(await refreshOutcome(page), { ok: true }, what);
    await answered(answers, 2);
    assert.ok(answers[1].id_token, 'the provider\'s refresh answer carries an ID token');
    const jti = await page.evaluate(() => window.tm.claims.jti);
    // The next answer's ID token is changed; the calls after it fail (the manager's retry
    // would send the refresh token the provider has rotated).
    let seen = 0;
    await ctx.route(`${provider.issuer}/token`, async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      if ((seen += 1) > 1) return route.abort();
      const response = await route.fetch();
      const body = await response.json();
      if (response.status() === 200 && body.id_token) body.id_token = change(body.id_token);
      return route.fulfill({ response, json: body });
    });
    const outcome = await refreshOutcome(page);
    assert.equal(seen, 1, what);
    assert.deepEqual(outcome, { code: 'ERR_REFRESH_FAILED', cause: code, event: { reason: 'malformed', error: code } }, what);
    assert.equal(await page.evaluate(() => window.tm.state), 'authenticated', what);
    assert.equal(await page.evaluate(() => window.tm.claims.jti), jti, `${what}: nothing of the answer is installed`);
    assert.equal((await apiMe(page)).status, 200, `${what}: the current token still works`);
    await ctx.close();
  }
});

/** What `persist: "dpop"` keeps in IndexedDB (the app's origin), read by the page itself. */
const storedSession = (page) => page.evaluate(() => new Promise((ok, no) => {
  const open = indexedDB.open('tokenwarden');
  open.onerror = () => no(open.error);
  open.onsuccess = () => {
    const db = open.result;
    if (!db.objectStoreNames.contains('sessions')) return ok({ count: 0 });
    const store = db.transaction('sessions').objectStore('sessions');
    const all = store.getAll();
    all.onsuccess = () => {
      db.close();
      const [record] = all.result;
      ok({
        count: all.result.length,
        refreshToken: record?.refreshToken,
        privateKey: record && {
          isCryptoKey: record.key.privateKey instanceof CryptoKey,
          extractable: record.key.privateKey.extractable,
        },
      });
    };
  };
}));

/**
 * Holds the `sessions` store with a readwrite transaction of the page's own (each request issued
 * from the last one's callback keeps it open) until the page sets `window.release`: the
 * manager's writes to it wait until then.
 */
const holdStore = (page) => page.evaluate(() => new Promise((held) => {
  window.release = false;
  const open = indexedDB.open('tokenwarden');
  open.onsuccess = () => {
    const db = open.result;
    const transaction = db.transaction('sessions', 'readwrite');
    transaction.oncomplete = () => db.close();
    const store = transaction.objectStore('sessions');
    const spin = () => { if (!window.release) store.get('hold').onsuccess = () => { held(); spin(); }; };
    spin();
  };
}));

for (const [path, custody] of [['/', 'page'], ['/worker/', 'worker']])
if (DPOP) test(`DPOP ${custody} custody: persist "dpop" keeps the session across a reload with no sibling tab (no redirect); the stored refresh token is refused from Node with another key; logout empties the database`, async () => {
  const ctx = await browser.newContext();
  const answers = [];
  let page = await openApp(ctx, answers, [], path);
  await page.evaluate(() => { document.cookie = 'persist=1; path=/'; });
  await page.reload();
  await page.locator('body[data-ready="true"]').waitFor();
  assert.deepEqual((await logIn(page, 'judy', path)).callback, { ok: true });
  await answered(answers, 1);
  let stored = await storedSession(page);
  assert.equal(stored.count, 1);
  assert.equal(stored.refreshToken, answers.at(-1).refresh_token, 'the refresh token of the login');
  assert.deepEqual(stored.privateKey, { isCryptoKey: true, extractable: false }, 'the key object, never its bytes');
  const jkt = await page.evaluate(() => window.tm.dpopJkt);
  // A reload, and no other tab: the stored token and key refresh without the provider's pages.
  await page.close();
  page = await openApp(ctx, answers, [], path);
  assert.equal(await page.evaluate(() => window.result.started), true, 'start() restored the session');
  assert.equal(new URL(page.url()).origin, app.origin, 'no redirect');
  assert.equal(await page.evaluate(() => window.tm.state), 'authenticated');
  assert.equal(await page.evaluate(() => window.tm.dpopJkt), jkt, 'the same key');
  const me = await apiMe(page);
  assert.equal(me.status, 200, JSON.stringify(me.body));
  assert.equal(me.body.sub, 'judy');
  await answered(answers, 2);
  stored = await storedSession(page);
  assert.equal(stored.refreshToken, answers.at(-1).refresh_token, 'the rotated refresh token replaced it');
  // refresh() resolves only once the rotated refresh token is stored: with the store held by a
  // readwrite transaction of the page's own, refresh() stays pending after the provider has
  // answered, and resolves with the new token stored once the transaction ends.
  await holdStore(page);
  await page.evaluate(() => { window.refreshed = false; window.tm.refresh().then(() => { window.refreshed = true; }); });
  await answered(answers, 3);
  await new Promise((ok) => setTimeout(ok, 500));
  assert.equal(await page.evaluate(() => window.refreshed), false, 'refresh() waits for the store');
  await page.evaluate(() => { window.release = true; });
  await page.waitForFunction(() => window.refreshed === true);
  stored = await storedSession(page);
  assert.equal(stored.refreshToken, answers.at(-1).refresh_token, 'the token of this refresh is stored when refresh() resolves');
  // A copy of the storage is useless without the key: the stored token from Node, another key.
  const probe = await nodeRefresh(stored.refreshToken, await foreignProof('POST', `${provider.issuer}/token`));
  const withNonce = await nodeRefresh(stored.refreshToken, await foreignProof('POST', `${provider.issuer}/token`,
    { nonce: probe.headers.get('dpop-nonce') }));
  assert.equal(withNonce.status, 400);
  assert.equal((await withNonce.json()).error, 'invalid_grant', 'bound to the stored key');
  assert.equal((await records()).reuseDetections, 0, 'and not consumed');
  // logout() resolves only once the stored session is deleted: held as above, it stays pending
  // after the provider has the revocation.
  const revoked = (await records()).grantRevocations.length;
  await holdStore(page);
  await page.evaluate(() => { window.loggedOut = false; window.tm.logout().then(() => { window.loggedOut = true; }); });
  for (let i = 0; i < 200 && (await records()).grantRevocations.length === revoked; i += 1) await new Promise((ok) => setTimeout(ok, 25));
  await new Promise((ok) => setTimeout(ok, 500));
  assert.equal(await page.evaluate(() => window.loggedOut), false, 'logout() waits for the store');
  await page.evaluate(() => { window.release = true; });
  await page.waitForFunction(() => window.loggedOut === true);
  assert.deepEqual(await storedSession(page), { count: 0, refreshToken: undefined, privateKey: undefined });
  // After logout a reload finds nothing: a login is needed.
  await page.close();
  page = await openApp(ctx, answers, [], path);
  assert.equal(await page.evaluate(() => window.result.started), false);
  // A stored token the provider refuses (invalid_grant) is deleted with its key at start().
  // (A new login; the provider's own session is still there, so its form is asked for.)
  await page.evaluate(() => { window.tm.loginWithRedirect({ prompt: 'login' }); });
  await fillForms(page, 'judy');
  await page.waitForURL(`${app.origin}${path}?**`);
  await page.locator('body[data-ready="true"]').waitFor();
  assert.deepEqual(await page.evaluate(() => window.result.callback), { ok: true });
  assert.equal((await storedSession(page)).count, 1);
  await page.evaluate(() => new Promise((ok) => {
    indexedDB.open('tokenwarden').onsuccess = ({ target: { result: db } }) => {
      const store = db.transaction('sessions', 'readwrite').objectStore('sessions');
      store.openCursor().onsuccess = ({ target: { result: cursor } }) => {
        cursor.update({ ...cursor.value, refreshToken: 'not-a-token-the-provider-issued' }).onsuccess = () => { db.close(); ok(); };
      };
    };
  }));
  await page.close();
  page = await openApp(ctx, answers, [], path);
  assert.equal(await page.evaluate(() => window.result.started), false);
  assert.equal((await storedSession(page)).count, 0, 'the refused token and its key are deleted');
  await ctx.close();
});

/** Starts `tm.loginWithPopup(options)` in `page`; `window.popupOutcome` settles with its outcome. */
const startPopupLogin = (page, options) => page.evaluate((o) => {
  window.popupOutcome = window.tm.loginWithPopup(o).then(() => ({ ok: true }), (e) => (e.code ? { code: e.code } : { message: String(e) }));
}, options);

for (const [path, custody] of [['/', 'page'], ['/worker/', 'worker']])
test(`${custody} custody: loginWithPopup logs in through a popup with Cross-Origin-Opener-Policy on the app and the provider: the answer comes over BroadcastChannel, a forged answer is ignored, nothing is stored, the popup closes`, async () => {
  const ctx = await browser.newContext();
  const answers = [];
  const loaded = [];
  ctx.on('request', (r) => loaded.push(new URL(r.url()).pathname));
  const page = await openApp(ctx, answers, [], path);
  // The popup's wait is loaded on use (oauth-more.js): not by a page that has not called it.
  assert.ok(!loaded.some((p) => p.endsWith('/oauth-more.js')), 'nothing of the popup loaded with the page');
  const opened = ctx.waitForEvent('page');
  await startPopupLogin(page);
  const popup = await opened;
  popup.setDefaultTimeout(STEP_TIMEOUT);
  await popup.waitForURL(`${provider.issuer}/interaction/**`);
  // COOP on the provider took the opener away: the page cannot see or reach the popup.
  assert.equal(await popup.evaluate(() => window.opener), null, 'the popup has no opener');
  // Any script of the origin can post on the channel: an answer that is not this login's (its
  // state) is ignored, and the login stays pending.
  await page.evaluate((origin) => {
    const channel = new BroadcastChannel('tokenwarden.oauth.popup');
    channel.postMessage({ url: `${origin}/popup.html?code=forged&state=forged&iss=x` });
    channel.close();
  }, app.origin);
  const closed = popup.waitForEvent('close');
  await fillForms(popup, 'ivan');
  await closed;
  assert.deepEqual(await page.evaluate(() => window.popupOutcome), { ok: true });
  assert.equal(await page.evaluate(() => window.tm.state), 'authenticated');
  assert.equal(new URL(page.url()).pathname, path, 'the app never left its page');
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'no transaction was stored');
  const me = await apiMe(page);
  assert.equal(me.status, 200, JSON.stringify(me.body));
  assert.equal(me.body.sub, 'ivan');
  if (custody === 'page') assert.ok(loaded.includes('/pkg/oauth/web/oauth-more.js'), 'loaded by loginWithPopup');
  await ctx.close();
});

for (const [path, custody] of [['/', 'page'], ['/worker/', 'worker']])
test(`${custody} custody: a login popup closed before it reached the provider rejects with ERR_OAUTH_POPUP_CLOSED; one that never answers (closed behind COOP) with ERR_OAUTH_POPUP_TIMEOUT; the session is unchanged`, async () => {
  const ctx = await browser.newContext();
  const page = await openApp(ctx, [], [], path);
  // Discovery held until the popup is closed: the popup is still the app's blank page then.
  let release;
  const held = new Promise((r) => { release = r; });
  await ctx.route(`${provider.issuer}/.well-known/**`, async (route) => {
    await held;
    return route.continue();
  });
  let opened = ctx.waitForEvent('page');
  await startPopupLogin(page);
  let popup = await opened;
  await popup.close();
  release();
  assert.deepEqual(await page.evaluate(() => window.popupOutcome), { code: 'ERR_OAUTH_POPUP_CLOSED' });
  await ctx.unroute(`${provider.issuer}/.well-known/**`);
  // At the provider, a closed popup looks like one COOP hid: the timeout decides.
  opened = ctx.waitForEvent('page');
  await startPopupLogin(page, { timeoutInSeconds: 2 });
  popup = await opened;
  await popup.waitForURL(`${provider.issuer}/interaction/**`);
  await popup.close();
  assert.deepEqual(await page.evaluate(() => window.popupOutcome), { code: 'ERR_OAUTH_POPUP_TIMEOUT' });
  // A wait out of the core's range (1 to 86,400 s): refused before the provider is asked, and
  // the popup opened for it is closed.
  const asked = [];
  ctx.on('request', (r) => { if (r.url().startsWith(provider.issuer)) asked.push(r.url()); });
  opened = ctx.waitForEvent('page');
  await startPopupLogin(page, { timeoutInSeconds: 86_401 });
  popup = await opened;
  assert.deepEqual(await page.evaluate(() => window.popupOutcome), { code: 'ERR_INVALID_OPTIONS' });
  if (!popup.isClosed()) await popup.waitForEvent('close', { timeout: 5_000 });
  assert.deepEqual(asked, [], 'nothing asked of the provider');
  assert.equal(await page.evaluate(() => window.tm.state), 'anonymous');
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  await ctx.close();
});

/**
 * Makes the provider's successful token endpoint answers seen by `page` say `token_type:
 * Bearer` (a provider, or anything on the path, that ignored the DPoP proof); returns the
 * answers rewritten so far.
 */
async function answerBearer(page) {
  const rewritten = [];
  await page.route(`${provider.issuer}/token`, async (route) => {
    if (route.request().method() !== 'POST') return route.continue();
    const response = await route.fetch();
    const body = await response.json();
    if (response.status() !== 200) return route.fulfill({ response, json: body });
    body.token_type = 'Bearer';
    rewritten.push(body);
    return route.fulfill({ response, json: body });
  });
  return rewritten;
}

// Registered only with DPoP: with `dpop: true` a Bearer answer means the proof was ignored, and
// its token is not sender-constrained; the manager refuses it (OAuthEngine's expected type).
if (DPOP) test('DPOP: a token endpoint answer with token_type Bearer is refused, at login and at refresh; nothing is installed', async () => {
  const ctx = await browser.newContext(REWRITING);
  const page = await openApp(ctx);
  let rewritten = await answerBearer(page);
  await providerForms(page, 'dave');
  await page.waitForURL(`${app.origin}/?**`);
  await page.locator('body[data-ready="true"]').waitFor();
  const result = await page.evaluate(() => window.result.callback);
  assert.equal(rewritten.length, 1, 'the code exchange was answered with Bearer');
  assert.equal(result.code, 'ERR_OAUTH_UNSUPPORTED_TOKEN_TYPE', JSON.stringify(result));
  assert.equal(await page.evaluate(() => window.tm.state), 'anonymous', 'no session');
  assert.equal(await page.evaluate(() => window.tm.claims), null, 'no token installed');
  const code = await page.evaluate((url) => window.tm.fetch(url).then((r) => r.status, (e) => e.code), `${api.base}/api/me`);
  assert.equal(code, 401, 'requests carry no token');
  // At refresh: a session from a DPoP answer, then a Bearer answer to its refresh.
  await page.unroute(`${provider.issuer}/token`);
  // The provider remembers the login and consent: straight back to the app.
  await page.evaluate(() => { window.tm.loginWithRedirect(); });
  await page.waitForURL(`${app.origin}/?**`);
  await page.locator('body[data-ready="true"]').waitFor();
  assert.deepEqual(await page.evaluate(() => window.result.callback), { ok: true });
  assert.equal(await page.evaluate(() => window.tm.state), 'authenticated');
  const jti = await page.evaluate(() => window.tm.claims.jti);
  assert.ok(jti);
  rewritten = await answerBearer(page);
  const outcome = await page.evaluate(() => new Promise((ok) => {
    window.tm.on('refreshFailed', ({ reason }) => ok({ reason }));
    window.tm.refresh().then(() => ok({ refreshed: true }), (e) => ok({ code: e.code }));
  }));
  assert.equal(rewritten.length, 1, 'the refresh was answered with Bearer');
  assert.deepEqual(outcome, { reason: 'malformed' });
  assert.equal(await page.evaluate(() => window.tm.claims.jti), jti, 'the Bearer token was not installed');
  await ctx.close();
});

// Worker custody: the same provider, the app under /worker/. The code exchange, the ID token's
// check, refresh, revocation and (with DPoP) the key happen in the worker; the page stores the
// login transaction, cleans the address bar and navigates when the worker asks it to.

/** The token strings of `answers` (access, refresh, ID tokens) none of which the page may hold. */
const tokenStrings = (answers) => answers.flatMap((a) => [a.access_token, a.refresh_token, a.id_token]).filter(Boolean);

/** Where the page's realm could hold a token: storage, cookies, the DOM, its JS heap. */
async function pageHolds(ctx, page, tokens) {
  const visible = await page.evaluate((needles) => {
    const places = {
      sessionStorage: JSON.stringify({ ...sessionStorage }), localStorage: JSON.stringify({ ...localStorage }),
      cookies: document.cookie, dom: document.documentElement.outerHTML,
    };
    return Object.entries(places).filter(([, text]) => needles.some((t) => text.includes(t))).map(([name]) => name);
  }, tokens);
  const heap = await heapSnapshot(ctx, page);
  // A token's last 32 characters (its signature's) anywhere in the page's JS heap.
  if (tokens.some((t) => heap.includes(t.slice(-32)))) visible.push('heap');
  return visible;
}

test('worker custody: login by redirect, the API call and a refresh in the worker, no token ever in the page; logout with end-session', async () => {
  const ctx = await browser.newContext();
  const answers = [];
  const page = await openApp(ctx, answers, [], '/worker/');
  assert.equal(await page.evaluate(() => window.tm.custody), 'worker');
  assert.equal(await page.evaluate(() => window.result.started), false, 'no session before login');
  const claims = await logInAndCallApi(page, 'alice', '/worker/');
  assert.equal(await page.evaluate(() => window.tm.getAccessToken().then(() => 'exposed', (e) => e.code)), 'ERR_TOKEN_NOT_EXPOSED');
  await answered(answers, 1);
  assert.equal(answers[0].token_type, DPOP ? 'DPoP' : 'Bearer');
  assert.ok(answers[0].refresh_token && answers[0].id_token, 'a refresh token and an ID token');
  if (DPOP) {
    const jkt = await page.evaluate(() => window.tm.dpopJkt);
    assert.match(jkt, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(claims.cnf?.jkt, jkt, 'bound to the worker\'s key');
  }
  // A refresh, made by the worker: the refresh token rotates, the page sees the event.
  const before = await records();
  const refreshed = page.evaluate(() => new Promise((ok) => window.tm.on('refreshed', () => ok(window.tm.claims.jti))));
  await page.evaluate(() => window.tm.refresh());
  const jti = await refreshed;
  assert.notEqual(jti, claims.jti, 'a new access token');
  await answered(answers, 2);
  const after = await records();
  assert.equal(after.refreshTokens.length, before.refreshTokens.length + 1, 'a new refresh token');
  assert.ok(after.refreshTokens.at(-2).consumedAt, 'the previous one was consumed (rotated)');
  assert.equal(after.reuseDetections, 0);
  assert.equal((await apiMe(page)).status, 200);
  assert.deepEqual(await pageHolds(ctx, page, tokenStrings(answers)), [], 'no token in the page\'s realm');
  // Logout with end-session: the worker revokes and builds the provider's logout URL (the ID
  // token as its hint, as in page custody); the page navigates to it.
  await endSession(page, answers, '/worker/');
  await ctx.close();
});

// `oauth.resources`: one login, a token per API (RFC 8707 `resource`), each API (a reference
// server) accepting only its own audience. Both custodies; the sibling tab in page custody (in
// worker custody tabs do not share tokens).
for (const [path, custody] of [['/', 'page'], ['/worker/', 'worker']])
test(`${custody} custody: resources: one login gives each API its own token (and only its own), refreshed with the session's one rotation at a time; a sibling tab gets them; logout wipes them`, async () => {
  const ctx = await browser.newContext();
  await ctx.addCookies([{ name: 'apis', value: '1', url: app.origin }]);
  const answers = [];
  const page = await openApp(ctx, answers, [], path);
  const before = await records();
  assert.deepEqual((await logIn(page, 'carol', path)).callback, { ok: true });
  // The code exchange (the default resource), then one refresh_token grant per API, in order.
  await answered(answers, 3);
  const claims = (t) => JSON.parse(Buffer.from(t.split('.')[1], 'base64url'));
  assert.deepEqual(answers.slice(0, 3).map((a) => claims(a.access_token).aud), [RESOURCE, RESOURCE_A, RESOURCE_B]);
  for (let i = 1; i < 3; i += 1) {
    assert.notEqual(answers[i].refresh_token, answers[i - 1].refresh_token, 'each grant rotated the refresh token');
  }
  if (DPOP) {
    const jkt = await page.evaluate(() => window.tm.dpopJkt);
    assert.ok(answers.slice(0, 3).every((a) => a.token_type === 'DPoP' && claims(a.access_token).cnf.jkt === jkt), 'all bound to the session\'s key');
  }
  const call = (p, url) => p.evaluate((u) => window.tm.fetch(u).then((r) => r.status, (e) => e.code), url);
  const all = async (p, want) => {
    for (const base of [api.base, apiA.base, apiB.base]) assert.equal(await call(p, `${base}/api/me`), want, base);
  };
  await all(page, 200);
  // Each API refuses the other tokens (Bearer: replayed from Node), so each 200 above was its own.
  if (!DPOP) {
    const [main, a, b] = answers.map((x) => x.access_token);
    for (const [server, token, want] of [[apiA, a, 200], [apiA, b, 401], [apiA, main, 401], [apiB, b, 200], [apiB, a, 401], [api, a, 401]]) {
      const res = await fetch(`${server.base}/api/me`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, want, `${server.base} with ${claims(token).aud}`);
    }
  }
  // A refresh renews all three: three grants, each with the refresh token the previous returned.
  await page.evaluate(() => window.tm.refresh());
  await answered(answers, 6);
  assert.deepEqual(answers.slice(3, 6).map((a) => claims(a.access_token).aud), [RESOURCE, RESOURCE_A, RESOURCE_B]);
  const after = await records();
  assert.equal(after.reuseDetections, before.reuseDetections, 'no reuse detected');
  const grantId = after.refreshTokens.at(-1).grantId;
  assert.equal(after.grantRevocations.filter((r) => r.grantId === grantId).length, 0);
  const grant = after.refreshTokens.filter((r) => r.grantId === grantId);
  assert.equal(grant.length, 6, 'one refresh token per grant');
  assert.ok(grant.slice(0, -1).every((r) => r.consumedAt && !r.destroyedAt), 'each used once');
  await all(page, 200);
  if (custody === 'page') {
    const asked = [];
    const second = await openApp(ctx, asked, [], path);
    assert.equal(await second.evaluate(() => window.result.started), true, 'adopted from the sibling');
    await all(second, 200);
    assert.deepEqual(asked, [], 'the sibling asked the provider for nothing');
    // Both tabs refresh at once: one chain of grants at a time (the lock), no token used twice.
    await Promise.all([page.evaluate(() => window.tm.refresh()), second.evaluate(() => window.tm.refresh())]);
    const raced = await records();
    assert.equal(raced.reuseDetections, before.reuseDetections, 'no reuse across the two tabs');
    const chain = raced.refreshTokens.filter((r) => r.grantId === grantId);
    assert.ok(chain.length >= 9, `grants: ${chain.length}`);
    assert.ok(chain.slice(0, -1).every((r) => r.consumedAt && !r.destroyedAt), 'each used once');
    await all(page, 200);
    await all(second, 200);
    await second.close();
  }
  if (custody === 'worker') assert.deepEqual(await pageHolds(ctx, page, tokenStrings(answers)), [], 'no API token in the page\'s realm');
  await page.evaluate(() => window.tm.logout());
  await all(page, 'ERR_LOGGED_OUT');
  await ctx.close();
});

for (const [path, custody] of [['/', 'page'], ['/worker/', 'worker']])
test(`${custody} custody: resources: an API the provider refuses has no token: its requests fail with ERR_OAUTH_RESOURCE_UNAVAILABLE (the provider's error as cause) after one refresh, and never get another API's token; the others work`, async () => {
  const ctx = await browser.newContext();
  await ctx.addCookies([{ name: 'apis', value: '1', url: app.origin }]);
  // The provider refuses the grants for API B (as a provider does for an audience the client
  // may not have): 400 invalid_target, the refresh token untouched.
  const refused = `resource=${encodeURIComponent(RESOURCE_B)}`;
  let refusals = 0;
  await ctx.route(`${provider.issuer}/token`, async (route) => {
    if (route.request().method() !== 'POST' || !(route.request().postData() ?? '').includes(refused)) return route.continue();
    refusals += 1;
    return route.fulfill({ status: 400, json: { error: 'invalid_target', error_description: 'not for this client' } });
  });
  const answers = [];
  const page = await openApp(ctx, answers, [], path);
  const before = await records();
  assert.deepEqual((await logIn(page, 'dave', path)).callback, { ok: true }, 'the login succeeds without API B');
  assert.equal(refusals, 1);
  const call = (u) => page.evaluate((url) => window.tm.fetch(url).then((r) => r.status, (e) => [e.code, e.cause?.code]), u);
  assert.equal(await call(`${apiA.base}/api/me`), 200);
  assert.deepEqual(await call(`${apiB.base}/api/me`), ['ERR_OAUTH_RESOURCE_UNAVAILABLE', 'ERR_OAUTH_INVALID_TARGET']);
  assert.equal(refusals, 2, 'one refresh was tried for it');
  assert.equal(await call(`${api.base}/api/me`), 200);
  assert.equal(await page.evaluate(() => window.tm.state), 'authenticated');
  const after = await records();
  assert.equal(after.reuseDetections, before.reuseDetections, 'the refused grants rotated nothing');
  await ctx.close();
});

test('loginWithRedirect\'s options reach the authorization request (prompt, loginHint, maxAge, scope, extraParams)', async () => {
  const ctx = await browser.newContext();
  const page = await openApp(ctx);
  const authorize = page.waitForRequest((r) => r.url().startsWith(provider.issuer) && new URL(r.url()).searchParams.has('code_challenge'));
  await page.evaluate(() => {
    window.tm.loginWithRedirect({ prompt: 'login', loginHint: 'zoe@example.test', maxAge: 60, scope: 'openid api:read', extraParams: { ui_locales: 'de' } });
  });
  const params = new URL((await authorize).url()).searchParams;
  assert.deepEqual(['prompt', 'login_hint', 'max_age', 'scope', 'ui_locales', 'code_challenge_method'].map((n) => params.get(n)),
    ['login', 'zoe@example.test', '60', 'openid api:read', 'de', 'S256']);
  assert.deepEqual(params.getAll('resource'), [RESOURCE]);
  await ctx.close();
  // With `resources`, every login asks for each API's resource and scope, its own scope too.
  const apis = await browser.newContext();
  await apis.addCookies([{ name: 'apis', value: '1', url: app.origin }]);
  const tab = await openApp(apis);
  const request = tab.waitForRequest((r) => r.url().startsWith(provider.issuer) && new URL(r.url()).searchParams.has('code_challenge'));
  await tab.evaluate(() => { window.tm.loginWithRedirect({ scope: 'openid' }); });
  const asked = new URL((await request).url()).searchParams;
  assert.equal(asked.get('scope'), 'openid api:read');
  assert.deepEqual(asked.getAll('resource'), [RESOURCE, RESOURCE_A, RESOURCE_B]);
  await apis.close();
});

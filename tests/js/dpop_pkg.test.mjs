// DPoP (RFC 9449) in the package's TokenManager (the JS driver, dpop.js and the wasm DpopCore) in
// headless Chromium, against the reference server started with `--dpop --dpop-nonce` (server A,
// which also serves the page) and a plain server B on another loopback port (not allowed). The
// behaviours of the Rust shell's suite (tests/browser/dpop.rs) through the JS API: a
// non-extractable key per session, the proofs' claims, one retry per new nonce, the DPoP scheme
// only to allowed origins, one key (one jkt) across tabs, and no key after logout.
// Needs the package's tokenwarden/oauth entry (DPoP lives there): TW_PKG_DIR (default pkg/oauth). About 20 s.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { launchChromium, startServer, stopServer } from '../support/harness.mjs';

const PKG = resolve(process.env.TW_PKG_DIR ?? 'pkg/oauth');
let a, b, browser, context, page;

before(async () => {
  const www = mkdtempSync(join(tmpdir(), 'tw-dpop-'));
  writeFileSync(join(www, 'index.html'), `<!doctype html><meta charset="utf-8"><title>pkg</title>
<script type="module">
  import * as tw from '/pkg/web/index.js';
  window.tw = tw;
  window.sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  // Records what every fetch sends; installed before a manager is created (it captures fetch).
  window.calls = [];
  const original = fetch;
  window.fetch = (input, init) => {
    const r = input instanceof Request ? input : new Request(input, init);
    window.calls.push({ url: r.url, method: r.method, authorization: r.headers.get('authorization'), dpop: r.headers.get('dpop') });
    return original(input, init);
  };
  window.config = (extra = {}) => ({ loginUrl: '/auth/login', refreshUrl: '/auth/refresh', logoutUrl: '/auth/logout',
    dpop: true, crossTab: false, ...extra });
  window.credentials = { username: 'demo', password: 'demo-password' };
  document.title = 'ready';
</script>`);
  const common = ['--port', '0', '--quiet', '--test-hooks', '--allow-any-loopback-origin'];
  a = await startServer([...common, '--dpop', '--dpop-nonce', '--www-dir', www, '--pkg-dir', PKG]);
  b = await startServer(common);
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await stopServer(a);
  await stopServer(b);
});

const post = async (path) => (await fetch(`${a.base}${path}`, { method: 'POST' })).status;
const dpopStats = async () => (await (await fetch(`${a.base}/__test/stats`)).json()).dpop;

async function openPage() {
  const p = await context.newPage();
  p.errors = [];
  p.on('pageerror', (e) => p.errors.push(e.message));
  await p.goto(`${a.base}/`);
  await p.waitForFunction(() => document.title === 'ready', null, { timeout: 15_000 });
  return p;
}

beforeEach(async () => {
  await context?.close();
  assert.equal(await post('/__test/reset'), 204);
  context = await browser.newContext();
  page = await openPage();
});

const decode = (part) => JSON.parse(Buffer.from(part, 'base64url').toString());
const proofOf = (call) => {
  const [header, claims] = call.dpop.split('.');
  return { header: decode(header), claims: decode(claims) };
};
const sha256 = (text) => createHash('sha256').update(text).digest('base64url');

test('login binds the session to a new key; proofs on login (one nonce retry), the API and refresh carry its claims', async () => {
  const before = await dpopStats();
  const r = await page.evaluate(async () => {
    const tm = new tw.TokenManager(config());
    const jktBefore = tm.dpopJkt;
    await tm.login(credentials);
    const jkt = tm.dpopJkt;
    const echo = await tm.fetch('/api/echo?page=2#top');
    await tm.refresh();
    const me = await tm.fetch('/api/me', { method: 'GET' });
    const out = { jktBefore, jkt, cnf: tm.claims?.cnf, echo: echo.status, me: me.status, jktAfterRefresh: tm.dpopJkt, calls };
    tm.free();
    return out;
  });
  assert.equal(r.jktBefore, null);
  assert.match(r.jkt, /^[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(r.cnf, { jkt: r.jkt }, 'the token is bound to the key');
  assert.equal(r.jktAfterRefresh, r.jkt, 'one key per session');
  assert.equal(r.echo, 200);
  assert.equal(r.me, 200);
  const to = (path) => r.calls.filter((c) => new URL(c.url).pathname === path);
  // The first login proof had no nonce: exactly one retry, with the server's.
  const logins = to('/auth/login');
  assert.equal(logins.length, 2, 'login and its one nonce retry');
  assert.equal(proofOf(logins[0]).claims.nonce, undefined);
  assert.equal(typeof proofOf(logins[1]).claims.nonce, 'string');
  for (const call of [...logins, ...to('/auth/refresh')]) {
    const { header, claims } = proofOf(call);
    assert.equal(call.authorization, null);
    assert.equal(claims.htm, 'POST');
    assert.equal(claims.htu, call.url);
    assert.equal(claims.ath, undefined, 'no access token, no ath');
    assert.equal(header.jwk.x, proofOf(logins[0]).header.jwk.x, 'one key');
  }
  assert.equal(to('/auth/refresh').length, 1, 'the nonce was known: no retry');
  const [echo] = to('/api/echo');
  assert.match(echo.authorization, /^DPoP [\w-]+\.[\w-]+\.[\w-]+$/);
  const { header, claims } = proofOf(echo);
  assert.equal(header.typ, 'dpop+jwt');
  assert.equal(header.alg, 'ES256');
  assert.deepEqual(Object.keys(header.jwk).sort(), ['crv', 'kty', 'x', 'y'], 'a public key only');
  const thumbprint = sha256(JSON.stringify({ crv: 'P-256', kty: 'EC', x: header.jwk.x, y: header.jwk.y }));
  assert.equal(thumbprint, r.jkt, 'dpopJkt is the RFC 7638 thumbprint of the proof key');
  assert.equal(claims.htm, 'GET');
  assert.equal(claims.htu, `${a.base}/api/echo`, 'htu without query and fragment');
  assert.equal(claims.ath, sha256(echo.authorization.slice('DPoP '.length)));
  assert.equal(typeof claims.nonce, 'string');
  assert.ok(Math.abs(claims.iat - Date.now() / 1000) < 30);
  assert.ok(claims.jti.length >= 16);
  const jtis = r.calls.filter((c) => c.dpop).map((c) => proofOf(c).claims.jti);
  assert.equal(new Set(jtis).size, jtis.length, 'a fresh jti per proof');
  const after = await dpopStats();
  // Accepted: the login retry, /api/echo, the refresh and /api/me.
  assert.equal(after.accepted - before.accepted, 4);
  assert.equal(after.refused.nonce_missing ?? 0, 1, 'only the first login proof');
  assert.deepEqual(page.errors, []);
});

test('the private key is not extractable, and a sibling tab receives the same key pair', async () => {
  const name = `dpop-${Math.random()}`;
  const second = await openPage();
  await page.evaluate(async (name) => {
    window.tm = new tw.TokenManager(config({ crossTab: true, channelName: name }));
    await tm.login(credentials);
  }, name);
  const r = await second.evaluate(async (name) => {
    // The token message a sibling posts carries the key pair: listen on the manager's channel.
    const fnv = (parts) => {
      let hash = 0xcbf29ce484222325n;
      for (const part of parts) {
        for (const byte of [...new TextEncoder().encode(part), 0]) hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
      }
      return `tokenwarden:${hash.toString(16).padStart(16, '0')}`;
    };
    const channel = new BroadcastChannel(fnv([new URL('/auth/refresh', location.href).href, location.origin, name]));
    const keys = [];
    channel.onmessage = (e) => { if (e.data?.dpopKey) keys.push(e.data.dpopKey); };
    window.tm = new tw.TokenManager(config({ crossTab: true, channelName: name }));
    const adopted = await tm.start();
    await sleep(100);
    channel.close();
    const key = keys[0];
    const exports = await Promise.all(['pkcs8', 'jwk'].map((format) =>
      crypto.subtle.exportKey(format, key.privateKey).then(() => 'exported', (e) => e.name)));
    const me = await tm.fetch('/api/me');
    return {
      adopted, jkt: tm.dpopJkt, state: tm.state, me: me.status, posted: keys.length,
      extractable: key.privateKey.extractable, usages: key.privateKey.usages, exports,
      type: key.privateKey.type, curve: key.privateKey.algorithm.namedCurve, messageJkt: key.jkt,
    };
  }, name);
  const first = await page.evaluate(() => tm.dpopJkt);
  assert.equal(r.adopted, true, 'the second tab adopts the session');
  assert.equal(r.jkt, first, 'one jkt for two tabs');
  assert.equal(r.messageJkt, first);
  assert.equal(r.me, 200, 'the sibling proves with the same key the token is bound to');
  assert.ok(r.posted >= 1);
  assert.equal(r.type, 'private');
  assert.equal(r.curve, 'P-256');
  assert.equal(r.extractable, false);
  assert.deepEqual(r.usages, ['sign']);
  assert.deepEqual(r.exports, ['InvalidAccessError', 'InvalidAccessError']);

  // Logout in the first tab ends the session in both, and the key with it.
  await page.evaluate(() => tm.logout());
  await second.waitForFunction(() => tm.state === 'anonymous', null, { timeout: 5_000 });
  assert.equal(await page.evaluate(() => tm.dpopJkt), null, 'the key is gone after logout');
  assert.equal(await second.evaluate(() => tm.dpopJkt), null, 'and from the sibling tab');
  assert.deepEqual([...page.errors, ...second.errors], []);
});

test('a new server nonce costs exactly one retry, which replays the body', async () => {
  await page.evaluate(async () => {
    window.tm = new tw.TokenManager(config());
    await tm.login(credentials);
  });
  assert.equal(await post('/__test/dpop-nonce'), 200);
  const before = await dpopStats();
  const r = await page.evaluate(async () => {
    const from = calls.length;
    const response = await tm.fetch('/api/echo', { method: 'POST', body: 'hello' });
    const echo = await response.json();
    const again = (await tm.fetch('/api/items')).status;
    return { status: response.status, echo, again, sent: calls.slice(from) };
  });
  assert.equal(r.status, 200);
  assert.equal(r.echo.method, 'POST');
  assert.equal(r.echo.body_length, 5, 'the body went again');
  assert.equal(r.echo.authenticated, true);
  assert.equal(r.again, 200);
  const echoes = r.sent.filter((c) => c.url.endsWith('/api/echo'));
  assert.equal(echoes.length, 2, 'exactly one retry');
  const [stale, fresh] = echoes.map((c) => proofOf(c).claims);
  assert.notEqual(stale.nonce, fresh.nonce, 'the retry carries the new nonce');
  assert.notEqual(stale.jti, fresh.jti);
  assert.equal(r.sent.filter((c) => c.url.endsWith('/api/items')).length, 1, 'the new nonce is remembered');
  const after = await dpopStats();
  assert.equal((after.refused.nonce_invalid ?? 0) - (before.refused.nonce_invalid ?? 0), 1);
  assert.equal(after.accepted - before.accepted, 2);
  await page.evaluate(() => tm.free());
});

test('the DPoP scheme and proofs go only to allowed origins; no fast path skips the proof', async () => {
  const r = await page.evaluate(async (B) => {
    window.tm = new tw.TokenManager(config());
    await tm.login(credentials);
    const from = calls.length;
    const statuses = [];
    for (const input of [`${B}/api/echo`, new URL('/api/me', location.href), '/api/me', new Request('/api/echo')]) {
      statuses.push((await tm.fetch(input)).status);
    }
    const out = { statuses, sent: calls.slice(from) };
    tm.free();
    return out;
  }, b.base);
  assert.deepEqual(r.statuses, [200, 200, 200, 200]);
  const [foreign, ...own] = r.sent;
  assert.ok(foreign.url.startsWith(b.base));
  assert.equal(foreign.authorization, null, 'no token to another origin');
  assert.equal(foreign.dpop, null, 'nor a proof');
  assert.equal(own.length, 3);
  for (const call of own) {
    assert.match(call.authorization, /^DPoP /);
    assert.equal(proofOf(call).claims.htu, call.url);
  }
});

test('a session whose key was lost (a reload) is not refreshed: start() sends no refresh request', async () => {
  await page.evaluate(async () => {
    const tm = new tw.TokenManager(config());
    await tm.login(credentials);
    tm.free();
  });
  const refreshes = async () => (await (await fetch(`${a.base}/__test/stats`)).json()).refreshes;
  const before = await refreshes();
  const r = await page.evaluate(async () => {
    const from = calls.length;
    const tm = new tw.TokenManager(config());
    const restored = await tm.start();
    return { restored, state: tm.state, jkt: tm.dpopJkt, sent: calls.slice(from).length };
  });
  assert.deepEqual(r, { restored: false, state: 'anonymous', jkt: null, sent: 0 });
  assert.equal(await refreshes(), before);
});

test('logout sends the bound token as DPoP with a proof, and the server blocklists it', async () => {
  const logout = page.waitForResponse((r) => new URL(r.url()).pathname === '/auth/logout');
  const r = await page.evaluate(async () => {
    const tm = new tw.TokenManager(config());
    await tm.login(credentials);
    const from = calls.length;
    await tm.logout();
    return { calls: calls.slice(from), state: tm.state };
  });
  assert.equal((await logout).status(), 204, 'the server accepted the proof');
  const [call] = r.calls.filter((c) => new URL(c.url).pathname === '/auth/logout');
  assert.match(call.authorization ?? '', /^DPoP [\w-]+\.[\w-]+\.[\w-]+$/);
  const { claims } = proofOf(call);
  assert.equal(claims.htm, 'POST');
  assert.equal(claims.htu, `${a.base}/auth/logout`);
  assert.equal(claims.ath, sha256(call.authorization.slice('DPoP '.length)));
  assert.equal(r.state, 'anonymous');
  assert.deepEqual(page.errors, []);
});

test('with dpop a Bearer token response is refused (login fails, a refresh installs nothing)', async () => {
  const bearer = (route) => route.fulfill({
    status: 200, contentType: 'application/json',
    body: JSON.stringify({ access_token: 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJkZW1vIiwiZXhwIjo0MTAyNDQ0ODAwfQ.c2ln', token_type: 'Bearer', expires_in: 300 }),
  });
  await page.route('**/fake/login', bearer);
  await page.route('**/fake/refresh', bearer);
  const r = await page.evaluate(async () => {
    const tm = new tw.TokenManager(config({ loginUrl: '/fake/login' }));
    const login = await tm.login(credentials).then(() => 'ok', (e) => e.code);
    const state = tm.state;
    tm.free();
    const real = new tw.TokenManager(config({ refreshUrl: '/fake/refresh' }));
    await real.login(credentials);
    const jti = real.claims.jti;
    const refresh = await real.refresh().then(() => 'ok', (e) => e.code);
    const out = { login, state, refresh, same: real.claims.jti === jti };
    real.free();
    return out;
  });
  assert.equal(r.login, 'ERR_LOGIN_FAILED');
  assert.equal(r.state, 'anonymous');
  assert.notEqual(r.refresh, 'ok');
  assert.equal(r.same, true, 'the bound token is kept, the bearer one not installed');
});

// The package's TokenManager (the JS driver over the wasm engine) in headless Chromium against
// two reference servers, with the behaviours of the Rust shell's suite (tests/browser/manager.rs)
// that apply to the JS API: header and custody, silent refresh, one refresh for concurrent 401s,
// backoff, invalid_grant, logout, options, body replay on retry, start() after a reload, memory
// mode, origins and redirects, a fetch wrapper installed later, the security review's items
// (lying Request url, stringifying redirect option, logoutUrl on a foreign origin) and the
// session hint. Server A serves the page (refresh cookie); server B (refresh token in the body)
// is memory mode's server and "another local port that is not allowed".
// Needs the package: TW_PKG_DIR (default pkg, the tokenwarden entry; `make test-js` also runs it
// against the tokenwarden/oauth entry's TokenManager, pkg/oauth). About 40 s.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { startServer, stopServer } from '../support/harness.mjs';

const PKG = resolve(process.env.TW_PKG_DIR ?? 'pkg');
let a, b, browser, context, page;

before(async () => {
  const www = mkdtempSync(join(tmpdir(), 'tw-manager-'));
  writeFileSync(join(www, 'index.html'), `<!doctype html><meta charset="utf-8"><title>pkg</title>
<script type="module">
  import * as tw from '/pkg/web/index.js';
  window.tw = tw;
  window.sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  document.title = 'ready';
</script>`);
  const common = ['--port', '0', '--quiet', '--test-hooks', '--allow-any-loopback-origin', '--access-ttl', '4'];
  a = await startServer([...common, '--www-dir', www, '--pkg-dir', PKG]);
  b = await startServer([...common, '--refresh-transport', 'body']);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
});
after(async () => {
  await browser?.close();
  await stopServer(a);
  await stopServer(b);
});

const hook = async (base, method, path, body) => {
  const r = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
  return r.status;
};
const stats = async (base) => (await fetch(`${base}/__test/stats`)).json();

beforeEach(async () => {
  await context?.close();
  for (const base of [a.base, b.base]) assert.ok((await hook(base, 'POST', '/__test/reset', {})) < 300);
  context = await browser.newContext();
  page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(`${a.base}/`);
  await page.waitForFunction(() => document.title === 'ready', null, { timeout: 15_000 });
  // The suite's manager: short lead and interval so that 4 s tokens refresh within a test.
  await page.evaluate(([A, B]) => {
    window.A = A;
    window.B = B;
    window.config = (extra = {}) => ({
      loginUrl: '/auth/login', refreshUrl: '/auth/refresh', logoutUrl: '/auth/logout',
      minRefreshLeadMs: 1500, minRefreshIntervalMs: 1000, backoffInitialMs: 100, backoffJitterFraction: 0,
      crossTab: false, ...extra,
    });
    window.loggedIn = async (extra) => {
      const tm = new window.tw.TokenManager(window.config(extra));
      await tm.login({ username: 'demo', password: 'demo-password' });
      return tm;
    };
    window.code = (promise) => promise.then(() => 'resolved', (e) => e.code ?? e.name);
    // Searches the whole wasm memory for a token's bytes, and for its signature segment alone
    // (the module is initialised once: init() hands back its exports, memory included).
    window.inWasm = async (token) => {
      const { memory } = await (await import('/pkg/web/tokenwarden.js')).default();
      const hay = new Uint8Array(memory.buffer);
      const find = (text) => {
        const needle = new TextEncoder().encode(text);
        outer: for (let i = hay.indexOf(needle[0]); i !== -1 && i + needle.length <= hay.length; i = hay.indexOf(needle[0], i + 1)) {
          for (let j = 1; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
          return true;
        }
        return false;
      };
      return find(token) || find(token.split('.').pop());
    };
  }, [a.base, b.base]);
});

test('login, then fetch attaches the header; claims, expiry source and clock offset', async () => {
  const r = await page.evaluate(async () => {
    const tm = await loggedIn();
    const me = await (await tm.fetch('/api/me')).json();
    const out = { state: tm.state, sub: tm.claims?.sub, source: tm.expirySource, offset: tm.clockOffsetMs, expiresAt: tm.expiresAt, me };
    tm.free();
    return out;
  });
  assert.equal(r.state, 'authenticated');
  assert.equal(r.sub, 'demo');
  assert.equal(r.source, 'expires_in');
  assert.equal(typeof r.offset, 'number');
  assert.ok(r.expiresAt > Date.now() && r.expiresAt < Date.now() + 10_000);
  assert.equal(r.me.authorization_header_received, true);
  assert.equal(r.me.sub, 'demo');
  assert.deepEqual(page.errors, []);
});

test('silent refresh keeps the API authorized (4 s tokens over 8 s)', async () => {
  const before = (await stats(a.base)).refreshes;
  const r = await page.evaluate(async () => {
    const tm = await loggedIn();
    const statuses = [];
    for (let i = 0; i < 16; i++) {
      statuses.push((await tm.fetch('/api/me')).status);
      await sleep(500);
    }
    const state = tm.state;
    tm.free();
    return { statuses, state };
  });
  assert.ok(r.statuses.every((s) => s === 200), String(r.statuses));
  const s = await stats(a.base);
  assert.equal(s.api_unauthorized, 0);
  assert.ok(s.refreshes - before >= 2, `only ${s.refreshes - before} refreshes`);
  assert.equal(r.state, 'authenticated');
});

test('20 concurrent 401s share a single refresh; the offset follows the server clock', async () => {
  await page.evaluate(async () => { window.tm = await loggedIn(); });
  const before = (await stats(a.base)).refreshes;
  assert.ok((await hook(a.base, 'POST', '/__test/clock', { offset_secs: 30 })) < 300);
  const r = await page.evaluate(async () => {
    const statuses = (await Promise.all(Array.from({ length: 20 }, () => tm.fetch('/api/me')))).map((x) => x.status);
    const offset = tm.clockOffsetMs;
    tm.free();
    return { statuses, offset };
  });
  assert.ok(r.statuses.every((s) => s === 200), String(r.statuses));
  const s = await stats(a.base);
  assert.equal(s.refreshes - before, 1);
  assert.equal(s.api_unauthorized, 20);
  assert.ok(r.offset >= 28_000 && r.offset <= 31_000, `clock offset ${r.offset}`);
});

test('transient refresh failures are retried with backoff', async () => {
  await page.evaluate(async () => {
    window.tm = await loggedIn();
    window.events = [];
    for (const name of ['refreshed', 'refreshFailed', 'change']) tm.on(name, (e) => events.push(e));
  });
  assert.ok((await hook(a.base, 'POST', '/__test/faults', { count: 2, status: 503 })) < 300);
  const before = (await stats(a.base)).refreshes;
  const r = await page.evaluate(async () => {
    const error = await code(tm.refresh());
    for (let i = 0; i < 30 && !events.some((e) => e.type === 'refreshed'); i++) await sleep(100);
    const status = (await tm.fetch('/api/me')).status;
    tm.free();
    return { error, events, status };
  });
  assert.equal(r.error, 'ERR_REFRESH_FAILED');
  const failed = r.events.filter((e) => e.type === 'refreshFailed');
  assert.equal(failed.length, 2);
  assert.deepEqual(Object.keys(failed[0]).sort(), ['reason', 'retryAt', 'status', 'tokenExpiresFirst', 'type']);
  assert.equal(failed[0].reason, 'server_error');
  assert.equal(failed[0].status, 503);
  assert.ok(r.events.some((e) => e.type === 'refreshed' && e.source === 'self'));
  assert.equal((await stats(a.base)).refreshes - before, 3);
  assert.equal(r.status, 200);
});

test('invalid_grant ends the session; later requests fail fast without reaching the server', async () => {
  await page.evaluate(async () => {
    window.tm = await loggedIn();
    window.reasons = [];
    tm.on('loggedOut', (e) => reasons.push(e.reason));
  });
  assert.ok((await hook(a.base, 'POST', '/__test/revoke', {})) < 300);
  const r = await page.evaluate(async () => ({ refresh: await code(tm.refresh()), reasons, state: tm.state, claims: tm.claims }));
  assert.equal(r.refresh, 'ERR_LOGGED_OUT');
  assert.deepEqual(r.reasons, ['invalid_grant']);
  assert.equal(r.state, 'anonymous');
  assert.equal(r.claims, null);
  const apiBefore = (await stats(a.base)).api_requests;
  assert.equal(await page.evaluate(() => code(tm.fetch('/api/me'))), 'ERR_LOGGED_OUT');
  assert.equal((await stats(a.base)).api_requests, apiBefore, 'a request was sent after the session ended');
  await page.evaluate(() => tm.free());
});

test('logout revokes the family and leaves nothing in storage; getAccessToken follows exposeToken', async () => {
  const r = await page.evaluate(async () => {
    const hidden = await loggedIn();
    const notExposed = await code(hidden.getAccessToken());
    await hidden.logout();
    hidden.free();
    const tm = await loggedIn({ exposeToken: true });
    const token = await tm.getAccessToken();
    const events = [];
    tm.on('loggedOut', (e) => events.push(e.reason));
    await tm.logout();
    const databases = await indexedDB.databases();
    const out = {
      notExposed, tokenParts: token.split('.').length, events, state: tm.state,
      after: await code(tm.getAccessToken()), fetchAfter: await code(tm.fetch('/api/me')),
      storage: [localStorage.length, sessionStorage.length, databases.length],
      cookieHasToken: document.cookie.includes(token),
    };
    tm.free();
    return out;
  });
  assert.equal(r.notExposed, 'ERR_TOKEN_NOT_EXPOSED');
  assert.equal(r.tokenParts, 3);
  assert.deepEqual(r.events, ['logout']);
  assert.equal(r.state, 'anonymous');
  assert.equal(r.after, 'ERR_LOGGED_OUT');
  assert.equal(r.fetchAfter, 'ERR_LOGGED_OUT');
  assert.deepEqual(r.storage, [0, 0, 0]);
  assert.equal(r.cookieHasToken, false);
  assert.equal((await stats(a.base)).active_families, 0);
});

test('options are validated with ERR_INVALID_OPTIONS; setTokens checks its input', async () => {
  const r = await page.evaluate(() => {
    const codeOf = (f) => { try { f(); return 'accepted'; } catch (e) { return e.code; } };
    const make = (o) => () => new tw.TokenManager(o);
    const refreshUrl = '/auth/refresh';
    const bad = [
      undefined, null, 42, [], {}, { refreshUrl, bogus: 1 }, { refreshUrl: 'http://auth.example.com/r' },
      { refreshUrl: 'ftp://127.0.0.1/r' }, { refreshUrl: 'http://[bad' }, { refreshUrl, refreshToken: 'localStorage' },
      { refreshUrl, allowedOrigins: [] }, { refreshUrl, allowedOrigins: ['https://api.example.com/path'] },
      { refreshUrl, allowedOrigins: ['http://api.example.com'] }, { refreshUrl, allowedOrigins: ['https://u:p@api.example.com'] },
      { refreshUrl, allowedOrigins: 7 }, { refreshUrl, requestTimeoutMs: 0 }, { refreshUrl, refreshLeadFraction: 1.5 },
      { refreshUrl, minRefreshLeadMs: -1 }, { refreshUrl, minRefreshLeadMs: 10_000, maxRefreshLeadMs: 5_000 },
      { refreshUrl, backoffMaxMs: NaN }, { refreshUrl, crossTab: 'yes' }, { refreshUrl, credentials: 'all' },
      { refreshUrl, sessionHint: 'a=b' }, { refreshUrl, sessionHint: '' }, { refreshUrl, expiredRequests: 'drop' },
      { refreshUrl, retryOn401: 'never' }, { refreshUrl, exposeToken: 1 },
    ].map((o) => codeOf(make(o)));
    const tm = new tw.TokenManager({ refreshUrl, crossTab: false });
    const tokens = [
      undefined, { refreshToken: 'r' }, { accessToken: 1 }, { accessToken: '' }, { accessToken: 'x'.repeat(9000) },
      { accessToken: 'a', expiresIn: -1 }, { accessToken: 'a', expiresIn: 1.5 }, { accessToken: 'a', expiresIn: '60' },
      { accessToken: 'a', refreshToken: 'r' }, { accessToken: 'a', extra: 1 },
    ].map((t) => codeOf(() => tm.setTokens(t)));
    const events = [codeOf(() => tm.on('refresh', () => {})), codeOf(() => tm.on('change', 'no'))];
    const state = tm.state;
    tm.free();
    return { bad, tokens, events, state };
  });
  assert.ok(r.bad.every((c) => c === 'ERR_INVALID_OPTIONS'), JSON.stringify(r.bad));
  assert.ok(r.tokens.every((c) => c === 'ERR_INVALID_OPTIONS'), JSON.stringify(r.tokens));
  assert.deepEqual(r.events, ['ERR_INVALID_OPTIONS', 'ERR_INVALID_OPTIONS']);
  assert.equal(r.state, 'anonymous', 'a refused setTokens changed the state');
});

test('a 401 retry replays the body and leaves the caller\'s Request alone', async () => {
  await page.evaluate(async () => { window.tm = await loggedIn(); });
  assert.ok((await hook(a.base, 'POST', '/__test/clock', { offset_secs: 30 })) < 300);
  const r = await page.evaluate(async () => {
    const headers = new Headers({ 'Content-Type': 'text/plain' });
    const request = new Request('/api/echo', { method: 'POST', body: 'hello', headers });
    const response = await tm.fetch(request);
    const body = await response.json();
    const out = { status: response.status, body, used: request.bodyUsed, callerHeader: request.headers.get('Authorization'), initHeader: headers.get('Authorization') };
    tm.free();
    return out;
  });
  assert.equal(r.status, 200);
  assert.equal(r.body.authenticated, true);
  assert.equal(r.body.body_length, 5);
  assert.equal((await stats(a.base)).api_unauthorized, 1, 'the first attempt got the 401');
  assert.equal(r.used, false);
  assert.equal(r.callerHeader, null);
  assert.equal(r.initHeader, null);
});

test('start() restores the session in a new manager (refresh cookie), and without one resolves false', async () => {
  const r = await page.evaluate(async () => {
    const first = await loggedIn();
    first.free();
    const second = new tw.TokenManager(config());
    const restored = await second.start();
    const status = (await second.fetch('/api/me')).status;
    await second.logout();
    second.free();
    const third = new tw.TokenManager(config());
    const again = await third.start();
    const state = third.state;
    third.free();
    return { restored, status, again, state };
  });
  assert.deepEqual(r, { restored: true, status: 200, again: false, state: 'anonymous' });
});

test('memory mode: the refresh token lives in wasm memory and rotates', async () => {
  const r = await page.evaluate(async () => {
    const tm = new tw.TokenManager({ ...config(), loginUrl: `${B}/auth/login`, refreshUrl: `${B}/auth/refresh`, logoutUrl: `${B}/auth/logout`, refreshToken: 'memory', allowedOrigins: [B] });
    await tm.login({ username: 'demo', password: 'demo-password' });
    const first = (await tm.fetch(`${B}/api/me`)).status;
    await tm.refresh();
    await tm.refresh();
    const second = (await tm.fetch(`${B}/api/me`)).status;
    const cookie = document.cookie;
    await tm.logout();
    tm.free();
    return { first, second, cookie };
  });
  assert.equal(r.first, 200);
  assert.equal(r.second, 200);
  assert.equal(r.cookie.includes('refresh'), false);
  const s = await stats(b.base);
  assert.equal(s.rotations, 2);
  assert.equal(s.reuse_detected ?? 0, 0);
  assert.equal(s.active_families, 0);
});

test('an exception inside the refresh call fails that refresh instead of leaving it pending; the next one works', async () => {
  const r = await page.evaluate(async () => {
    const tm = new tw.TokenManager({ ...config(), loginUrl: `${B}/auth/login`, refreshUrl: `${B}/auth/refresh`, logoutUrl: `${B}/auth/logout`, refreshToken: 'memory', allowedOrigins: [B] });
    await tm.login({ username: 'demo', password: 'demo-password' });
    // The refresh call builds its body with JSON.stringify: make that throw, once.
    const stringify = JSON.stringify;
    JSON.stringify = function (value, ...rest) {
      if (value && typeof value === 'object' && 'refresh_token' in value) {
        JSON.stringify = stringify;
        throw new Error('boom');
      }
      return stringify.call(this, value, ...rest);
    };
    const timeout = new Promise((ok) => setTimeout(() => ok('pending after 5 s'), 5000));
    const first = await Promise.race([code(tm.refresh()), timeout]);
    JSON.stringify = stringify;
    if (first === 'pending after 5 s') {
      tm.free();
      return { first };
    }
    const second = await Promise.race([code(tm.refresh()), timeout]);
    const status = (await tm.fetch(`${B}/api/me`)).status;
    await tm.logout();
    tm.free();
    return { first, second, status };
  });
  assert.notEqual(r.first, 'pending after 5 s');
  assert.equal(r.second, 'resolved');
  assert.equal(r.status, 200);
});

test('no header to another origin, nor to look-alikes; setTokens works without a server', async () => {
  const r = await page.evaluate(async () => {
    const tm = await loggedIn();
    const other = await (await tm.fetch(`${B}/api/echo`)).json();
    const viaUrl = await (await tm.fetch(new URL(`${B}/api/echo`))).json();
    const viaRequest = await (await tm.fetch(new Request(`${B}/api/echo`))).json();
    const answers = [`${A}/x`, `${A.replace('127.0.0.1', 'localhost')}/x`, `${A.replace('127.0.0.1', '127.0.0.1.nip.io')}/x`, `${A}@evil.com/x`, `${B}/x`]
      .map((u) => { try { return typeof tm.__headerFor(new URL(u).href); } catch { return 'invalid'; } });
    tm.free();
    return { other, viaUrl, viaRequest, answers };
  });
  assert.equal(r.other.authorization_header_received, false);
  assert.equal(r.viaUrl.authorization_header_received, false);
  assert.equal(r.viaRequest.authorization_header_received, false);
  assert.deepEqual(r.answers, ['string', 'object', 'object', 'object', 'object']);
  assert.equal((await stats(b.base)).api_requests, 3);
  assert.equal((await stats(b.base)).api_unauthorized, 0);
});

test('a fetch wrapper installed after construction never sees a request; one installed before does', async () => {
  const r = await page.evaluate(async () => {
    const tm = await loggedIn();
    const calls = [];
    const original = globalThis.fetch;
    globalThis.fetch = (input, init) => { calls.push(new Request(input, init).headers.has('Authorization')); return Promise.reject(new TypeError('wrapped')); };
    const status = (await tm.fetch('/api/me')).status;
    await tm.refresh();
    const seenAfter = calls.length;
    const later = new tw.TokenManager(config());
    const login = await code(later.login({ username: 'demo', password: 'demo-password' }));
    globalThis.fetch = original;
    tm.free();
    later.free();
    return { status, seenAfter, login, calls };
  });
  assert.equal(r.status, 200);
  assert.equal(r.seenAfter, 0);
  assert.equal(r.login, 'ERR_LOGIN_FAILED');
  assert.deepEqual(r.calls, [false]);
  assert.ok((await stats(a.base)).rotations >= 1);
});

test('custody: a rotated-out token leaves no trace in wasm memory, nor the last one after logout', async () => {
  const r = await page.evaluate(async () => {
    const tm = await loggedIn({ exposeToken: true });
    const old = await tm.getAccessToken();
    const foundOld = await inWasm(old);
    await tm.refresh();
    const fresh = await tm.getAccessToken();
    const out = { differ: old !== fresh, foundOld, foundNew: await inWasm(fresh), oldLeft: await inWasm(old) };
    await tm.logout();
    out.newLeft = await inWasm(fresh);
    out.storage = [localStorage.length, sessionStorage.length, (await indexedDB.databases()).length];
    tm.free();
    return out;
  });
  assert.deepEqual(r, { differ: true, foundOld: true, foundNew: true, oldLeft: false, newLeft: false, storage: [0, 0, 0] });
});

test('custody in memory mode: neither rotated-out token remains in wasm memory, nor either token after logout', async () => {
  const r = await page.evaluate(async () => {
    const seen = [];
    const original = globalThis.fetch;
    // Records the refresh tokens the server hands out (what a script before the manager could see).
    globalThis.fetch = async (input, init) => {
      const response = await original(input, init);
      if (/\/auth\/(login|refresh)$/.test(input instanceof Request ? input.url : String(input))) {
        const body = await response.clone().json().catch(() => ({}));
        if (body.refresh_token) seen.push(body.refresh_token);
      }
      return response;
    };
    const tm = new tw.TokenManager({ ...config(), loginUrl: `${B}/auth/login`, refreshUrl: `${B}/auth/refresh`, logoutUrl: `${B}/auth/logout`, refreshToken: 'memory', allowedOrigins: [B], exposeToken: true });
    globalThis.fetch = original;
    await tm.login({ username: 'demo', password: 'demo-password' });
    const access1 = await tm.getAccessToken();
    await tm.refresh();
    const access2 = await tm.getAccessToken();
    const out = {
      refreshTokens: seen.length,
      live: [await inWasm(access2), await inWasm(seen[1])],
      rotatedOut: [await inWasm(access1), await inWasm(seen[0])],
    };
    await tm.logout();
    out.afterLogout = [await inWasm(access2), await inWasm(seen[1])];
    tm.free();
    return out;
  });
  assert.equal(r.refreshTokens, 2);
  assert.deepEqual(r.live, [true, true], 'the scan must find the live tokens');
  assert.deepEqual(r.rotatedOut, [false, false], 'a rotated-out token is still in wasm memory');
  assert.deepEqual(r.afterLogout, [false, false], 'a token survived logout');
});

test('relative URLs follow the document base: no header under a base on another origin', async () => {
  const r = await page.evaluate(async () => {
    const tm = await loggedIn();
    const setBase = (href) => {
      for (const old of document.querySelectorAll('base')) old.remove();
      const base = document.createElement('base');
      base.href = href;
      document.head.prepend(base);
    };
    setBase(`${B}/api/`);
    const foreign = await (await tm.fetch('echo')).json();
    setBase(`${A}/api/`);
    const own = await (await tm.fetch('echo')).json();
    for (const old of document.querySelectorAll('base')) old.remove();
    tm.free();
    return { foreign, own };
  });
  assert.equal(r.foreign.authorization_header_received, false, 'a relative URL under another base carried the token');
  assert.equal(r.own.authenticated, true);
  assert.equal((await stats(b.base)).api_requests, 1);
  assert.equal((await stats(a.base)).api_unauthorized, 0);
});

test('security review: a Request whose url getter lies gets no header', async () => {
  const r = await page.evaluate(async () => {
    const tm = await loggedIn();
    class Liar extends Request { get url() { return `${A}/api/echo`; } }
    const body = await (await tm.fetch(new Liar(`${B}/api/echo`))).json();
    tm.free();
    return body;
  });
  assert.equal(r.authorization_header_received, false, 'the token reached another origin');
  assert.equal((await stats(b.base)).api_requests, 1);
});

test('security review: redirects are followed as fetch does, and Authorization stays on its origin', async () => {
  const r = await page.evaluate(async () => {
    const tm = await loggedIn();
    const to = (target) => `/api/redirect?to=${encodeURIComponent(target)}`;
    await tm.fetch(to(`${B}/api/echo`)).catch(() => null);
    // An init whose redirect option stringifies to "follow" on a Request that says "error":
    // the request as built decides ("follow"), and the browser drops the header on the hop.
    await tm.fetch(new Request(to(`${B}/api/echo`), { redirect: 'error' }), { redirect: { toString: () => 'follow' } }).catch(() => null);
    const same = await tm.fetch(to(`${A}/api/echo`));
    const out = { redirected: same.redirected, body: await same.json() };
    tm.free();
    return out;
  });
  const s = await stats(b.base);
  assert.equal(s.api_requests, 2, 'a redirect was not followed');
  assert.equal(s.api_unauthorized, 0, 'Authorization followed a cross-origin redirect');
  assert.equal(r.redirected, true);
  assert.equal(r.body.authorization_header_received, true);
});

// Outside a browser nothing drops Authorization on a cross-origin redirect: token-carrying
// requests use redirect "manual", read from the request as built (the security review's
// stringifying `redirect` option cannot turn it back into "follow").
test('Node: redirects of token-carrying requests are not followed, whatever init.redirect says', async () => {
  const { TokenManager } = await import(`${PKG}/node/index.js`);
  const A = a.base, B = b.base;
  const tm = new TokenManager({ loginUrl: `${A}/auth/login`, refreshUrl: `${A}/auth/refresh`, allowedOrigins: [A] });
  // Node has no cookie jar: install the login's access token directly.
  const login = await (await fetch(`${A}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'demo', password: 'demo-password' }) })).json();
  tm.setTokens({ accessToken: login.access_token, expiresIn: login.expires_in });
  const to = `${A}/api/redirect?to=${encodeURIComponent(`${B}/api/echo`)}`;
  const plain = await tm.fetch(to);
  const sneaky = await tm.fetch(new Request(to, { redirect: 'error' }), { redirect: { toString: () => 'follow' } });
  const own = await (await tm.fetch(`${A}/api/echo`)).json();
  tm.free();
  assert.ok(plain.status >= 300 && plain.status < 400 || plain.type === 'opaqueredirect', `status ${plain.status}`);
  assert.ok(sneaky.status >= 300 && sneaky.status < 400 || sneaky.type === 'opaqueredirect', `status ${sneaky.status}`);
  assert.equal(own.authorization_header_received, true);
  assert.equal((await stats(b.base)).api_requests, 0, 'the redirect target was reached');
});

test('security review: a logoutUrl on a foreign origin gets no bearer', async () => {
  const r = await page.evaluate(async () => {
    const seen = [];
    const original = globalThis.fetch;
    globalThis.fetch = (input, init) => {
      const request = new Request(input, init);
      seen.push({ url: request.url, bearer: request.headers.has('Authorization') });
      return original(request);
    };
    const tm = new tw.TokenManager(config({ logoutUrl: `${B}/api/echo` }));
    globalThis.fetch = original;
    await tm.login({ username: 'demo', password: 'demo-password' });
    await tm.logout();
    tm.free();
    return seen.find((c) => c.url === `${B}/api/echo`);
  });
  assert.ok(r, 'the logout call was sent');
  assert.equal(r.bearer, false, 'the token went to a logoutUrl whose origin is not allowed');
  assert.equal((await stats(b.base)).api_requests, 1);
});

test('sessionHint: start() without the hint cookie sends no refresh request', async () => {
  const r = await page.evaluate(async () => {
    const hinted = () => new tw.TokenManager(config({ sessionHint: '__Host-tw_session' }));
    const first = hinted();
    await first.login({ username: 'demo', password: 'demo-password' });
    const hintSet = document.cookie.includes('__Host-tw_session=1');
    const second = hinted();
    const restored = await second.start();
    await second.logout();
    await first.logout();
    const hintCleared = !document.cookie.includes('__Host-tw_session=1');
    const third = hinted();
    const thirdStart = await third.start();
    const plain = new tw.TokenManager(config());
    const plainStart = await plain.start();
    for (const tm of [first, second, third, plain]) tm.free();
    return { hintSet, restored, hintCleared, thirdStart, plainStart };
  });
  assert.deepEqual(r, { hintSet: true, restored: true, hintCleared: true, thirdStart: false, plainStart: false });
  // One refresh for the restore, one for the manager without the option; none for the third.
  assert.equal((await stats(a.base)).refreshes, 2);
});

test('expiredRequests "fail" and free(): requests fail fast with typed codes', async () => {
  const r = await page.evaluate(async () => {
    const tm = new tw.TokenManager(config({ expiredRequests: 'fail' }));
    tm.setTokens({ accessToken: 'opaque-token', expiresIn: 0 });
    const expired = await code(tm.fetch('/api/me'));
    const pending = tm.refresh().catch((e) => e.code);
    tm.free();
    return { expired, afterFree: await pending, fetchAfterFree: await code(tm.fetch('/api/me')), state: tm.state };
  });
  assert.equal(r.expired, 'ERR_TOKEN_EXPIRED');
  assert.equal(r.afterFree, 'ERR_LOGGED_OUT');
  assert.equal(r.fetchAfterFree, 'ERR_LOGGED_OUT');
  assert.equal(r.state, 'anonymous');
});

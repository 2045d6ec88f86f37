// The npm package's browser entry in headless Chromium: a plain <script type="module"> imports
// pkg/web/index.js (served by the reference server) with no init call, decodes and verifies the
// server's own access token against its JWKS, and refuses a tampered one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { launchChromium, startServer, stopServer } from '../support/harness.mjs';

let server, foreign, browser, www;


before(async () => {
  www = mkdtempSync(join(tmpdir(), 'tw-www-'));
  writeFileSync(join(www, 'index.html'), `<!doctype html><meta charset="utf-8"><title>pkg</title>
<script type="module">
  import { decodeJwt, verifyJwt, KeySet } from '/pkg/verify/web/index.js';
  import { TokenManager } from '/pkg/web/index.js';
  window.tokenwarden = { decodeJwt, verifyJwt, KeySet, TokenManager };
  document.title = 'ready';
</script>`);
  server = await startServer(['--port', '0', '--quiet', '--test-hooks', '--www-dir', www, '--pkg-dir', resolve('pkg')]);
  // Another origin that records what arrives (its /__test/stats), for the redirect check.
  foreign = await startServer(['--port', '0', '--quiet', '--test-hooks', '--allow-any-loopback-origin']);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await stopServer(server);
  await stopServer(foreign);
  rmSync(www, { recursive: true, force: true });
});

test('plain <script type="module"> imports the package and verifies the server token', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.base}/`);
  await page.waitForFunction(() => document.title === 'ready', null, { timeout: 15_000 });
  const result = await page.evaluate(async () => {
    const login = await fetch('/auth/login', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'demo', password: 'demo-password' }),
    }).then((r) => r.json());
    const jwks = await fetch('/.well-known/jwks.json').then((r) => r.json());
    const { decodeJwt, verifyJwt, KeySet } = window.tokenwarden;
    const decoded = decodeJwt(login.access_token);
    const verified = await verifyJwt(login.access_token, jwks, { issuer: decoded.claims.iss, audience: decoded.claims.aud });
    const keys = new KeySet(jwks);
    const viaKeySet = (await verifyJwt(login.access_token, keys, {})).claims.sub;
    const [h, p, s] = login.access_token.split('.');
    const forged = JSON.parse(atob(p.replace(/-/g, '+').replace(/_/g, '/')));
    forged.sub = 'admin';
    const forgedPayload = btoa(JSON.stringify(forged)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    let code = 'accepted';
    try { await verifyJwt(`${h}.${forgedPayload}.${s}`, keys, {}); } catch (e) { code = e.code; }
    // Non-ASCII text crossing into wasm through the browser glue (scripts/trim-glue.mjs): the
    // options' JSON with an audience list led by a non-ASCII entry, and a near-miss subject.
    const audiences = (await verifyJwt(login.access_token, keys, { audience: ['ü-api-日本', decoded.claims.aud] })).claims.aud;
    const subject = await verifyJwt(login.access_token, keys, { subject: 'démo' }).catch((e) => e.claim);
    let nonAscii = 'accepted';
    try { decodeJwt('é.e30.'); } catch (e) { nonAscii = e.code; }
    return { alg: verified.header.alg, sub: verified.claims.sub, viaKeySet, code, audiences, subject, nonAscii };
  });
  assert.deepEqual(errors, []);
  assert.equal(result.alg, 'ES256');
  assert.equal(result.sub, 'demo');
  assert.equal(result.viaKeySet, 'demo');
  assert.equal(result.code, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
  assert.ok(result.audiences);
  assert.equal(result.subject, 'sub');
  assert.equal(result.nonAscii, 'ERR_JWS_INVALID_BASE64');
  await page.close();
});

const stats = (base) => fetch(`${base}/__test/stats`).then((r) => r.json());

// The package's tm.fetch: the JS fast path (one call into wasm for the header) attaches the token
// to the page's origin only, follows redirects like fetch while the Fetch standard keeps the
// header off a foreign origin, and refreshes once and retries on a 401. The same in worker
// custody, where the worker sends the request and the page gets the Response.
for (const custody of ['page', 'worker'])
test(`tm.fetch from the package (custody ${custody}): header, redirects, 401 retry, bodies`, async () => {
  const own0 = await stats(server.base);
  const foreign0 = await stats(foreign.base);
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.base}/`);
  await page.waitForFunction(() => document.title === 'ready', null, { timeout: 15_000 });
  const result = await page.evaluate(async ({ foreignBase, custody }) => {
    const { TokenManager } = window.tokenwarden;
    const tm = new TokenManager({ custody, loginUrl: '/auth/login', refreshUrl: '/auth/refresh', crossTab: false });
    await tm.login({ username: 'demo', password: 'demo-password' });
    // Count the fast path's answers: a header string means it sent the request itself.
    const answers = [];
    const ask = TokenManager.prototype.__headerFor;
    if (custody === 'page') tm.__headerFor = function (url) { const h = ask.call(this, url); answers.push(typeof h); return h; };
    const echo = async (input, init) => {
      const r = await tm.fetch(input, init);
      return { status: r.status, redirected: r.redirected, body: await r.json().catch(() => null) };
    };
    const own = await echo('/api/echo');
    const asUrl = await echo(new URL('/api/echo', location.href), { method: 'PUT', body: 'x' });
    const sameOriginRedirect = await echo(`/api/redirect?to=${encodeURIComponent(`${location.origin}/api/echo`)}`);
    let crossOrigin = 'resolved';
    try { await tm.fetch(`/api/redirect?to=${encodeURIComponent(`${foreignBase}/api/echo`)}`); } catch (e) { crossOrigin = e.name; }
    const other = await echo(`${foreignBase}/api/echo`);
    // A token the API rejects: one refresh (the cookie), one retry.
    tm.setTokens({ accessToken: 'not.a.token', expiresIn: 300 });
    const retried = await tm.fetch('/api/me');
    const meStatus = retried.status;
    // Bodies: text, bytes, form data and a Request input carry over intact.
    const bytes = new Uint8Array(70_000).map((_, i) => i % 251);
    const sha = async (data) => [...new Uint8Array(await crypto.subtle.digest('SHA-256', data))].map((b) => b.toString(16).padStart(2, '0')).join('');
    const bodies = {
      text: await echo('/api/echo', { method: 'POST', body: 'hello', headers: { 'content-type': 'text/plain' } }),
      bytes: await echo('/api/echo', { method: 'POST', body: bytes }),
      bytesSha: await sha(bytes),
      request: await echo(new Request('/api/echo', { method: 'PATCH', body: 'from a Request' })),
    };
    const form = new FormData();
    form.append('a', '1');
    const formRes = await echo('/api/echo', { method: 'POST', body: form });
    bodies.form = formRes.body.content_type.startsWith('multipart/form-data; boundary=') && formRes.body.authorization_header_received;
    const head = await tm.fetch('/api/echo', { method: 'HEAD' });
    bodies.head = [head.status, await head.text()];
    const manual = await tm.fetch(`/api/redirect?to=${encodeURIComponent(`${location.origin}/api/echo`)}`, { redirect: 'manual' });
    bodies.manual = [manual.type, manual.status];
    await tm.logout();
    const state = tm.state;
    tm.free();
    return { own, asUrl, sameOriginRedirect, crossOrigin, other, meStatus, answers, bodies, state };
  }, { foreignBase: foreign.base, custody });
  assert.deepEqual(errors, []);
  assert.equal(result.own.body.authorization_header_received, true);
  assert.equal(result.asUrl.body.method, 'PUT');
  assert.equal(result.asUrl.body.authorization_header_received, true);
  assert.equal(result.sameOriginRedirect.redirected, true);
  assert.equal(result.sameOriginRedirect.body.authorization_header_received, true);
  assert.equal(result.other.body.authorization_header_received, false);
  assert.equal(result.meStatus, 200, 'the 401 was not refreshed and retried');
  const { bodies } = result;
  assert.deepEqual([bodies.text.body.body_length, bodies.text.body.content_type, bodies.text.body.authorization_header_received], [5, 'text/plain', true]);
  assert.equal(bodies.bytes.body.body_length, 70_000);
  assert.equal(bodies.bytes.body.body_sha256, bodies.bytesSha);
  assert.deepEqual([bodies.request.body.method, bodies.request.body.body_length, bodies.request.body.authorization_header_received], ['PATCH', 14, true]);
  assert.equal(bodies.form, true);
  assert.deepEqual(bodies.head, [200, '']);
  assert.deepEqual(bodies.manual, ['opaqueredirect', 0]);
  assert.equal(result.state, 'anonymous');
  // own, URL, both redirects and the bad token went the fast path; the foreign origin got null
  // (then the body requests, the HEAD and the manual redirect).
  if (custody === 'page') assert.deepEqual(result.answers.slice(0, 6), ['string', 'string', 'string', 'string', 'object', 'string']);
  const seen = await stats(foreign.base);
  // The redirected request and the direct one both arrived, neither with a token (a server-1
  // token would have been answered 401 there).
  assert.equal(seen.api_requests - foreign0.api_requests, 2);
  assert.equal(seen.api_unauthorized - foreign0.api_unauthorized, 0, 'Authorization followed a cross-origin redirect');
  const own = await stats(server.base);
  assert.equal(own.refreshes - own0.refreshes, 1);
  await page.close();
});

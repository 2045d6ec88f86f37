// The npm package's browser entry in headless Chromium: a plain <script type="module"> imports
// pkg/web/index.js (served by the reference server) with no init call, decodes and verifies the
// server's own access token against its JWKS, and refuses a tampered one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { launchChromium, startServer, stopServer } from '../support/harness.mjs';

let server, browser, www;


before(async () => {
  www = mkdtempSync(join(tmpdir(), 'tw-www-'));
  writeFileSync(join(www, 'index.html'), `<!doctype html><meta charset="utf-8"><title>pkg</title>
<script type="module">
  import { decodeJwt, verifyJwt, KeySet } from '/pkg/web/index.js';
  window.tokenwarden = { decodeJwt, verifyJwt, KeySet };
  document.title = 'ready';
</script>`);
  server = await startServer(['--port', '0', '--quiet', '--www-dir', www, '--pkg-dir', resolve('pkg')]);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await stopServer(server);
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
    return { alg: verified.header.alg, sub: verified.claims.sub, viaKeySet, code, isError: true };
  });
  assert.deepEqual(errors, []);
  assert.equal(result.alg, 'ES256');
  assert.equal(result.sub, 'demo');
  assert.equal(result.viaKeySet, 'demo');
  assert.equal(result.code, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
  await page.close();
});

// Cookie tossing from a sibling subdomain (issue 27, item 3), in headless Chromium with two
// hostnames: the app on https://app.tw.test and the attacker on https://evil.tw.test (Chromium's
// resolver maps *.tw.test to 127.0.0.1; a TLS proxy with a throwaway certificate fronts the
// reference server, since a `__Host-` cookie needs a secure origin and Chromium's
// --unsafely-treat-insecure-origin-as-secure does not admit `__Host-` cookies). The attacker
// logs in with an account of their own and plants its refresh token in the visitor's browser
// for the parent domain (`Domain=tw.test`, by script and by `Set-Cookie`), and tries the
// `__Host-` name too (with `Domain`, host-only, and as a nameless cookie).
//
// With the `__Host-` names (the default) a fresh visitor's `start()` is not signed in as the
// attacker and a logged-in victim keeps refreshing. The control runs the same attack against
// the unprefixed names (`--cookie-secure never`, the naming before `__Host-`): there it
// succeeds, which shows the test can see the attack. Needs pkg/ and the server (`make test-js`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { startServer, stopServer } from '../support/harness.mjs';

const PKG = resolve(process.env.TW_PKG_DIR ?? 'pkg');
const dir = mkdtempSync(join(tmpdir(), 'tw-tossing-'));
let proxy, port, browser;
const servers = {};

/** The attacker's page: plants Mallory's refresh token `token` and the hint cookies for the
 * parent domain, every way a sibling subdomain can try: under the `__Host-` names with `Domain`,
 * host-only (its own origin) and as nameless cookies whose value starts with the name. */
const evilPage = (token) => `<!doctype html><meta charset="utf-8"><title>evil</title><script>
  for (const [name, value] of [['__Host-tw_refresh', '${token}'], ['__Host-tw_session', '1']]) {
    document.cookie = name + '=' + value + '; Domain=tw.test; Path=/; Secure; SameSite=Lax';
    document.cookie = name + '=' + value + '; Path=/; Secure';
    document.cookie = '=' + name + '=' + value + '; Domain=tw.test; Path=/; Secure';
    document.cookie = '=' + name + '=' + value + '; Path=/; Secure';
  }
  document.cookie = 'tw_session=1; Domain=tw.test; Path=/; Secure; SameSite=Lax';
  document.title = 'planted';
</script>`;
/** And by `Set-Cookie`: the unprefixed name for the parent domain (one cookie, as a careful
 * attacker plants it: two would be a duplicate), and the `__Host-` name with `Domain`. */
const evilHeaders = (token) => [
  `tw_refresh=${token}; Domain=tw.test; Path=/auth; Secure; HttpOnly; SameSite=Lax`,
  `__Host-tw_refresh=${token}; Domain=tw.test; Path=/; Secure; HttpOnly; SameSite=Lax`,
];

before(async () => {
  // A throwaway certificate for the two names (Chromium runs with --ignore-certificate-errors).
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=tw.test',
    '-addext', 'subjectAltName=DNS:app.tw.test,DNS:evil.tw.test'], { stdio: 'ignore' });
  writeFileSync(join(dir, 'index.html'), `<!doctype html><meta charset="utf-8"><title>app</title>
<script type="module">
  import * as tw from '/pkg/web/index.js';
  window.tw = tw;
  window.manager = () => new tw.TokenManager({ loginUrl: '/auth/login', refreshUrl: '/auth/refresh',
    logoutUrl: '/auth/logout', crossTab: false });
  document.title = 'ready';
</script>`);
  // The TLS proxy: app.tw.test goes to the server of the naming under test (a header picks
  // it), evil.tw.test is the attacker's own site.
  proxy = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
    (req, res) => {
      const host = (req.headers.host ?? '').split(':')[0];
      const naming = /(?:^|;\s*)naming=(\w+)/.exec(req.headers.cookie ?? '')?.[1] ?? 'host';
      if (host === 'evil.tw.test') {
        const url = new URL(req.url, 'https://evil.tw.test');
        if (url.pathname !== '/') {
          res.writeHead(404).end();
          return;
        }
        const token = url.searchParams.get('t') ?? '';
        res.writeHead(200, { 'content-type': 'text/html', 'set-cookie': evilHeaders(token) });
        res.end(evilPage(token));
        return;
      }
      if (host !== 'app.tw.test') {
        res.writeHead(421).end();
        return;
      }
      const target = new URL(servers[naming].base);
      const upstream = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url,
        headers: req.headers }, (reply) => {
        res.writeHead(reply.statusCode, reply.headers);
        reply.pipe(res);
      });
      upstream.on('error', () => res.writeHead(502).end());
      req.pipe(upstream);
    });
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
  port = proxy.address().port;
  const common = ['--port', '0', '--quiet', '--www-dir', dir, '--pkg-dir', PKG, '--allow-host', `app.tw.test:${port}`,
    '--user', 'demo:demo-password', '--user', 'mallory:mallory-password'];
  servers.host = await startServer(common);
  servers.plain = await startServer([...common, '--cookie-secure', 'never']);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--ignore-certificate-errors', '--host-resolver-rules=MAP *.tw.test 127.0.0.1'],
  });
});
after(async () => {
  await browser?.close();
  proxy?.close();
  await stopServer(servers.host);
  await stopServer(servers.plain);
});

/** Mallory's own refresh token, from a login of hers at the server of `naming`. */
async function attackerToken(naming) {
  const res = await fetch(`${servers[naming].base}/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'mallory', password: 'mallory-password' }),
  });
  assert.equal(res.status, 200);
  const line = res.headers.getSetCookie().find((l) => /^(__Host-)?tw_refresh=[^;]/.test(l));
  return line.split(';')[0].split('=')[1];
}

/** A browser profile whose app requests go to the server of `naming`. */
async function visitor(naming) {
  const context = await browser.newContext();
  await context.addCookies([{ name: 'naming', value: naming, domain: 'app.tw.test', path: '/', secure: true }]);
  const page = await context.newPage();
  return { context, page };
}

const app = () => `https://app.tw.test:${port}/`;
const evil = (token) => `https://evil.tw.test:${port}/?t=${encodeURIComponent(token)}`;

async function openApp(page) {
  await page.goto(app());
  await page.waitForFunction(() => document.title === 'ready', null, { timeout: 15_000 });
}

async function plant(context, token) {
  const page = await context.newPage();
  await page.goto(evil(token));
  await page.waitForFunction(() => document.title === 'planted');
  await page.close();
}

/** A fresh visitor who passed by the attacker's page, then opens the app: whom is `start()` signed in as? */
async function freshVisitor(naming) {
  const { context, page } = await visitor(naming);
  await plant(context, await attackerToken(naming));
  await openApp(page);
  const r = await page.evaluate(async () => {
    const tm = window.manager();
    const restored = await tm.start();
    return { restored, sub: tm.claims?.sub ?? null, cookie: document.cookie };
  });
  await context.close();
  return r;
}

/** A victim logged in as demo visits the attacker's page, then refreshes in the open app. */
async function loggedInVictim(naming) {
  const { context, page } = await visitor(naming);
  await openApp(page);
  await page.evaluate(async () => {
    window.tm = window.manager();
    await window.tm.login({ username: 'demo', password: 'demo-password' });
  });
  await plant(context, await attackerToken(naming));
  const r = await page.evaluate(async () => {
    const outcomes = [];
    for (let i = 0; i < 3; i++) {
      outcomes.push(await window.tm.refresh().then(() => window.tm.claims?.sub, (e) => e.code));
    }
    const me = await window.tm.fetch('/api/me').then((r) => r.status, (e) => e.code);
    return { outcomes, me, state: window.tm.state };
  });
  await context.close();
  return r;
}

test('__Host- cookies: a fresh visitor is not signed in as the attacker', async () => {
  const r = await freshVisitor('host');
  assert.equal(r.restored, false, JSON.stringify(r));
  assert.equal(r.sub, null);
  // No planted __Host- cookie reaches the app (the hint included).
  assert.ok(!r.cookie.includes('__Host-'), r.cookie);
});

test('__Host- cookies: a logged-in victim keeps refreshing as themself', async () => {
  const r = await loggedInVictim('host');
  assert.deepEqual(r.outcomes, ['demo', 'demo', 'demo']);
  assert.equal(r.me, 200);
  assert.equal(r.state, 'authenticated');
});

test('control, unprefixed names (--cookie-secure never): the same attack fixes the session and ends the victim\'s', async () => {
  const fresh = await freshVisitor('plain');
  assert.equal(fresh.restored, true, JSON.stringify(fresh));
  assert.equal(fresh.sub, 'mallory');
  const victim = await loggedInVictim('plain');
  // The victim's session ends (two refresh cookies), the next refresh signs them in as the
  // attacker (the tossed cookie alone), whose rotated cookie then collides with it again.
  assert.deepEqual(victim.outcomes, ['ERR_LOGGED_OUT', 'mallory', 'ERR_LOGGED_OUT']);
  assert.equal(victim.me, 'ERR_LOGGED_OUT');
  assert.equal(victim.state, 'anonymous');
});

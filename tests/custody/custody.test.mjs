// Worker custody (`custody: "worker"`) in headless Chromium against the reference server: a
// script in the page finds no token; an abort in the page aborts the worker's request; a worker
// that stops ends the session with typed errors, never a hang. The same checks run in page
// custody where they apply, as the control that shows each check can fail.
// Needs pkg/ (scripts/build-pkg.sh pkg) and the server binary (TW_SERVER_BIN).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  heapSnapshot, launchChromium, recordTokens, startServer, stopServer,
} from '../support/harness.mjs';

const PKG = resolve(process.env.TW_PKG_DIR ?? 'pkg');
let browser, www, slow;
const servers = [];

const PAGE = `<!doctype html><meta charset="utf-8"><title>loading</title>
<script type="module">
  const { TokenManager } = await import('/pkg/web/index.js');
  window.TokenManager = TokenManager;
  document.title = 'ready';
</script>`;

const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'";

/** A server on another port that never answers /hang, sends one chunk of /stream and then
 * hangs, and records when each connection closes (what an aborted fetch does). */
function startSlow() {
  const seen = [];
  const server = createServer((req, res) => {
    const entry = { path: new URL(req.url, 'http://x').pathname, closed: false };
    seen.push(entry);
    const cors = {
      'access-control-allow-origin': req.headers.origin ?? '*',
      'access-control-allow-headers': '*',
    };
    res.on('close', () => { entry.closed = true; });
    if (req.method === 'OPTIONS') { res.writeHead(204, cors); res.end(); return; }
    if (entry.path === '/stream') {
      res.writeHead(200, { ...cors, 'content-type': 'text/plain' });
      res.write('first chunk\n');
    }
    // /hang: nothing, ever (until the client goes away).
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => {
    ok({ server, seen, base: `http://127.0.0.1:${server.address().port}` });
  }));
}

before(async () => {
  www = mkdtempSync(join(tmpdir(), 'tw-custody-'));
  writeFileSync(join(www, 'index.html'), PAGE);
  // DPoP lives in the tokenwarden/oauth entry: the same page on that entry.
  writeFileSync(join(www, 'oauth.html'), PAGE.replace('/pkg/web/', '/pkg/oauth/web/'));
  // A strict CSP (no inline script, no blob: or data: workers): the README's line.
  writeFileSync(join(www, 'csp.html'), `<!doctype html><meta charset="utf-8"><title>loading</title>
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<script type="module" src="/csp.js"></script>`);
  writeFileSync(join(www, 'csp.js'), `const { TokenManager } = await import('/pkg/web/index.js');
const tm = new TokenManager({ custody: 'worker', loginUrl: '/auth/login', refreshUrl: '/auth/refresh', crossTab: false });
await tm.login({ username: 'demo', password: 'demo-password' });
window.result = { state: tm.state, status: (await tm.fetch('/api/me')).status };
document.title = 'ready';`);
  browser = await launchChromium();
  slow = await startSlow();
});

after(async () => {
  await browser?.close();
  await Promise.all(servers.map(stopServer));
  slow?.server.closeAllConnections();
  slow?.server.close();
  rmSync(www, { recursive: true, force: true });
});

async function server(extra = []) {
  const started = await startServer(['--port', '0', '--quiet', '--test-hooks', '--www-dir', www, '--pkg-dir', PKG, ...extra]);
  servers.push(started);
  return started;
}

async function open(context, base, path = '/') {
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(`${base}${path}`);
  await page.waitForFunction(() => document.title === 'ready', null, { timeout: 30_000 });
  return page;
}

/** The channel name a manager of `base` uses (FNV-1a 64 of its refresh URL and origins). */
function channelName(base, extra = '') {
  let hash = 0xcbf29ce484222325n;
  for (const part of [`${base}/auth/refresh`, base, extra]) {
    for (const byte of [...new TextEncoder().encode(part), 0]) {
      hash ^= BigInt(byte);
      hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
    }
  }
  return `tokenwarden:${hash.toString(16).padStart(16, '0')}`;
}

for (const custody of ['page', 'worker']) {
  test(`custody ${custody}: what a script in the page can reach while the session is live`, async () => {
    const { base } = await server(['--refresh-transport', 'body', '--access-ttl', '4']);
    const context = await browser.newContext();
    const issued = recordTokens(context);
    const page = await open(context, base);
    // The attacker's script starts listening before the session exists, on every channel name
    // it can derive from the manager's options (src/web/tabs.rs: tokenwarden:<FNV-1a hash>).
    await page.evaluate(({ names }) => {
      window.heard = [];
      for (const name of names) {
        new BroadcastChannel(name).onmessage = (e) => window.heard.push(e.data);
      }
    }, { names: [channelName(base), channelName(base, 'app'), 'tokenwarden', 'tokenwarden:worker'] });
    const result = await page.evaluate(async (custody) => {
      const tm = new window.TokenManager({
        custody, loginUrl: '/auth/login', refreshUrl: '/auth/refresh', logoutUrl: '/auth/logout',
        refreshToken: 'memory', minRefreshLeadMs: 1500, minRefreshIntervalMs: 500,
      });
      window.tm = tm;
      const events = [];
      tm.on('refreshed', (e) => events.push(e.source));
      await tm.login({ username: 'demo', password: 'demo-password' });
      const statuses = [];
      for (let i = 0; i < 5; i += 1) statuses.push((await tm.fetch('/api/me')).status);
      await tm.refresh();
      const refreshed = Date.now();
      statuses.push((await tm.fetch('/api/me')).status);
      // Wait for a silent refresh too (4 s tokens, refreshed about 2.5 s after the last): until
      // a token expires later than the explicit refresh's could (not a fixed time: a busy
      // machine delays it), at most 10 s (the count of issued tokens below then fails).
      for (const start = Date.now(); !(tm.expiresAt > refreshed + 5_000) && Date.now() - start < 10_000;) {
        await new Promise((r) => setTimeout(r, 50));
      }
      statuses.push((await tm.fetch('/api/me')).status);
      return { statuses, events, state: tm.state, sub: tm.claims?.sub, exposed: await tm.getAccessToken().then(() => 'yes', (e) => e.code) };
    }, custody);
    assert.deepEqual(result.statuses, [200, 200, 200, 200, 200, 200, 200]);
    assert.equal(result.state, 'authenticated');
    assert.equal(result.sub, 'demo', 'the claims getter still works');
    assert.equal(result.exposed, 'ERR_TOKEN_NOT_EXPOSED');
    assert.ok(result.events.length >= 2, `refreshed events ${result.events}`);
    const tokens = [...issued];
    assert.ok(tokens.length >= 6, `the scan knows the issued tokens (${tokens.length})`);
    // The JS heap of the page's realm, before the scan hands the tokens to the page.
    const heap = await heapSnapshot(context, page);
    const inHeap = tokens.filter((t) => heap.includes(t.slice(-32))).length;
    const scan = await page.evaluate(async (needles) => {
      const encoder = new TextEncoder();
      const count = (bytes) => {
        let found = 0;
        for (const needle of needles.map((n) => encoder.encode(n.slice(-32)))) {
          outer: for (let i = bytes.indexOf(needle[0]); i !== -1; i = bytes.indexOf(needle[0], i + 1)) {
            for (let j = 1; j < needle.length; j += 1) if (bytes[i + j] !== needle[j]) continue outer;
            found += 1;
          }
        }
        return found;
      };
      // The module's own instance (init() hands back the live exports, memory included).
      const glue = await import('/pkg/web/tokenwarden.js');
      const exports = await glue.default();
      const memories = [exports.memory];
      // Any instance the script can make of the package's module: a fresh memory.
      const module = await WebAssembly.compileStreaming(fetch('/pkg/web/tokenwarden_bg.wasm'));
      const stub = new Proxy({}, { get: () => new Proxy({}, { get: () => () => {} }) });
      try {
        const imports = {};
        for (const { module: name } of WebAssembly.Module.imports(module)) imports[name] = stub[name];
        memories.push(new WebAssembly.Instance(module, imports).exports.memory);
      } catch (e) { memories.push(null); }
      const inMemory = memories.filter(Boolean).map((m) => count(new Uint8Array(m.buffer)));
      const heard = window.heard.map((m) => JSON.stringify(m, (k, v) => (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) !== Object.prototype ? String(v) : v)));
      const onChannel = count(encoder.encode(heard.join('\n')));
      const locks = await navigator.locks.query();
      const lockNames = count(encoder.encode(JSON.stringify(locks)));
      const getters = count(encoder.encode(JSON.stringify({ s: window.tm.state, c: window.tm.claims, e: window.tm.expiresAt })));
      return { inMemory, onChannel, messages: window.heard.length, lockNames, getters, memoryBytes: memories.filter(Boolean).map((m) => m.buffer.byteLength) };
    }, tokens);
    console.log(`# custody ${custody}: ${tokens.length} tokens issued; found in wasm memories ${scan.inMemory} (bytes ${scan.memoryBytes}), channel messages ${scan.onChannel} (of ${scan.messages} heard), page heap ${inHeap}, lock names ${scan.lockNames}, getters ${scan.getters}`);
    assert.equal(scan.memoryBytes.length, 2, 'both memories were scanned');
    assert.equal(scan.lockNames, 0);
    assert.equal(scan.getters, 0);
    if (custody === 'worker') {
      assert.deepEqual(scan.inMemory, [0, 0], 'a token in the page\'s wasm memory');
      assert.equal(scan.onChannel, 0, 'a token on a channel the page can join');
      assert.equal(inHeap, 0, 'a token in the page\'s JS heap');
    } else {
      // The control: in page custody the same scan finds the live tokens.
      assert.ok(scan.inMemory[0] > 0, 'the scan finds tokens in page custody');
      assert.ok(scan.onChannel > 0, 'the scan hears tokens on the channel in page custody');
      assert.ok(inHeap > 0, 'the heap snapshot finds tokens in page custody');
    }
    assert.deepEqual(page.errors, []);
    await context.close();
  });

  test(`custody ${custody}: an abort in the page aborts the request, before and after the response`, async () => {
    const { base } = await server();
    const context = await browser.newContext();
    const page = await open(context, base);
    const before = slow.seen.length;
    const result = await page.evaluate(async ({ custody, slowBase }) => {
      const tm = new window.TokenManager({ custody, loginUrl: '/auth/login', refreshUrl: '/auth/refresh', crossTab: false });
      await tm.login({ username: 'demo', password: 'demo-password' });
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      const hang = new AbortController();
      const pending = tm.fetch(`${slowBase}/hang`, { signal: hang.signal }).then(() => 'resolved', (e) => e.name);
      await sleep(500);
      hang.abort();
      const beforeResponse = await pending;
      const stream = new AbortController();
      const response = await tm.fetch(`${slowBase}/stream`, { signal: stream.signal });
      const reader = response.body.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      stream.abort();
      const afterResponse = await reader.read().then(() => 'read', (e) => e.name);
      const own = (await tm.fetch('/api/me')).status;
      return { beforeResponse, first, afterResponse, own, status: response.status, url: response.url };
    }, { custody, slowBase: slow.base });
    assert.equal(result.beforeResponse, 'AbortError');
    assert.equal(result.first, 'first chunk\n');
    assert.equal(result.status, 200);
    assert.equal(result.url, `${slow.base}/stream`);
    assert.equal(result.afterResponse, 'AbortError');
    assert.equal(result.own, 200);
    // The server saw both connections closed by the client (the fetch that was aborted, in
    // worker custody the worker's: the page sends no request itself).
    const mine = slow.seen.slice(before).filter((e) => e.path !== '/' && e.path !== 'OPTIONS');
    // Chromium closes an aborted body's socket on its own schedule: 2 s was once too short on a
    // loaded machine (page custody); wait up to 10 s, the expectation is unchanged.
    for (let i = 0; i < 200 && !mine.every((e) => e.closed); i += 1) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(mine.map((e) => [e.path, e.closed]), [['/hang', true], ['/stream', true]]);
    assert.deepEqual(page.errors, []);
    await context.close();
  });
}

for (const custody of ['page', 'worker']) {
  test(`custody ${custody}: start() without a non-empty session hint cookie sends no refresh request`, async () => {
    const { base } = await server();
    const context = await browser.newContext();
    const refreshes = [];
    context.on('request', (r) => { if (new URL(r.url()).pathname === '/auth/refresh') refreshes.push(r.url()); });
    const page = await open(context, base);
    const started = await page.evaluate(async (custody) => {
      const make = () => new window.TokenManager({ custody, refreshUrl: '/auth/refresh', sessionHint: 'tw_hint', crossTab: false });
      // No hint cookie, then one with an empty value: both mean "no session" (no request).
      const first = await make().start();
      document.cookie = 'tw_hint=; path=/';
      const empty = await make().start();
      // A non-empty hint: start() asks the server (no session there: false after the request).
      document.cookie = 'tw_hint=1; path=/';
      const present = await make().start();
      return { first, empty, present };
    }, custody);
    assert.deepEqual(started, { first: false, empty: false, present: false });
    assert.equal(refreshes.length, 1, `refresh requests: ${refreshes}`);
    assert.deepEqual(page.errors, []);
    await context.close();
  });
}

test('custody worker: a terminated worker ends the session with typed errors, and start() recovers', async () => {
  const { base } = await server();
  const context = await browser.newContext();
  const page = await open(context, base);
  const result = await page.evaluate(async (slowBase) => {
    const tm = new window.TokenManager({ custody: 'worker', loginUrl: '/auth/login', refreshUrl: '/auth/refresh' });
    const events = [];
    for (const name of ['change', 'loggedOut']) tm.on(name, (e) => events.push(`${e.type}:${e.state ?? e.reason}`));
    await tm.login({ username: 'demo', password: 'demo-password' });
    const pending = tm.fetch(`${slowBase}/hang`).then(() => 'resolved', (e) => e.code);
    const refreshing = tm.refresh().then(() => 'refreshed', (e) => e.code);
    await refreshing;
    // A response whose body is still arriving when the worker goes.
    const streaming = (await tm.fetch(`${slowBase}/stream`)).body.getReader();
    await streaming.read();
    const t0 = performance.now();
    tm.__worker.terminate();
    const lost = await pending;
    const ms = performance.now() - t0;
    const body = await Promise.race([
      streaming.read().then((r) => (r.done ? 'ended' : 'chunk'), (e) => `error ${e.name}`),
      new Promise((r) => setTimeout(() => r('still waiting after 3 s'), 3_000)),
    ]);
    const after = { state: tm.state, claims: tm.claims, fetch: await tm.fetch('/api/me').then((r) => r.status, (e) => e.code) };
    const restarted = await tm.start();
    const again = (await tm.fetch('/api/me')).status;
    tm.free();
    const freed = await tm.fetch('/api/me').then((r) => r.status, (e) => e.code);
    return { lost, ms, body, events, after, restarted, again, freed };
  }, slow.base);
  console.log(`# worker terminated: the pending request rejected with ${result.lost} after ${Math.round(result.ms)} ms`);
  assert.equal(result.lost, 'ERR_WORKER_LOST');
  assert.ok(result.ms < 5_000, `noticed in ${result.ms} ms`);
  assert.match(result.body, /^error /, 'the body of a response in flight ends with an error');
  assert.deepEqual(result.events, [
    'change:authenticated', 'change:refreshing', 'change:authenticated', // login, refresh()
    'change:anonymous', 'loggedOut:workerLost', // terminated
    'change:refreshing', 'change:authenticated', // start() in a new worker
  ]);
  assert.deepEqual(result.after, { state: 'anonymous', claims: null, fetch: 'ERR_LOGGED_OUT' });
  assert.equal(result.restarted, true, 'start() in a new worker restored the cookie session');
  assert.equal(result.again, 200);
  assert.equal(result.freed, 'ERR_LOGGED_OUT');
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('custody option: typed errors, same API, instanceof', async () => {
  const { base } = await server();
  const context = await browser.newContext();
  const page = await open(context, base);
  const result = await page.evaluate(async () => {
    const { TokenManager } = window;
    const code = (options) => { try { new TokenManager(options).free(); return 'ok'; } catch (e) { return e.code; } };
    const base = { refreshUrl: '/auth/refresh' };
    const worker = new TokenManager({ ...base, custody: 'worker', logoutUrl: '/auth/logout' });
    const page = new TokenManager({ ...base, custody: 'page' });
    const plain = new TokenManager({ ...base, custody: undefined });
    const listen = (() => { try { worker.on('nope', () => {}); return 'ok'; } catch (e) { return e.code; } })();
    const unsubscribe = worker.on('change', () => {});
    const started = await worker.start();
    const refresh = await worker.refresh().then(() => 'ok', (e) => e.code);
    // This entry's worker manager has no OAuth methods: a typed error, not a TypeError.
    const redirect = await worker.loginWithRedirect().then(() => 'ok', (e) => e.code);
    await worker.logout();
    const out = {
      bogus: code({ ...base, custody: 'vault' }),
      unknown: code({ ...base, custody: 'worker', refreshTokn: 'memory' }),
      expose: code({ ...base, custody: 'worker', exposeToken: true }),
      // The tokenwarden entry has no OAuth profile: refused, naming the entry that has it.
      oauth: (() => {
        try {
          new TokenManager({ custody: 'worker', oauth: { issuer: 'https://op.example', clientId: 'c', redirectUri: 'https://app.example/cb' } }).free();
          return 'ok';
        } catch (e) { return `${e.code} ${/tokenwarden\/oauth/.test(e.message)}`; }
      })(),
      share: code({ ...base, custody: 'worker', shareTokens: true }),
      listen,
      unsubscribe: typeof unsubscribe,
      instances: [worker instanceof TokenManager, page instanceof TokenManager, plain instanceof TokenManager],
      custody: [worker.custody, page.custody, plain.custody],
      started, refresh, redirect, state: worker.state,
      setTokens: (() => { try { worker.setTokens({}); return 'ok'; } catch (e) { return e.code; } })(),
    };
    worker.free(); page.free(); plain.free();
    return out;
  });
  assert.deepEqual(result, {
    bogus: 'ERR_INVALID_OPTIONS', unknown: 'ERR_INVALID_OPTIONS', expose: 'ERR_INVALID_OPTIONS',
    oauth: 'ERR_INVALID_OPTIONS true', share: 'ERR_INVALID_OPTIONS', listen: 'ERR_INVALID_OPTIONS',
    unsubscribe: 'function', instances: [true, true, true], custody: ['worker', 'page', 'page'],
    started: false, refresh: 'ERR_LOGGED_OUT', redirect: 'ERR_INVALID_OPTIONS', state: 'anonymous',
    setTokens: 'ERR_INVALID_OPTIONS',
  });
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('custody worker: the worker itself refuses what the page refuses, whatever its first message says', async () => {
  const { base } = await server();
  const context = await browser.newContext();
  const page = await open(context, base);
  const result = await page.evaluate(async () => {
    // A page script that skips custody.js and starts the shipped worker with options of its own.
    const start = (options) => new Promise((resolve) => {
      const worker = new Worker('/pkg/web/worker.js', { type: 'module' });
      const { port1, port2 } = new MessageChannel();
      port1.onmessage = ({ data }) => {
        worker.terminate();
        resolve(data.fatal ? data.fatal.code : data.ready ? 'ready' : 'other');
      };
      worker.postMessage({ port: port2, options, lock: null }, [port2]);
    });
    const base = { refreshUrl: `${location.origin}/auth/refresh`, crossTab: false };
    return {
      expose: await start({ ...base, exposeToken: true }),
      share: await start({ ...base, shareTokens: true }),
      oauth: await start({ crossTab: false, oauth: { issuer: 'https://op.example', clientId: 'c', redirectUri: 'https://app.example/cb' } }),
      plain: await start(base),
    };
  });
  assert.deepEqual(result, {
    expose: 'ERR_INVALID_OPTIONS', share: 'ERR_INVALID_OPTIONS', oauth: 'ERR_INVALID_OPTIONS', plain: 'ready',
  });
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('custody worker under a strict Content-Security-Policy (worker-src \'self\')', async () => {
  const { base } = await server();
  const context = await browser.newContext();
  const page = await context.newPage();
  const violations = [];
  page.on('console', (m) => { if (/Content Security Policy|Refused/.test(m.text())) violations.push(m.text()); });
  page.on('pageerror', (e) => violations.push(e.message));
  await page.goto(`${base}/csp.html`);
  await page.waitForFunction(() => document.title === 'ready', null, { timeout: 30_000 })
    .catch((e) => { throw new Error(`${e.message}: ${violations.join('; ')}`); });
  assert.deepEqual(await page.evaluate(() => window.result), { state: 'authenticated', status: 200 });
  assert.deepEqual(violations, []);
  await context.close();
});

// DPoP (RFC 9449): in worker custody the non-extractable key is made and used in the worker; a
// page script that listens on the channel receives no CryptoKey it could sign with (in page
// custody the key pair goes to sibling tabs by structured clone: the control).
for (const custody of ['page', 'worker']) {
  test(`custody ${custody}, DPoP: the key stays in the manager's realm`, async () => {
    const { base } = await server(['--dpop', '--dpop-nonce']);
    const context = await browser.newContext();
    const page = await open(context, base, '/oauth.html');
    const result = await page.evaluate(async ({ custody, name }) => {
      const heard = [];
      new BroadcastChannel(name).onmessage = (e) => heard.push(e.data);
      const tm = new window.TokenManager({ custody, dpop: true, loginUrl: '/auth/login', refreshUrl: '/auth/refresh' });
      await tm.login({ username: 'demo', password: 'demo-password' });
      const statuses = [];
      for (let i = 0; i < 3; i += 1) statuses.push((await tm.fetch('/api/me')).status);
      await tm.refresh();
      statuses.push((await tm.fetch('/api/me')).status);
      await new Promise((r) => setTimeout(r, 200));
      const keys = heard.flatMap((m) => Object.values(m)).filter((v) => v && typeof v === 'object'
        && (v instanceof CryptoKey || v.privateKey instanceof CryptoKey)).length;
      return { statuses, jkt: typeof tm.dpopJkt, keys, messages: heard.length };
    }, { custody, name: channelName(base) });
    console.log(`# custody ${custody}, DPoP: ${result.messages} channel messages heard, ${result.keys} carrying a CryptoKey`);
    assert.deepEqual(result.statuses, [200, 200, 200, 200]);
    assert.equal(result.jkt, 'string', 'dpopJkt reaches the page (a public thumbprint)');
    if (custody === 'worker') assert.equal(result.keys, 0, 'a CryptoKey on a channel the page can join');
    else assert.ok(result.keys > 0, 'the control: page custody shares the key pair with siblings');
    assert.deepEqual(page.errors, []);
    await context.close();
  });
}

// Each manager entry's worker custody loads that entry's own wasm, in the page and in the worker:
// never another entry's (the oauth entry's is larger), and one module per page.
for (const entry of ['', 'oauth/'])
test(`worker custody from the ${entry ? 'tokenwarden/oauth' : 'tokenwarden'} entry loads only that entry's wasm`, async () => {
  writeFileSync(join(www, 'entry.html'), `<!doctype html><meta charset="utf-8"><title>loading</title>
<script type="module">
  const { TokenManager } = await import('/pkg/${entry}web/index.js');
  const tm = new TokenManager({ custody: 'worker', loginUrl: '/auth/login', refreshUrl: '/auth/refresh', crossTab: false });
  await tm.login({ username: 'demo', password: 'demo-password' });
  window.result = { state: tm.state, status: (await tm.fetch('/api/me')).status };
  document.title = 'ready';
</script>`);
  const base = (await server()).base;
  const context = await browser.newContext();
  const page = await context.newPage();
  const workers = [];
  page.on('worker', (w) => workers.push(w));
  await page.goto(`${base}/entry.html`);
  await page.waitForFunction(() => document.title === 'ready', null, { timeout: 30_000 });
  assert.deepEqual(await page.evaluate(() => window.result), { state: 'authenticated', status: 200 });
  const wasmOf = (names) => names.map((n) => new URL(n).pathname).filter((p) => p.endsWith('.wasm'));
  const inPage = wasmOf(await page.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name)));
  assert.equal(workers.length, 1, 'one custody worker');
  const inWorker = wasmOf(await workers[0].evaluate(() => performance.getEntriesByType('resource').map((e) => e.name)));
  const own = `/pkg/${entry}web/tokenwarden_bg.wasm`;
  assert.deepEqual(inPage, [own]);
  assert.deepEqual(inWorker, [own]);
  assert.equal(new URL(workers[0].url()).pathname, `/pkg/${entry}web/worker.js`);
  await context.close();
});

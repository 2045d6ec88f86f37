// The npm package's TokenManager in Node 20: `import { TokenManager } from 'tokenwarden'` with no
// init call, option validation, and (memory mode: Node has no cookie jar) a real session against
// the reference server started with `--refresh-transport body`.
// Run: cargo build -p tokenwarden-server && node --test tests/js/  (after make pkg; `make test-js`
// links node_modules/tokenwarden to pkg/). The server binary comes from $TW_SERVER_BIN
// (default target/debug/tokenwarden-server).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TokenManager } from 'tokenwarden';
import { startServer, stopServer } from '../support/harness.mjs';


const codeOf = (fn) => {
  try { fn(); } catch (e) { assert.ok(e instanceof Error, 'throws an Error'); return e.code; }
  return 'accepted';
};

test('imports without an init call and constructs with absolute loopback URLs', () => {
  const tm = new TokenManager({
    loginUrl: 'http://127.0.0.1:8080/auth/login',
    refreshUrl: 'http://127.0.0.1:8080/auth/refresh',
    logoutUrl: 'http://127.0.0.1:8080/auth/logout',
    allowedOrigins: ['http://127.0.0.1:8080'],
  });
  assert.equal(tm.state, 'anonymous');
  assert.equal(tm.claims, null);
  assert.equal(tm.expiresAt, null);
  assert.equal(tm.clockOffsetMs, null);
  const off = tm.on('change', () => {});
  assert.equal(typeof off, 'function');
  off();
  tm.free();
});

test("the refresh policy's bounds are the core's (the Rust shell refuses the same, in the same words)", () => {
  const refreshUrl = 'http://127.0.0.1:8080/auth/refresh';
  const refusal = (options) => {
    try {
      new TokenManager({ refreshUrl, crossTab: false, ...options }).free();
    } catch (e) {
      return [e.code, e.message];
    }
    return 'accepted';
  };
  const range = (option, min, max) => ['ERR_INVALID_OPTIONS', `option "${option}" must be a number from ${min} to ${max}`];
  const tenYears = 316_224_000_000; // ms: core::time::MAX_DURATION_MS
  for (const [options, expected] of [
    [{ backoffMaxMs: tenYears + 1 }, range('backoffMaxMs', 0, tenYears)],
    [{ minRefreshIntervalMs: -1 }, range('minRefreshIntervalMs', 0, tenYears)],
    [{ maxRefreshLeadMs: Infinity }, range('maxRefreshLeadMs', 0, tenYears)],
    [{ refreshJitterFraction: NaN }, range('refreshJitterFraction', 0, 1)],
    [{ refreshLeadFraction: 1.01 }, range('refreshLeadFraction', 0, 1)],
    // One browser timer: setTimeout fires at once past 2^31-1 ms.
    [{ requestTimeoutMs: 2 ** 31 }, range('requestTimeoutMs', 1, 2 ** 31 - 1)],
    [{ requestTimeoutMs: 0.5 }, range('requestTimeoutMs', 1, 2 ** 31 - 1)],
    [{ minRefreshLeadMs: 10_000, maxRefreshLeadMs: 5_000 }, ['ERR_INVALID_OPTIONS', 'minRefreshLeadMs exceeds maxRefreshLeadMs']],
    [{ backoffInitialMs: '5' }, ['ERR_INVALID_OPTIONS', 'option "backoffInitialMs" must be a number']],
    [{ backoffMaxMs: tenYears, maxRefreshLeadMs: tenYears, requestTimeoutMs: 2 ** 31 - 1 }, 'accepted'],
    [{ refreshLeadFraction: 0, refreshJitterFraction: 1, minRefreshLeadMs: 0 }, 'accepted'],
  ]) {
    assert.deepEqual(refusal(options), expected, JSON.stringify(options));
  }
});

test('invalid options throw ERR_INVALID_OPTIONS', () => {
  const refreshUrl = 'http://127.0.0.1:8080/auth/refresh';
  for (const options of [
    undefined,
    {},
    { refreshUrl, bogus: 1 },
    { refreshUrl, loginUlr: 'http://127.0.0.1:8080/auth/login' },
    { refreshUrl: 'http://auth.example.com/refresh' },        // plain http, not loopback
    { refreshUrl: '/auth/refresh' },                          // relative, and Node has no page
    { refreshUrl, refreshToken: 'localStorage' },
    { refreshUrl, allowedOrigins: ['https://api.example.com/path'] },
    { refreshUrl, requestTimeoutMs: 0 },
    { refreshUrl, custody: 'worker' },                        // Node has no module Web Workers
    { refreshUrl, custody: 'vault' },
  ]) {
    assert.equal(codeOf(() => new TokenManager(options)), 'ERR_INVALID_OPTIONS', JSON.stringify(options));
  }
  const tm = new TokenManager({ refreshUrl });
  assert.equal(codeOf(() => tm.on('refresh', () => {})), 'ERR_INVALID_OPTIONS');
  assert.equal(tm.custody, 'page');
  tm.free();
  new TokenManager({ refreshUrl, custody: 'page' }).free();
});


let server;
before(async () => { server = await startServer(['--port', '0', '--test-hooks', '--quiet', '--refresh-transport', 'body', '--access-ttl', '60']); });
after(() => stopServer(server));

test('memory mode: login, fetch, refresh, logout against the reference server', async () => {
  const { base } = server;
  const stats = async () => (await fetch(`${base}/__test/stats`)).json();
  const tm = new TokenManager({
    loginUrl: `${base}/auth/login`,
    refreshUrl: `${base}/auth/refresh`,
    logoutUrl: `${base}/auth/logout`,
    refreshToken: 'memory',
    allowedOrigins: [base],
  });
  const events = [];
  tm.on('loggedOut', (e) => events.push(e.reason));
  await tm.login({ username: 'demo', password: 'demo-password' });
  assert.equal(tm.state, 'authenticated');
  assert.equal(tm.claims.sub, 'demo');
  const me = await tm.fetch(`${base}/api/me`);
  assert.equal(me.status, 200);
  assert.equal((await me.json()).authorization_header_received, true);
  const rotations = (await stats()).rotations;
  await tm.refresh();
  assert.equal((await stats()).rotations, rotations + 1);
  assert.equal((await tm.fetch(`${base}/api/me`)).status, 200);
  await tm.logout();
  assert.equal(tm.state, 'anonymous');
  assert.deepEqual(events, ['logout']);
  assert.equal((await stats()).active_families, 0);
  await assert.rejects(tm.fetch(`${base}/api/me`), (e) => e.code === 'ERR_LOGGED_OUT');
  tm.free();
});

// The in-page side of the Chromium benchmarks; bundled by esbuild into www/bench/bundle.js.
// The page (benches/web/index.html) imports tokenwarden from /pkg/web/index.js and passes it in.
import * as jose from 'jose';
import { jwtDecode } from 'jwt-decode';
import { compare } from './harness.mjs';
import { checkAgreement, verifySuite, decodeSuite } from './cases.mjs';

const log = (s) => console.log(`chromium: ${s}`);

export async function verifyAndDecode(tw, opts, twSync = null) {
  const data = await fetch('/bench/tokens.json').then((r) => r.json());
  await checkAgreement(tw, jose, data);
  const o = { ...opts, log };
  return { verify: await verifySuite(tw, jose, data, o, twSync), decode: await decodeSuite(tw, jose, jwtDecode, data, o) };
}

/** A logged-in manager (same-origin reference server) and the token it holds. */
async function session(tw) {
  const tm = new tw.TokenManager({
    loginUrl: '/auth/login', refreshUrl: '/auth/refresh', logoutUrl: '/auth/logout', exposeToken: true,
  });
  await tm.login({ username: 'demo', password: 'demo-password' });
  const token = await tm.getAccessToken();
  return { tm, token };
}

/**
 * The three ways to send a request:
 * - `fetch`: plain fetch with a prebuilt init carrying the header (no per-call work; the floor);
 * - `wrapper`: a hand-written JS wrapper (`new Headers(init.headers)` + `set('Authorization')`);
 * - `tm.fetch`: tokenwarden's manager; for a string URL its JS fast path resolves the URL, asks
 *   wasm once for the header (origin check and session gate) and sends like the wrapper.
 * All three send the same bearer token, so the server does the same work for each.
 */
function variants(tm, token, url) {
  const init = { headers: { authorization: `Bearer ${token}` } };
  const wrapper = (input, init2 = {}) => {
    const headers = new Headers(init2.headers);
    headers.set('Authorization', `Bearer ${token}`);
    return fetch(input, { ...init2, headers });
  };
  return {
    fetch: () => fetch(url, init),
    wrapper: () => wrapper(url),
    'tm.fetch': () => tm.fetch(url),
  };
}

const NAMES = ['fetch', 'wrapper', 'tm.fetch'];
const DIFFS = [['wrapper', 'fetch'], ['tm.fetch', 'fetch'], ['tm.fetch', 'wrapper']];
const PAIRS = [['tm.fetch', 'fetch'], ['tm.fetch', 'wrapper']];

/**
 * Preparation cost without network, two ways:
 * - `stub`: the global `fetch` is replaced by a function returning an already-resolved Response
 *   (the wrapper looks it up at call time; tokenwarden's manager captures it at construction, so
 *   a second manager is built under the stub). What remains is
 *   exactly each variant's own work plus one promise hop, and `fetch` is the baseline.
 * - `serviceWorker`: real `fetch` to a URL a Service Worker answers (`/bench/null/...`) without
 *   touching the network: the browser's whole request path (Request objects, IPC to the worker)
 *   is included, equally for all three; differences are the preparation cost, in more noise.
 */
export async function fetchPrep(tw, opts) {
  const { tm, token } = await session(tw);
  const out = {};
  const real = globalThis.fetch;
  const ok = new Response(null, { status: 200 });
  globalThis.fetch = () => Promise.resolve(ok);
  // A manager keeps the `fetch` that was global at its construction: build one that sees the
  // stub, holding the same token.
  const stubbed = new tw.TokenManager({ refreshUrl: '/auth/refresh', crossTab: false });
  stubbed.setTokens({ accessToken: token, expiresIn: 300 });
  try {
    const v = variants(stubbed, token, '/api/me');
    out.stub = await compare(NAMES.map((name) => ({ name, fn: v[name], async: true })), PAIRS,
      { ...opts, diffs: DIFFS, log: (s) => log(`fetch prep (stub): ${s}`) });
  } finally {
    globalThis.fetch = real;
    stubbed.free();
  }
  if (!navigator.serviceWorker?.controller) throw new Error('the page is not controlled by the bench service worker');
  const v = variants(tm, token, '/bench/null/me');
  const probe = await v['tm.fetch']();
  if (probe.headers.get('x-bench-sw') !== '1') throw new Error('the service worker did not answer');
  out.serviceWorker = await compare(
    NAMES.map((name) => ({ name, fn: async () => { const r = await v[name](); await r.arrayBuffer(); return r; }, async: true })),
    PAIRS, { ...opts, diffs: DIFFS, log: (s) => log(`fetch prep (service worker): ${s}`) });
  await tm.logout();
  tm.free();
  return out;
}

/** End to end against the reference server: GET /api/me, sequentially and with 50 in flight. */
export async function fetchE2E(tw, { rounds = 3, requests = 2000, inFlight = 50, warmupRequests = 100 } = {}) {
  const { tm, token } = await session(tw);
  const v = variants(tm, token, '/api/me');
  const errors = Object.fromEntries(NAMES.map((n) => [n, 0]));
  const one = async (name) => {
    const r = await v[name]();
    await r.text();
    if (r.status !== 200) errors[name]++;
  };
  const sequential = (name) => async () => { for (let i = 0; i < requests; i++) await one(name); };
  const pooled = (name) => async () => {
    let next = 0;
    const worker = async () => { while (next < requests) { next++; await one(name); } };
    await Promise.all(Array.from({ length: inFlight }, worker));
  };
  const perRequest = (res) => {
    // Each batch is `requests` requests: convert batches/s into requests/s and us per request.
    for (const c of Object.values(res.cases)) {
      c.requestsPerSec = { median: c.opsPerSec.median * requests, min: c.opsPerSec.min * requests, max: c.opsPerSec.max * requests, n: c.opsPerSec.n };
      c.usPerRequest = { median: c.usPerOp.median / requests, min: c.usPerOp.min / requests, max: c.usPerOp.max / requests, n: c.usPerOp.n };
    }
    for (const [k, d] of Object.entries(res.diffsUs ?? {})) {
      res.diffsUs[k] = { median: d.median / requests, min: d.min / requests, max: d.max / requests, n: d.n };
    }
    return res;
  };
  // Warm-up: a short run of each variant (connections, JIT), not timed; then no warm-up batch.
  for (const name of NAMES) for (let i = 0; i < warmupRequests; i++) await one(name);
  const o = { rounds, iterations: 1, warmup: false, diffs: DIFFS, logDivisor: requests };
  const out = {
    requests, inFlight, rounds,
    sequential: perRequest(await compare(NAMES.map((name) => ({ name, fn: sequential(name), async: true })), PAIRS,
      { ...o, log: (s) => log(`e2e ${requests} sequential, per request: ${s}`) })),
    concurrent: perRequest(await compare(NAMES.map((name) => ({ name, fn: pooled(name), async: true })), PAIRS,
      { ...o, log: (s) => log(`e2e ${requests} with ${inFlight} in flight, per request: ${s}`) })),
    errors,
  };
  await tm.logout();
  tm.free();
  return out;
}

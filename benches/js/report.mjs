// Merges the results of scripts/bench.sh into report.json and report.md.
// Usage: node report.mjs RESULTS_DIR OUT_DIR   (RESULTS_DIR holds size.json, node.json,
// chromium.json, native.json, load.json, meta.json, timings.txt)
import fs from 'node:fs';
import path from 'node:path';

const [resDir, outDir] = process.argv.slice(2);
const load = (f) => {
  const p = path.join(resDir, f);
  return fs.existsSync(p) ? JSON.parse(fs.readFileSync(p, 'utf8')) : null;
};
const meta = load('meta.json');
const size = load('size.json');
const node = load('node.json');
const chromium = load('chromium.json');
const native = load('native.json');
const paired = load('paired.json');
const server = load('load.json');
const serverPure = load('load-pure.json');
const dpop = load('dpop.json');
const timingsFile = path.join(resDir, 'timings.txt');
const timings = fs.existsSync(timingsFile)
  ? fs.readFileSync(timingsFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => {
    const [secs, ...name] = l.split(' ');
    return { step: name.join(' '), seconds: Number(secs) };
  })
  : [];

const BUDGETS = { base: 32_000, oauth: 60_000 }; // the entries' targets, bytes (1 KB = 1000 bytes)
const KB = (b) => `${(b / 1000).toFixed(1)} KB`;
const signedKB = (b) => `${b >= 0 ? '+' : '−'}${(Math.abs(b) / 1000).toFixed(1)} KB`;
const f = (x, d = 1) => {
  if (x === null || x === undefined || Number.isNaN(x)) return 'n/a';
  const a = Math.abs(x);
  if (a >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(d);
  return x.toFixed(d + 1);
};
const mmm = (s, d) => (s ? `${f(s.median, d)} (${f(s.min, d)}–${f(s.max, d)})` : 'n/a');
const ratio = (s) => (s && Number.isFinite(s.median) ? `${s.median.toFixed(2)}× (${s.min?.toFixed(2)}–${s.max?.toFixed(2)})` : 'n/a');
// A ratio's median with two decimals; 'n/a' when the run could not measure it (the quick mode's
// one short round can time an operation at 0 on Chromium's coarse clock, and a ratio with it is null).
const x2 = (r) => (r && Number.isFinite(r.median) ? r.median.toFixed(2) : 'n/a');
const usFromNs = (s) => ({ median: s.median / 1e3, min: s.min / 1e3, max: s.max / 1e3 });

// --- derived, for report.json -----------------------------------------------------------------
const budgets = {};
if (size) {
  for (const [name, limit] of Object.entries(BUDGETS)) {
    const b = size.tokenwarden[name];
    if (b) budgets[name] = { limitBytes: limit, bytes: b.totalGzip, marginBytes: limit - b.totalGzip, within: b.totalGzip <= limit };
  }
}

const md = [];
const p = (s = '') => md.push(s);
p('# tokenwarden benchmarks');
p();
if (meta) {
  p(`${meta.date} · commit \`${meta.commit}\`${meta.dirty ? ' (with uncommitted changes)' : ''} · ${meta.nproc} cores, ${meta.cpu} · `
    + `${meta.node} · ${chromium?.runtime ?? meta.chromium} · ${meta.rustc} · load average ${meta.loadStart} at start, ${meta.loadEnd} at end`);
  p();
  const total = timings.reduce((a, t) => a + t.seconds, 0);
  p(`Runtime of scripts/bench.sh ${Math.floor(total / 60)} min ${total % 60} s, scripts/setup.sh not included (${timings.map((t) => `${t.step} ${t.seconds} s`).join(', ')}).`);
  p();
}
p('Every timing is the median over interleaved rounds, with (min–max) over the rounds; every ratio');
p('compares two cases measured back to back within each round (median and range of the per-round');
p('ratios). Speed ratios are ops/s of tokenwarden ÷ ops/s of the other: above 1 tokenwarden is faster.');
p('Sizes are exact byte counts (1 KB = 1000 bytes). See "Method" at the end.');
p();

// --- summary ----------------------------------------------------------------------------------
const cr = chromium;
p('## Summary (README table)');
p();
p(`| ${meta?.date?.slice(0, 10) ?? ''}, ${meta?.nproc ?? '?'}-core ${meta?.cpu ?? ''}, ${cr?.runtime ?? ''}, ${node?.runtime ?? ''} | tokenwarden | alternative | tokenwarden ÷ alternative |`);
p('|---|---|---|---|');
if (size) {
  const peer = (k) => size.peers[k];
  const oidc = peer('oidc-client-ts');
  for (const [name, b] of Object.entries(size.tokenwarden)) {
    const bud = budgets[name];
    p(`| Size, ${b.label} (page load: wasm + JS, gzip -9)${bud ? `; budget ${KB(bud.limitBytes)}` : ''} | ${KB(b.totalGzip)}${bud ? ` (${signedKB(bud.marginBytes)} margin)` : ''} | oauth4webapi ${KB(peer('oauth4webapi').gzip)}; oidc-client-ts ${KB(oidc.gzip)}; auth0-spa-js ${KB(peer('auth0-spa-js').gzip)}; jose verify ${KB(peer('jose').gzip)} | ${(b.totalGzip / oidc.gzip).toFixed(1)}× oidc-client-ts's bytes |`);
  }
}
for (const [rt, res] of [['Chromium', cr], ['Node', node]]) {
  if (!res) continue;
  for (const alg of ['HS256', 'RS256', 'PS256', 'ES256', 'EdDSA']) {
    const v = res.verify[alg];
    if (!v) continue;
    p(`| verifyJwt ${alg}, ${rt} (µs/op) | ${f(v.cases.tokenwarden.usPerOp.median)} | jose ${f(v.cases.jose.usPerOp.median)} | ${x2(v.ratios['tokenwarden / jose'])}× speed |`);
    const sync = v.cases['tokenwarden hmac-sync'];
    if (sync) p(`| verifyJwt ${alg} with feature hmac-sync (HMAC in wasm), ${rt} (µs/op) | ${f(sync.usPerOp.median)} | jose ${f(v.cases.jose.usPerOp.median)} | ${x2(v.ratios['tokenwarden hmac-sync / jose'])}× speed |`);
  }
  const d = res.decode;
  p(`| decodeJwt, ${rt} (µs/op) | ${f(d.cases.tokenwarden.usPerOp.median)} | jose decodeJwt ${f(d.cases.jose.usPerOp.median)}; jose decodeJwt + decodeProtectedHeader ${f(d.cases['jose header + payload'].usPerOp.median)}; jwt-decode ${f(d.cases['jwt-decode'].usPerOp.median)} | ${x2(d.ratios['tokenwarden / jose'])}× / ${x2(d.ratios['tokenwarden / jose header + payload'])}× / ${x2(d.ratios['tokenwarden / jwt-decode'])}× speed |`);
}
if (cr?.fetchPrep) {
  const s = cr.fetchPrep.stub;
  p(`| fetch preparation, Chromium (µs/call over plain fetch) | tm.fetch +${f(s.diffsUs['tm.fetch - fetch'].median)} | JS wrapper +${f(s.diffsUs['wrapper - fetch'].median)} | +${f(s.diffsUs['tm.fetch - wrapper'].median)} µs/call |`);
}
if (cr?.fetchE2E) {
  const e = cr.fetchE2E;
  const sq = e.sequential.cases;
  const cc = e.concurrent.cases;
  p(`| GET /api/me, Chromium, ${e.requests} sequential (µs/request) | ${f(sq['tm.fetch'].usPerRequest.median, 0)} | fetch ${f(sq.fetch.usPerRequest.median, 0)}; wrapper ${f(sq.wrapper.usPerRequest.median, 0)} | ${x2(e.sequential.ratios['tm.fetch / fetch'])}× speed vs fetch |`);
  p(`| GET /api/me, Chromium, ${e.inFlight} in flight (requests/s) | ${f(cc['tm.fetch'].requestsPerSec.median)} | fetch ${f(cc.fetch.requestsPerSec.median)}; wrapper ${f(cc.wrapper.requestsPerSec.median)} | ${x2(e.concurrent.ratios['tm.fetch / fetch'])}× vs fetch |`);
}
if (dpop) {
  p(`| DPoP proof per request, Chromium (µs; GET /api/me, ${dpop.requests} sequential) | DPoP ${f(dpop.dpopUsPerRequest, 0)} | Bearer ${f(dpop.bearerUsPerRequest, 0)} | +${f(dpop.proofUsPerRequest, 0)} µs/request (${Number.isFinite(dpop.ratio) ? dpop.ratio.toFixed(2) : 'n/a'}×); WebCrypto ES256 sign alone ${f(dpop.signUs, 0)} µs |`);
}
if (native) {
  const n = (id) => native[id] && f(native[id].nsPerIter.median / 1e3);
  const algs = ['HS256', 'RS256', 'ES256', 'EdDSA'];
  const jwt = (alg) => native[`jsonwebtoken/${alg}`];
  p(`| Native core, verify (µs/op) | ${algs.map((a) => `${a} ${n(`verify/${a}`) ?? 'n/a'}`).join(', ')} | jsonwebtoken ${algs.map((a) => n(`jsonwebtoken/${a}`) ?? 'n/a').join(' / ')} | ${algs.map((a) => (native[`verify/${a}`] && jwt(a) ? (jwt(a).nsPerIter.median / native[`verify/${a}`].nsPerIter.median).toFixed(2) : 'n/a')).join(' / ')}× speed |`);
  if (native['verify-ring/ES256']) {
    p(`| Native core on ring (feature \`ring\`), verify (µs/op) | ${algs.map((a) => `${a} ${n(`verify-ring/${a}`) ?? 'n/a'}`).join(', ')} | jsonwebtoken ${algs.map((a) => n(`jsonwebtoken/${a}`) ?? 'n/a').join(' / ')} | ${algs.map((a) => (native[`verify-ring/${a}`] && jwt(a) ? (jwt(a).nsPerIter.median / native[`verify-ring/${a}`].nsPerIter.median).toFixed(2) : 'n/a')).join(' / ')}× speed |`);
  }
  if (paired) {
    const row = (a) => paired.rows.find((r) => r.alg === a);
    p(`| Native core on ${paired.primitive} vs jsonwebtoken, **interleaved** (\`benches/paired.rs\`, ${paired.rows[0]?.rounds ?? 0} rounds; µs/op) | ${algs.map((a) => `${a} ${row(a) ? f(row(a).oursNs / 1e3) : 'n/a'}`).join(', ')} | jsonwebtoken ${algs.map((a) => (row(a) ? f(row(a).jsonwebtokenNs / 1e3) : 'n/a')).join(' / ')} | ${algs.map((a) => (row(a) ? row(a).ratio.toFixed(2) : 'n/a')).join(' / ')}× speed (median round) |`);
  }
  const br = native['session/before_request'];
  const rc = native['session/refresh_cycle'];
  p(`| Native session step (ns) | request gate ${br ? f(br.nsPerIter.median) : 'n/a'}; refresh cycle ${rc ? f(rc.nsPerIter.median, 0) : 'n/a'} | | |`);
}
if (server) {
  const pure = serverPure ? `pure-Rust primitive (\`--no-default-features\`) ${f(serverPure.requestsPerSec.median)} req/s, p99 ${f(serverPure.p99Ms.median)} ms` : '';
  const ratio = serverPure ? `${(server.requestsPerSec.median / serverPure.requestsPerSec.median).toFixed(2)}× throughput` : '';
  p(`| Reference server GET /api/me on ring, ${server.connections} connections (loopback, wrk) | ${f(server.requestsPerSec.median)} req/s, p99 ${f(server.p99Ms.median)} ms, ${server.errors} errors | ${pure} | ${ratio} |`);
}
p();

// --- 1. size ------------------------------------------------------------------------------------
if (size) {
  p('## 1. Size: what a page downloads');
  p();
  p('Ours (bold): the page load of each build\'s browser entry as `scripts/build-pkg.sh` ships it, its');
  p('wasm (gzip -9) plus every JS file the entry loads statically (one gzip -9 stream, as `scripts/size-budget.sh` counts; files loaded on use, such as');
  p('worker custody\'s `remote.js`, are not counted). The peers, installed from npm in this run: a minimal');
  p('page each (`benches/peers/usage/`: configure, handle the redirect, log in and out, call one API;');
  p(`jose: \`jwtVerify\` + \`createRemoteJWKSet\`), \`esbuild ${size.esbuild} --bundle --minify --format=esm --platform=browser\`, gzip -9.`);
  p();
  p(size.markdown);
  p();
  p('| build of ours | entry | wasm | wasm gzip -9 | JS gzip -9 | files |');
  p('|---|---|---:|---:|---:|---|');
  for (const [name, b] of Object.entries(size.tokenwarden)) {
    p(`| ${name} | \`${path.relative(path.resolve(outDir, '..', '..'), b.entry)}\` | ${b.wasmBytes.toLocaleString('en-US')} | ${b.wasmGzip.toLocaleString('en-US')} | ${b.jsGzip.toLocaleString('en-US')} | ${b.files.join(', ')} |`);
  }
  p();
}

// --- 2./3. verification and decoding -------------------------------------------------------------
const verifyTable = (res) => {
  p(`### ${res.runtime} (${res.rounds} rounds, batches of about ${res.batchMs} ms)`);
  p();
  p('| alg | tokenwarden ops/s | tokenwarden µs/op | jose ops/s | jose µs/op | speed tokenwarden ÷ jose |');
  p('|---|---|---|---|---|---|');
  for (const [alg, v] of Object.entries(res.verify)) {
    const t = v.cases.tokenwarden;
    const j = v.cases.jose;
    p(`| ${alg} | ${mmm(t.opsPerSec)} | ${f(t.usPerOp.median)} | ${mmm(j.opsPerSec)} | ${f(j.usPerOp.median)} | ${ratio(v.ratios['tokenwarden / jose'])} |`);
  }
  p();
};
if (node || cr) {
  p('## 2. Verification: `verifyJwt` vs jose `jwtVerify`');
  p();
  p('Same tokens for both (jose-signed, fresh keys each run; `kid`; 443 bytes of claims: iss, sub, two');
  p('audiences, iat, nbf, exp, jti, azp, scope, email, name, roles, org_id), same checks (`algorithms`');
  p('pinned, `issuer`, `audience`, exp/nbf). Keys imported once: tokenwarden `new KeySet(jwks)` and jose');
  p('`createLocalJWKSet(jwks)` over a set of four keys (ES256, EdDSA, RS256-2048, PS256-2048) chosen by `kid`; HS256');
  p('uses the one `oct` key (tokenwarden KeySet with `allowSymmetricKeys`; jose `importJWK`, since its local');
  p('JWK Sets take no `oct` keys). tokenwarden is synchronous; jose calls are awaited one at a time.');
  p('Before timing, both must accept every token and reject a tampered signature.');
  p();
  if (cr) verifyTable(cr);
  if (node) verifyTable(node);
  p('## 3. Decoding: `decodeJwt` vs jose (`decodeJwt`; `decodeJwt` + `decodeProtectedHeader`) and `jwt-decode`');
  p();
  p('The ES256 token. tokenwarden returns `{header, claims}` (both parsed and type-checked); jose\'s');
  p('`decodeJwt` and jwt-decode read the payload only, so the comparison on equal work is with jose\'s');
  p('`decodeJwt` + `decodeProtectedHeader` (both parts parsed). All four interleaved in the same rounds.');
  p();
  p('| runtime | tokenwarden µs/op | jose decodeJwt µs/op | jose both parts µs/op | jwt-decode µs/op | time ÷ jose decodeJwt | time ÷ jose both parts | speed ÷ jwt-decode |');
  p('|---|---|---|---|---|---|---|---|');
  const tr = (s) => (s ? `${(1 / s.median).toFixed(2)}× (${(1 / s.max).toFixed(2)}–${(1 / s.min).toFixed(2)})` : 'n/a');
  for (const res of [cr, node].filter(Boolean)) {
    const c = res.decode.cases;
    p(`| ${res.runtime} | ${mmm(c.tokenwarden.usPerOp)} | ${mmm(c.jose.usPerOp)} | ${mmm(c['jose header + payload'].usPerOp)} | ${mmm(c['jwt-decode'].usPerOp)} | ${tr(res.decode.ratios['tokenwarden / jose'])} | ${tr(res.decode.ratios['tokenwarden / jose header + payload'])} | ${ratio(res.decode.ratios['tokenwarden / jwt-decode'])} |`);
  }
  p();
}

// --- 4. fetch -----------------------------------------------------------------------------------
if (cr?.fetchPrep) {
  p(`## 4. Fetch overhead in ${cr.runtime}`);
  p();
  p('Three ways to send the same authenticated request (the same bearer token, so the server does the');
  p('same work): **fetch** = `fetch(url, init)` with a prebuilt init carrying the header (no per-call');
  p('work: the floor); **wrapper** = a hand-written JS wrapper (`new Headers(init.headers)`,');
  p('`headers.set("Authorization", ...)`, `fetch(url, {...init, headers})`); **tm.fetch** = tokenwarden\'s');
  p('`TokenManager#fetch` after `login({username: "demo", password: "demo-password"})` against the');
  p('reference server serving the page (same origin). Overheads are per-round differences in µs per call.');
  p();
  const prepRow = (label, r) => {
    const c = r.cases;
    p(`| ${label} | ${mmm(c.fetch.usPerOp, 2)} | ${mmm(c.wrapper.usPerOp, 2)} | ${mmm(c['tm.fetch'].usPerOp, 2)} | ${mmm(r.diffsUs['wrapper - fetch'], 2)} | ${mmm(r.diffsUs['tm.fetch - fetch'], 2)} | ${mmm(r.diffsUs['tm.fetch - wrapper'], 2)} |`);
  };
  p('**Preparation cost without network** (µs per call):');
  p();
  p('| method | fetch | wrapper | tm.fetch | wrapper − fetch | tm.fetch − fetch | tm.fetch − wrapper |');
  p('|---|---|---|---|---|---|---|');
  prepRow('stub `fetch` (preparation only)', cr.fetchPrep.stub);
  prepRow('Service Worker answers (browser request path, no network)', cr.fetchPrep.serviceWorker);
  p();
  p('- *stub*: `globalThis.fetch` is replaced for the measurement by a function returning an already');
  p('  resolved `Response`. The wrapper calls the global `fetch`, and tokenwarden uses the one that was global');
  p('  when its manager was built (a second manager, holding the same token, is built under the stub), so each');
  p('  variant does all of its own work (for tm.fetch: URL and origin check,');
  p('  the session gate in wasm, a new `Request`, the clone kept for a 401 retry, the response status check)');
  p('  and nothing else; "fetch" is then just the cost of the stub and an `await`. This isolates preparation.');
  p('- *Service Worker*: real `fetch` to `/bench/null/me`, answered by a Service Worker controlling the page');
  p('  (`respondWith(new Response(...))`): the whole browser request path without a socket. Its fixed cost is');
  p('  large on this machine, so differences are preparation cost plus noise (see the ranges).');
  p();
  const e = cr.fetchE2E;
  p(`**End to end against the reference server** (\`GET /api/me\`, same origin, ${e.rounds} interleaved rounds; each`);
  p(`round sends ${e.requests} requests per variant; bodies read; errors = responses other than 200):`);
  p();
  p('| mode | fetch | wrapper | tm.fetch | tm.fetch − fetch (µs/request) | speed tm.fetch ÷ fetch | speed tm.fetch ÷ wrapper | errors (fetch / wrapper / tm.fetch) |');
  p('|---|---|---|---|---|---|---|---|');
  const errs = `${e.errors.fetch} / ${e.errors.wrapper} / ${e.errors['tm.fetch']}`;
  const sq = e.sequential;
  p(`| ${e.requests} sequential, µs/request | ${mmm(sq.cases.fetch.usPerRequest, 0)} | ${mmm(sq.cases.wrapper.usPerRequest, 0)} | ${mmm(sq.cases['tm.fetch'].usPerRequest, 0)} | ${mmm(sq.diffsUs['tm.fetch - fetch'], 0)} | ${ratio(sq.ratios['tm.fetch / fetch'])} | ${ratio(sq.ratios['tm.fetch / wrapper'])} | ${errs} (both modes) |`);
  const cc = e.concurrent;
  p(`| ${e.inFlight} in flight, requests/s | ${mmm(cc.cases.fetch.requestsPerSec)} | ${mmm(cc.cases.wrapper.requestsPerSec)} | ${mmm(cc.cases['tm.fetch'].requestsPerSec)} | ${mmm(cc.diffsUs['tm.fetch - fetch'], 0)} | ${ratio(cc.ratios['tm.fetch / fetch'])} | ${ratio(cc.ratios['tm.fetch / wrapper'])} | |`);
  p();
  p('Chromium keeps at most 6 HTTP/1.1 connections per origin, so "50 in flight" queues in the browser.');
  p('Per-request time here is dominated by the browser and the server sharing 2 cores (and by the');
  p('DevTools protocol Playwright keeps attached); the preparation rows above are the overhead itself.');
  p();
}

// --- 5. native ----------------------------------------------------------------------------------
if (native || server) {
  p('## 5. Native');
  p();
}
if (native) {
  p('Criterion (`benches/core.rs`, `cargo bench --features hmac`, opt-level 3, no LTO), time per iteration');
  p('over criterion\'s samples: median (min–max), and criterion\'s median estimate [95% CI]. Same claims and');
  p('checks as above; keys from jwt-compact (`tests/support`). Not interleaved (criterion runs one at a time).');
  p();
  p('| benchmark | µs per iteration | criterion median [95% CI] µs |');
  p('|---|---|---|');
  for (const [id, r] of Object.entries(native).sort(([a], [b]) => a.localeCompare(b))) {
    const s = usFromNs(r.nsPerIter);
    const d = s.median < 0.1 ? 4 : 2;
    const c = r.criterionMedianNs;
    p(`| ${id} | ${s.median.toFixed(d)} (${s.min.toFixed(d)}–${s.max.toFixed(d)}) | ${(c.point / 1e3).toFixed(d)} [${(c.lower / 1e3).toFixed(d)}, ${(c.upper / 1e3).toFixed(d)}] |`);
  }
  p();
  if (paired) {
    p(`Interleaved (\`benches/paired.rs\`): each of ${paired.rows[0]?.rounds ?? 0} rounds times a ${paired.batchMs} ms batch of the core on ${paired.primitive}`);
    p('and one of jsonwebtoken on the same token, keys and checks, the order alternating; the ratio of a');
    p('round is jsonwebtoken\'s time ÷ ours (above 1: the core is faster).');
    p();
    p('| algorithm | core µs (median) | jsonwebtoken µs (median) | speed ratio, median round | quartiles | min–max |');
    p('|---|---|---|---|---|---|');
    for (const r of paired.rows) {
      p(`| ${r.alg} | ${(r.oursNs / 1e3).toFixed(2)} | ${(r.jsonwebtokenNs / 1e3).toFixed(2)} | **${r.ratio.toFixed(2)}×** | ${r.q1.toFixed(2)}–${r.q3.toFixed(2)} | ${r.min.toFixed(2)}–${r.max.toFixed(2)} |`);
    }
    p();
  }
  p('`session/before_request`: the request gate with a valid token. `session/refresh_cycle`: a timer');
  p('deadline, the refresh start, its successful result (new token installed, old one zeroized) and the');
  p('drained actions.');
  p();
}
if (server) {
  p(`**Reference server** (\`${server.url.replace(/:\d+\//, ':PORT/')}\`, bench-profile build, ES256 tokens verified by tokenwarden's core`);
  p(`on every request): ${server.tool.split(' ')[0]} ${server.tool.split(' ')[1] ?? ''}, ${server.threads} thread, ${server.connections} connections, ${server.runs} runs of ${server.secs} s on loopback.`);
  p();
  p('| requests/s | p50 ms | p99 ms | requests | errors (non-2xx + socket) |');
  p('|---|---|---|---|---|');
  p(`| ${mmm(server.requestsPerSec)} | ${mmm(server.p50Ms, 2)} | ${mmm(server.p99Ms, 2)} | ${server.requests.toLocaleString('en-US')} | **${server.errors}** |`);
  p();
  p('The load driver and the server share the machine\'s cores.');
  p();
}

// --- method and rerun ---------------------------------------------------------------------------
p('## Method');
p();
p('- Micro-benchmarks (`benches/js/harness.mjs`): each case is calibrated to a batch of about 50 ms and');
p('  warmed up; then every round runs each case once, in an order rotated every round; one ops/s sample');
p('  per case per round. The same harness runs in Node and in the page.');
p('- Chromium: headless, launched by playwright-core with `executablePath: /usr/bin/chromium`, the page');
p('  served by the reference server (`--www-dir target/bench/www --pkg-dir target/bench/pkg/oauth`).');
p('- Native builds use the `bench` profile with opt-level 3, no LTO, 16 codegen units (set through');
p('  `CARGO_PROFILE_BENCH_*` by `scripts/bench.sh`; the release profile is tuned for wasm size).');
p('- Other processes on the machine (the load averages above) add noise to every figure; the ranges show it.');
p();
p('## How to rerun');
p();
p('```sh');
p('make bench          # = scripts/setup.sh, then scripts/bench.sh');
p('scripts/bench.sh    # after setup; BENCH_ROUNDS (21), BENCH_E2E_ROUNDS (3), BENCH_LOAD_RUNS (3),');
p('                    # BENCH_LOAD_SECS (5) and BENCH_CRITERION_SECS (2) trade time for precision');
p('```');
p();
p('Results: `target/bench/report.md`, `target/bench/report.json` (every sample summary), raw parts in');
p('`target/bench/results/`.');

const report = {
  meta, timings, budgets, size, node, chromium, native, paired, server,
};
fs.writeFileSync(path.join(outDir, 'report.json'), JSON.stringify(report, null, 1));
fs.writeFileSync(path.join(outDir, 'report.md'), `${md.join('\n')}\n`);
console.log(`report: ${path.join(outDir, 'report.md')}, ${path.join(outDir, 'report.json')}`);

// Worker custody's cost, side by side in one Chromium run against the reference server:
// end-to-end GET /healthz with the token through plain fetch (header set by hand), tm.fetch in
// page custody and tm.fetch in worker custody, sequential and 50 in flight; then the bytes a
// page downloads for the package in each custody (what the worker fetches itself, and what the
// HTTP cache served), and the gzip -9 sizes of the files worker custody adds.
// Usage: node custody_bench.mjs BASE_URL PKG_DIR OUT.json   (run from the repository root)
import fs from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [base, pkgDir, outFile] = process.argv.slice(2);
const rounds = Number(process.env.BENCH_CUSTODY_ROUNDS ?? 7);
const sequential = Number(process.env.BENCH_CUSTODY_SEQUENTIAL ?? 300);
const parallel = Number(process.env.BENCH_CUSTODY_PARALLEL ?? 1000);
const inFlight = 50;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});

async function openPage(context) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}/bench/custody.html`);
  await page.waitForFunction(() => document.title === 'ready', null, { timeout: 30_000 })
    .catch((e) => { throw new Error(`bench page did not load: ${errors.join('; ') || e.message}`); });
  return { page, errors };
}

try {
  // ---- Speed -----------------------------------------------------------------------------------
  const context = await browser.newContext();
  const { page, errors } = await openPage(context);
  console.log(`custody bench: ${rounds} rounds of ${sequential} sequential and ${parallel} requests ${inFlight} in flight, per client (about 1 minute)`);
  const speed = await page.evaluate(async ({ rounds, sequential, parallel, inFlight }) => {
    const { TokenManager } = await import('/pkg/web/index.js');
    const credentials = { username: 'demo', password: 'demo-password' };
    const options = { loginUrl: '/auth/login', refreshUrl: '/auth/refresh', crossTab: false, refreshToken: 'memory' };
    const pageTm = new TokenManager({ ...options, exposeToken: true });
    await pageTm.login(credentials);
    const token = await pageTm.getAccessToken();
    const workerTm = new TokenManager({ ...options, custody: 'worker' });
    await workerTm.login(credentials);
    const url = '/healthz'; // the cheapest route: what differs is the client's work
    const clients = {
      plain: () => fetch(url, { headers: { Authorization: `Bearer ${token}` } }),
      page: () => pageTm.fetch(url),
      worker: () => workerTm.fetch(url),
    };
    const one = async (send) => {
      const response = await send();
      if (response.status !== 200) throw new Error(`status ${response.status}`);
      await response.arrayBuffer();
    };
    for (const send of Object.values(clients)) for (let i = 0; i < 50; i += 1) await one(send); // warm up
    const results = Object.fromEntries(Object.keys(clients).map((k) => [k, { sequential: [], parallel: [] }]));
    for (let round = 0; round < rounds; round += 1) {
      for (const [name, send] of Object.entries(clients)) {
        let t0 = performance.now();
        for (let i = 0; i < sequential; i += 1) await one(send);
        results[name].sequential.push(((performance.now() - t0) * 1000) / sequential);
        t0 = performance.now();
        let next = 0;
        await Promise.all(Array.from({ length: inFlight }, async () => {
          while (next < parallel) { next += 1; await one(send); }
        }));
        results[name].parallel.push(((performance.now() - t0) * 1000) / parallel);
      }
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    workerTm.free();
    pageTm.free();
    return Object.fromEntries(Object.entries(results).map(([k, v]) => [k, {
      sequentialUs: median(v.sequential), parallelUs: median(v.parallel),
    }]));
  }, { rounds, sequential, parallel, inFlight });
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  await context.close();

  // ---- Bytes -----------------------------------------------------------------------------------
  const bytes = {};
  for (const custody of ['page', 'worker']) {
    const ctx = await browser.newContext();
    const workers = [];
    const { page: p } = await openPage(ctx);
    p.on('worker', (w) => workers.push(w));
    const { startMs, entries: pageEntries } = await p.evaluate(async (custody) => {
      const { TokenManager } = await import('/pkg/web/index.js');
      const t0 = performance.now();
      const tm = new TokenManager({ refreshUrl: '/auth/refresh', custody, crossTab: false });
      await tm.start(); // answered by the worker in worker custody: it has loaded the package
      const startMs = performance.now() - t0;
      return { startMs, entries: performance.getEntriesByType('resource').filter((e) => e.name.includes('/pkg/'))
        .map((e) => ({ name: new URL(e.name).pathname, transfer: e.transferSize, body: e.encodedBodySize })) };
    }, custody);
    const workerEntries = [];
    for (const w of workers) {
      workerEntries.push(...await w.evaluate(() => performance.getEntriesByType('resource')
        .map((e) => ({ name: new URL(e.name).pathname, transfer: e.transferSize, body: e.encodedBodySize }))));
    }
    const sum = (entries, key) => entries.reduce((n, e) => n + e[key], 0);
    bytes[custody] = {
      startMs,
      page: { files: pageEntries.length, transfer: sum(pageEntries, 'transfer'), body: sum(pageEntries, 'body') },
      worker: {
        files: workerEntries.length + (custody === 'worker' ? 1 : 0),
        transfer: sum(workerEntries, 'transfer'), body: sum(workerEntries, 'body'),
        fromCache: workerEntries.filter((e) => e.transfer === 0).map((e) => e.name),
      },
    };
    await ctx.close();
  }
  const gz = (file) => gzipSync(fs.readFileSync(join(pkgDir, 'web', file)), { level: 9 }).length;
  const raw = (file) => fs.statSync(join(pkgDir, 'web', file)).size;
  // Whatever the package ships in web/ (read from the directory, so a file renamed or dropped by
  // the package build cannot break this step).
  const files = fs.readdirSync(join(pkgDir, 'web')).filter((f) => /\.(js|wasm)$/.test(f)).sort();
  const gzip = Object.fromEntries(files.map((f) => [f, { raw: raw(f), gzip: gz(f) }]));
  fs.writeFileSync(outFile, JSON.stringify({
    runtime: `Chromium ${browser.version()}`, rounds, sequential, parallel, inFlight, speed, bytes, gzip,
  }, null, 1));
  console.log(JSON.stringify({ speed, bytes }, null, 1));
} finally {
  await browser.close();
}

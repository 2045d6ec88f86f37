// Drives the Chromium benchmarks: opens BASE/bench/index.html (served by the reference server
// with --www-dir and --pkg-dir), runs the suites in the page and writes their results.
// Usage: node browser_bench.mjs BASE_URL OUT.json
import fs from 'node:fs';
import { chromium } from 'playwright-core';

const [base, outFile] = process.argv.slice(2);
const rounds = Number(process.env.BENCH_ROUNDS ?? 21);
const batchMs = Number(process.env.BENCH_BATCH_MS ?? 50);
const e2eRounds = Number(process.env.BENCH_E2E_ROUNDS ?? 3);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.text().startsWith('chromium:')) console.log(`  ${m.text()}`); });
  await page.goto(`${base}/bench/index.html`);
  await page.waitForFunction(() => document.title === 'ready', null, { timeout: 30_000 })
    .catch((e) => { throw new Error(`bench page did not load: ${errors.join('; ') || e.message}`); });
  const userAgent = await page.evaluate(() => navigator.userAgent);

  // BENCH_ONLY=verify (scripts/bench.sh): verification and decoding only; BENCH_ONLY=fetch: the
  // fetch preparation comparison only.
  const onlyVerify = process.env.BENCH_ONLY === 'verify';
  const onlyFetch = process.env.BENCH_ONLY === 'fetch';
  const verifyDecode = onlyFetch ? {} : await page.evaluate((o) => window.bench.verifyAndDecode(o), { rounds, batchMs });
  if (!onlyVerify && !await page.evaluate(() => window.bench.installServiceWorker())) throw new Error('service worker not in control');
  const fetchPrep = onlyVerify ? null : await page.evaluate((o) => window.bench.fetchPrep(o), { rounds, batchMs });
  const fetchE2E = onlyVerify || onlyFetch ? null : await page.evaluate((o) => window.bench.fetchE2E(o), { rounds: e2eRounds, requests: Number(process.env.BENCH_E2E_REQUESTS ?? 2000), inFlight: 50 });
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);

  fs.writeFileSync(outFile, JSON.stringify({
    runtime: `Chromium ${browser.version()}`, userAgent, rounds, batchMs,
    ...verifyDecode, fetchPrep, fetchE2E,
  }, null, 1));
} finally {
  await browser.close();
}

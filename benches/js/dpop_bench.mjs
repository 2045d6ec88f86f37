// DPoP's cost per request in Chromium, side by side with the bearer path in one page and run:
// tm.fetch('/api/me') sequentially against a reference server (Bearer) and against a second one
// started with --dpop (a proof signed by WebCrypto per request, checked by the server's core),
// plus WebCrypto's ECDSA P-256 sign alone (the client's share of a proof). The page is served
// from http://localhost:<bearer port> so that both servers (at 127.0.0.1) are cross-origin alike;
// both run with --allow-any-loopback-origin and the bearer one serves the package (--pkg-dir).
// Usage: node dpop_bench.mjs BEARER_BASE_URL DPOP_BASE_URL OUT.json
import fs from 'node:fs';
import { chromium } from 'playwright-core';

const [bearerBase, dpopBase, outFile] = process.argv.slice(2);
const rounds = Number(process.env.BENCH_E2E_ROUNDS ?? 3) * 2 + 1;
const requests = Number(process.env.BENCH_DPOP_REQUESTS ?? 300);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
});
try {
  const page = await browser.newPage();
  const pageOrigin = bearerBase.replace('127.0.0.1', 'localhost');
  await page.goto(`${pageOrigin}/healthz`);
  const result = await page.evaluate(async ({ pageOrigin, bearerBase, dpopBase, rounds, requests }) => {
    const { TokenManager } = await import(`${pageOrigin}/pkg/web/index.js`);
    const manager = (base, dpop) => new TokenManager({
      loginUrl: `${base}/auth/login`, refreshUrl: `${base}/auth/refresh`, logoutUrl: `${base}/auth/logout`,
      allowedOrigins: [base], crossTab: false, dpop,
    });
    const bearer = manager(bearerBase, false);
    const dpop = manager(dpopBase, true);
    const credentials = { username: 'demo', password: 'demo-password' };
    await bearer.login(credentials);
    await dpop.login(credentials);
    const run = async (tm, base) => {
      const start = performance.now();
      for (let i = 0; i < requests; i++) {
        const response = await tm.fetch(`${base}/api/me`);
        if (response.status !== 200) throw new Error(`status ${response.status}`);
        await response.arrayBuffer();
      }
      return ((performance.now() - start) * 1000) / requests;
    };
    const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    const message = new Uint8Array(420).fill(97);
    const sign = async () => {
      const n = 500;
      const start = performance.now();
      for (let i = 0; i < n; i++) await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, pair.privateKey, message);
      return ((performance.now() - start) * 1000) / n;
    };
    await run(bearer, bearerBase); await run(dpop, dpopBase); // warm-up
    const samples = { bearer: [], dpop: [], diff: [], sign: [] };
    for (let r = 0; r < rounds; r++) {
      // Alternate the order so that drift does not favour one side.
      let bb; let dd;
      if (r % 2) { bb = await run(bearer, bearerBase); dd = await run(dpop, dpopBase); }
      else { dd = await run(dpop, dpopBase); bb = await run(bearer, bearerBase); }
      samples.bearer.push(bb); samples.dpop.push(dd); samples.diff.push(dd - bb);
      samples.sign.push(await sign());
    }
    await bearer.logout(); await dpop.logout();
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    return {
      requests, rounds,
      bearerUsPerRequest: median(samples.bearer), dpopUsPerRequest: median(samples.dpop),
      proofUsPerRequest: median(samples.diff), signUs: median(samples.sign),
      ratio: median(samples.dpop.map((d, i) => d / samples.bearer[i])), samples,
    };
  }, { pageOrigin, bearerBase, dpopBase, rounds, requests });
  result.runtime = `Chromium ${browser.version()}`;
  fs.writeFileSync(outFile, JSON.stringify(result, null, 1));
  console.log(`  chromium: GET /api/me sequential: bearer ${result.bearerUsPerRequest.toFixed(0)} µs, DPoP ${result.dpopUsPerRequest.toFixed(0)} µs per request; a proof costs ${result.proofUsPerRequest.toFixed(0)} µs (WebCrypto ES256 sign ${result.signUs.toFixed(0)} µs)`);
} finally {
  await browser.close();
}

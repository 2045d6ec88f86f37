// Shared by the Node and Playwright tests: start and stop the reference server binary, and
// launch Debian's Chromium the way this machine needs it.
import { spawn } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { chromium } from 'playwright-core';

/** The server binary: $TW_SERVER_BIN, else the debug build (`make test` builds it first). */
export const SERVER_BIN = resolve(process.env.TW_SERVER_BIN ?? 'target/debug/tokenwarden-server');

/**
 * Starts the server with `args` (which should include `--port 0`) and resolves with
 * `{child, base}` once it prints `listening on <base>`. With `log` (a writable stream), its
 * stdout lines and stderr go there instead of the test's stderr.
 */
export function startServer(args, { log, timeoutMs = 20_000 } = {}) {
  return new Promise((ok, fail) => {
    const child = spawn(SERVER_BIN, args, { stdio: ['ignore', 'pipe', log ? 'pipe' : 'inherit'] });
    if (log) child.stderr.pipe(log);
    const timer = setTimeout(() => {
      child.kill();
      fail(new Error(`server did not start in ${timeoutMs / 1000} s`));
    }, timeoutMs);
    child.once('error', (e) => { clearTimeout(timer); fail(e); });
    child.once('exit', (code) => { clearTimeout(timer); fail(new Error(`server exited with ${code}`)); });
    createInterface({ input: child.stdout }).on('line', (line) => {
      log?.write(`${line}\n`);
      const m = /^listening on (http:\/\/\S+)$/.exec(line.trim());
      if (m) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        ok({ child, base: m[1] });
      }
    });
  });
}

/** Stops a server started by `startServer` and waits for it to exit. */
export async function stopServer(server) {
  if (!server || server.child.exitCode !== null) return;
  const exited = new Promise((r) => server.child.once('exit', r));
  server.child.kill('SIGTERM');
  await exited;
}

/**
 * Headless Debian Chromium; the network flags keep it off hosts this machine cannot reach.
 * `trustCert`: the PEM of a test server certificate Chromium accepts (by its key's SPKI hash;
 * no other certificate error is ignored).
 */
export function launchChromium({ trustCert } = {}) {
  const extra = [];
  if (trustCert) {
    const spki = new X509Certificate(readFileSync(trustCert)).publicKey.export({ type: 'spki', format: 'der' });
    extra.push(`--ignore-certificate-errors-spki-list=${createHash('sha256').update(spki).digest('base64')}`);
  }
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', ...extra],
  });
}

/**
 * `fetch` for Node that trusts the test CA `ca` (a PEM path) for https URLs: Node 20's global
 * fetch reads extra CAs only at start-up. Answers a `Response`; http URLs go to global fetch.
 */
export function fetchTrusting(ca) {
  const authorities = [readFileSync(ca)];
  return (url, init = {}) => {
    if (!String(url).startsWith('https:')) return fetch(url, init);
    return new Promise((ok, fail) => {
      const req = httpsRequest(url, { method: init.method ?? 'GET', headers: init.headers ?? {}, ca: authorities }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) for (const one of [v].flat()) headers.append(k, one);
          const status = res.statusCode;
          const body = [101, 204, 205, 304].includes(status) ? null : Buffer.concat(chunks);
          ok(new Response(body, { status, headers }));
        });
        res.on('error', fail);
      });
      req.on('error', fail);
      req.end(init.body === undefined ? undefined : String(init.body));
    });
  };
}

/**
 * Starts tests/oauth/provider.mjs (npm oidc-provider) with `args` on a free loopback port and
 * resolves with `{child, issuer}` once it prints its issuer. Stop it with `stopProvider`.
 */
export function startProvider(args) {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [resolve('tests/oauth/provider.mjs'), '--port', '0', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { child.kill(); fail(new Error('provider did not start in 20 s')); }, 20_000);
    child.once('exit', (code) => { clearTimeout(timer); fail(new Error(`provider exited with ${code}: ${stderr}`)); });
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^listening on (https?:\/\/\S+)$/.exec(line.trim());
      if (m) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        ok({ child, issuer: m[1] });
      }
    });
  });
}

/** Stops a provider started by `startProvider` and waits for it to exit. */
export async function stopProvider(provider) {
  if (!provider || provider.child.exitCode !== null) return;
  const exited = new Promise((r) => provider.child.once('exit', r));
  provider.child.kill('SIGTERM');
  await exited;
}

/** Every token the server issued to `context` (login and refresh answers, a worker's included). */
export function recordTokens(context) {
  const tokens = new Set();
  context.on('response', async (response) => {
    const path = new URL(response.url()).pathname;
    if (path !== '/auth/login' && path !== '/auth/refresh') return;
    try {
      const body = await response.json();
      if (body.access_token) tokens.add(body.access_token);
      if (body.refresh_token) tokens.add(body.refresh_token);
    } catch { /* not JSON */ }
  });
  return tokens;
}

/** The text of a DevTools heap snapshot of `page`'s realm (not its workers'). */
export async function heapSnapshot(context, page) {
  const cdp = await context.newCDPSession(page);
  let text = '';
  cdp.on('HeapProfiler.addHeapSnapshotChunk', ({ chunk }) => { text += chunk; });
  await cdp.send('HeapProfiler.enable');
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  await cdp.detach();
  return text;
}

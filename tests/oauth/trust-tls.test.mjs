// `--trust-issuer` over https (no browser): the reference server reaches the provider with the
// platform's roots plus `--trust-ca`; a certificate from another CA is refused with a log line
// that says so, and plain http to a host that is not loopback is refused at start-up.
// The provider (npm oidc-provider, tests/oauth/provider.mjs) serves https with a certificate of
// a CA made for this run. Run: make test-oauth.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { spawnSync } from 'node:child_process';
import { SERVER_BIN, startProvider, startServer, stopProvider, stopServer } from '../support/harness.mjs';
import { makeCa } from '../support/test-ca.mjs';

const RESOURCE = 'https://api.tokenwarden.test/';
let dir;
let ours; // the provider's CA
let other; // a CA that did not sign the provider's certificate
let provider;
const servers = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tw-trust-tls-'));
  ours = makeCa(dir, 'ours');
  other = makeCa(dir, 'other');
  provider = await startProvider(['--redirect-uri', 'http://127.0.0.1:9/', '--tls-cert', ours.cert, '--tls-key', ours.key]);
});

after(async () => {
  for (const s of servers) await stopServer(s);
  await stopProvider(provider);
  rmSync(dir, { recursive: true, force: true });
});

/** The reference server trusting the provider, with `extra` flags; its log lines are kept. */
async function api(extra) {
  const log = new PassThrough();
  let text = '';
  log.on('data', (d) => { text += d; });
  const server = await startServer(['--port', '0', '--allow-origin', 'http://127.0.0.1:9',
    '--trust-issuer', provider.issuer, '--trust-audience', RESOURCE, ...extra], { log });
  servers.push(server);
  return { ...server, log: () => text };
}

/** A token naming the provider as issuer and a key it does not have: its keys get fetched. */
function forged() {
  const part = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${part({ alg: 'ES256', typ: 'at+jwt', kid: 'not-a-key-of-the-provider' })}.${part({
    iss: provider.issuer, aud: RESOURCE, sub: 'mallory', iat: now, exp: now + 60, client_id: 'x', jti: 'j',
  })}.${randomBytes(64).toString('base64url')}`;
}

async function me(server) {
  const res = await fetch(`${server.base}/api/me`, { headers: { authorization: `Bearer ${forged()}` } });
  return { status: res.status, body: await res.text() };
}

async function eventually(read, pattern) {
  for (let i = 0; i < 50 && !pattern.test(read()); i += 1) await new Promise((r) => setTimeout(r, 100));
  return read();
}

test('with --trust-ca of the provider\'s CA, the keys are fetched over https', async () => {
  assert.match(provider.issuer, /^https:\/\/127\.0\.0\.1:/);
  const server = await api(['--trust-ca', ours.ca]);
  const answer = await me(server);
  assert.equal(answer.status, 401);
  // The keys were fetched; the forged key id is simply not among them.
  assert.match(answer.body, /ERR_JWKS_NO_MATCHING_KEY/);
  assert.doesNotMatch(server.log(), /trusted issuer: GET/);
});

test('a certificate from another CA is refused, and the log says why', async () => {
  for (const extra of [['--trust-ca', other.ca], []]) {
    const server = await api(extra);
    const answer = await me(server);
    assert.equal(answer.status, 401);
    assert.match(answer.body, /ERR_JWKS_UNAVAILABLE/);
    const log = await eventually(server.log, /certificate/);
    assert.match(log, /trusted issuer: GET https:\/\/127\.0\.0\.1:\d+\/\.well-known\/openid-configuration: .*certificate.*UnknownIssuer.*--trust-ca/);
  }
});

test('plain http to a provider off loopback, and an unreadable --trust-ca, are refused at start-up', () => {
  const run = (args) => spawnSync(SERVER_BIN, ['--port', '0', ...args], { encoding: 'utf8', timeout: 10_000 });
  const http = run(['--trust-issuer', 'http://provider.example', '--trust-audience', RESOURCE]);
  assert.notEqual(http.status, 0);
  assert.match(http.stderr, /--trust-issuer/);
  const missing = run(['--trust-issuer', provider.issuer, '--trust-audience', RESOURCE, '--trust-ca', join(dir, 'none.pem')]);
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /--trust-ca .*none\.pem/);
  const empty = run(['--trust-issuer', provider.issuer, '--trust-audience', RESOURCE, '--trust-ca', ours.key]);
  assert.notEqual(empty.status, 0);
  assert.match(empty.stderr, /--trust-ca/);
});

// Interop of tokenwarden's OAuth core with a certified OpenID provider (npm oidc-provider),
// without the browser shell: this test does the HTTP with Node's fetch (following the
// provider's login and consent forms like a browser would); every request body and every check
// comes from the Rust core through examples/oauth_cli.rs. The provider's own records show
// rotation, reuse detection and revocation.
//
// Run: cargo build --example oauth_cli && node --test tests/oauth/  (about 5 s)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { startProvider, stopProvider } from '../support/harness.mjs';

const CLI = resolve(process.env.TW_OAUTH_CLI ?? 'target/debug/examples/oauth_cli');
// Nothing listens here: the test reads the callback URL from the provider's redirect.
const REDIRECT_URI = 'http://127.0.0.1:5999/callback';
const RESOURCE = 'https://api.tokenwarden.test/';
const CLIENT_ID = 'tokenwarden-spa';
const SCOPE = 'openid profile offline_access api:read';

/** Runs a core command; returns `{ok}` or `{error}` as the CLI printed it. */
function core(command, input) {
  return JSON.parse(execFileSync(CLI, [command], { input: JSON.stringify(input) }).toString());
}
function coreOk(command, input) {
  const out = core(command, input);
  assert.ok('ok' in out, `${command}: ${JSON.stringify(out.error)}`);
  return out.ok;
}

let provider;
let issuer;
let metadata; // the document's text, as fetched
let jwks;

before(async () => {
  provider = await startProvider(['--redirect-uri', REDIRECT_URI]);
  issuer = provider.issuer;
  const [oidcUrl] = coreOk('discovery', { issuer });
  const res = await fetch(oidcUrl);
  assert.equal(res.status, 200);
  metadata = await res.text();
  jwks = await (await fetch(JSON.parse(metadata).jwks_uri)).text();
});

after(() => stopProvider(provider));

const base = () => ({ issuer, metadata, client_id: CLIENT_ID });
const fingerprint = (value) => createHash('sha256').update(value).digest('base64url');
const records = async () => (await fetch(`${issuer}/__test/records`)).json();
const nowSecs = () => Math.floor(Date.now() / 1000);

/** A cookie jar good enough for the provider's interaction cookies. */
class Jar {
  #cookies = new Map();
  take(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const name = pair.slice(0, pair.indexOf('='));
      const value = pair.slice(pair.indexOf('=') + 1);
      const expired = attrs.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (expired || value === '') this.#cookies.delete(name); else this.#cookies.set(name, value);
    }
  }
  header() { return [...this.#cookies].map(([n, v]) => `${n}=${v}`).join('; '); }
}

const unescape = (s) => s.replaceAll('&amp;', '&').replaceAll('&#x2F;', '/').replaceAll('&#x3D;', '=');

/**
 * Starts a login with the core and drives the provider like a browser until it redirects to
 * the app. `onPage(html, jar, url)` may answer an interaction page itself (e.g. cancel it).
 */
async function login({ prompt, account = 'alice', onPage } = {}) {
  const { url, stored } = coreOk('authorize', {
    ...base(),
    redirect_uri: REDIRECT_URI,
    scope: SCOPE,
    resource: RESOURCE,
    prompt,
    random_hex: randomBytes(96).toString('hex'),
    now_ms: Date.now(),
  });
  const jar = new Jar();
  let request = { url, init: {} };
  for (let step = 0; step < 12; step += 1) {
    const res = await fetch(request.url, {
      ...request.init,
      redirect: 'manual',
      headers: { ...request.init.headers, cookie: jar.header() },
    });
    jar.take(res);
    if (res.status >= 300 && res.status < 400) {
      const location = new URL(res.headers.get('location'), request.url).href;
      if (location.startsWith(REDIRECT_URI)) return { callbackUrl: location, stored, authorizeUrl: url };
      request = { url: location, init: {} };
      continue;
    }
    assert.equal(res.status, 200, `unexpected ${res.status} at ${request.url}`);
    const html = await res.text();
    const custom = onPage?.(html, request.url);
    if (custom) { request = { url: custom, init: {} }; continue; }
    // The development login form (login, password) or consent form (Continue).
    const action = unescape(/<form[^>]*action="([^"]+)"/.exec(html)[1]);
    const fields = new URLSearchParams();
    for (const [, name, value] of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) {
      fields.set(name, unescape(value));
    }
    if (/name="login"/.test(html)) {
      fields.set('login', account);
      fields.set('password', 'any password');
    }
    request = {
      url: new URL(action, request.url).href,
      init: { method: 'POST', body: fields.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } },
    };
  }
  throw new Error('the provider never redirected back to the app');
}

/** POSTs a form request the core built. */
async function post({ url, body }) {
  const res = await fetch(url, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
  });
  return { status: res.status, body: await res.text() };
}

/** Login, callback checks and code exchange; returns the core's view of the tokens. */
async function loginAndExchange() {
  const { callbackUrl, stored } = await login();
  const exchange = coreOk('callback', { ...base(), stored, url: callbackUrl, now_ms: Date.now() });
  const answer = await post(exchange.token_request);
  const tokens = coreOk('token_response', {
    ...base(), jwks, nonce: exchange.nonce, ...answer, now_secs: nowSecs(),
  });
  return { tokens, exchange, callbackUrl };
}

/** The refresh grant as the core builds it, and the core's reading of the answer. */
async function refresh(refreshToken, subject) {
  const request = coreOk('refresh', { ...base(), refresh_token: refreshToken });
  const answer = await post(request);
  return core('token_response', { ...base(), jwks, subject, ...answer, now_secs: nowSecs() });
}

test('the provider metadata passes the core; another configured issuer is refused', () => {
  const doc = JSON.parse(metadata);
  assert.equal(doc.issuer, issuer);
  assert.equal(doc.authorization_response_iss_parameter_supported, true);
  const wrong = core('authorize', {
    ...base(), issuer: `${issuer}/`, redirect_uri: REDIRECT_URI,
    random_hex: randomBytes(96).toString('hex'), now_ms: Date.now(),
  });
  assert.equal(wrong.error.code, 'ERR_OAUTH_ISSUER_MISMATCH');
});

test('authorization code + PKCE: the core\'s request, callback checks and code exchange work against the provider', async () => {
  const { tokens, exchange, callbackUrl } = await loginAndExchange();
  const callback = new URL(callbackUrl);
  assert.equal(callback.searchParams.get('iss'), issuer, 'RFC 9207 iss in the response');
  const body = new URLSearchParams(exchange.token_request.body);
  assert.deepEqual([...body.keys()], ['grant_type', 'code', 'redirect_uri', 'client_id', 'code_verifier']);
  assert.equal(tokens.token_type, 'Bearer');
  assert.ok(tokens.refresh_token, 'a refresh token for the public client');
  assert.equal(tokens.id_token.sub, 'alice');
  assert.equal(tokens.id_token.alg, 'RS256');
  assert.ok(tokens.expires_in > 0 && tokens.expires_in <= 300);

  // The access token is a JWT for the API (RFC 8707 + RFC 9068), verified by the core as the
  // API would verify it, with the provider's JWKS and the API's audience.
  const at = coreOk('verify_access_token', {
    issuer, jwks, token: tokens.access_token, audience: RESOURCE, now_secs: nowSecs(),
  });
  assert.equal(at.header.typ, 'at+jwt');
  assert.equal(at.header.alg, 'ES256');
  assert.equal(at.claims.client_id, CLIENT_ID);
  assert.equal(at.claims.sub, 'alice');
  assert.match(at.claims.scope, /\bapi:read\b/);
  const otherApi = core('verify_access_token', {
    issuer, jwks, token: tokens.access_token, audience: 'https://other.example/', now_secs: nowSecs(),
  });
  assert.equal(otherApi.error.code, 'ERR_JWT_CLAIM_VALIDATION_FAILED');
});

test('the provider\'s ID token is refused with a broken signature, another nonce or another audience', async () => {
  const { callbackUrl, stored } = await login();
  const exchange = coreOk('callback', { ...base(), stored, url: callbackUrl, now_ms: Date.now() });
  const answer = await post(exchange.token_request);
  const read = (input) => core('token_response', { ...base(), jwks, now_secs: nowSecs(), ...answer, ...input });
  assert.ok(read({ nonce: exchange.nonce }).ok, 'the untouched response passes');

  const body = JSON.parse(answer.body);
  const [h, p, sig] = body.id_token.split('.');
  const i = Math.floor(sig.length / 2);
  const flipped = `${sig.slice(0, i)}${sig[i] === 'A' ? 'B' : 'A'}${sig.slice(i + 1)}`;
  const tampered = JSON.stringify({ ...body, id_token: [h, p, flipped].join('.') });
  assert.equal(read({ nonce: exchange.nonce, body: tampered }).error.code, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
  assert.equal(read({ nonce: 'another-login' }).error.code, 'ERR_OAUTH_NONCE_MISMATCH');
  assert.equal(read({ nonce: exchange.nonce, client_id: 'another-client' }).error.code,
    'ERR_OAUTH_ID_TOKEN_AUDIENCE_MISMATCH');
});

test('refresh rotates the refresh token; the old one is refused and its reuse revokes the grant', async () => {
  const { tokens } = await loginAndExchange();
  const rt1 = tokens.refresh_token;
  const second = await refresh(rt1, 'alice');
  assert.ok(second.ok, JSON.stringify(second.error));
  const rt2 = second.ok.refresh_token;
  assert.ok(rt2 && rt2 !== rt1, 'rotated');
  assert.equal(second.ok.id_token.sub, 'alice', 'the refreshed ID token passes the core, sub unchanged');
  const third = await refresh(rt2, 'alice');
  const rt3 = third.ok.refresh_token;
  assert.ok(rt3 && rt3 !== rt2);

  let rec = await records();
  const byFp = new Map(rec.refreshTokens.map((r) => [r.fingerprint, r]));
  assert.ok(byFp.get(fingerprint(rt1)).consumedAt, 'rt1 consumed by the first refresh');
  assert.ok(byFp.get(fingerprint(rt2)).consumedAt, 'rt2 consumed by the second refresh');
  assert.equal(byFp.get(fingerprint(rt3)).consumedAt, null, 'rt3 is the live one');
  const reuseBefore = rec.reuseDetections;

  // The rotated rt1 presented again: invalid_grant, which the core says ends the session ...
  const replay = await refresh(rt1, 'alice');
  assert.equal(replay.error.code, 'ERR_OAUTH_INVALID_GRANT');
  assert.equal(replay.error.ends_session, true);
  // ... and the provider revoked the whole grant (reuse detection), so rt3 is dead too.
  rec = await records();
  assert.equal(rec.reuseDetections, reuseBefore + 1);
  assert.ok(rec.refreshTokens.find((r) => r.fingerprint === fingerprint(rt3)).revokedWithGrantAt);
  assert.equal((await refresh(rt3, 'alice')).error.code, 'ERR_OAUTH_INVALID_GRANT');
});

test('RFC 7009 revocation: the revoked refresh token is refused afterwards', async () => {
  const { tokens } = await loginAndExchange();
  const request = coreOk('revoke', { ...base(), token: tokens.refresh_token, hint: 'refresh_token' });
  assert.deepEqual(Object.fromEntries(new URLSearchParams(request.body)), {
    token: tokens.refresh_token, token_type_hint: 'refresh_token', client_id: CLIENT_ID,
  });
  const answer = await post(request);
  assert.equal(coreOk('revocation_response', answer), true);
  const rec = await records();
  const record = rec.refreshTokens.find((r) => r.fingerprint === fingerprint(tokens.refresh_token));
  assert.ok(record.destroyedAt, 'the provider destroyed the token');
  assert.ok(rec.grantRevocations.some((g) => g.route === 'revocation' && g.grantId === record.grantId));
  const after = await refresh(tokens.refresh_token, 'alice');
  assert.equal(after.error.code, 'ERR_OAUTH_INVALID_GRANT');
  assert.equal(after.error.ends_session, true);
});

test('a tampered state is refused by the core and the real login stays pending', async () => {
  const { callbackUrl, stored } = await login();
  const tampered = new URL(callbackUrl);
  const state = tampered.searchParams.get('state');
  tampered.searchParams.set('state', `${state.slice(0, -1)}${state.endsWith('A') ? 'B' : 'A'}`);
  const refused = core('callback', { ...base(), stored, url: tampered.href, now_ms: Date.now() });
  assert.equal(refused.error.code, 'ERR_OAUTH_STATE_MISMATCH');
  assert.ok(refused.error.pending, 'the transaction is handed back');
  const forged = new URL(callbackUrl);
  forged.searchParams.set('iss', 'http://127.0.0.1:1');
  assert.equal(core('callback', { ...base(), stored, url: forged.href, now_ms: Date.now() }).error.code,
    'ERR_OAUTH_ISS_MISMATCH');
  // The genuine callback still completes with the handed-back transaction.
  const exchange = coreOk('callback', { ...base(), stored: refused.error.pending, url: callbackUrl, now_ms: Date.now() });
  const answer = await post(exchange.token_request);
  assert.equal(answer.status, 200);
});

test('a replayed callback: no transaction in the core, and the provider refuses the code twice', async () => {
  const { callbackUrl, stored } = await login();
  const exchange = coreOk('callback', { ...base(), stored, url: callbackUrl, now_ms: Date.now() });
  assert.equal((await post(exchange.token_request)).status, 200);
  // The shell took the record at the first callback: a second one finds nothing.
  const again = core('callback', { ...base(), stored: null, url: callbackUrl, now_ms: Date.now() });
  assert.equal(again.error.code, 'ERR_OAUTH_NO_TRANSACTION');
  // Sending the same code anyway: the provider says invalid_grant, typed by the core.
  const replay = await post(exchange.token_request);
  const read = core('token_response', { ...base(), jwks, ...replay, now_secs: nowSecs() });
  assert.equal(replay.status, 400);
  assert.equal(read.error.code, 'ERR_OAUTH_INVALID_GRANT');
});

test('the user cancels at the provider: access_denied is a typed error and the login is over', async () => {
  const { callbackUrl, stored } = await login({
    onPage: (html, url) => {
      const abort = /href="([^"]*\/abort)"/.exec(html);
      return abort && new URL(unescape(abort[1]), url).href;
    },
  });
  const refused = core('callback', { ...base(), stored, url: callbackUrl, now_ms: Date.now() });
  assert.equal(refused.error.code, 'ERR_OAUTH_ACCESS_DENIED');
  assert.equal(refused.error.pending, null);
});

test('an expired transaction is refused', async () => {
  const { callbackUrl, stored } = await login();
  const late = core('callback', { ...base(), stored, url: callbackUrl, now_ms: Date.now() + 600_000 });
  assert.equal(late.error.code, 'ERR_OAUTH_TRANSACTION_EXPIRED');
});

test('the end-session URL is accepted by the provider', async () => {
  const { tokens } = await loginAndExchange();
  const url = coreOk('end_session', { ...base(), state: 'x' });
  assert.ok(url.startsWith(`${issuer}/session/end?`));
  const res = await fetch(url, { redirect: 'manual' });
  assert.equal(res.status, 200, 'the provider shows its logout confirmation');
  assert.ok(tokens.access_token);
});

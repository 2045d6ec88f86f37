// The npm package in Node 20: `import ... from 'tokenwarden/verify'` with no init call, verifying
// tokens made by npm jose, and refusing tampered ones with jose's error codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { SignJWT, generateKeyPair, exportJWK } from 'jose';
import { verifyJwt, decodeJwt, KeySet } from 'tokenwarden/verify';

execFileSync(process.execPath, ['tests/js/make_jose_tokens.mjs'], { stdio: 'ignore' });
const data = JSON.parse(fs.readFileSync('target/interop/jose_tokens.json', 'utf8'));
const at = new Date(data.now * 1000);
const options = (alg) => ({
  issuer: data.issuer, audience: data.audience, algorithms: [alg], currentDate: at,
  allowSymmetricKeys: alg.startsWith('HS'),
});
// Awaits `fn()` (a Promise from verifyJwt, or a synchronous decodeJwt) and returns the error code.
const codeOf = async (fn) => { try { await fn(); } catch (e) { assert.ok(e instanceof Error); return e.code; } return 'accepted'; };

for (const alg of ['ES256', 'EdDSA', 'RS256', 'PS256', 'HS256']) {
  const { jwk, tokens } = data.algs[alg];
  test(`${alg}: jose-signed tokens verify, tampered ones fail with the right code`, async () => {
    const pending = verifyJwt(tokens.valid, jwk, options(alg));
    assert.ok(pending instanceof Promise);
    const { header, claims } = await pending;
    assert.equal(header.alg, alg);
    assert.equal(claims.sub, 'user-1');
    assert.equal(claims.scope, 'read');
    const sig = 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED';
    assert.equal(await codeOf(() => verifyJwt(tokens.tampered_payload, jwk, options(alg))), sig);
    assert.equal(await codeOf(() => verifyJwt(tokens.tampered_header, jwk, options(alg))), sig);
    assert.equal(await codeOf(() => verifyJwt(tokens.tampered_signature, jwk, options(alg))), sig);
    assert.equal(await codeOf(() => verifyJwt(tokens.expired, jwk, options(alg))), 'ERR_JWT_EXPIRED');
    const aud = await verifyJwt(tokens.wrong_audience, jwk, options(alg)).catch((e) => e);
    assert.deepEqual([aud.code, aud.claim, aud.reason], ['ERR_JWT_CLAIM_VALIDATION_FAILED', 'aud', 'check_failed']);
    const iss = await verifyJwt(tokens.wrong_issuer, jwk, options(alg)).catch((e) => e);
    assert.deepEqual([iss.code, iss.claim], ['ERR_JWT_CLAIM_VALIDATION_FAILED', 'iss']);
  });
}

test('a KeySet imported once verifies every asymmetric algorithm, with kid selection', async () => {
  const keys = new KeySet(data.jwks);
  assert.equal(keys.size, 4);
  for (const alg of ['ES256', 'EdDSA', 'RS256', 'PS256']) {
    assert.equal((await verifyJwt(data.algs[alg].tokens.valid, keys, { currentDate: at })).header.alg, alg);
    assert.equal((await keys.verify(data.algs[alg].tokens.valid, { currentDate: at })).claims.sub, 'user-1');
  }
  keys.free();
});

test('symmetric keys need an explicit opt-in, and then an explicit algorithm list', async () => {
  const { jwk, tokens } = data.algs.HS256;
  assert.equal(await codeOf(() => verifyJwt(tokens.valid, jwk, { currentDate: at })), 'ERR_JWK_SYMMETRIC_NOT_ALLOWED');
  assert.equal(await codeOf(() => verifyJwt(tokens.valid, jwk, { currentDate: at, allowSymmetricKeys: true })), 'ERR_INVALID_OPTIONS');
  const secret = Buffer.from(data.algs.HS256.secret_jwk.k, 'base64url');
  const ok = await verifyJwt(tokens.valid, new Uint8Array(secret), { ...options('HS256') });
  assert.equal(ok.claims.sub, 'user-1');
});

test('an ES256 public key never verifies an HS256 token MACd with it (algorithm confusion)', async () => {
  const { jwk } = data.algs.ES256;
  const forged = await new SignJWT({ sub: 'admin', exp: data.now + 60 })
    .setProtectedHeader({ alg: 'HS256', kid: jwk.kid })
    .sign(new TextEncoder().encode(JSON.stringify(jwk)));
  assert.equal(await codeOf(() => verifyJwt(forged, data.jwks, { currentDate: at, algorithms: ['ES256', 'HS256'] })), 'ERR_JOSE_KEY_ALG_MISMATCH');
  assert.equal(await codeOf(() => verifyJwt(forged, data.jwks, { currentDate: at })), 'ERR_JOSE_ALG_NOT_ALLOWED');
});

test('alg none and unknown options are refused', async () => {
  const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(`{"exp":${data.now + 60}}`).toString('base64url')}.`;
  assert.equal(await codeOf(() => verifyJwt(none, data.jwks, { currentDate: at })), 'ERR_JOSE_ALG_NOT_ALLOWED');
  assert.equal(await codeOf(() => verifyJwt(data.algs.ES256.tokens.valid, data.jwks, { audiance: 'x' })), 'ERR_INVALID_OPTIONS');
  assert.equal(await codeOf(() => verifyJwt(data.algs.ES256.tokens.valid, data.jwks, { algorithms: ['ES512'] })), 'ERR_INVALID_OPTIONS');
  assert.equal(await codeOf(() => verifyJwt(data.algs.ES256.tokens.valid, 42)), 'ERR_INVALID_OPTIONS');
});

test('decodeJwt reads without verifying, and refuses malformed input with codes', async () => {
  const { header, claims } = decodeJwt(data.algs.EdDSA.tokens.tampered_payload);
  assert.equal(header.alg, 'EdDSA');
  assert.equal(claims.sub, 'admin');
  assert.equal(await codeOf(() => decodeJwt('a.b')), 'ERR_JWS_INVALID');
  assert.equal(await codeOf(() => decodeJwt('x'.repeat(9000))), 'ERR_JWT_TOO_LARGE');
  assert.equal(await codeOf(() => decodeJwt('eyJhbGciOiJFUzI1NiJ9=.e30.')), 'ERR_JWS_INVALID_BASE64');
  assert.equal(await codeOf(() => decodeJwt(`${Buffer.from('{"alg":"ES256"}').toString('base64url')}.${Buffer.from('{"a":1,"a":2}').toString('base64url')}.`)), 'ERR_JWT_DUPLICATE_MEMBER');
  // Errors never echo the token.
  try { decodeJwt('secret-token-value.b'); } catch (e) { assert.ok(!e.message.includes('secret-token-value')); }
});

test('a fresh EC key round trip with jose at the current time (no currentDate)', async () => {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', use: 'sig' };
  const token = await new SignJWT({ sub: 'u' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuedAt().setExpirationTime('2m').setIssuer('i').setAudience('a').sign(privateKey);
  assert.equal((await verifyJwt(token, { keys: [jwk] }, { issuer: 'i', audience: 'a', maxTokenAge: 60 })).claims.sub, 'u');
});

test('strings with non-ASCII characters reach wasm whole: at the start, after ASCII, astral, long', async () => {
  // The package's glue passes every string with TextEncoder#encodeInto (scripts/trim-glue.mjs):
  // an ASCII prefix in place, the rest after a realloc. Each string here crosses as an option
  // (the verifyJwt options' JSON) and must match the claim exactly; a near miss must not.
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(publicKey);
  for (const issuer of ['é', 'https://issuer.example/é', 'https://ïssüer.example/😀/日本', 'a'.repeat(3000) + 'ü']) {
    const token = await new SignJWT({ sub: issuer }).setProtectedHeader({ alg: 'ES256' })
      .setIssuedAt().setExpirationTime('2m').setIssuer(issuer).sign(privateKey);
    const { claims } = await verifyJwt(token, jwk, { issuer });
    assert.equal(claims.iss, issuer);
    assert.equal(decodeJwt(token).claims.sub, issuer);
    const other = issuer.slice(0, -1) + (issuer.at(-1) === 'é' ? 'e' : 'é');
    assert.equal((await verifyJwt(token, jwk, { issuer: other }).catch((e) => e)).claim, 'iss');
  }
  // A token with a non-ASCII character (a lone surrogate too: U+FFFD on its way to UTF-8) is
  // refused by its base64url, wherever the character is.
  for (const token of ['é.e30.', 'eyJhbGciOiJFUzI1NiJ9.e30é.', `${'a'.repeat(100)}😀.e30.`, `${'a'.repeat(50)}\uD800.e30.`]) {
    assert.equal(await codeOf(() => decodeJwt(token)), 'ERR_JWS_INVALID_BASE64');
  }
});

test('a bad JWK fails at new KeySet, not at first use; bad options reject the Promise', async () => {
  const { jwk } = data.algs.ES256;
  const codeOfNew = (keys) => { try { new KeySet(keys); } catch (e) { return e.code; } return 'accepted'; };
  assert.equal(codeOfNew({ ...jwk, x: 'AAAA' }), 'ERR_JWK_INVALID');
  assert.equal(codeOfNew({ ...data.algs.RS256.jwk, p: 'AQAB' }), 'ERR_JWK_INVALID');
  // The Ed25519 identity point: a key of small order.
  assert.equal(codeOfNew({ kty: 'OKP', crv: 'Ed25519', x: Buffer.from([1, ...new Array(31).fill(0)]).toString('base64url') }), 'ERR_JWK_WEAK_KEY');
  // Options are checked inside the Promise, as jose's jwtVerify does: nothing throws synchronously.
  const pending = verifyJwt(data.algs.ES256.tokens.valid, jwk, { audiance: 'x' });
  assert.ok(pending instanceof Promise);
  await assert.rejects(pending, { code: 'ERR_INVALID_OPTIONS' });
});

test('a token both badly signed and expired reports the signature, as jose does', async () => {
  const { jwk, tokens } = data.algs.ES256;
  const [h, p, s] = tokens.expired.split('.');
  const flipped = `${h}.${p}.${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`;
  assert.equal(await codeOf(() => verifyJwt(flipped, jwk, options('ES256'))), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
  assert.equal(await codeOf(() => verifyJwt(tokens.expired, jwk, options('ES256'))), 'ERR_JWT_EXPIRED');
});

test('a P-256 key WebCrypto refuses (a point off the curve) rejects with ERR_JWK_INVALID at use', async () => {
  const { jwk, tokens } = data.algs.ES256;
  // Well-formed 32-byte coordinates, so the core accepts the JWK; (1, 2) is not on P-256.
  const coordinate = (b) => Buffer.from([...new Array(31).fill(0), b]).toString('base64url');
  const offCurve = { ...jwk, x: coordinate(1), y: coordinate(2) };
  const keys = new KeySet(offCurve);
  for (const attempt of [() => keys.verify(tokens.valid, options('ES256')), () => verifyJwt(tokens.valid, offCurve, options('ES256'))]) {
    const pending = attempt();
    assert.ok(pending instanceof Promise);
    const error = await pending.catch((e) => e);
    assert.ok(error instanceof Error);
    assert.equal(error.code, 'ERR_JWK_INVALID');
  }
  keys.free();
});

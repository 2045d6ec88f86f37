// verifyDpopProof in Node 20: proofs signed by npm jose (ES256 and EdDSA) checked by the core,
// the signature by WebCrypto, each refusal with its ERR_DPOP_* code and the OAuth error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { SignJWT, generateKeyPair, exportJWK, calculateJwkThumbprint } from 'jose';
import { verifyDpopProof } from 'tokenwarden/verify';

const URL_ = 'https://api.example/resource';
const TOKEN = 'the-access-token';
const ath = (t) => createHash('sha256').update(t).digest('base64url');

async function keyPair(alg) {
  const { privateKey, publicKey } = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519' } : {});
  return { alg, privateKey, jwk: await exportJWK(publicKey) };
}

function proof(key, claims = {}, header = {}) {
  const iat = Math.floor(Date.now() / 1000);
  return new SignJWT({ jti: randomUUID(), htm: 'GET', htu: URL_, iat, ath: ath(TOKEN), ...claims })
    .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.jwk, ...header })
    .sign(key.privateKey);
}

const cache = () => {
  const seen = new Set();
  return (jti, expiresAt, jkt) => {
    assert.equal(typeof expiresAt, 'number');
    const id = `${jkt}:${jti}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  };
};
const refusal = (p) => p.then(() => ['accepted'], (e) => [e.code, e.error]);

for (const alg of ['ES256', 'EdDSA']) {
  test(`${alg}: a jose proof verifies once, bound to its key's RFC 7638 thumbprint`, async () => {
    const key = await keyPair(alg);
    const jkt = await calculateJwkThumbprint(key.jwk);
    const replayCache = cache();
    const request = { method: 'GET', url: `${URL_}?page=2`, accessToken: TOKEN, jkt };
    const p = await proof(key);
    const verified = await verifyDpopProof(p, request, { replayCache });
    assert.equal(verified.jkt, jkt);
    assert.equal(verified.alg, alg);
    assert.deepEqual(await refusal(verifyDpopProof(p, request, { replayCache })), ['ERR_DPOP_REPLAY', 'invalid_dpop_proof']);
  });
}

test('each failed check has its own code and OAuth error', async () => {
  const key = await keyPair('ES256');
  const other = await keyPair('ES256');
  const jkt = await calculateJwkThumbprint(key.jwk);
  const request = { method: 'GET', url: URL_, accessToken: TOKEN, jkt };
  const check = async (p, req = request) => refusal(verifyDpopProof(await p, req, { replayCache: cache() }));
  assert.deepEqual(await check(proof(key, { htm: 'POST' })), ['ERR_DPOP_HTM', 'invalid_dpop_proof']);
  assert.deepEqual(await check(proof(key, { htu: 'https://api.example/other' })), ['ERR_DPOP_HTU', 'invalid_dpop_proof']);
  assert.deepEqual(await check(proof(key, { ath: ath('other') })), ['ERR_DPOP_ATH', 'invalid_dpop_proof']);
  assert.deepEqual(await check(proof(key, { iat: Math.floor(Date.now() / 1000) - 3600 })), ['ERR_DPOP_IAT', 'invalid_dpop_proof']);
  assert.deepEqual(await check(proof(other)), ['ERR_DPOP_KEY_MISMATCH', 'invalid_token']);
  assert.deepEqual(await check(proof(key, {}, { typ: 'JWT' })), ['ERR_DPOP_TYP', 'invalid_dpop_proof']);
  assert.deepEqual(await check(proof(key, {}, { jwk: { ...key.jwk, d: 'AAAA' } })), ['ERR_DPOP_JWK_PRIVATE', 'invalid_dpop_proof']);
  assert.deepEqual(await check(proof(key), { ...request, nonce: 'n1' }), ['ERR_DPOP_NONCE_MISSING', 'use_dpop_nonce']);
  assert.deepEqual(await check(proof(key, { nonce: 'old' }), { ...request, nonce: ['n1', 'n2'] }), ['ERR_DPOP_NONCE_INVALID', 'use_dpop_nonce']);
  assert.deepEqual(await check(proof(key, { nonce: 'n2' }), { ...request, nonce: ['n1', 'n2'] }), ['accepted']);
  // A signature by another key over the same claims.
  const [h, c] = (await proof(key)).split('.');
  const foreign = (await proof(other)).split('.')[2];
  assert.deepEqual(await check(`${h}.${c}.${foreign}`), ['ERR_DPOP_SIGNATURE', 'invalid_dpop_proof']);
  assert.deepEqual(await check('not-a-proof'), ['ERR_DPOP_MALFORMED', 'invalid_dpop_proof']);
});

test('an asynchronous replay cache, and options checked', async () => {
  const key = await keyPair('ES256');
  const seen = new Set();
  const replayCache = async (jti) => { await null; if (seen.has(jti)) return false; seen.add(jti); return true; };
  const p = await proof(key);
  const request = { method: 'GET', url: URL_, accessToken: TOKEN };
  await verifyDpopProof(p, request, { replayCache });
  assert.deepEqual(await refusal(verifyDpopProof(p, request, { replayCache })), ['ERR_DPOP_REPLAY', 'invalid_dpop_proof']);
  assert.deepEqual(await refusal(verifyDpopProof(p, request, {})), ['ERR_INVALID_OPTIONS', undefined]);
  assert.deepEqual(await refusal(verifyDpopProof(p, { url: URL_ }, { replayCache })), ['ERR_INVALID_OPTIONS', undefined]);
  assert.deepEqual(await refusal(verifyDpopProof(p, request, { replayCache, maxAge: 0 })), ['ERR_INVALID_OPTIONS', undefined]);
});

// Generates interop tokens with npm `jose` for tokenwarden's verifier tests.
// Usage (from the repo root): node tests/js/make_jose_tokens.mjs
// Writes target/interop/jose_tokens.json. Keys are fresh on every run; no private
// asymmetric key material is written (the HS256 secret is, as an oct JWK).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, generateSecret, jwtVerify,
} from 'jose';

const OUT = path.resolve('target/interop/jose_tokens.json');
const ISSUER = 'https://issuer.example';
const AUDIENCE = 'tokenwarden-tests';
const now = Math.floor(Date.now() / 1000);

const b64uJson = (obj) => Buffer.from(JSON.stringify(obj), 'utf8').toString('base64url');
const unb64uJson = (s) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));

const baseClaims = () => ({
  iss: ISSUER, aud: AUDIENCE, sub: 'user-1', scope: 'read',
  iat: now, exp: now + 3600, jti: crypto.randomUUID(),
});

async function sign(claims, header, key) {
  // SignJWT with the claims passed as-is (no setIssuedAt etc.: every value is explicit).
  return new SignJWT(claims).setProtectedHeader(header).sign(key);
}

function tamperPayload(jwt) {
  const [h, p, s] = jwt.split('.');
  return `${h}.${b64uJson({ ...unb64uJson(p), sub: 'admin' })}.${s}`;
}

function tamperHeader(jwt) {
  const [h, p, s] = jwt.split('.');
  return `${b64uJson({ ...unb64uJson(h), 'x-tampered': true })}.${p}.${s}`;
}

// Flip the lowest bit of the last full byte of the signature, re-encoded canonically.
function tamperSignature(jwt) {
  const [h, p, s] = jwt.split('.');
  const sig = Buffer.from(s, 'base64url');
  sig[sig.length - 1] ^= 0x01;
  return `${h}.${p}.${sig.toString('base64url')}`;
}

const SPECS = [
  { alg: 'ES256', gen: () => generateKeyPair('ES256', { extractable: true }) },
  { alg: 'EdDSA', gen: () => generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true }) },
  { alg: 'RS256', gen: () => generateKeyPair('RS256', { modulusLength: 2048, extractable: true }) },
  { alg: 'PS256', gen: () => generateKeyPair('PS256', { modulusLength: 2048, extractable: true }) },
  { alg: 'HS256', gen: async () => { const k = await generateSecret('HS256', { extractable: true }); return { privateKey: k, publicKey: k }; } },
];

// What a conforming verifier (keyed with `jwk`, expecting ISSUER/AUDIENCE) must say.
const EXPECT = {
  valid: 'ok',
  tampered_payload: 'bad_signature',
  tampered_header: 'bad_signature',
  tampered_signature: 'bad_signature',
  expired: 'expired',
  wrong_audience: 'wrong_audience',
  wrong_issuer: 'wrong_issuer',
};
const JOSE_CODE = {
  bad_signature: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  expired: 'ERR_JWT_EXPIRED',
  wrong_audience: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
  wrong_issuer: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
};

const algs = {};
for (const { alg, gen } of SPECS) {
  const { privateKey, publicKey } = await gen();
  const exported = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(exported);
  const jwk = { ...exported, kid, alg, use: 'sig' };
  const header = { alg, kid, typ: 'JWT' };

  const valid = await sign(baseClaims(), header, privateKey);
  const tokens = {
    valid,
    tampered_payload: tamperPayload(valid),
    tampered_header: tamperHeader(valid),
    tampered_signature: tamperSignature(valid),
    expired: await sign({ ...baseClaims(), iat: now - 7200, exp: now - 3600 }, header, privateKey),
    wrong_audience: await sign({ ...baseClaims(), aud: 'someone-else' }, header, privateKey),
    wrong_issuer: await sign({ ...baseClaims(), iss: 'https://evil.example' }, header, privateKey),
  };

  // Sanity checks against jose itself: `valid` verifies, every other variant fails for its reason.
  for (const [name, token] of Object.entries(tokens)) {
    let code = null;
    try {
      await jwtVerify(token, publicKey, { issuer: ISSUER, audience: AUDIENCE, algorithms: [alg], typ: 'JWT' });
    } catch (e) {
      code = e.code ?? String(e);
    }
    const want = EXPECT[name] === 'ok' ? null : JOSE_CODE[EXPECT[name]];
    if (code !== want) {
      console.error(`${alg} ${name}: jose says ${code ?? 'ok'}, expected ${want ?? 'ok'}`);
      process.exit(1);
    }
  }
  if (tokens.tampered_signature === valid) throw new Error('tampered_signature did not change');

  const entry = { alg, kid, jwk, tokens };
  if (alg === 'HS256') entry.secret_jwk = { kty: 'oct', k: jwk.k, kid, alg };
  algs[alg] = entry;
}

const out = {
  generator: 'tests/js/make_jose_tokens.mjs (npm jose)',
  now,
  issuer: ISSUER,
  audience: AUDIENCE,
  expect: EXPECT,
  // Public keys only (HS256 is omitted: its key is a secret, see algs.HS256.secret_jwk).
  jwks: { keys: Object.values(algs).filter((e) => e.alg !== 'HS256').map((e) => e.jwk) },
  algs,
};
fs.mkdirSync(path.dirname(OUT), { recursive: true });
fs.writeFileSync(OUT, JSON.stringify(out, null, 2) + '\n');
console.log(`wrote ${path.relative(process.cwd(), OUT)}: ${Object.keys(algs).join(', ')} x ${Object.keys(EXPECT).length} tokens, now=${now}`);

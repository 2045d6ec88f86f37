// verifyJwt's and KeySet's options: every bad option is refused with the same code and message
// (and good ones accepted the same way) whichever side reads them. The expected outcomes were
// recorded from the package whose wasm read the options itself (src/js/convert.rs readers);
// verify.js now reads them and hands wasm one JSON text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { verifyJwt, KeySet } from 'tokenwarden/verify';

execFileSync(process.execPath, ['tests/js/make_jose_tokens.mjs'], { stdio: 'ignore' });
const data = JSON.parse(fs.readFileSync('target/interop/jose_tokens.json', 'utf8'));
const at = new Date(data.now * 1000);
const token = data.algs.ES256.tokens.valid;
const jwks = data.jwks;
const cases = {
  number: 5, array: [], fn: () => {}, unknown: { audiance: 'x' }, control: { 'a\u0001b': 1 },
  algNumber: { algorithms: 5 }, algMixed: { algorithms: ['ES256', 5] }, algSparse: { algorithms: ['ES256', , 'ES384'] },
  algUnknown: { algorithms: ['XX\u0002'] }, issuer: { issuer: 1 }, issuerNull: { issuer: null }, audience: { audience: {} },
  subject: { subject: 1 }, typ: { typ: true }, tolNeg: { clockTolerance: -1 }, tolNaN: { clockTolerance: NaN },
  tolString: { clockTolerance: '5' }, tolHuge: { clockTolerance: 1e12 }, required: { requiredClaims: [1] },
  ageInf: { maxTokenAge: Infinity }, lenZero: { maxTokenLength: 0 }, lenHuge: { maxTokenLength: 2e6 },
  requireExp: { requireExp: 'yes' }, allowSym: { allowSymmetricKeys: 1 }, symNoAlg: { allowSymmetricKeys: true },
  dateString: { currentDate: 'now' }, dateNaN: { currentDate: new Date(NaN) }, dateInf: { currentDate: Infinity },
  dateFar: { currentDate: 1e20 }, dateMax: { currentDate: new Date(8.64e15) }, dateNeg: { currentDate: -1e12 },
  dateBefore1970: { currentDate: -5000 },
  lenFraction: { currentDate: at, maxTokenLength: 10.5 }, tolFraction: { currentDate: new Date((data.now + 3600 * 24 * 365) * 1000), clockTolerance: 1.9 },
  ok: { currentDate: at, issuer: data.issuer, audience: [data.audience], algorithms: 'ES256', maxTokenAge: 1e6, requireExp: true, requiredClaims: ['sub'], typ: undefined, subject: 'user-1' },
  okWrongSub: { currentDate: at, subject: 'user-2' },
};
const EXPECTED = [
  ["number", "ERR_INVALID_OPTIONS", "verifyJwt options must be an object"],
  ["array", "ERR_INVALID_OPTIONS", "verifyJwt options must be an object"],
  ["fn", "ERR_INVALID_OPTIONS", "verifyJwt options must be an object"],
  ["unknown", "ERR_INVALID_OPTIONS", "unknown option \"audiance\" in verifyJwt options; known options: algorithms, issuer, audience, subject, typ, clockTolerance, requiredClaims, currentDate, maxTokenAge, allowSymmetricKeys, maxTokenLength, requireExp"],
  ["control", "ERR_INVALID_OPTIONS", "unknown option \"a\ufffdb\" in verifyJwt options; known options: algorithms, issuer, audience, subject, typ, clockTolerance, requiredClaims, currentDate, maxTokenAge, allowSymmetricKeys, maxTokenLength, requireExp"],
  ["algNumber", "ERR_INVALID_OPTIONS", "option \"algorithms\" must be a string or an array of strings"],
  ["algMixed", "ERR_INVALID_OPTIONS", "option \"algorithms\" must be a string or an array of strings"],
  ["algSparse", "ERR_INVALID_OPTIONS", "option \"algorithms\" must be a string or an array of strings"],
  ["algUnknown", "ERR_INVALID_OPTIONS", "unknown algorithm \"XX\ufffd\" in \"algorithms\""],
  ["issuer", "ERR_INVALID_OPTIONS", "option \"issuer\" must be a string or an array of strings"],
  ["issuerNull", "ERR_INVALID_OPTIONS", "option \"issuer\" must be a string or an array of strings"],
  ["audience", "ERR_INVALID_OPTIONS", "option \"audience\" must be a string or an array of strings"],
  ["subject", "ERR_INVALID_OPTIONS", "option \"subject\" must be a string"],
  ["typ", "ERR_INVALID_OPTIONS", "option \"typ\" must be a string"],
  ["tolNeg", "ERR_INVALID_OPTIONS", "option \"clockTolerance\" must be a number from 0 to 316224000"],
  ["tolNaN", "ERR_INVALID_OPTIONS", "option \"clockTolerance\" must be a number from 0 to 316224000"],
  ["tolString", "ERR_INVALID_OPTIONS", "option \"clockTolerance\" must be a number from 0 to 316224000"],
  ["tolHuge", "ERR_INVALID_OPTIONS", "option \"clockTolerance\" must be a number from 0 to 316224000"],
  ["required", "ERR_INVALID_OPTIONS", "option \"requiredClaims\" must be a string or an array of strings"],
  ["ageInf", "ERR_INVALID_OPTIONS", "option \"maxTokenAge\" must be a number from 0 to 316224000"],
  ["lenZero", "ERR_INVALID_OPTIONS", "option \"maxTokenLength\" must be a number from 1 to 1048576"],
  ["lenHuge", "ERR_INVALID_OPTIONS", "option \"maxTokenLength\" must be a number from 1 to 1048576"],
  ["requireExp", "ERR_INVALID_OPTIONS", "option \"requireExp\" must be a boolean"],
  ["allowSym", "ERR_INVALID_OPTIONS", "option \"allowSymmetricKeys\" must be a boolean"],
  ["symNoAlg", "ERR_INVALID_OPTIONS", "allowSymmetricKeys requires an explicit \"algorithms\" list"],
  ["dateString", "ERR_INVALID_OPTIONS", "option \"currentDate\" must be a valid Date"],
  ["dateNaN", "ERR_INVALID_OPTIONS", "option \"currentDate\" must be a valid Date"],
  ["dateInf", "ERR_INVALID_OPTIONS", "option \"currentDate\" must be a valid Date"],
  ["dateFar", "ERR_INVALID_OPTIONS", "invalid options: the current date is out of range"],
  ["dateMax", "ERR_INVALID_OPTIONS", "invalid options: the current date is out of range"],
  ["dateNeg", "ERR_INVALID_OPTIONS", "invalid options: the current date is out of range"],
  ["dateBefore1970", "ERR_INVALID_OPTIONS", "invalid options: the current date is out of range"],
  ["lenFraction", "ERR_JWT_TOO_LARGE", "token is 417 bytes, over the 10-byte cap"],
  ["tolFraction", "ERR_JWT_EXPIRED", "the token has expired (\"exp\" check failed)"],
  ["ok", "accepted", "user-1"],
  ["okWrongSub", "ERR_JWT_CLAIM_VALIDATION_FAILED", "unexpected \"sub\" claim value"],
  ["keySet.unknown", "ERR_INVALID_OPTIONS", "unknown option \"audiance\" in verifyJwt options; known options: algorithms, issuer, audience, subject, typ, clockTolerance, requiredClaims, currentDate, maxTokenAge, allowSymmetricKeys, maxTokenLength, requireExp"],
  ["viaKeySet.unknown", "ERR_INVALID_OPTIONS", "unknown option \"audiance\" in verifyJwt options; known options: algorithms, issuer, audience, subject, typ, clockTolerance, requiredClaims, currentDate, maxTokenAge, allowSymmetricKeys, maxTokenLength, requireExp"],
  ["keySet.symNoAlg", "ERR_INVALID_OPTIONS", "allowSymmetricKeys requires an explicit \"algorithms\" list"],
  ["viaKeySet.symNoAlg", "ERR_INVALID_OPTIONS", "allowSymmetricKeys requires an explicit \"algorithms\" list"],
  ["keySet.algUnknown", "ERR_INVALID_OPTIONS", "unknown algorithm \"XX\ufffd\" in \"algorithms\""],
  ["viaKeySet.algUnknown", "ERR_INVALID_OPTIONS", "unknown algorithm \"XX\ufffd\" in \"algorithms\""],
  ["keySet.dateNaN", "ERR_INVALID_OPTIONS", "option \"currentDate\" must be a valid Date"],
  ["viaKeySet.dateNaN", "ERR_INVALID_OPTIONS", "option \"currentDate\" must be a valid Date"],
  ["ksNumber", "ERR_INVALID_OPTIONS", "KeySet options must be an object"],
  ["ksUnknown", "ERR_INVALID_OPTIONS", "unknown option \"x\" in KeySet options; known options: allowSymmetricKeys"],
  ["ksBool", "ERR_INVALID_OPTIONS", "option \"allowSymmetricKeys\" must be a boolean"],
  ["ksControl", "ERR_INVALID_OPTIONS", "unknown option \"\ufffd\" in KeySet options; known options: allowSymmetricKeys"],
  ["ksOk", "accepted", 4],
];

test('verifyJwt and KeySet refuse each bad option with its code and message, and accept good ones', async () => {
  const out = [];
  const outcome = async (fn) => { try { const r = await fn(); return ['accepted', r.claims.sub]; } catch (e) { return [e.code, e.message]; } };
  for (const [label, options] of Object.entries(cases)) {
    out.push([label, ...(await outcome(() => verifyJwt(token, jwks, options)))]);
  }
  const keys = new KeySet(jwks);
  for (const label of ['unknown', 'symNoAlg', 'algUnknown', 'dateNaN']) {
    out.push(['keySet.' + label, ...(await outcome(() => keys.verify(token, cases[label])))]);
    out.push(['viaKeySet.' + label, ...(await outcome(() => verifyJwt(token, keys, cases[label])))]);
  }
  for (const [label, options] of Object.entries({ ksNumber: 5, ksUnknown: { x: 1 }, ksBool: { allowSymmetricKeys: 'y' }, ksControl: { '\u0007': 1 }, ksOk: { allowSymmetricKeys: false } })) {
    try { const k = new KeySet(jwks, options); out.push([label, 'accepted', k.size]); } catch (e) { out.push([label, e.code, e.message]); }
  }
  assert.deepEqual(out, EXPECTED);
});

test('KeySet: allowSymmetricKeys reaches the key import, and its keys verify', async () => {
  const { jwk, tokens } = data.algs.HS256;
  const code = (() => { try { new KeySet(jwk); } catch (e) { return e.code; } return 'accepted'; })();
  assert.equal(code, 'ERR_JWK_SYMMETRIC_NOT_ALLOWED');
  const keys = new KeySet(jwk, { allowSymmetricKeys: true });
  assert.equal(keys.size, 1);
  assert.ok(keys instanceof KeySet);
  const options = { issuer: data.issuer, audience: data.audience, algorithms: ['HS256'], currentDate: at };
  assert.equal((await keys.verify(tokens.valid, options)).claims.sub, 'user-1');
  assert.equal((await verifyJwt(tokens.valid, keys, options)).claims.sub, 'user-1');
  keys.free();
});

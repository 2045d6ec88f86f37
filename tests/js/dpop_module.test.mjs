// The package's dpop.js in Node 20 (WebCrypto), the interface the driver and the OAuth profile
// use: Dpop.create / jkt / proof / remember / toMessage / fromMessage, and sendWithProof against
// a local HTTP server that asks for a nonce. Proofs are checked by the package's own
// verifyDpopProof (the core's verifier) and by npm jose's thumbprint.
// Needs the package: Dpop from the tokenwarden/oauth entry (TW_PKG_DIR, default pkg/oauth),
// verifyDpopProof from tokenwarden/verify (TW_VERIFY_DIR, default pkg/verify).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import { calculateJwkThumbprint } from 'jose';

const PKG = resolve(process.env.TW_PKG_DIR ?? 'pkg/oauth');
const { verifyDpopProof } = await import(`${resolve(process.env.TW_VERIFY_DIR ?? 'pkg/verify')}/node/index.js`);
const { Dpop, sendWithProof } = await import(`${PKG}/node/dpop.js`);

const decode = (part) => JSON.parse(Buffer.from(part, 'base64url').toString());
const ath = (token) => createHash('sha256').update(token).digest('base64url');
const anyJti = () => true;

test('a key pair per Dpop; proofs verify with the core verifier, bound to jkt', async () => {
  const dpop = await Dpop.create();
  const other = await Dpop.create();
  assert.notEqual(dpop.jkt, other.jkt);
  const proof = await dpop.proof('GET', 'https://api.example/r?x=1#f', 'the-token');
  const [header, claims] = proof.split('.').map((p, i) => (i < 2 ? decode(p) : p));
  assert.equal(dpop.jkt, await calculateJwkThumbprint(header.jwk));
  assert.equal(claims.htu, 'https://api.example/r');
  assert.equal(claims.ath, ath('the-token'));
  assert.equal(claims.nonce, undefined);
  const verified = await verifyDpopProof(proof,
    { method: 'GET', url: 'https://api.example/r', accessToken: 'the-token', jkt: dpop.jkt }, { replayCache: anyJti });
  assert.equal(verified.jkt, dpop.jkt);
  const refused = await verifyDpopProof(await other.proof('GET', 'https://api.example/r', 'the-token'),
    { method: 'GET', url: 'https://api.example/r', accessToken: 'the-token', jkt: dpop.jkt }, { replayCache: anyJti })
    .catch((e) => e.code);
  assert.equal(refused, 'ERR_DPOP_KEY_MISMATCH');
  // A proof without an access token has no ath; bad input is a typed error.
  assert.equal(decode((await dpop.proof('POST', 'https://as.example/token')).split('.')[1]).ath, undefined);
  for (const [method, url] of [['GET', 'ftp://x.example/'], ['G T', 'https://x.example/'], ['GET', '/relative']]) {
    assert.equal(await dpop.proof(method, url).then(() => 'signed', (e) => e.code), 'ERR_DPOP', `${method} ${url}`);
  }
});

test('remember: the nonce of an origin, and which responses ask for one', async () => {
  const dpop = await Dpop.create();
  const response = (status, headers) => new Response(null, { status, headers });
  const asks401 = response(401, { 'WWW-Authenticate': 'DPoP error="use_dpop_nonce"', 'DPoP-Nonce': 'n1' });
  assert.equal(dpop.remember('https://api.example/a', asks401), true);
  const nonce = async (url) => decode((await dpop.proof('GET', url)).split('.')[1]).nonce;
  assert.equal(await nonce('https://API.example:443/b?q'), 'n1', 'per origin');
  assert.equal(await nonce('https://api.example:8443/b'), undefined);
  // A token endpoint's 400: the body's error, read by the caller, is the third argument.
  const asks400 = response(400, { 'DPoP-Nonce': 'n2' });
  assert.equal(dpop.remember('https://api.example/token', asks400), false);
  assert.equal(dpop.remember('https://api.example/token', asks400, 'use_dpop_nonce'), true);
  assert.equal(await nonce('https://api.example/'), 'n2');
  assert.equal(dpop.remember('https://api.example/', response(401, { 'WWW-Authenticate': 'DPoP error="invalid_token"' })), false);
  assert.equal(dpop.remember('https://api.example/', response(200, {})), false);
  assert.equal(await nonce('https://api.example/'), 'n2', 'a response without a nonce keeps the last one');
});

test('toMessage / fromMessage: the same non-extractable pair and jkt; anything else is refused', async () => {
  const dpop = await Dpop.create();
  const message = structuredClone(dpop.toMessage());
  assert.equal(message.privateKey.extractable, false);
  await assert.rejects(crypto.subtle.exportKey('pkcs8', message.privateKey));
  const sibling = Dpop.fromMessage(message);
  assert.equal(sibling.jkt, dpop.jkt);
  const proof = await sibling.proof('GET', 'https://api.example/r', 't');
  await verifyDpopProof(proof, { method: 'GET', url: 'https://api.example/r', accessToken: 't', jkt: dpop.jkt }, { replayCache: anyJti });

  const extractable = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const p384 = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, false, ['sign', 'verify']);
  for (const bad of [null, 'x', {}, { ...message, privateKey: extractable.privateKey },
    { ...message, privateKey: p384.privateKey, publicKey: p384.publicKey },
    { ...message, privateKey: message.publicKey }, { ...message, jkt: 'short' }, { ...message, x: 'A'.repeat(43) + '!' },
    { ...message, y: 5 }]) {
    assert.equal(Dpop.fromMessage(bad), null, JSON.stringify(bad));
  }
});

test('sendWithProof: a 400 use_dpop_nonce with a nonce is answered once more, never twice', async () => {
  const seen = [];
  let mode = 'once';
  const server = createServer((req, res) => {
    seen.push({ proof: req.headers.dpop, auth: req.headers.authorization });
    const nonce = decode(req.headers.dpop.split('.')[1]).nonce;
    if (mode === 'always' || nonce !== 'server-nonce') {
      res.writeHead(400, { 'content-type': 'application/json', 'DPoP-Nonce': 'server-nonce' });
      res.end(JSON.stringify({ error: 'use_dpop_nonce' }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/token`;
  try {
    const dpop = await Dpop.create();
    const init = { method: 'POST', body: 'grant_type=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } };
    const first = await sendWithProof(dpop, url, init);
    assert.equal(first.status, 200);
    assert.deepEqual(await first.json(), { ok: true });
    assert.equal(seen.length, 2, 'one retry');
    assert.equal(decode(seen[1].proof.split('.')[1]).nonce, 'server-nonce');
    // The nonce is remembered: no retry next time.
    assert.equal((await sendWithProof(dpop, url, init)).status, 200);
    assert.equal(seen.length, 3);
    // A server that keeps asking gets one retry, then its answer (body still readable).
    mode = 'always';
    const last = await sendWithProof(dpop, url, init, 'at', fetch);
    assert.equal(last.status, 400);
    assert.deepEqual(await last.json(), { error: 'use_dpop_nonce' });
    assert.equal(seen.length, 5);
    assert.equal(decode(seen[4].proof.split('.')[1]).ath, ath('at'));
  } finally {
    server.close();
  }
});

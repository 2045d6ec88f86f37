// The verification and decoding suites, shared by Node (node_bench.mjs) and Chromium
// (browser_entry.mjs). `tw` is the tokenwarden package, `jose` the jose module, `jwtDecode`
// jwt-decode's function; `data` comes from make_tokens.mjs.
import { compare } from './harness.mjs';

export const ALGS = ['HS256', 'RS256', 'PS256', 'ES256', 'EdDSA'];

/** Checks that every library accepts every token (and that both reject a tampered one). */
export async function checkAgreement(tw, jose, data) {
  const { twKeys, joseKeys } = await importKeys(tw, jose, data);
  for (const alg of ALGS) {
    const token = data.tokens[alg];
    const a = await tw.verifyJwt(token, twKeys[alg], twOptions(data, alg));
    const b = await jose.jwtVerify(token, joseKeys[alg], joseOptions(data, alg));
    if (a.claims.sub !== b.payload.sub || a.header.kid !== b.protectedHeader.kid) {
      throw new Error(`${alg}: tokenwarden and jose disagree`);
    }
    const [h, p, s] = token.split('.');
    const bad = `${h}.${p}.${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}`;
    let twRejects = false;
    let joseRejects = false;
    try { await tw.verifyJwt(bad, twKeys[alg], twOptions(data, alg)); } catch { twRejects = true; }
    try { await jose.jwtVerify(bad, joseKeys[alg], joseOptions(data, alg)); } catch { joseRejects = true; }
    if (!twRejects || !joseRejects) throw new Error(`${alg}: a tampered token was accepted`);
  }
}

function twOptions(data, alg) {
  const o = { algorithms: [alg], issuer: data.issuer, audience: data.audience };
  if (alg === 'HS256') o.allowSymmetricKeys = true;
  return o;
}

function joseOptions(data, alg) {
  return { algorithms: [alg], issuer: data.issuer, audience: data.audience };
}

/**
 * Pre-imported keys. Asymmetric: the JWK Set of four keys (ES256, EdDSA, RS256, PS256), selected by
 * `kid` on each call (tokenwarden `new KeySet(jwks)`, jose `createLocalJWKSet(jwks)`, which caches
 * its imported CryptoKeys). HS256: the one `oct` key (jose's local JWK Sets take no `oct` keys,
 * so jose gets `importJWK`; tokenwarden a KeySet with `allowSymmetricKeys`).
 */
async function importKeys(tw, jose, data) {
  const twSet = new tw.KeySet(data.jwks);
  const twHs = new tw.KeySet({ keys: [data.hsJwk] }, { allowSymmetricKeys: true });
  const joseSet = jose.createLocalJWKSet(data.jwks);
  const joseHs = await jose.importJWK(data.hsJwk, 'HS256');
  const twKeys = { HS256: twHs, RS256: twSet, PS256: twSet, ES256: twSet, EdDSA: twSet };
  const joseKeys = { HS256: joseHs, RS256: joseSet, PS256: joseSet, ES256: joseSet, EdDSA: joseSet };
  return { twKeys, joseKeys };
}

/** `twSync`, when given, is the build with feature hmac-sync: a third HS256 case. */
export async function verifySuite(tw, jose, data, opts, twSync = null) {
  const { twKeys, joseKeys } = await importKeys(tw, jose, data);
  const out = {};
  for (const alg of ALGS) {
    const token = data.tokens[alg];
    const tOpts = twOptions(data, alg);
    const jOpts = joseOptions(data, alg);
    // Warm both CryptoKey caches (jose's per key, tokenwarden's per KeySet) before calibration.
    await jose.jwtVerify(token, joseKeys[alg], jOpts);
    await tw.verifyJwt(token, twKeys[alg], tOpts);
    const cases = [
      { name: 'tokenwarden', fn: () => tw.verifyJwt(token, twKeys[alg], tOpts), async: true },
      { name: 'jose', fn: () => jose.jwtVerify(token, joseKeys[alg], jOpts), async: true },
    ];
    const pairs = [['tokenwarden', 'jose']];
    if (twSync && alg === 'HS256') {
      const syncKeys = new twSync.KeySet({ keys: [data.hsJwk] }, { allowSymmetricKeys: true });
      const verified = await twSync.verifyJwt(token, syncKeys, tOpts);
      const bad = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BA' : 'AA'}`;
      const rejected = await twSync.verifyJwt(bad, syncKeys, tOpts).then(() => false, () => true);
      if (!verified.claims.sub || !rejected) throw new Error('hmac-sync: disagrees with jose');
      cases.push({ name: 'tokenwarden hmac-sync', fn: () => twSync.verifyJwt(token, syncKeys, tOpts), async: true });
      pairs.push(['tokenwarden hmac-sync', 'jose']);
    }
    out[alg] = await compare(
      cases,
      pairs,
      { ...opts, log: (s) => opts.log?.(`verify ${alg}: ${s}`) },
    );
  }
  return out;
}

/**
 * tokenwarden's `decodeJwt` parses and checks both the header and the payload; jose's `decodeJwt`
 * reads the payload only, so the comparison on equal work is with jose's `decodeJwt` +
 * `decodeProtectedHeader` (both parts parsed), interleaved in the same rounds as the others.
 */
export async function decodeSuite(tw, jose, jwtDecode, data, opts) {
  const token = data.tokens.ES256;
  const both = () => ({ header: jose.decodeProtectedHeader(token), claims: jose.decodeJwt(token) });
  if (both().claims.sub !== tw.decodeJwt(token).claims.sub) throw new Error('decodeJwt: tokenwarden and jose disagree');
  return compare(
    [
      { name: 'tokenwarden', fn: () => tw.decodeJwt(token) },
      { name: 'jose', fn: () => jose.decodeJwt(token) },
      { name: 'jose header + payload', fn: both },
      { name: 'jwt-decode', fn: () => jwtDecode(token) },
    ],
    [['tokenwarden', 'jose'], ['tokenwarden', 'jose header + payload'], ['tokenwarden', 'jwt-decode']],
    { ...opts, log: (s) => opts.log?.(`decode: ${s}`) },
  );
}

// Signs the benchmark tokens with jose (fresh keys each run) and writes them with the public
// keys: node make_tokens.mjs OUT.json
// One token per algorithm, with the same realistic access-token claims (about 400 bytes of
// JSON), a `kid`, an issuer and an audience, valid for two hours.
import fs from 'node:fs';
import { SignJWT, exportJWK, generateKeyPair, generateSecret } from 'jose';

const OUT = process.argv[2];
const ISSUER = 'https://auth.example.com/';
const AUDIENCE = 'https://api.example.com';
const now = Math.floor(Date.now() / 1000);

const claims = {
  iss: ISSUER,
  sub: 'auth0|5f7c8ec7c33c6c004bbafe82',
  aud: [AUDIENCE, 'https://auth.example.com/userinfo'],
  iat: now - 60,
  nbf: now - 60,
  exp: now + 7200,
  jti: '4f1a23a1-2aa8-4b5c-8e9e-b1d07a2f3c9e',
  azp: 'spa-client-7Hq3',
  scope: 'openid profile email read:items write:items',
  email: 'ada.lovelace@example.com',
  email_verified: true,
  name: 'Ada Lovelace',
  roles: ['user', 'beta'],
  org_id: 'org_9c2f41',
};

const SPECS = {
  RS256: () => generateKeyPair('RS256', { modulusLength: 2048, extractable: true }),
  PS256: () => generateKeyPair('PS256', { modulusLength: 2048, extractable: true }),
  ES256: () => generateKeyPair('ES256', { extractable: true }),
  EdDSA: () => generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true }),
  HS256: async () => {
    const k = await generateSecret('HS256', { extractable: true });
    return { privateKey: k, publicKey: k };
  },
};

const tokens = {};
const keys = [];
let hsJwk;
for (const [alg, gen] of Object.entries(SPECS)) {
  const { privateKey, publicKey } = await gen();
  const kid = `bench-${alg.toLowerCase()}-2026`;
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  if (alg === 'HS256') hsJwk = jwk;
  else keys.push(jwk);
  tokens[alg] = await new SignJWT(claims)
    .setProtectedHeader({ alg, kid, typ: 'JWT' })
    .sign(privateKey);
}

fs.writeFileSync(OUT, JSON.stringify({
  issuer: ISSUER, audience: AUDIENCE, claimsBytes: JSON.stringify(claims).length,
  jwks: { keys }, hsJwk, tokens,
}, null, 1));
console.log(`tokens: ${Object.keys(tokens).join(', ')} (claims ${JSON.stringify(claims).length} bytes) -> ${OUT}`);

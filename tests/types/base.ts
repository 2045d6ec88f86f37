// Type-checks the declarations of the `tokenwarden` entry (the dialect manager and decodeJwt,
// no verification, no OAuth, no DPoP): they describe exactly what that module exports, so
// importing what lives in the other entries fails at compile time.
import { TokenManager, decodeJwt, type DecodedJWT, type TokenManagerOptions } from 'tokenwarden';
// @ts-expect-error -- in tokenwarden/verify
import { verifyJwt } from 'tokenwarden';
// @ts-expect-error -- in tokenwarden/verify
import { KeySet } from 'tokenwarden';
// @ts-expect-error -- in tokenwarden/verify
import { verifyDpopProof } from 'tokenwarden';
import { verifyDpopProof as verifyProof, verifyJwt as verify, decodeJwt as decode } from 'tokenwarden/verify';
// @ts-expect-error -- the verify entry has no TokenManager
import { TokenManager as NoManager } from 'tokenwarden/verify';

const decoded: DecodedJWT = decodeJwt('a.b.c');
const options: TokenManagerOptions = { refreshUrl: '/auth/refresh', loginUrl: '/auth/login' };
const tm = new TokenManager(options);
// @ts-expect-error -- the OAuth profile's methods are in tokenwarden/oauth
tm.loginWithRedirect();
// @ts-expect-error -- the OAuth profile is in tokenwarden/oauth
new TokenManager({ oauth: { issuer: 'https://op.example', clientId: 'c', redirectUri: 'https://app.example/cb' } });
// @ts-expect-error -- DPoP is in tokenwarden/oauth
new TokenManager({ refreshUrl: '/auth/refresh', dpop: true });
export const used = [decoded.claims.sub, tm.state, verifyJwt, KeySet, verifyDpopProof, verifyProof, verify, decode, NoManager];

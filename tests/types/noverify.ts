// Type-checks the declarations of the build without signature verification
// (scripts/build-pkg.sh target/pkg-noverify --no-default-features): they describe exactly
// what that module exports, so importing verifyJwt or KeySet fails at compile time.
import { TokenManager, decodeJwt, type DecodedJWT } from 'tokenwarden';
// @ts-expect-error -- not exported without verification
import { verifyJwt } from 'tokenwarden';
// @ts-expect-error -- not exported without verification
import { KeySet } from 'tokenwarden';

const decoded: DecodedJWT = decodeJwt('a.b.c');
const tm = new TokenManager({ refreshUrl: '/auth/refresh' });
// @ts-expect-error -- the OAuth profile's methods are not in the build without verification
tm.loginWithRedirect();
export const used = [decoded.claims.sub, tm.state, verifyJwt, KeySet];

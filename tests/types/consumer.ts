// A TypeScript consumer of the npm package's tokenwarden/oauth and tokenwarden/verify entries:
// every exported type is used, and misuse must not compile (tokenwarden itself: base.ts). Checked by scripts/test-types.sh (`tsc --noEmit --strict -p tests/types`); never run.
import { KeySet, verifyJwt, type VerifyOptions, type KeySetOptions } from 'tokenwarden/verify';
import { popupCallback } from 'tokenwarden/popup';
import {
  TokenManager,
  decodeJwt,
  type JWK,
  type JWKSet,
  type JWSAlgorithm,
  type JWTHeader,
  type JWTClaims,
  type DecodedJWT,
  type ErrorCode,
  type TokenwardenError,
  type TokenManagerState,
  type TokenManagerOptions,
  type TokenManagerTokens,
  type ChangeEvent,
  type RefreshedEvent,
  type RefreshFailedEvent,
  type ExpiredEvent,
  type LoggedOutEvent,
  type TokenManagerEventMap,
  type TokenManagerErrorCode,
  type TokenManagerError,
  type OAuthClientOptions,
  type LoginWithRedirectOptions,
  type OAuthErrorCode,
} from 'tokenwarden/oauth';

// The OAuth 2.0 / OpenID Connect profile.
const client: OAuthClientOptions = {
  issuer: 'https://tenant.example.auth0.com/',
  clientId: 'spa',
  redirectUri: 'https://app.example/callback',
  audience: 'https://api.example',
  resource: ['https://api.example'],
  postLogoutRedirectUri: 'https://app.example/',
};
const oauth = new TokenManager({ oauth: client, allowedOrigins: ['https://api.example'] });
// DPoP is an option of both profiles.
const oauthDpop = new TokenManager({ oauth: client, dpop: true });
const oauthJkt: string | null = oauthDpop.dpopJkt;
void oauthJkt;
async function oauthFlow(): Promise<OAuthErrorCode | void> {
  const login: LoginWithRedirectOptions = { prompt: 'login', loginHint: 'a@example.com', maxAge: 600, extraParams: { ui_locales: 'de' } };
  if (new URLSearchParams(location.search).has('code')) {
    try {
      await oauth.handleRedirectCallback();
    } catch (error) {
      const code: TokenManagerErrorCode = (error as TokenManagerError).code;
      if (code === 'ERR_OAUTH_STATE_MISMATCH' || code === 'ERR_OAUTH_ACCESS_DENIED') return code;
    }
  } else if (!(await oauth.start())) {
    await oauth.loginWithRedirect(login);
  }
  await oauth.logout({ endSession: true });
}
void oauthFlow;

// ---- TokenManager: options, state, events, errors --------------------------------------------
const options: TokenManagerOptions = {
  loginUrl: '/auth/login',
  refreshUrl: '/auth/refresh',
  logoutUrl: '/auth/logout',
  refreshToken: 'cookie',
  allowedOrigins: ['https://api.example.com'],
  credentials: 'include',
  retryOn401: 'invalid_token',
  exposeToken: false,
  requestTimeoutMs: 10_000,
  refreshLeadFraction: 0.2,
  minRefreshLeadMs: 5_000,
  maxRefreshLeadMs: 120_000,
  refreshJitterFraction: 0.1,
  minRefreshIntervalMs: 10_000,
  backoffInitialMs: 1_000,
  backoffMaxMs: 60_000,
  backoffJitterFraction: 0.2,
  expiredRequests: 'wait',
};
const tm = new TokenManager(options);
const memory = new TokenManager({ refreshUrl: 'https://auth.example.com/refresh', refreshToken: 'memory' });
// Worker custody: the same class and API, on both profiles.
const inWorker = new TokenManager({ refreshUrl: '/auth/refresh', custody: 'worker', shareTokens: false });
const where: 'page' | 'worker' = inWorker.custody;
void where;
const oauthInWorker = new TokenManager({ oauth: { issuer: 'https://op.example', clientId: 'c', redirectUri: 'https://app.example/cb' }, custody: 'worker' });
void oauthInWorker.loginWithRedirect();
// loginWithPopup (from a click handler) and its callback page's tokenwarden/popup (no wasm).
const popupLogin: Promise<void> = oauth.loginWithPopup({ timeoutInSeconds: 300, prompt: 'login' });
void popupLogin;
const persistent = new TokenManager({ oauth: client, dpop: true, persist: 'dpop' });
void persistent;
// @ts-expect-error: persist keeps only a DPoP-bound session
void new TokenManager({ oauth: client, dpop: true, persist: 'localStorage' });
const popupCode: OAuthErrorCode = 'ERR_OAUTH_POPUP_TIMEOUT';
void popupCode;
void new TokenManager({ oauth: { ...client, popupRedirectUri: 'https://app.example/popup.html' } });
// Several APIs, one login: a token per origin (RFC 8707 resource, Auth0 audience, Entra scope).
void new TokenManager({ oauth: { ...client, resources: {
  'https://orders.example': { resource: 'https://orders.example/', scope: 'orders:read' },
  'https://billing.example': { audience: 'billing' },
  'https://graph.example': { scope: 'api://graph/.default' },
} } });
const resourceCode: OAuthErrorCode = 'ERR_OAUTH_RESOURCE_UNAVAILABLE';
void resourceCode;
// @ts-expect-error: an API is an object, not an audience string
void new TokenManager({ oauth: { ...client, resources: { 'https://a.example': 'a' } } });
const answer: (url?: string) => void = popupCallback;
void answer;
// @ts-expect-error: timeoutInSeconds is a number
void oauth.loginWithPopup({ timeoutInSeconds: '300' });
// @ts-expect-error custody is "page" or "worker"
void new TokenManager({ refreshUrl: '/auth/refresh', custody: 'vault' });

const tokens: TokenManagerTokens = { accessToken: 'a.b.c', refreshToken: 'r', expiresIn: 300 };
memory.setTokens(tokens);

async function flow(): Promise<void> {
  const restored: boolean = await tm.start();
  if (!restored) await tm.login({ username: 'demo', password: 'demo-password' });
  await tm.refresh();
  const response: Response = await tm.fetch('/api/me');
  await tm.fetch(new URL('https://api.example.com/items'), { method: 'POST', body: '{}' });
  await tm.fetch(new Request('https://api.example.com/items'));
  const token: string = await tm.getAccessToken();
  const state: TokenManagerState = tm.state;
  const claims: JWTClaims | null = tm.claims;
  const sub: string | undefined = claims?.sub;
  const expiresAt: number | null = tm.expiresAt;
  const offset: number | null = tm.clockOffsetMs;
  const source: 'expires_in' | 'exp' | null = tm.expirySource;
  void [response, token, state, sub, expiresAt, offset, source];
  await tm.logout();
  tm.free();
}

const offs: Array<() => void> = [
  tm.on('change', (e: ChangeEvent) => { const s: TokenManagerState = e.state; void s; }),
  tm.on('refreshed', (e: RefreshedEvent) => { const t: 'refreshed' = e.type; const s: 'self' | 'otherTab' = e.source; void t; void s; }),
  tm.on('refreshFailed', (e: RefreshFailedEvent) => {
    const status: number | null = e.status;
    const retryAt: number = e.retryAt;
    const first: boolean = e.tokenExpiresFirst;
    const reason: RefreshFailedEvent['reason'] = e.reason;
    void [status, retryAt, first, reason];
  }),
  tm.on('expired', (e: ExpiredEvent) => void e),
  tm.on('loggedOut', (e: LoggedOutEvent) => { if (e.reason === 'invalid_grant' || e.reason === 'workerLost') void e; }),
];
offs.forEach((off) => off());

// A generic listener typed by the event map.
function listen<K extends keyof TokenManagerEventMap>(name: K, f: (e: TokenManagerEventMap[K]) => void) {
  return tm.on(name, f);
}
listen('change', (e) => { const s: TokenManagerState = e.state; void s; });

function managerCode(error: unknown): TokenManagerErrorCode | undefined {
  if (error instanceof Error && 'code' in error) {
    const e = error as TokenManagerError;
    const status: number | undefined = e.status;
    void status;
    return e.code;
  }
  return undefined;
}

// ---- verification -----------------------------------------------------------------------------
const jwk: JWK = { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', alg: 'ES256', kid: 'k1', use: 'sig' };
const jwks: JWKSet = { keys: [jwk] };
const algorithms: JWSAlgorithm[] = ['ES256', 'EdDSA', 'RS256'];
const verifyOptions: VerifyOptions = {
  algorithms,
  issuer: 'https://issuer.example.com',
  audience: ['api'],
  subject: 'user-1',
  typ: 'at+jwt',
  clockTolerance: 30,
  requiredClaims: ['jti'],
  currentDate: new Date(),
  maxTokenAge: 3_600,
  maxTokenLength: 8_192,
  requireExp: true,
  allowSymmetricKeys: false,
};
interface AppClaims extends JWTClaims { scope: string }
const verified: DecodedJWT<AppClaims> = await verifyJwt<AppClaims>('a.b.c', jwks, verifyOptions);
const scope: string = verified.claims.scope;
const header: JWTHeader = verified.header;
const alg: string = header.alg;
const decoded: DecodedJWT = decodeJwt('a.b.c');
const keySetOptions: KeySetOptions = { allowSymmetricKeys: false };
const keys = new KeySet(jwks, keySetOptions);
const size: number = keys.size;
const again: DecodedJWT = await keys.verify('a.b.c', { algorithms: ['ES256'] });
const viaKeySet: Promise<DecodedJWT> = verifyJwt('a.b.c', keys);
keys.free();

function verifyCode(error: unknown): ErrorCode | undefined {
  const e = error as TokenwardenError;
  const claim: string | undefined = e.claim;
  const reason: 'missing' | 'invalid' | 'out_of_range' | 'check_failed' | undefined = e.reason;
  void [claim, reason];
  return e.code;
}

void [flow, managerCode, verifyCode, scope, alg, decoded, size, again, viaKeySet, memory];

// ---- misuse must not compile ------------------------------------------------------------------
// @ts-expect-error: misspelled option (loginUrl)
new TokenManager({ refreshUrl: '/auth/refresh', loginUlr: '/auth/login' });
// @ts-expect-error: refreshUrl is required
new TokenManager({ loginUrl: '/auth/login' });
// @ts-expect-error: the oauth profile has no refreshUrl (the provider's token endpoint refreshes)
new TokenManager({ oauth: client, refreshUrl: '/auth/refresh' });
// @ts-expect-error: clientId is required
new TokenManager({ oauth: { issuer: 'https://idp.example', redirectUri: 'https://app.example/cb' } });
// @ts-expect-error: not a refresh-token transport
new TokenManager({ refreshUrl: '/auth/refresh', refreshToken: 'localStorage' });
// @ts-expect-error: no such event
tm.on('refresh', () => {});
// @ts-expect-error: a loggedOut listener gets a LoggedOutEvent, whose reason is not a number
tm.on('loggedOut', (e) => { const n: number = e.reason; void n; });
// @ts-expect-error: state is read-only
tm.state = 'authenticated';
// @ts-expect-error: not a known error code
const bogus: TokenManagerErrorCode = 'ERR_BOGUS';
// @ts-expect-error: clockTolerance is in seconds, a number
verifyJwt('a.b.c', jwks, { clockTolerance: '30s' });
// @ts-expect-error: verifyJwt returns a Promise, like jose's jwtVerify
const notAwaited: DecodedJWT = verifyJwt('a.b.c', jwks);
void notAwaited;
// @ts-expect-error: not an algorithm
const none: JWSAlgorithm = 'none';
void [bogus, none];

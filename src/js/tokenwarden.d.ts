// Type declarations for the `tokenwarden` npm package.

/** A JSON Web Key (RFC 7517) as accepted for verification. */
export interface JWK {
  kty: 'EC' | 'OKP' | 'RSA' | 'oct' | (string & {});
  kid?: string;
  alg?: JWSAlgorithm | (string & {});
  use?: 'sig' | 'enc' | (string & {});
  key_ops?: string[];
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
  k?: string;
  [member: string]: unknown;
}

/** A JWK Set (RFC 7517 §5). */
export interface JWKSet {
  keys: JWK[];
}

export type JWSAlgorithm =
  | 'ES256' | 'EdDSA'
  | 'RS256' | 'RS384' | 'RS512'
  | 'PS256' | 'PS384' | 'PS512'
  | 'HS256' | 'HS384' | 'HS512';

/** The protected header of a JWS. */
export interface JWTHeader {
  alg: string;
  typ?: string;
  cty?: string;
  kid?: string;
  [parameter: string]: unknown;
}

/** JWT claims; registered claims are typed and range-checked. */
export interface JWTClaims {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  /** Seconds since the epoch. */
  exp?: number;
  nbf?: number;
  iat?: number;
  jti?: string;
  [claim: string]: unknown;
}

export interface DecodedJWT<C extends JWTClaims = JWTClaims> {
  header: JWTHeader;
  claims: C;
}

// @verify-begin (declaration blocks by entry: @verify- only in tokenwarden/verify, @manager- in both
// manager entries, @oauth- only in tokenwarden/oauth, @base- only in tokenwarden; scripts/build-pkg.sh)
/** Options of `verifyJwt` and `KeySet#verify` (jose's names). */
export interface VerifyOptions {
  /** Accepted algorithms; default: every compiled-in asymmetric algorithm. */
  algorithms?: JWSAlgorithm[];
  /** Accepted `iss` value(s), exact match. */
  issuer?: string | string[];
  /** Accepted `aud` value(s); the token must name at least one. */
  audience?: string | string[];
  /** Required `sub`. */
  subject?: string;
  /** Required header `typ` (e.g. `at+jwt`). */
  typ?: string;
  /** Clock tolerance in seconds for `exp`, `nbf` and `maxTokenAge`. */
  clockTolerance?: number;
  /** Claims that must be present. */
  requiredClaims?: string[];
  /** The time to verify at (default: now). */
  currentDate?: Date;
  /** Maximum age in seconds, from `iat` (which becomes required). */
  maxTokenAge?: number;
  /** Cap on the token length in bytes (default 8192). */
  maxTokenLength?: number;
  /** Whether `exp` is required (default true). */
  requireExp?: boolean;
  /** Accept `oct` keys and raw secrets (requires an explicit `algorithms` list). */
  allowSymmetricKeys?: boolean;
}

export interface KeySetOptions {
  /** Accept `oct` keys and raw secrets. Off by default: a secret in a browser is not secret. */
  allowSymmetricKeys?: boolean;
}

/**
 * Keys imported once for many verifications (like jose's `createLocalJWKSet`): each JWK is
 * checked at construction (a malformed, private, weak or small-order key throws
 * `ERR_JWK_INVALID` / `ERR_JWK_WEAK_KEY` here) and imported into WebCrypto once.
 */
export class KeySet {
  constructor(keys: JWK | JWKSet | Uint8Array | string, options?: KeySetOptions);
  /** Number of usable verification keys. */
  readonly size: number;
  /** Verifies a JWT's signature (with WebCrypto) and claims. Rejects with `TokenwardenError`. */
  verify<C extends JWTClaims = JWTClaims>(
    token: string,
    options?: VerifyOptions,
  ): Promise<DecodedJWT<C>>;
  /** Releases the wasm memory held by the key set. */
  free(): void;
}

// @verify-end
/** Decodes a JWT without verifying its signature. Throws `TokenwardenError`. */
export function decodeJwt<C extends JWTClaims = JWTClaims>(token: string): DecodedJWT<C>;

// @verify-begin
/**
 * Verifies a JWT's signature (with WebCrypto, like jose's `jwtVerify`) and claims. Rejects with
 * `TokenwardenError`. Pass a `KeySet` to import keys once for many tokens.
 */
export function verifyJwt<C extends JWTClaims = JWTClaims>(
  token: string,
  keys: KeySet | JWK | JWKSet | Uint8Array | string,
  options?: VerifyOptions,
): Promise<DecodedJWT<C>>;

/** The request a DPoP proof must match (`verifyDpopProof`). */
export interface DpopRequest {
  /** The request's method, exactly. */
  method: string;
  /** The URL the request was addressed to (query and fragment are ignored). */
  url: string;
  /** The access token sent with `Authorization: DPoP` (the proof's `ath` must hash it). */
  accessToken?: string;
  /** The nonce (or nonces) the server accepts now; a proof without one is `use_dpop_nonce`. */
  nonce?: string | string[];
  /** The token's `cnf.jkt` (or the refresh token's bound key). */
  jkt?: string;
}

/** Options of `verifyDpopProof`. */
export interface DpopVerifyOptions {
  /** Records a proof's `jti` and answers whether it was new (`false`: a replay). Required. */
  replayCache: (jti: string, expiresAt: number, jkt: string) => boolean | Promise<boolean>;
  /** Accepted algorithms (default: every asymmetric one). */
  algorithms?: string[];
  /** Seconds a proof is accepted after its `iat` (default 300). */
  maxAge?: number;
  /** Clock tolerance in seconds (default 5). */
  clockTolerance?: number;
  currentDate?: Date;
}

/** A DPoP proof that passed every check. */
export interface VerifiedDpopProof {
  /** RFC 7638 thumbprint of the proof's key: bind new tokens to it with `cnf.jkt`. */
  jkt: string;
  jti: string;
  iat: number;
  alg: string;
}

/**
 * Verifies a DPoP proof (RFC 9449) for a server. Rejects with an `Error` whose `code` is an
 * `ERR_DPOP_*` code and whose `error` is the OAuth error to answer with (`invalid_dpop_proof`,
 * `use_dpop_nonce`, `invalid_token`).
 */
export function verifyDpopProof(
  proof: string,
  request: DpopRequest,
  options: DpopVerifyOptions,
): Promise<VerifiedDpopProof>;
// @verify-end

/** Stable error codes (jose's where jose has one). */
export type ErrorCode =
  | 'ERR_JWT_TOO_LARGE'
  | 'ERR_JWS_INVALID'
  | 'ERR_JWS_INVALID_BASE64'
  | 'ERR_JWT_INVALID_UTF8'
  | 'ERR_JWT_INVALID'
  | 'ERR_JWT_DUPLICATE_MEMBER'
  | 'ERR_JWS_INVALID_HEADER'
  | 'ERR_JOSE_NOT_SUPPORTED'
  | 'ERR_JWS_UNENCODED_PAYLOAD'
  | 'ERR_JOSE_ALG_NOT_ALLOWED'
  | 'ERR_JOSE_KEY_ALG_MISMATCH'
  | 'ERR_JWKS_NO_MATCHING_KEY'
  | 'ERR_JWKS_MULTIPLE_MATCHING_KEYS'
  | 'ERR_JWS_SIGNATURE_MALFORMED'
  | 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED'
  | 'ERR_JWT_CLAIM_VALIDATION_FAILED'
  | 'ERR_JWT_EXPIRED'
  | 'ERR_JWK_INVALID'
  | 'ERR_JWK_WEAK_KEY'
  | 'ERR_JWK_SYMMETRIC_NOT_ALLOWED'
  | 'ERR_INVALID_OPTIONS';

/** Every error thrown by tokenwarden is an `Error` with these properties. */
export interface TokenwardenError extends Error {
  code: ErrorCode;
  /** For claim failures: the claim (`exp`, `nbf`, `iat`, `iss`, `aud`, `sub`, `typ`, ...). */
  claim?: string;
  /** For claim failures: `missing`, `invalid`, `out_of_range` or `check_failed`. */
  reason?: 'missing' | 'invalid' | 'out_of_range' | 'check_failed';
}

// @manager-begin (the TokenManager: tokenwarden and tokenwarden/oauth)
// ---------------------------------------------------------------------------------------------
// TokenManager

/** Session state. */
export type TokenManagerState = 'anonymous' | 'authenticated' | 'refreshing' | 'expired';

/**
 * Options of `new TokenManager(options)`: the reference dialect (`refreshUrl`, `loginUrl`, ...)
 * or the OAuth 2.0 / OpenID Connect profile (`oauth`). Unknown or invalid options throw
 * `ERR_INVALID_OPTIONS`.
 */
// @oauth-begin
export type TokenManagerOptions = TokenManagerDialectOptions | TokenManagerOAuthOptions;
// @oauth-end
// @base-begin
export type TokenManagerOptions = TokenManagerDialectOptions;
// @base-end

/** The provider and the public client of the OAuth profile. */
export interface OAuthClientOptions {
  /** The issuer identifier, exactly as the provider's metadata spells it (trailing slash included). https, or http to loopback hosts. */
  issuer: string;
  /** The client id of a public client (SPA: no secret, PKCE). */
  clientId: string;
  /** The registered redirect URI: the page that calls `handleRedirectCallback()`. */
  redirectUri: string;
  /** The scope of every login (default `"openid profile email offline_access"`). */
  scope?: string;
  /** Auth0's `audience` (the API identifier). */
  audience?: string;
  /** RFC 8707 resource indicators: the APIs the access token is for. */
  resource?: string | string[];
  /** Where the provider sends the browser after `logout({endSession: true})` (must be registered). */
  postLogoutRedirectUri?: string;
  /**
   * The redirect URI of `loginWithPopup()` (must be registered): a page that calls
   * `popupCallback()` from `tokenwarden/popup`. Default: `redirectUri`.
   */
  popupRedirectUri?: string;
  /**
   * Several APIs, one login: each origin named here (`scheme://host[:port]`) gets an access
   * token of its own, asked for with the `refresh_token` grant and the API's RFC 8707
   * `resource`, Auth0's `audience`, or only its scope (Entra ID); requests to that origin carry
   * that token and never the session's, and no other origin gets it. The login asks for every
   * `resource` and its scope; the APIs' tokens are fetched after the login and after every
   * refresh of the session, one grant after the other (one rotation at a time, across tabs),
   * shared with sibling tabs and wiped at logout. The origins are allowed without being listed
   * in `allowedOrigins`. A request to an API without a token triggers one refresh, then rejects
   * with `ERR_OAUTH_RESOURCE_UNAVAILABLE` (the provider's error as its `cause`).
   */
  resources?: Record<string, OAuthResource>;
}

/** One API of `oauth.resources`: `resource` or `audience` (not both), or only `scope`. */
export interface OAuthResource {
  /** The RFC 8707 resource indicator of the API (also asked for at login, with `scope`). */
  resource?: string;
  /** Auth0's `audience` of the API (Auth0's Multi-Resource Refresh Token), asked for at refresh. */
  audience?: string;
  /** The scope of this API's token (Entra ID: `api://APP_ID/.default` alone names the API). */
  scope?: string;
}

/**
 * The OAuth 2.0 / OpenID Connect profile: login by redirect with PKCE, refresh with the
 * `refresh_token` grant, RFC 7009 revocation. The build without verification refuses it
 * (`ERR_INVALID_OPTIONS`): ID tokens are verified.
 */
export interface TokenManagerOAuthOptions extends TokenManagerCommonOptions {
  /**
   * The provider (discovered from `${issuer}/.well-known/openid-configuration`, once) and the
   * client. The refresh token is held in wasm memory and shared only with sibling tabs; after a
   * reload `start()` adopts a sibling's session or resolves `false` (call `loginWithRedirect()`).
   */
  oauth: OAuthClientOptions;
  /**
   * Either custody. In `"worker"` custody the protocol, the tokens and any DPoP key stay in the
   * worker; the page stores the login transaction, cleans the address bar and navigates when the
   * worker asks it to.
   */
  custody?: 'page' | 'worker';
  refreshUrl?: never;
  loginUrl?: never;
  logoutUrl?: never;
  refreshToken?: never;
  credentials?: never;
  sessionHint?: never;
}

/** The reference dialect: JSON login, refresh token in an `HttpOnly` cookie or the body. */
export interface TokenManagerDialectOptions extends TokenManagerCommonOptions {
  oauth?: undefined;
  /** Refresh endpoint (required). Relative URLs resolve against the page; https or loopback http only. */
  refreshUrl: string;
  /** Login endpoint, needed by `login()`. */
  loginUrl?: string;
  /** Logout endpoint (revocation); without it `logout()` only wipes local state. */
  logoutUrl?: string;
  /**
   * Refresh-token transport: an `HttpOnly` cookie set by the server (default), or the response
   * body, in which case the token is held in wasm memory and sent in the refresh request body.
   */
  refreshToken?: 'cookie' | 'memory';
  /** `credentials` of the login, refresh and logout calls (default `"include"`). */
  credentials?: 'include' | 'same-origin' | 'omit';
  /**
   * Name of a script-readable cookie that your auth server sets and clears together with the
   * `HttpOnly` refresh cookie (the reference server's `__Host-tw_session`). When given, `start()` in a
   * page whose `document.cookie` lacks it sends no refresh request: a first visit shows no
   * failed request. Default: none (`start()` always tries the refresh cookie).
   */
  sessionHint?: string;
}

/** Options of both profiles. */
export interface TokenManagerCommonOptions {
  /**
   * Where the tokens live. `"page"` (default): in this page's wasm memory. `"worker"`: in a
   * dedicated module worker the package starts from its own `worker.js` (CSP: `worker-src
   * 'self'`); this object keeps the same API and talks to it over a `MessageChannel`, `fetch`
   * included (the worker sends the request; the page gets a real `Response` whose body is a
   * stream). No token, refresh token or DPoP key enters the page: a script in the page can
   * still make requests through the manager, but cannot read or exfiltrate a token. In worker
   * custody: `exposeToken` and `shareTokens: true` throw `ERR_INVALID_OPTIONS`; tokens
   * are never shared with sibling tabs (each tab's worker refreshes for itself with the shared
   * refresh cookie, one at a time; in memory mode and with `oauth` each tab logs in on its own,
   * the OAuth redirect's window part done by the page when the worker asks); getters are a
   * snapshot updated with every event and every answer; `setTokens` returns a Promise; if the
   * worker stops, calls in flight reject with `ERR_WORKER_LOST` and `loggedOut` fires with
   * reason `"workerLost"` (then `start()` or `login()` starts a new worker).
   */
  custody?: 'page' | 'worker';
  /**
   * With `crossTab`: post new tokens to sibling tabs and adopt theirs (default `true`; always
   * `false` in worker custody). `false` keeps every token off the cross-tab channel: refreshes
   * stay one at a time across tabs and logout still reaches every tab, but each tab refreshes
   * for itself and `start()` hands no session over (in memory mode a new tab must log in).
   */
  shareTokens?: boolean;
// @oauth-begin (DPoP is in tokenwarden/oauth)
  /**
   * DPoP (RFC 9449), both profiles: an ES256 key pair made at login (private key
   * non-extractable, memory only, shared with sibling tabs, discarded at logout); proofs on the
   * login or code exchange, every refresh and every `fetch` to an allowed origin
   * (`Authorization: DPoP`), server nonces kept per origin and retried once. With `oauth` the
   * provider must answer `token_type: "DPoP"` (else `ERR_OAUTH_UNSUPPORTED_TOKEN_TYPE`); no
   * `dpop_jkt` is sent on the authorization request. A reload without a sibling tab ends the
   * session (the key is gone), unless `persist: "dpop"`. Default `false`.
   */
  dpop?: boolean;
  /**
   * OAuth profile with `dpop: true` only: keep the DPoP key pair (non-extractable `CryptoKey`
   * objects) and the refresh token the provider bound to it in IndexedDB, so that `start()`
   * restores the session after a reload with no sibling tab, without a redirect. Deleted at
   * logout and when the provider refuses the token. See the README's security model for what
   * this costs against memory-only custody. Default: nothing is stored.
   */
  persist?: 'dpop';
// @oauth-end
  /**
   * Origins whose requests carry `Authorization: Bearer` (exact scheme, host and port; https, or
   * http to loopback hosts). Default: the page's own origin.
   */
  allowedOrigins?: string | string[];
  /** Which 401s trigger one refresh and one retry (default `"invalid_token"`: only `WWW-Authenticate: Bearer error="invalid_token"`). */
  retryOn401?: 'invalid_token' | 'any';
  /** Allow `getAccessToken()` (for WebSockets or third-party SDKs). Default `false`. */
  exposeToken?: boolean;
  /** Timeout of each auth call in ms (default 10000; 1 to 2^31-1, one browser timer). Every duration option takes 0 to ten years (316,224,000,000 ms), every fraction 0 to 1. */
  requestTimeoutMs?: number;
  /** Refresh this fraction of the lifetime before expiry (0..1, default 0.2)... */
  refreshLeadFraction?: number;
  /** ...but at least this many ms before (default 5000)... */
  minRefreshLeadMs?: number;
  /** ...and at most this many ms before (default 120000). */
  maxRefreshLeadMs?: number;
  /** Up to this fraction of the lead is removed at random (0..1, default 0.1). */
  refreshJitterFraction?: number;
  /** Never refresh a token sooner than this many ms after receiving it (default 10000). */
  minRefreshIntervalMs?: number;
  /** First retry delay after a transient refresh failure, in ms (default 1000; doubles). */
  backoffInitialMs?: number;
  /** Cap of the retry delay in ms (default 60000). `Retry-After` is always honoured. */
  backoffMaxMs?: number;
  /** Up to this fraction of each retry delay is removed at random (0..1, default 0.2). */
  backoffJitterFraction?: number;
  /** While the token is unusable and a refresh is pending, requests wait (default) or fail with `ERR_TOKEN_EXPIRED`. */
  expiredRequests?: 'wait' | 'fail';
  /**
   * Coordinate with the other tabs and workers of this origin (default `true`): one refresh at a
   * time across tabs (Web Locks, or a BroadcastChannel fallback), the new token shared with the
   * siblings over a same-origin `BroadcastChannel` (never through storage), logout in one tab
   * logs out all (`loggedOut` with reason `"otherTab"`), and `start()` in a new tab adopts a
   * sibling's session before calling `refreshUrl`. `false` turns all of it off.
   */
  crossTab?: boolean;
  /** Extra input to the cross-tab channel name, to keep two sessions on one origin apart (default: derived from `refreshUrl` and `allowedOrigins` only). */
  channelName?: string;
}

/** Options of `loginWithRedirect()`. */
export interface LoginWithRedirectOptions {
  /** Overrides the configured scope for this login. */
  scope?: string;
  /** `prompt`: `"login"`, `"consent"`, `"none"`, `"select_account"`, ... */
  prompt?: string;
  /** `login_hint`. */
  loginHint?: string;
  /** `max_age` in seconds (0 to ten years, 316,224,000): the ID token's `auth_time` is then checked against it. */
  maxAge?: number;
  /** Other authorization parameters (e.g. `ui_locales`, `organization`); the ones the login sets itself are refused. */
  extraParams?: Record<string, string>;
}

/** Options of `loginWithPopup()`. */
export interface LoginWithPopupOptions extends LoginWithRedirectOptions {
  /**
   * How long to wait for the popup's answer (default 120 s, 1 to 86,400): behind
   * `Cross-Origin-Opener-Policy` the opener cannot see that a popup was closed once it reached
   * the provider, so this is when such a login rejects (`ERR_OAUTH_POPUP_TIMEOUT`).
   */
  timeoutInSeconds?: number;
}

/** Options of `logout()`. */
export interface LogoutOptions {
  /** OAuth profile: after revocation, navigate to the provider's `end_session_endpoint` (with `id_token_hint` and `postLogoutRedirectUri`). */
  endSession?: boolean;
}

/** Tokens obtained outside `login()`. */
export interface TokenManagerTokens {
  accessToken: string;
  /** Only with `refreshToken: "memory"`. */
  refreshToken?: string;
  /** Seconds, as in an OAuth token response. */
  expiresIn?: number;
}

export interface ChangeEvent { type: 'change'; state: TokenManagerState }
export interface RefreshedEvent {
  type: 'refreshed';
  /** `'self'`: this manager refreshed; `'otherTab'`: a sibling tab did and shared the token. */
  source: 'self' | 'otherTab';
}
export interface RefreshFailedEvent {
  type: 'refreshFailed';
  /** A transient failure; the manager retries at `retryAt`. */
  reason: 'network' | 'timeout' | 'server_error' | 'too_many_requests' | 'malformed';
  /** The HTTP status for `server_error` and `too_many_requests`, else `null`. */
  status: number | null;
  /** When the next attempt starts (ms since the epoch, local clock). */
  retryAt: number;
  /** The current token is unusable, or expires before `retryAt`. */
  tokenExpiresFirst: boolean;
  /**
   * OAuth profile, `malformed`: why the answer was refused when its ID token failed
   * verification (`ERR_OAUTH_*` or `ERR_JWS_*` / `ERR_JWKS_*`); nothing of it was installed.
   */
  error?: TokenManagerError;
}
export interface ExpiredEvent { type: 'expired' }
export interface LoggedOutEvent {
  type: 'loggedOut';
  /** `'workerLost'`: worker custody only, the worker stopped (its session is gone). */
  reason: 'logout' | 'invalid_grant' | 'otherTab' | 'workerLost';
}

export interface TokenManagerEventMap {
  change: ChangeEvent;
  refreshed: RefreshedEvent;
  refreshFailed: RefreshFailedEvent;
  expired: ExpiredEvent;
  loggedOut: LoggedOutEvent;
}

/** Codes of the errors thrown or rejected by `TokenManager`. */
export type TokenManagerErrorCode =
  | 'ERR_INVALID_OPTIONS'
  | 'ERR_LOGIN_FAILED'
  | 'ERR_REFRESH_FAILED'
  | 'ERR_LOGGED_OUT'
  | 'ERR_NOT_AUTHENTICATED'
  | 'ERR_TOKEN_EXPIRED'
  | 'ERR_TOKEN_NOT_EXPOSED'
  /** Worker custody: the worker stopped while the call was in flight. */
  | 'ERR_WORKER_LOST'
  | OAuthErrorCode;

/**
 * Codes of the OAuth profile's errors. The provider's own errors (RFC 6749 §4.1.2.1, §5.2,
 * OpenID Connect) keep their name: `error=access_denied` is `ERR_OAUTH_ACCESS_DENIED`. An ID
 * token whose signature or key fails verification rejects with the `ERR_JWS_*` / `ERR_JWKS_*`
 * codes of `verifyJwt`.
 */
export type OAuthErrorCode =
  | 'ERR_OAUTH_INVALID_CONFIG' | 'ERR_OAUTH_INVALID_METADATA' | 'ERR_OAUTH_ISSUER_MISMATCH'
  | 'ERR_OAUTH_INSECURE_ENDPOINT' | 'ERR_OAUTH_PKCE_NOT_SUPPORTED' | 'ERR_OAUTH_ENDPOINT_NOT_OFFERED'
  | 'ERR_OAUTH_NO_TRANSACTION' | 'ERR_OAUTH_INVALID_TRANSACTION' | 'ERR_OAUTH_TRANSACTION_EXPIRED'
  | 'ERR_OAUTH_INVALID_CALLBACK' | 'ERR_OAUTH_STATE_MISMATCH' | 'ERR_OAUTH_ISS_MISSING'
  | 'ERR_OAUTH_ISS_MISMATCH' | 'ERR_OAUTH_CODE_MISSING' | 'ERR_OAUTH_HTTP'
  | 'ERR_OAUTH_INVALID_TOKEN_RESPONSE' | 'ERR_OAUTH_UNSUPPORTED_TOKEN_TYPE' | 'ERR_OAUTH_ID_TOKEN_MISSING'
  | 'ERR_OAUTH_ID_TOKEN_CLAIM_MISSING' | 'ERR_OAUTH_ID_TOKEN_ISSUER_MISMATCH'
  | 'ERR_OAUTH_ID_TOKEN_AUDIENCE_MISMATCH' | 'ERR_OAUTH_ID_TOKEN_AZP_MISMATCH' | 'ERR_OAUTH_NONCE_MISMATCH'
  | 'ERR_OAUTH_ID_TOKEN_SUBJECT_MISMATCH' | 'ERR_OAUTH_ID_TOKEN_EXPIRED' | 'ERR_OAUTH_ID_TOKEN_IAT'
  | 'ERR_OAUTH_AUTH_TIME' | 'ERR_OAUTH_ACCESS_DENIED' | 'ERR_OAUTH_LOGIN_REQUIRED'
  | 'ERR_OAUTH_CONSENT_REQUIRED' | 'ERR_OAUTH_INTERACTION_REQUIRED' | 'ERR_OAUTH_ACCOUNT_SELECTION_REQUIRED'
  | 'ERR_OAUTH_INVALID_REQUEST' | 'ERR_OAUTH_INVALID_CLIENT' | 'ERR_OAUTH_INVALID_GRANT'
  | 'ERR_OAUTH_UNAUTHORIZED_CLIENT' | 'ERR_OAUTH_UNSUPPORTED_GRANT_TYPE' | 'ERR_OAUTH_UNSUPPORTED_RESPONSE_TYPE'
  | 'ERR_OAUTH_INVALID_SCOPE' | 'ERR_OAUTH_INVALID_TARGET' | 'ERR_OAUTH_SERVER_ERROR'
  | 'ERR_OAUTH_TEMPORARILY_UNAVAILABLE' | 'ERR_OAUTH_USE_DPOP_NONCE' | 'ERR_OAUTH_PROVIDER_ERROR'
  | 'ERR_OAUTH_NETWORK' | 'ERR_OAUTH_NO_CRYPTO' | 'ERR_OAUTH_NO_STORAGE' | 'ERR_OAUTH_NO_WINDOW'
  | 'ERR_OAUTH_POPUP_BLOCKED' | 'ERR_OAUTH_POPUP_CLOSED' | 'ERR_OAUTH_POPUP_TIMEOUT'
  | 'ERR_OAUTH_RESOURCE_UNAVAILABLE';

export interface TokenManagerError extends Error {
  code: TokenManagerErrorCode;
  /** For `ERR_LOGIN_FAILED` answered by the server: its HTTP status. */
  status?: number;
}

/**
 * Keeps the access token in wasm memory (never in storage), refreshes it before expiry
 * (single-flight, with backoff), and attaches it to `fetch` calls to allowed origins.
 * Every request it sends goes through the global `fetch` as it was at construction: a wrapper
 * of `window.fetch` installed later never sees the token.
 */
export class TokenManager {
  constructor(options: TokenManagerOptions);
  /** POSTs `credentials` as JSON to `loginUrl` and installs the tokens. Rejects with `ERR_LOGIN_FAILED`. */
  login(credentials: Record<string, unknown>): Promise<void>;
  /**
   * Installs tokens obtained elsewhere. Throws `ERR_INVALID_OPTIONS`. In worker custody the
   * worker installs them (before any later call runs) and the returned Promise settles then,
   * rejecting with the same errors.
   */
  setTokens(tokens: TokenManagerTokens): void | Promise<void>;
  /**
   * Restores a session after a reload; resolves to whether a token is now held. A sibling tab's
   * session is adopted first; then, in cookie mode, a silent refresh is tried. In the OAuth
   * profile `false` means a redirect login is needed (`loginWithRedirect()`; the provider's own
   * session usually makes it silent).
   */
  start(): Promise<boolean>;
// @oauth-begin (the OAuth profile: tokenwarden/oauth)
  /**
   * OAuth profile: stores the login transaction (state, nonce, PKCE verifier) in
   * `sessionStorage` and navigates to the provider's authorization endpoint.
   */
  loginWithRedirect(options?: LoginWithRedirectOptions): Promise<void>;
  /**
   * OAuth profile: the same login in a popup window, opened at once (call it from the user's
   * gesture, e.g. a click handler, before anything is awaited). The transaction stays in
   * memory; the popup's callback page calls `popupCallback()` (`tokenwarden/popup`), which
   * answers over the same-origin `BroadcastChannel`, so it works with
   * `Cross-Origin-Opener-Policy` on the app and the provider. Rejects with
   * `ERR_OAUTH_POPUP_BLOCKED` (not opened), `ERR_OAUTH_POPUP_CLOSED` (closed before it reached
   * the provider), `ERR_OAUTH_POPUP_TIMEOUT` (no answer in `timeoutInSeconds`), or the
   * callback's `ERR_OAUTH_*`; the popup is closed and the session unchanged then.
   */
  loginWithPopup(options?: LoginWithPopupOptions): Promise<void>;
  /**
   * OAuth profile: at the redirect URI, checks the response (`state`, `iss`, `error`),
   * exchanges the code, verifies the ID token against the provider's `jwks_uri`, installs the
   * tokens and removes `code` and `state` from the address bar. `url` defaults to
   * `location.href`. Rejects with an `ERR_OAUTH_*` code; the session is unchanged then.
   */
  handleRedirectCallback(url?: string): Promise<void>;
// @oauth-end
  /**
   * Refreshes now. Rejects with `ERR_REFRESH_FAILED` (transient; retried) or `ERR_LOGGED_OUT`.
   * OAuth profile: a refresh answer whose ID token fails verification rejects with
   * `ERR_REFRESH_FAILED` whose `cause` is the typed error.
   */
  refresh(): Promise<void>;
  /**
   * Wipes the tokens at once, fails waiting requests, then calls `logoutUrl` (OAuth profile:
   * revokes the refresh token at the provider, RFC 7009). Resolves even if that call fails;
   * with `{endSession: true}` it then navigates to the provider's logout page.
   */
  logout(options?: LogoutOptions): Promise<void>;
  /**
   * `fetch` with `Authorization: Bearer` attached when the origin of the request actually sent
   * is allowed. In a browser redirects are followed as the request asks, and the Fetch standard
   * drops the header on a cross-origin redirect; in Node authenticated requests use
   * `redirect: "manual"` (unless `"error"` was asked). A 401 triggers one refresh and one retry. Rejects with `ERR_LOGGED_OUT` after logout, or with
   * `fetch`'s own `TypeError` on network failure.
   */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** The access token; rejects with `ERR_TOKEN_NOT_EXPOSED` unless `exposeToken: true` (never in worker custody). */
  getAccessToken(): Promise<string>;
  /** Where the tokens live (the `custody` option). */
  readonly custody: 'page' | 'worker';
  readonly state: TokenManagerState;
  /** Decoded, unverified claims of the current token, or `null`. */
  readonly claims: JWTClaims | null;
  /** Expiry of the current token (ms since the epoch, local clock), or `null`. */
  readonly expiresAt: number | null;
  /** With `dpop: true`: the RFC 7638 thumbprint of the session's key, or `null` without one. */
  readonly dpopJkt: string | null;
  /** Server clock minus local clock in ms, measured with the current token, or `null`. */
  readonly clockOffsetMs: number | null;
  /** Where `expiresAt` came from, or `null`. */
  readonly expirySource: 'expires_in' | 'exp' | null;
  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof TokenManagerEventMap>(
    event: K,
    listener: (event: TokenManagerEventMap[K]) => void,
  ): () => void;
  /** Wipes the tokens, cancels timers and listeners, and releases the wasm memory. */
  free(): void;
}
// @manager-end

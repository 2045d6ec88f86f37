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

/** Keys imported once for many verifications (like jose's `createLocalJWKSet`). */
export class KeySet {
  constructor(keys: JWK | JWKSet | Uint8Array | string, options?: KeySetOptions);
  /** Number of usable verification keys. */
  readonly size: number;
  verify<C extends JWTClaims = JWTClaims>(token: string, options?: VerifyOptions): DecodedJWT<C>;
  /** Releases the wasm memory held by the key set. */
  free(): void;
}

/** Decodes a JWT without verifying its signature. Throws `TokenwardenError`. */
export function decodeJwt<C extends JWTClaims = JWTClaims>(token: string): DecodedJWT<C>;

/** Verifies a JWT's signature and claims. Throws `TokenwardenError`. */
export function verifyJwt<C extends JWTClaims = JWTClaims>(
  token: string,
  keys: JWK | JWKSet | Uint8Array | string,
  options?: VerifyOptions,
): DecodedJWT<C>;

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

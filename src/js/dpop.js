// DPoP (RFC 9449) for the package's driver: WebCrypto and I/O only. The key is an ES256 pair from
// `crypto.subtle.generateKey` whose private key cannot be exported; it lives in JS memory as
// `CryptoKey` objects and is never exported (only the public coordinates are read). What a proof
// says (header and claims, `htu`, `ath`, `jti`), the key's thumbprint (`jkt`), which nonce a URL's
// proof carries and whether a response asks for one are decided by the wasm side (`DpopCore`,
// src/js/engine_dpop.rs, over src/core/dpop.rs).
import * as wasm from './tokenwarden.js';
import { error } from './driver.js';

const g = globalThis;
const KEY = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGN = { name: 'ECDSA', hash: 'SHA-256' };
const MAX_ERROR_BODY = 64 * 1024;
const encoder = new TextEncoder();

const failure = (message) => error('ERR_DPOP', `DPoP: ${message}`);

function subtle() {
  const s = g.crypto?.subtle;
  if (typeof s?.sign !== 'function') throw failure('WebCrypto (crypto.subtle) is not available');
  return s;
}

async function sha256(text) {
  try {
    return new Uint8Array(await subtle().digest('SHA-256', encoder.encode(text)));
  } catch (e) {
    throw e?.code === 'ERR_DPOP' ? e : failure('SHA-256 failed');
  }
}

/** A `CryptoKey` of the kind this module makes: ECDSA P-256, `private` or `public`. */
function isKey(key, type) {
  return g.CryptoKey !== undefined && key instanceof g.CryptoKey && key.type === type
    && key.algorithm?.name === 'ECDSA' && key.algorithm?.namedCurve === 'P-256';
}

/** One session's DPoP key pair and the nonces its proofs carry. */
export class Dpop {
  #pair; #core;

  constructor(pair, core) {
    this.#pair = pair;
    this.#core = core;
  }

  /** A new key pair (the private key is non-extractable). Rejects with `ERR_DPOP`. */
  static async create() {
    const s = subtle();
    let pair, jwk;
    try {
      pair = await s.generateKey(KEY, false, ['sign']);
      jwk = await s.exportKey('jwk', pair.publicKey);
    } catch {
      throw failure('cannot generate a P-256 key');
    }
    const core = new wasm.DpopCore(jwk.x, jwk.y, undefined);
    core.setThumbprint(await sha256(core.get(0)));
    return new Dpop({ privateKey: pair.privateKey, publicKey: pair.publicKey }, core);
  }

  /** The key's RFC 7638 thumbprint: the `cnf.jkt` of the tokens bound to it. */
  get jkt() {
    return this.#core.get(1);
  }

  /**
   * A proof for `method` `url` (its query and fragment are dropped), with the nonce last received
   * from `url`'s origin and, given an access token, its `ath`. Rejects with `ERR_DPOP`.
   */
  async proof(method, url, accessToken) {
    const random = g.crypto.getRandomValues(new Uint8Array(16));
    const ath = accessToken === undefined ? undefined : await sha256(accessToken);
    const input = this.#core.signingInput(method, url, Date.now(), random, ath);
    let signature;
    try {
      signature = await subtle().sign(SIGN, this.#pair.privateKey, encoder.encode(input));
    } catch {
      throw failure('signing failed');
    }
    return wasm.DpopCore.proof(input, new Uint8Array(signature));
  }

  /**
   * Remembers the `DPoP-Nonce` of `response` (from `url`), and says whether the response asks
   * for a nonce: a 401 with a `DPoP error="use_dpop_nonce"` challenge, or a 400 whose body's
   * OAuth `error` (read by the caller, given as `error`) is `use_dpop_nonce`.
   */
  remember(url, response, error) {
    const headers = response.headers;
    this.#core.remember(url, headers.get('DPoP-Nonce') ?? undefined);
    return wasm.DpopCore.asksForNonce(response.status, headers.get('WWW-Authenticate') ?? undefined,
      typeof error === 'string' ? error : undefined);
  }

  /** The pair as a sibling tab receives it (structured clone keeps the private key unexportable). */
  toMessage() {
    const [x, y] = this.#core.get(2);
    return { privateKey: this.#pair.privateKey, publicKey: this.#pair.publicKey, x, y, jkt: this.jkt };
  }

  /**
   * A pair a sibling tab posted: a non-extractable ECDSA P-256 private signing key, its public
   * key, and 32-byte base64url coordinates and thumbprint; `null` for anything else.
   */
  static fromMessage(m) {
    if (typeof m !== 'object' || m === null) return null;
    const { privateKey, publicKey, x, y, jkt } = m;
    if (!isKey(privateKey, 'private') || !isKey(publicKey, 'public') || privateKey.extractable !== false) {
      return null;
    }
    if (![x, y, jkt].every((v) => typeof v === 'string' && v.length <= 64)) return null;
    try {
      return new Dpop({ privateKey, publicKey }, new wasm.DpopCore(x, y, jkt));
    } catch {
      return null;
    }
  }
}

/** The OAuth `error` of a 400 answer (read from a clone, up to 64 KiB), if any. */
async function errorOf(response) {
  if (response.status !== 400) return undefined;
  const length = response.headers.get('Content-Length')?.trim();
  if (length && /^\d+$/.test(length) && Number(length) > MAX_ERROR_BODY) return undefined;
  try {
    const text = await response.clone().text();
    const o = text.length > MAX_ERROR_BODY ? undefined : JSON.parse(text);
    return typeof o?.error === 'string' ? o.error : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Sends `init` to `url` with a proof from `dpop` (`ath` of `accessToken` when given) through
 * `send` (default: the global `fetch` at call time). A response that asks for a nonce and brings
 * one is answered once more with a new proof carrying it, never more. The body of `init` must be
 * replayable (a string, bytes, a form), as a token endpoint's is.
 */
export async function sendWithProof(dpop, url, init, accessToken, send) {
  send ??= g.fetch.bind(g);
  for (let retried = false; ; retried = true) {
    const request = new g.Request(url, init);
    request.headers.set('DPoP', await dpop.proof(request.method, request.url, accessToken));
    const response = await send(request);
    const fresh = response.headers.has('DPoP-Nonce');
    const asks = dpop.remember(request.url, response, fresh && !retried ? await errorOf(response) : undefined);
    if (!asks || retried || !fresh) return response;
  }
}

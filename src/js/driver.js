// The npm package's `TokenManager`: a JS driver over the wasm engine (src/js/engine.rs).
//
// The engine holds the tokens and every decision (the core's sans-IO `Session`, the cross-tab
// `Coordinator` and its strict codec); this file does the I/O and nothing else: fetch calls,
// one timer, the BroadcastChannel, Web Locks, wake-ups (visibility, focus, online) and the
// application's listeners. Tokens stay in wasm memory: the driver only ever holds, for the
// time one call needs it, the `Authorization` value of a request (with DPoP, the token in it is
// hashed by WebCrypto for the proof's `ath`), the refresh call's body (memory
// mode), a token message for a sibling tab, the logout call's credentials, and what
// `getAccessToken()` returns with `exposeToken: true`.
//
// The OAuth profile (option `oauth`) is oauth.js over the wasm `OAuthEngine` (a stub without it).
// DPoP (`dpop: true`, builds with DPoP) is dpop.js: the key pair, proofs on the auth calls and
// on `fetch`, nonces (a build without DPoP ships an empty dpop.js); with `oauth`, it proves the
// profile's token endpoint calls too. No option constructs a Rust shell: the package links none.
import * as wasm from './tokenwarden.js';
import { OAuth, dpopHooks, persisted } from './oauth.js';
import * as D from './dpop.js';

const { Engine } = wasm;
const g = globalThis;
const NativeRequest = g.Request;
const NativeHeaders = g.Headers;
const clone = NativeRequest?.prototype.clone;

// Action codes of Engine#take (src/js/engine.rs).
const DO_REFRESH = 1, DO_CANCEL = 2, ON_CHANGE = 3, ON_INSTALLED = 4, ON_FAILED = 5, ON_EXPIRED = 6,
  ON_LOGGED_OUT = 7, DO_POST = 8, DO_LOCK = 9, DO_ABORT_LOCK = 10, DO_RELEASE = 11, ON_HANDOVER = 12;

const OPTIONS = ['loginUrl', 'refreshUrl', 'logoutUrl', 'refreshToken', 'allowedOrigins', 'credentials',
  'retryOn401', 'exposeToken', 'requestTimeoutMs', 'refreshLeadFraction', 'minRefreshLeadMs',
  'maxRefreshLeadMs', 'refreshJitterFraction', 'minRefreshIntervalMs', 'backoffInitialMs', 'backoffMaxMs',
  'backoffJitterFraction', 'expiredRequests', 'crossTab', 'shareTokens', 'channelName', 'sessionHint', 'oauth', 'dpop'];
// The policy options, in the order Engine's constructor takes them (core::session::POLICY_OPTIONS).
const POLICY = ['refreshLeadFraction', 'minRefreshLeadMs', 'maxRefreshLeadMs', 'refreshJitterFraction',
  'minRefreshIntervalMs', 'backoffInitialMs', 'backoffMaxMs', 'backoffJitterFraction', 'requestTimeoutMs'];
export const EVENTS = ['change', 'refreshed', 'refreshFailed', 'expired', 'loggedOut'];
const MAX_RESPONSE = 64 * 1024; // the largest auth response body read

/** An `Error` with the stable `code` (and the HTTP `status`, when there is one). */
export function error(code, message, status) {
  const e = new Error(message);
  e.code = code;
  if (status !== undefined) e.status = status;
  return e;
}
export const invalid = (message) => error('ERR_INVALID_OPTIONS', message);
const freed = () => error('ERR_LOGGED_OUT', 'the token manager was freed');
// @oauth-begin (lines to the matching end are left out of builds without the OAuth profile)
const noProfile = () => invalid('this needs the oauth option (the OAuth 2.0 / OpenID Connect profile)');
// @oauth-end

const isObject = (v) => typeof v === 'object' && v !== null;

// The option readers below also serve verifyJwt and KeySet (verify.js).

/** A name in quotes, control characters replaced (the core's `Quoted`). */
const quoted = (name) => `"${name.replace(/\p{Cc}/gu, '\ufffd')}"`;

/** Reads an options object: unknown keys are refused, so a typo never goes unnoticed. */
export function optionsObject(value, known, what) {
  if (value == null) return null;
  if (!isObject(value) || Array.isArray(value)) throw invalid(`${what} must be an object`);
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw invalid(`unknown option ${quoted(key)} in ${what}; known options: ${known.join(', ')}`);
    }
  }
  return value;
}

export function opt(o, key, type) {
  const v = o[key];
  if (v !== undefined && typeof v !== type) throw invalid(`option "${key}" must be a ${type}`);
  return v;
}

function choice(o, key, allowed) {
  const v = opt(o, key, 'string');
  if (v !== undefined && !allowed.includes(v)) {
    throw invalid(`option "${key}" must be one of ${allowed.join(', ')}`);
  }
  return v ?? allowed[0];
}

function base() {
  return g.document ? g.document.baseURI : g.location?.href;
}

function parseUrl(url, against) {
  try {
    return new URL(url, against);
  } catch {
    return null;
  }
}

function loopback(host) {
  return host.toLowerCase() === 'localhost' || host === '[::1]' || /^127(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(host);
}

/** https, or plain http to a loopback host: where a token may travel. */
function secure(url) {
  return url.protocol === 'https:' || (url.protocol === 'http:' && loopback(url.hostname));
}

function endpoint(name, url) {
  if (url === undefined) return undefined;
  const parsed = parseUrl(url, base());
  if (!parsed) throw invalid(`${name} "${url}" is not a valid URL`);
  if (!secure(parsed)) throw invalid(`${name} must be https (plain http only for loopback hosts)`);
  return parsed.href;
}

function normalizeOrigin(origin) {
  const bad = (why) => invalid(`allowedOrigins entry "${origin}" ${why}`);
  const url = parseUrl(origin);
  if (!url) throw bad('is not an absolute URL');
  if (url.username || url.password) throw bad('must not contain credentials');
  if (!['', '/'].includes(url.pathname) || url.search || url.hash) {
    throw bad('must be an origin (scheme://host[:port]) without a path');
  }
  if (!secure(url)) throw bad('must be https (plain http is allowed only for loopback hosts)');
  return url.origin;
}

/** FNV-1a, 64 bits, over UTF-8 parts each followed by a 0 byte (the Rust shell's channel name). */
function channelName(parts) {
  let hash = 0xcbf29ce484222325n;
  const encoder = new TextEncoder();
  for (const part of parts) {
    for (const byte of [...encoder.encode(part), 0]) {
      hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
    }
  }
  return `tokenwarden:${hash.toString(16).padStart(16, '0')}`;
}

function parseOptions(options) {
  // (`persist` only where the OAuth profile is: tokenwarden/oauth.)
  const o = optionsObject(options, OAuth ? [...OPTIONS, 'persist'] : OPTIONS, 'TokenManager options');
  if (!o) throw invalid('TokenManager options must include refreshUrl or oauth');
  if (o.oauth !== undefined && !OAuth) {
    throw invalid('option "oauth" is in the tokenwarden/oauth entry: import { TokenManager } from "tokenwarden/oauth"');
  }
  if (opt(o, 'dpop', 'boolean') && !wasm.DpopCore) {
    throw invalid('option "dpop" is in the tokenwarden/oauth entry: import { TokenManager } from "tokenwarden/oauth"');
  }
  const refreshUrl = opt(o, 'refreshUrl', 'string');
  if (refreshUrl === undefined && o.oauth == null) throw invalid('option "refreshUrl" (or "oauth") is required');
  // @oauth-begin
  if (refreshUrl !== undefined && o.oauth != null) {
    throw invalid('option "oauth" replaces refreshUrl (the provider\'s token endpoint refreshes)');
  }
  // @oauth-end
  const c = {
    refreshUrl: endpoint('refreshUrl', refreshUrl),
    loginUrl: endpoint('loginUrl', opt(o, 'loginUrl', 'string')),
    logoutUrl: endpoint('logoutUrl', opt(o, 'logoutUrl', 'string')),
    memory: choice(o, 'refreshToken', ['cookie', 'memory']) === 'memory',
    credentials: choice(o, 'credentials', ['include', 'same-origin', 'omit']),
    retryAny: choice(o, 'retryOn401', ['invalid_token', 'any']) === 'any',
    expiredFail: choice(o, 'expiredRequests', ['wait', 'fail']) === 'fail',
    expose: opt(o, 'exposeToken', 'boolean') ?? false,
    crossTab: opt(o, 'crossTab', 'boolean') ?? true,
    shareTokens: opt(o, 'shareTokens', 'boolean') ?? true,
    channelName: opt(o, 'channelName', 'string'),
    sessionHint: opt(o, 'sessionHint', 'string'),
    dpop: o.dpop === true,
  };
  let origins = o.allowedOrigins;
  if (origins === undefined) {
    // The page's own origin, when a token may travel there at all.
    const own = g.location?.origin;
    const url = own && own !== 'null' ? parseUrl(own) : null;
    origins = url && secure(url) ? [url.origin] : [];
  } else {
    if (typeof origins === 'string') origins = [origins];
    if (!Array.isArray(origins) || origins.some((x) => typeof x !== 'string')) {
      throw invalid('option "allowedOrigins" must be a string or an array of strings');
    }
    if (origins.length === 0) throw invalid('option "allowedOrigins" must not be empty');
    origins = origins.map(normalizeOrigin);
  }
  c.origins = origins;
  // Checked by the core (Engine's constructor): numbers, and which were given.
  c.policy = POLICY.map((key) => opt(o, key, 'number') ?? NaN);
  c.given = POLICY.reduce((bits, key, i) => o[key] === undefined ? bits : bits | 1 << i, 0);
  const hint = c.sessionHint;
  if (hint !== undefined && (!/^[\x21-\x7e]+$/.test(hint) || /[=;,]/.test(hint))) {
    throw invalid('option "sessionHint" must be a cookie name');
  }
  // @oauth-begin
  if (o.oauth != null) c.oauth = OAuth.configure(o, c, { optionsObject, opt, invalid, endpoint });
  // `persist: "dpop"`: the DPoP key and the refresh token bound to it kept in IndexedDB, under
  // the issuer and client id (oauth.js `persisted`).
  if (o.persist !== undefined) {
    if (opt(o, 'persist', 'string') !== 'dpop' || !c.oauth || !c.dpop) {
      c.oauth?.free();
      throw invalid('option "persist" must be "dpop", with the oauth option and dpop: true');
    }
    c.persist = `${o.oauth.issuer} ${o.oauth.clientId}`;
  }
  // @oauth-end
  return c;
}

/** `document.cookie`, for the session hint (undefined where there is none, or it throws). */
function pageCookies() {
  try {
    const cookies = g.document?.cookie;
    return typeof cookies === 'string' ? cookies : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a cookie-mode session may exist, by the session-hint cookie `name` in `cookies`
 * (`document.cookie`): the rule of `core::manager::session_may_exist`, which the Rust shell uses;
 * tests/vectors/session-hint.json holds the cases both must pass.
 */
export function sessionMayExist(name, cookies) {
  if (name === undefined || cookies === undefined) return true;
  return cookies.split(';').some((pair) => {
    const p = pair.trim();
    const at = p.indexOf('=');
    return at >= 0 && p.slice(0, at) === name && p.length > at + 1;
  });
}

/** A strict token response (RFC 6749 §5.1): null when it is not one. With `dpop` only a
 * `DPoP` token is one (RFC 9449 §5): a `Bearer` answer means the server did not bind it, and a
 * bearer token must not be sent as `DPoP` nor kept as if it were bound (as the OAuth profile). */
function parseGrant(text, dpop) {
  let o;
  try {
    o = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(o) || Array.isArray(o)) return null;
  const type = o.token_type;
  if (typeof type !== 'string' || !(dpop ? ['dpop'] : ['bearer', 'dpop']).includes(type.toLowerCase())) return null;
  if (typeof o.access_token !== 'string') return null;
  if (o.refresh_token != null && typeof o.refresh_token !== 'string') return null;
  if (o.expires_in != null && typeof o.expires_in !== 'number') return null;
  return o;
}

function sameOrigin(a, b) {
  const x = parseUrl(a), y = parseUrl(b);
  return !!x && !!y && x.origin === y.origin;
}

/** Whether this 401, answering a request sent with the token to `sentTo`, asks for a new token. */
function wantsRefresh(response, sentTo, any) {
  if (response.status !== 401) return false;
  // A 401 from another origin reached through a redirect (which dropped the header) is not ours.
  if (response.redirected && !sameOrigin(response.url, sentTo)) return false;
  if (any) return true;
  const challenge = (response.headers.get('WWW-Authenticate') ?? '').toLowerCase().trimStart();
  return (challenge.startsWith('bearer') || challenge.startsWith('dpop'))
    && (challenge.includes('error="invalid_token"') || challenge.includes('error=invalid_token'));
}

/** Whether the body (as the caller gave it) can be sent twice. */
function replayable(init) {
  return !isObject(init) || !(g.ReadableStream && init.body instanceof g.ReadableStream);
}

// URL parsing is most of the fast path's cost: resolved URLs are remembered per base (at most 256).
const resolved = new Map();
let resolvedAgainst;
function resolve(input) {
  const against = base();
  if (against !== resolvedAgainst) {
    resolved.clear();
    resolvedAgainst = against;
  }
  let href = resolved.get(input);
  if (href === undefined) {
    href = new URL(input, against).href; // throws on an invalid URL
    if (resolved.size >= 256) resolved.clear();
    resolved.set(input, href);
  }
  return href;
}

/**
 * `TokenManager#fetch`'s fast path, for a string or URL input with a plain (or no) init: the URL
 * is resolved here exactly as `fetch` resolves it, and the manager is asked, in one call into
 * wasm (`__headerFor`), for the header of that canonical URL. When it has one to give at once the
 * request is sent with it, and a 401 goes back to the manager (`__after401`: one refresh, one
 * retry). Everything else (a `Request` input, an init with a prototype, a refresh due or in
 * flight, a logged-out session, a host where redirects are handled manually) takes `full`.
 */
function fastFetch(tm, input, init, send, full) {
  if ((typeof input === 'string' || input instanceof URL)
      && (init == null || Object.getPrototypeOf(init) === Object.prototype)) {
    let href;
    try {
      href = resolve(String(input));
    } catch {
      return full.call(tm, input, init); // rejects as fetch does
    }
    const header = tm.__headerFor(href);
    if (header !== undefined) {
      if (header === null) return send(input, init);
      const headers = new NativeHeaders(init?.headers);
      headers.set('Authorization', header);
      return send(href, init ? { ...init, headers } : { headers }).then((response) =>
        response.status === 401 ? tm.__after401(response, header, href, init) : response);
    }
  }
  return full.call(tm, input, init);
}

const random = () => Math.floor(Math.random() * 2 ** 32) * 2 ** 20 + Math.floor(Math.random() * 2 ** 20);

function report(e) {
  if (typeof g.reportError === 'function') g.reportError(e);
}

/**
 * Access-token manager: memory-only custody, silent refresh, `fetch` with the bearer token.
 * See index.d.ts for the API.
 */
export class TokenManager {
  #e; #c; #fetch; #closed = false; #manual;
  #listeners = new Map(); #waiters = []; #calls = new Map(); #lastFailure;
  // @oauth-begin
  #lastCause; #cause; #incomingIdToken; #incomingApis; #restored; #stored = Promise.resolve();
  // @oauth-end
  #timer; #unbind = []; #tabs; #oauth;
  // DPoP: the session's key (a dpop.js `Dpop`), and a sibling's key offered with its token.
  #dpop; #incoming;

  constructor(options) {
    const c = (this.#c = parseOptions(options));
    // @oauth-begin
    if (c.oauth) {
      // With DPoP, the profile's token endpoint calls are proven with the session's key.
      if (c.dpop) dpopHooks.Dpop = D.Dpop;
      this.#oauth = new OAuth(c.oauth, {
        optionsObject, opt, invalid, freed,
        dpop: c.dpop,
        apis: c.apis,
        key: () => this.#dpop,
        setKey: (key) => (this.#dpop = key),
        call: (url, body, controller, how) => this.#call(url, body, undefined, controller, how),
        closed: () => this.#closed,
        // Resolves once `persist` has kept the session (a reload right after a login finds it).
        install: (access, refresh, expiresIn, date) => {
          this.#e.install(0, access, refresh, expiresIn, date, Date.now());
          this.#run();
          return this.#stored;
        },
      });
    }
    // @oauth-end
    if (typeof g.fetch !== 'function') throw error('ERR_FETCH', 'this environment has no global fetch');
    // Every request goes through `fetch` as it is now: a wrapper installed later sees no token.
    this.#fetch = g.fetch.bind(g);
    const browser = !!(g.document || g.importScripts);
    this.#manual = !browser;
    const locks = g.navigator?.locks;
    const hasLocks = typeof locks?.request === 'function';
    const tabs = c.crossTab && browser && typeof g.BroadcastChannel === 'function';
    const flags = (c.expiredFail ? 1 : 0) | (c.memory ? 2 : 0) | (tabs ? 4 : 0) | (hasLocks ? 8 : 0)
      | (c.dpop ? 16 : 0) | (c.shareTokens ? 0 : 32);
    this.#e = new Engine(c.given, flags, random(), random(), random(), ...c.policy);
    // The auth calls' timeout, the option's or the core's default; NaN: the core refused an
    // option (its index, min and max; index 9: the leads' order).
    const [, , , , timeout, i, min, max] = this.#e.input(12);
    if ((c.timeout = timeout) !== timeout) {
      this.free();
      throw invalid(i > 8 ? 'minRefreshLeadMs exceeds maxRefreshLeadMs' : `option "${POLICY[i]}" must be a number from ${min} to ${max}`);
    }
    const wake = () => {
      if (!this.#closed) {
        this.#e.input(1, Date.now());
        this.#run();
      }
    };
    const bind = (target, name) => {
      if (typeof target?.addEventListener !== 'function') return;
      target.addEventListener(name, wake);
      this.#unbind.push(() => target.removeEventListener(name, wake));
    };
    bind(g, 'focus');
    bind(g, 'online');
    bind(g.document, 'visibilitychange');
    if (tabs) this.#openTabs(hasLocks ? locks : undefined);
  }

  // --- the engine loop ---------------------------------------------------------------------

  /** Performs what the engine queued, then re-arms the timer for its next deadline. */
  #run() {
    for (let list; !this.#closed && (list = this.#e.input(9)) !== undefined;) {
      for (const action of list) this.#perform(action);
    }
    if (this.#closed) return;
    // The one timer, as the core says: NaN leave it, -1 clear it, else arm it with this delay.
    const delay = this.#e.input(6, Date.now());
    if (delay !== delay) return;
    clearTimeout(this.#timer);
    this.#timer = delay < 0 ? undefined : setTimeout(() => {
      if (this.#closed) return;
      this.#e.input(0, Date.now());
      this.#run();
    }, delay);
  }

  #perform([code, a, b, c, d]) {
    switch (code) {
      case DO_REFRESH:
        // Whatever goes wrong in the call, the engine hears of it (as a bad answer: retried with
        // backoff), so no refresh() or start() waits for ever.
        this.#refreshCall(a).catch(() => {
          this.#calls.delete(a);
          if (this.#closed) return;
          this.#e.refreshFailed(a, 4, Date.now());
          this.#run();
        });
        break;
      case DO_CANCEL: this.#calls.get(a)?.abort(); this.#calls.delete(a); break;
      case ON_CHANGE: this.#emit('change', { type: 'change', state: a }); break;
      case ON_INSTALLED:
        // A sibling's token comes with its key: one key (one `jkt`) per session across tabs.
        // A sibling's key, unless it is the one this tab holds (whose nonces stay).
        if (a === 'otherTab' && this.#incoming && this.#incoming.jkt !== this.#dpop?.jkt) this.#dpop = this.#incoming;
        // @oauth-begin
        if (a === 'otherTab') this.#oauth?.adopt(this.#incomingIdToken, this.#incomingApis);
        // persist "dpop": every new refresh token is kept with its key.
        if (this.#dpop && this.#e.input(13) !== undefined) {
          this.#store('put', { key: this.#dpop.toMessage(), refreshToken: this.#e.input(13) });
        }
        // @oauth-end
        this.#wake(a === null ? 'tokens' : 'refreshed');
        if (a !== null) this.#emit('refreshed', { type: 'refreshed', source: a });
        break;
      case ON_FAILED:
        this.#lastFailure = a;
        // @oauth-begin
        // An OAuth refresh answer refused for its ID token: the typed error rides on the event
        // and on refresh()'s rejection (`cause`).
        this.#lastCause = this.#cause;
        this.#cause = undefined;
        if (this.#lastCause) {
          this.#wake('failed');
          this.#emit('refreshFailed', { type: 'refreshFailed', reason: a, status: b, retryAt: c, tokenExpiresFirst: d, error: this.#lastCause });
          break;
        }
        // @oauth-end
        this.#wake('failed');
        this.#emit('refreshFailed', { type: 'refreshFailed', reason: a, status: b, retryAt: c, tokenExpiresFirst: d });
        break;
      case ON_EXPIRED: this.#emit('expired', { type: 'expired' }); break;
      case ON_LOGGED_OUT:
        // @oauth-begin
        this.#store('delete');
        this.#oauth?.forget(); // the ID token and the APIs' tokens end with the session
        // @oauth-end
        this.#dpop = undefined; // the key ends with the session
        this.#wake('loggedOut');
        this.#emit('loggedOut', { type: 'loggedOut', reason: a });
        break;
      case DO_POST:
        if (b && this.#dpop) a.dpopKey = this.#dpop.toMessage();
        // @oauth-begin
        // The session's ID token goes with its tokens: the adopting tab's logout hint.
        if (b && this.#oauth) {
          a.idToken = this.#oauth.hint();
          a.apis = this.#oauth.apiTokens();
        }
        // @oauth-end
        try { this.#tabs.channel.postMessage(a); } catch { /* closing */ }
        break;
      case DO_LOCK: this.#lock(a, b); break;
      case DO_ABORT_LOCK: this.#tabs.requests.get(a)?.abort?.abort(); break;
      case DO_RELEASE: {
        const request = this.#tabs.requests.get(a);
        this.#tabs.requests.delete(a);
        request?.release();
        break;
      }
      case ON_HANDOVER: {
        const done = this.#tabs.handover;
        this.#tabs.handover = undefined;
        done?.(a);
        break;
      }
    }
  }

  #emit(name, event) {
    for (const listener of [...(this.#listeners.get(name) ?? [])]) {
      try {
        listener(event);
      } catch (e) {
        report(e);
      }
    }
  }

  /** Wakes the requests waiting for the next refresh outcome, logout or new tokens. */
  #wake(why) {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve(why);
  }

  #wait() {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  // --- auth calls --------------------------------------------------------------------------

  /**
   * A call to an auth endpoint with a timeout and a size cap (`how`: `get`, `form`, and `dpop`,
   * the key that proves it); never rejects.
   */
  async #call(url, body, bearer, controller = new AbortController(), how = {}) {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.#c.timeout);
    const failed = () => ({ error: timedOut ? 'timeout' : controller.signal.aborted ? 'aborted' : 'network' });
    try {
      const headers = new NativeHeaders({ Accept: 'application/json' });
      if (bearer !== undefined) headers.set('Authorization', bearer);
      if (body !== undefined) headers.set('Content-Type', how.form ? 'application/x-www-form-urlencoded' : 'application/json');
      const init = { method: how.get ? 'GET' : 'POST', credentials: this.#c.credentials, signal: controller.signal, redirect: 'error', headers, body };
      let response;
      try {
        response = await (how.dpop ? D.sendWithProof(how.dpop, url, init, how.token, this.#fetch)
          : this.#fetch(new NativeRequest(url, init)));
      } catch {
        return failed();
      }
      const length = response.headers.get('Content-Length')?.trim();
      if (length && /^\d+$/.test(length) && Number(length) > MAX_RESPONSE) {
        controller.abort();
        return { error: 'tooLarge' };
      }
      const date = Date.parse(response.headers.get('Date') ?? '');
      const after = response.headers.get('Retry-After') ?? undefined;
      let text;
      try {
        text = await response.text();
      } catch {
        return failed();
      }
      if (text.length > MAX_RESPONSE) return { error: 'tooLarge' };
      return { status: response.status, date: date > 0 ? date : NaN, after, text };
    } finally {
      clearTimeout(timer);
    }
  }

  /** The refresh call of `generation` (the engine decided it; across tabs the lock is held). */
  async #refreshCall(generation) {
    const dpop = this.#dpop;
    if (this.#c.dpop && !dpop) {
      // The key lived in memory only (a reload, or a session a sibling did not hand over): a
      // token bound to it cannot be refreshed, and trying would burn a request. (Queued for the
      // engine loop that performs this action.)
      this.#e.refreshFailed(generation, 3, Date.now());
      return;
    }
    const controller = new AbortController();
    this.#calls.set(generation, controller);
    let body, url = this.#c.refreshUrl, how;
    // `expires_in` counts from when the call started (a tab frozen during the call).
    const startedAt = Date.now();
    const oauth = this.#oauth;
    // @oauth-begin
    if (oauth) {
      // The `refresh_token` grant at the provider's token endpoint (or a failure kind).
      const request = await oauth.refreshRequest(this.#e, this.#restored);
      if (this.#closed) return;
      if (typeof request === 'number') {
        this.#calls.delete(generation);
        this.#e.refreshFailed(generation, request, Date.now());
        this.#run();
        return;
      }
      [url, body, how] = request;
    } else
    // @oauth-end
    if (this.#c.memory) {
      const token = this.#e.input(13);
      if (token !== undefined) body = JSON.stringify({ refresh_token: token, grant_type: 'refresh_token' });
    }
    const reply = await this.#call(url, body, undefined, controller, how ?? { dpop });
    body = undefined;
    this.#calls.delete(generation);
    if (this.#closed) return;
    const now = Date.now();
    const e = this.#e;
    if (reply.error === 'aborted') return; // cancelled by the session: no result wanted
    if (reply.error) {
      e.refreshFailed(generation, reply.error === 'timeout' ? 1 : reply.error === 'network' ? 0 : 4, now);
    // @oauth-begin
    } else if (oauth) {
      // Checked by the core: the token type, and `invalid_grant` (ends the session) or a backoff.
      // An ID token in the answer is verified first; `cause`: why it was refused.
      const [failed, a, b, c, cause] = await oauth.refreshed(reply);
      if (this.#closed) return;
      this.#cause = cause;
      if (failed) e.refreshFailed(generation, a, Date.now(), b, reply.after, Date.parse(reply.after));
      else e.refreshOk(generation, a, b, c, reply.date, startedAt, Date.now());
      this.#run();
      this.#cause = undefined; // taken by the failure's event (none for a superseded refresh)
      return;
    // @oauth-end
    } else if (reply.status >= 200 && reply.status < 300) {
      const grant = parseGrant(reply.text, this.#c.dpop);
      if (grant) {
        e.refreshOk(generation, grant.access_token, this.#c.memory ? grant.refresh_token ?? undefined : undefined,
          grant.expires_in ?? NaN, reply.date, startedAt, now);
      } else {
        e.refreshFailed(generation, 4, now);
      }
    } else {
      const code = errorCode(reply.text);
      const terminal = reply.status === 401
        || (reply.status === 400 && ['invalid_grant', 'invalid_client', 'unauthorized_client'].includes(code));
      e.refreshFailed(generation, terminal ? 3 : 2, now, reply.status, reply.after, Date.parse(reply.after));
    }
    this.#run();
  }

  // --- the public API ----------------------------------------------------------------------

  /** POSTs `credentials` as JSON to `loginUrl` and installs the tokens. */
  async login(credentials) {
    if (this.#closed) throw freed();
    const url = this.#c.loginUrl;
    if (url === undefined) throw invalid('login() needs the loginUrl option');
    if (!isObject(credentials)) throw invalid('login credentials must be an object');
    let body;
    try {
      body = JSON.stringify(credentials);
    } catch {
      throw error('ERR_LOGIN_FAILED', 'login could not reach the server');
    }
    // A new session, a new DPoP key: created here, kept only if the login succeeds.
    const dpop = this.#c.dpop ? await D.Dpop.create() : undefined;
    const reply = await this.#call(url, body, undefined, undefined, { dpop });
    body = undefined;
    if (reply.error) {
      const why = { timeout: 'timed out', tooLarge: 'returned an oversized body' }[reply.error] ?? 'could not reach the server';
      throw error('ERR_LOGIN_FAILED', `login ${why}`);
    }
    if (reply.status < 200 || reply.status >= 300) {
      const code = errorCode(reply.text);
      const detail = code === undefined ? '' : ` (${[...code].slice(0, 64).join('')})`;
      throw error('ERR_LOGIN_FAILED', `login failed with status ${reply.status}${detail}`, reply.status);
    }
    const grant = parseGrant(reply.text, this.#c.dpop);
    const bad = () => error('ERR_LOGIN_FAILED', 'the login response is not a valid token response', reply.status);
    if (!grant) throw bad();
    if (this.#closed) throw freed();
    try {
      this.#e.install(0, grant.access_token, this.#c.memory ? grant.refresh_token ?? undefined : undefined,
        grant.expires_in ?? NaN, reply.date, Date.now());
    } catch {
      throw bad();
    }
    if (dpop) this.#dpop = dpop;
    this.#run();
  }

  /** Installs tokens obtained elsewhere: `{accessToken, refreshToken?, expiresIn?}`. */
  setTokens(tokens) {
    const o = optionsObject(tokens, ['accessToken', 'refreshToken', 'expiresIn'], 'setTokens');
    if (!o) throw invalid('setTokens needs {accessToken}');
    for (const key of ['accessToken', 'refreshToken']) {
      if (o[key] !== undefined && typeof o[key] !== 'string') throw invalid(`${key} must be a string`);
    }
    if (o.expiresIn !== undefined && typeof o.expiresIn !== 'number') throw invalid('expiresIn must be a number');
    if (o.accessToken === undefined) throw invalid('accessToken is required');
    if (this.#closed) throw freed();
    if (o.refreshToken !== undefined && !this.#c.memory) {
      throw invalid('refreshToken can be set only with the refreshToken: "memory" option');
    }
    try {
      this.#e.install(1, o.accessToken, o.refreshToken, o.expiresIn ?? NaN, NaN, Date.now());
    } catch (e) {
      throw invalid(String(e));
    }
    this.#run();
  }

  /** Restores a session after a reload; resolves to whether a token is now held. */
  start() {
    return this.__start(pageCookies());
  }

  /** start() with the page's `document.cookie` (worker custody: the page's, sent along). */
  async __start(cookies) {
    if (await this.#handOver()) return true;
    if (this.#closed) return false;
    let wait;
    // @oauth-begin
    // persist "dpop" and no sibling: the stored key, and one refresh with the stored token.
    if (this.#c.persist && this.#e.input(10) === 'anonymous') {
      const record = await this.#store('get');
      const key = D.Dpop.fromMessage(record?.key);
      if (this.#closed) return false;
      if (key && typeof record.refreshToken === 'string' && this.#e.input(10) === 'anonymous') {
        this.#dpop = key;
        this.#restored = record.refreshToken;
        wait = this.#wait();
        this.#e.input(2, Date.now());
        this.#run();
        await wait;
        this.#restored = undefined;
        if (this.#e.input(8)) return !this.#closed;
        this.#dpop = undefined;
        // A token the provider refused is deleted with its key; a network failure keeps both.
        if (this.#lastFailure === 'invalid_grant') await this.#store('delete');
        return false;
      }
    }
    // @oauth-end
    if (this.#e.input(10) === 'anonymous' && !this.#c.memory && sessionMayExist(this.#c.sessionHint, cookies)) {
      wait = this.#wait();
      this.#e.input(2, Date.now());
    }
    this.#run();
    if (wait) await wait;
    return !this.#closed && this.#e.input(8) === 1;
  }

  // @oauth-begin
  /** persist "dpop": one IndexedDB operation, after the ones before it (a logout's delete is never overtaken by an earlier put). */
  #store(op, value) {
    const name = this.#c.persist;
    if (name) this.#stored = this.#stored.then(() => persisted(name, op, value));
    return this.#stored;
  }
  // @oauth-end

  /** Refreshes now; rejects with `ERR_REFRESH_FAILED` (transient) or `ERR_LOGGED_OUT`. */
  async refresh() {
    if (this.#closed) throw freed();
    const wait = this.#wait();
    this.#e.input(2, Date.now());
    this.#run();
    switch (await wait) {
      case 'refreshed': case 'tokens':
        // @oauth-begin
        await this.#stored; // `persist`: the rotated refresh token is kept before refresh() resolves
        // @oauth-end
        return;
      // @oauth-begin
      // (Matches only when the failure has a typed cause.)
      case this.#lastCause && 'failed':
        throw Object.assign(error('ERR_REFRESH_FAILED', `refresh failed (${this.#lastFailure}); retrying`), { cause: this.#lastCause });
      // @oauth-end
      case 'failed': throw error('ERR_REFRESH_FAILED', `refresh failed (${this.#lastFailure ?? 'unknown'}); retrying`);
      case 'loggedOut': throw error('ERR_LOGGED_OUT', 'the session ended');
      default: throw freed();
    }
  }

  /** Wipes the tokens at once, fails waiting requests, then calls `logoutUrl`. (`win`: see loginWithRedirect.) */
  async logout(options, win) {
    const o = optionsObject(options, ['endSession'], 'logout options');
    if (o) opt(o, 'endSession', 'boolean');
    // @oauth-begin
    // OAuth profile: `{endSession: true}` then navigates to the provider's logout page.
    if (o?.endSession && this.#oauth) return this.#oauth.endSession(() => this.logout(), win);
    // @oauth-end
    if (this.#closed) return;
    const c = this.#c;
    const [access, refresh] = this.#e.input(15, Date.now());
    let call;
    // @oauth-begin
    // RFC 7009 revocation at the provider.
    if (this.#oauth) call = this.#oauth.revoke(access, refresh);
    else
    // @oauth-end
    if (c.logoutUrl !== undefined) {
      // The access token goes only to an allowed origin, like any request; a DPoP-bound one as
      // `DPoP` with a proof of the session's key (captured before the logout drops it).
      const sent = access !== undefined && this.#allowed(c.logoutUrl);
      const dpop = sent ? this.#dpop : undefined;
      const auth = sent ? `${dpop ? 'DPoP' : 'Bearer'} ${access}` : undefined;
      const body = refresh !== undefined && c.memory ? JSON.stringify({ refresh_token: refresh }) : undefined;
      call = this.#call(c.logoutUrl, body, auth, undefined, { dpop, token: dpop && access });
    }
    this.#run();
    this.#wake('loggedOut');
    // @oauth-begin
    await this.#stored; // `persist`: the stored session is gone before logout() resolves
    // @oauth-end
    await call;
  }

  // @oauth-begin
  /**
   * OAuth profile: navigates to the provider to log in (authorization code with PKCE). `win`
   * (worker custody's worker only): the window that stores the transaction and navigates,
   * redirect.js's `page` by default.
   */
  async loginWithRedirect(options, win) {
    if (!this.#oauth) throw noProfile();
    return this.#oauth.login(options, win);
  }

  /**
   * OAuth profile: logs in in a popup window, which is opened at once (call it from the user's
   * gesture); the callback page calls `popupCallback()` (tokenwarden/popup). `win`: as above,
   * where the page opened the popup already.
   */
  loginWithPopup(options, win) {
    if (!this.#oauth) return Promise.reject(noProfile());
    return this.#oauth.popup(options, win);
  }

  /** OAuth profile: completes the login at the redirect URI (`url` defaults to `location.href`). */
  async handleRedirectCallback(url, win) {
    if (!this.#oauth) throw noProfile();
    return this.#oauth.callback(url, win);
  }
  // @oauth-end

  /** `fetch`, with `Authorization: Bearer` for allowed origins; one refresh and retry on 401. */
  fetch(input, init) {
    return fastFetch(this, input, init, this.#fetch, this.__full);
  }

  /**
   * The fast path's question, for the canonical absolute URL `href`: `null` (send it untouched),
   * the `Authorization` value, or `undefined` (take the full path: a wait, an error, a closed
   * manager, or a host where redirects are handled manually).
   */
  __headerFor(href) {
    // A DPoP proof is signed asynchronously: the full path makes it.
    if (this.#closed || this.#manual || this.#c.dpop) return undefined;
    if (!this.#c.origins.some((o) => href.startsWith(o) && href[o.length] === '/')) return null;
    // @oauth-begin
    // An API of `resources` gets its own token: the full path picks it.
    if (this.#oauth?.api(href) >= 0) return undefined;
    // @oauth-end
    const value = this.#e.input(14, Date.now());
    // `before` re-checked the clock: perform what it decided (a refresh that is due).
    const list = this.#e.input(9);
    if (list !== undefined) {
      for (const action of list) this.#perform(action);
      this.#run();
    }
    return typeof value === 'number' ? undefined : value;
  }

  #allowed(url) {
    const parsed = parseUrl(url);
    return !!parsed && secure(parsed) && this.#c.origins.includes(parsed.origin);
  }

  /** The full path: the request is built first, and every decision reads the request sent. */
  async __full(input, init) {
    if (this.#closed) throw freed();
    // A `Request` input is cloned (its body stays unread) by the platform's own `clone`, so a
    // subclass with a lying `url` getter or `clone` cannot steer the token elsewhere.
    const built = input instanceof NativeRequest
      ? new NativeRequest(clone.call(input), init)
      : new NativeRequest(String(input), init);
    if (!this.#allowed(built.url)) return this.#fetch(built);
    // Outside a browser nothing drops the header on a cross-origin redirect: no redirects.
    const template = this.#manual && built.redirect !== 'error'
      ? new NativeRequest(built, { redirect: 'manual' })
      : built;
    return this.#send(template, replayable(init), false);
  }

  /** A fast-path request sent with `header` got a 401. */
  async __after401(response, header, href, init) {
    if (this.#closed) return response;
    const generation = this.#e.sent(header);
    if (generation === -2 || !wantsRefresh(response, href, this.#c.retryAny)) return response;
    const decision = this.#e.input(5, Date.now(), generation, 0);
    this.#run();
    if (decision === 2 || !replayable(init)) return response;
    return this.#send(new NativeRequest(href, init), true, true);
  }

  /** Sends `template` with the token (waiting through refreshes), with one retry after a 401. */
  async #send(template, again, retried) {
    const sentTo = template.url;
    let next = template;
    let nonceRetried = false;
    // @oauth-begin
    // `resources`: a request to an API carries that API's token, never the session's.
    const api = this.#oauth?.api(sentTo) ?? -1;
    let asked = false;
    // @oauth-end
    for (;;) {
      if (next === undefined) throw error('ERR_FETCH', 'the request body cannot be sent twice');
      const header = await this.#gate(false);
      // No session has ever existed: the request goes without a token.
      if (header === null) return this.#fetch(next);
      let value = header;
      // @oauth-begin
      if (api >= 0) {
        // The API has no token (the provider refused it, or did not answer): one refresh.
        value = this.#oauth.header(api, asked);
        if (value === undefined) {
          asked = true;
          this.#e.input(2, Date.now());
          this.#run();
          if ((await this.#wait()) === 'closed') throw freed();
          continue;
        }
      }
      // @oauth-end
      const request = again ? next.clone() : next;
      if (!again) next = undefined;
      request.headers.set('Authorization', value);
      const dpop = this.#dpop;
      // With DPoP the header is `DPoP <token>`: the proof carries the token's `ath`.
      if (dpop) request.headers.set('DPoP', await dpop.proof(request.method, sentTo, value.slice(5)));
      const response = await this.#fetch(request);
      // RFC 9449 §9: a new nonce is asked for once; the request is sent again with it.
      if (dpop && dpop.remember(sentTo, response) && !nonceRetried && again && !this.#closed) {
        nonceRetried = true;
        continue;
      }
      if (this.#closed || !wantsRefresh(response, sentTo, this.#c.retryAny)) return response;
      const decision = this.#e.input(5, Date.now(), this.#e.sent(header), retried);
      this.#run();
      if (decision === 2 || !again) return response;
      retried = true;
    }
  }

  /** The request gate: waits through refreshes; the header (or token with `raw`), or null. */
  async #gate(raw) {
    for (;;) {
      if (this.#closed) throw freed();
      const value = this.#e.input(14, Date.now(), raw);
      this.#run();
      if (typeof value !== 'number') return value;
      if (value === 2) throw error('ERR_TOKEN_EXPIRED', 'the access token expired and a refresh is pending');
      if (value === 3) throw error('ERR_LOGGED_OUT', 'the session ended');
      if ((await this.#wait()) === 'closed') throw freed();
    }
  }

  /** The access token (only with `exposeToken: true`), after the same gate as `fetch`. */
  async getAccessToken() {
    if (!this.#c.expose) {
      throw error('ERR_TOKEN_NOT_EXPOSED', 'the access token is readable only with the exposeToken: true option');
    }
    const token = await this.#gate(true);
    if (token === null) throw error('ERR_NOT_AUTHENTICATED', 'there is no session');
    return token;
  }

  get state() {
    return this.#closed ? 'anonymous' : this.#e.input(10);
  }

  get claims() {
    const json = this.#closed ? undefined : this.#e.input(11);
    return json === undefined ? null : JSON.parse(json);
  }

  /** The engine's `times()` entry `i` (0 expiresAt, 1 clockOffset, 2 expirySource, 3 nextRefreshAt). */
  #time(i) {
    const value = this.#closed ? NaN : this.#e.input(12)[i];
    return value === value ? value : null;
  }

  get expiresAt() {
    return this.#time(0);
  }

  get clockOffsetMs() {
    return this.#time(1);
  }

  get expirySource() {
    return [null, 'expires_in', 'exp'][this.#time(2) ?? 0];
  }

  /** When the session next acts on its own (ms), or null: for worker custody's snapshot. */
  get __nextRefreshAt() {
    return this.#time(3);
  }

  /** With `dpop: true`, the thumbprint of the session's key (`cnf.jkt`); null without a key. */
  get dpopJkt() {
    return (!this.#closed && this.#dpop?.jkt) || null;
  }

  /** Adds a listener; returns a function that removes it. */
  on(event, listener) {
    if (!EVENTS.includes(event)) throw invalid(`unknown event "${event}"; events: ${EVENTS.join(', ')}`);
    if (typeof listener !== 'function') throw invalid('the listener must be a function');
    // Each registration is its own entry, so the same function added twice is called twice.
    const entry = (e) => listener(e);
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(entry);
    return () => set.delete(entry);
  }

  /** Wipes the tokens, cancels timers and listeners, and releases the wasm memory. */
  free() {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const unbind of this.#unbind) unbind();
    this.#closeTabs();
    for (const controller of this.#calls.values()) controller.abort();
    this.#calls.clear();
    this.#listeners.clear();
    // @oauth-begin
    this.#oauth?.free();
    // @oauth-end
    this.#dpop = this.#incoming = undefined;
    this.#e.free(); // drops (and zeroizes) both tokens
    this.#wake('closed');
  }

  // --- across tabs -------------------------------------------------------------------------

  #openTabs(locks) {
    const c = this.#c;
    const name = channelName([c.refreshUrl, c.origins.join(' '), c.channelName ?? '']);
    const channel = new g.BroadcastChannel(name);
    const onMessage = (event) => {
      if (this.#closed) return;
      const data = event.data;
      // With DPoP a token message carries the sender's key pair, adopted with the token.
      this.#incoming = c.dpop && isObject(data) ? D.Dpop.fromMessage(data.dpopKey) : null;
      // @oauth-begin
      this.#incomingIdToken = data?.idToken;
      this.#incomingApis = data?.apis;
      // @oauth-end
      this.#e.message(data, Date.now());
      this.#run();
      this.#incoming = null;
    };
    channel.addEventListener('message', onMessage);
    const t = (this.#tabs = { channel, name, locks, requests: new Map(), handover: undefined, presence: undefined });
    t.prefix = `${name}:tab:`;
    t.own = `${t.prefix}${this.#e.input(7)}`;
    if (locks) {
      // A presence lock per manager (shared mode, never contended) lets start() count siblings.
      let release;
      const hold = new Promise((r) => (release = r));
      try {
        Promise.resolve(locks.request(t.own, { mode: 'shared' }, () => hold)).catch(() => {});
        t.presence = release;
      } catch { /* no presence: siblings unknown */ }
    }
  }

  #closeTabs() {
    const t = this.#tabs;
    if (!t) return;
    t.channel.close();
    t.presence?.();
    for (const request of t.requests.values()) {
      request.abort?.abort();
      request.release();
    }
    t.requests.clear();
    t.handover?.(false);
  }

  #feedLock(ticket, what) {
    if (this.#closed) return;
    this.#e.input(3, Date.now(), ticket, what);
    this.#run();
  }

  /** `navigator.locks.request` under the engine's `ticket`: grant, steal and failure reported. */
  #lock(ticket, steal) {
    const t = this.#tabs;
    let granted = false;
    let release;
    const hold = new Promise((r) => (release = r));
    const abort = steal ? undefined : new AbortController();
    let done;
    try {
      if (!t.locks) throw new Error('no Web Locks');
      done = t.locks.request(`${t.name}:refresh`, steal ? { steal: true } : { signal: abort.signal }, () => {
        granted = true;
        // Reported from a fresh task: the grant may run inside a call of ours.
        Promise.resolve().then(() => this.#feedLock(ticket, 0));
        return hold;
      });
    } catch {
      this.#e.input(3, Date.now(), ticket, 2);
      return;
    }
    t.requests.set(ticket, { abort, release });
    Promise.resolve(done).catch(() => {
      if (granted) this.#feedLock(ticket, 1); // stolen by another tab
      else if (!abort?.signal.aborted) this.#feedLock(ticket, 2);
    });
  }

  /** `start()` with no session: a sibling's session is adopted if one answers. */
  async #handOver() {
    const t = this.#tabs;
    if (!t || this.#closed) return false;
    let count = NaN;
    if (t.locks && t.presence) {
      try {
        const snapshot = await t.locks.query();
        count = 0;
        for (const entry of [...(snapshot.held ?? []), ...(snapshot.pending ?? [])]) {
          if (entry.name?.startsWith(t.prefix) && entry.name !== t.own) count++;
        }
      } catch {
        count = NaN;
      }
    }
    if (this.#closed) return false;
    const adopted = new Promise((resolve) => (t.handover = resolve));
    if (!this.#e.input(4, Date.now(), count)) {
      t.handover = undefined;
      return false;
    }
    this.#run();
    return (await adopted) === true && !this.#closed && this.#e.input(8) === 1;
  }
}

/** The OAuth `error` member of an error body, if any. */
function errorCode(text) {
  try {
    const o = JSON.parse(text);
    return isObject(o) && typeof o.error === 'string' ? o.error : undefined;
  } catch {
    return undefined;
  }
}

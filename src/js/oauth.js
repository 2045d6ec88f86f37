// The OAuth 2.0 / OpenID Connect profile of the package's TokenManager (option `oauth`): discovery,
// login by redirect with PKCE S256, the callback, the `refresh_token` grant, revocation (RFC 7009)
// and the logout redirect. Every request is built and every answer checked by the wasm
// `OAuthEngine` (src/js/engine_oauth.rs, over the core's `oauth` module); this file only fetches
// (through the manager's auth call: timeout, size cap, no cookies, no redirects), asks the
// platform for random bytes, SHA-256 and the ID token's `crypto.subtle.verify`, and leaves the
// window's part (the login transaction in `sessionStorage`, the only thing the manager ever
// writes to storage; the address bar; the navigation) to a window `win` (redirect.js): the
// page's own in page custody, the page asked over the worker's port in worker custody.
// Builds without the OAuth profile ship a stub of this file that exports no `OAuth`.
import { OAuthEngine, Engine } from './tokenwarden.js';
import { signatureVerdict } from './verdict.js';
import { page, storage, openPopup } from './redirect.js';
import { error } from './driver.js';

const OAUTH_OPTIONS = ['issuer', 'clientId', 'redirectUri', 'scope', 'audience', 'resource', 'postLogoutRedirectUri', 'popupRedirectUri', 'resources'];
// What a page load without a login does not use (the authorization request, the popup's wait,
// `persist`'s IndexedDB) is loaded on use: oauth-more.js.
const more = () => import('./oauth-more.js');

// DPoP for the token endpoint calls: a driver with DPoP fills in dpop.js's `Dpop` (this file
// makes the key of a new session), and passes the hooks `dpop` (the option),
// `key()` (the manager's key) and `setKey(key)`. The calls are sent by the driver's auth call,
// which proves them with the key it is given (`how.dpop`) through the fetch it captured.
export const dpopHooks = {};

/** `persist: "dpop"`'s IndexedDB record (oauth-more.js), loaded on use. */
export async function persisted(name, op, value) {
  return (await more()).persisted(name, op, value);
}

/**
 * The query of `url` (between the first `?` and the first `#`) decoded by the platform
 * (`URLSearchParams`), names and values alternating; the core checks the pairs with the URL.
 */
function query(url) {
  const head = url.split('#', 1)[0], at = head.indexOf('?');
  return at < 0 ? [] : [...new URLSearchParams(head.slice(at + 1))].flat();
}

/**
 * `url` without the authorization response's parameters (the core names them), for
 * `history.replaceState`: the app's own parameters and the fragment stay.
 */
function cleaned(url) {
  const hash = url.indexOf('#'), head = hash < 0 ? url : url.slice(0, hash), at = head.indexOf('?');
  if (at < 0) return url;
  const kept = new URLSearchParams(head.slice(at + 1));
  for (const name of [...kept.keys()]) if (OAuthEngine.responseParam(name)) kept.delete(name);
  const q = `${kept}`;
  return head.slice(0, at) + (q ? `?${q}` : '') + (hash < 0 ? '' : url.slice(hash));
}

export class OAuth {
  // (`#apis`: `resources`' tokens, each in a wasm `Engine` of its own: held, dated and wiped
  // like the session's; `#apiErrors`: why an API has none.)
  #o; #h; #discovery; #apis; #apiErrors = [];

  /**
   * Reads the `oauth` option of `o` into `c` (the driver's parsed options), with the driver's
   * option readers `h`: the refresh token lives in memory, auth calls send no cookies, the
   * channel is named after the client. Returns the profile, or undefined for `oauth: null`.
   */
  static configure(o, c, h) {
    const v = h.optionsObject(o.oauth, OAUTH_OPTIONS, 'the oauth option');
    if (!v) return undefined;
    const required = (key) => {
      const value = h.opt(v, key, 'string');
      if (value === undefined) throw h.invalid(`oauth.${key} is required`);
      return value;
    };
    let resource = v.resource ?? [];
    if (typeof resource === 'string') resource = [resource];
    if (!Array.isArray(resource) || resource.some((r) => typeof r !== 'string')) {
      throw h.invalid('option "resource" must be a string or an array of strings');
    }
    // `resources`: { origin: { resource | audience | neither, scope } }. The login asks for
    // every `resource` and its scope (the core adds them to every login's scope; an `audience`
    // or a bare scope is asked for at refresh only: Auth0, Entra ID); the origins are allowed,
    // each getting its own token, never the session's.
    const apis = (c.apis = []), apiScope = [];
    const r = v.resources;
    if (r !== undefined && (typeof r !== 'object' || r === null || Array.isArray(r))) throw h.invalid('oauth.resources must be an object');
    for (const [key, value] of Object.entries(r ?? {})) {
      const what = `oauth.resources["${key}"]`;
      let url;
      try {
        url = new URL(key);
      } catch { /* below */ }
      if (url?.href !== `${url?.origin}/` || !h.endpoint(what, key)) throw h.invalid(`${what}: not an origin`);
      const a = h.optionsObject(value, ['resource', 'audience', 'scope'], what) ?? {};
      const named = h.opt(a, 'resource', 'string'), audience = h.opt(a, 'audience', 'string'), s = h.opt(a, 'scope', 'string');
      if ((named !== undefined && audience !== undefined) || !(named ?? audience ?? s)) {
        throw h.invalid(`${what} needs one of resource, audience or scope`);
      }
      apis.push({ origin: url.origin, api: [named === undefined ? 'audience' : 'resource', named ?? audience ?? '', s ?? ''] });
      if (named !== undefined) {
        resource.push(named);
        if (s) apiScope.push(s);
      }
      if (!c.origins.includes(url.origin)) c.origins.push(url.origin);
    }
    const engine = new OAuthEngine([required('issuer'), required('clientId'), required('redirectUri'), h.opt(v, 'scope', 'string'),
      h.opt(v, 'audience', 'string'), h.opt(v, 'postLogoutRedirectUri', 'string'), h.opt(v, 'popupRedirectUri', 'string'),
      apiScope.join(' ') || undefined], resource, c.dpop === true);
    try {
      if (c.loginUrl !== undefined || c.logoutUrl !== undefined) {
        throw h.invalid('the oauth option replaces loginUrl and logoutUrl');
      }
      c.refreshUrl = h.endpoint('refreshUrl', v.issuer);
    } catch (e) {
      engine.free();
      throw e;
    }
    c.memory = true;
    c.credentials = 'omit';
    c.sessionHint = undefined;
    c.channelName = c.channelName === undefined ? v.clientId : `${v.clientId}\u0000${c.channelName}`;
    // A stored login transaction that has expired is deleted.
    const s = storage();
    try {
      const stored = s?.getItem(engine.get(0));
      if (typeof stored === 'string' && engine.stale(stored, Date.now())) s.removeItem(engine.get(0));
    } catch { /* storage refused */ }
    return engine;
  }

  /**
   * `engine` from `configure`; `h` the manager's hooks: the option readers, and `call`,
   * `install`, `closed`, `freed` over its private state.
   */
  constructor(engine, h) {
    this.#o = engine;
    this.#h = h;
    this.#reset();
  }

  /** A token box per API: an engine without tabs whose own refresh requests are dropped. */
  #reset() {
    this.#apis?.forEach((box) => box.free());
    this.#apis = this.#h.apis.map(() => new Engine(0, 2 | (this.#h.dpop ? 16 : 0)));
  }

  free() {
    this.#o.free();
    this.#apis.forEach((box) => box.free());
  }

  /** A call to the provider; an unreachable provider is `ERR_OAUTH_NETWORK`. */
  async #send(url, body, how) {
    const reply = await this.#h.call(url, body, new AbortController(), how);
    if (reply.error) {
      const why = { timeout: 'timed out', tooLarge: 'returned an oversized body' }[reply.error] ?? 'could not be reached';
      throw error('ERR_OAUTH_NETWORK', `the provider ${why}`);
    }
    if (this.#h.closed()) throw this.#h.freed();
    return reply;
  }

  /**
   * The provider's metadata: fetched once (OpenID Connect Discovery, then RFC 8414), checked by
   * the core. Callers racing the first fetch share it; a failed fetch is tried again by the next.
   */
  async #metadata() {
    if (this.#h.closed()) throw this.#h.freed();
    if (!this.#o.get(1)) await (this.#discovery ??= this.#discover().finally(() => { this.#discovery = undefined; }));
  }

  async #discover() {
    const o = this.#o;
    const [first, second] = o.get(2);
    let reply = await this.#send(first, undefined, { get: true });
    if (reply.status < 200 || reply.status >= 300) reply = await this.#send(second, undefined, { get: true });
    o.metadata(reply.status, reply.text);
  }

  /**
   * Verifies the pending ID token (of the login, or with `refresh` of a refresh answer) against
   * the provider's keys at `jwks` (fetched for this check), as the package's verifyJwt checks
   * one: wasm prepares, WebCrypto verifies, wasm checks the claims. Throws the typed error.
   */
  async #idToken(jwks, refresh) {
    const o = this.#o;
    const keys = await this.#send(jwks, undefined, { get: true });
    const [cryptoKey, params, signature, message] = o.idToken(keys.status, keys.text, Date.now(), refresh);
    let valid = true, refused = false;
    if (cryptoKey !== null) {
      const verdict = await signatureVerdict(cryptoKey, params, signature, message);
      refused = verdict === null;
      valid = verdict === true;
    }
    if (this.#h.closed()) throw this.#h.freed();
    o.verified(valid, refused, Date.now(), refresh);
  }

  /** `loginWithRedirect(options)`: a new transaction in `sessionStorage`, then the navigation. */
  async login(options, win = page) {
    const [url, transaction] = await (await more()).authorize(this.#o, this.#h, options, false, () => this.#metadata());
    await win.put(this.#o.get(0), transaction);
    await win.go(url);
  }

  /**
   * `loginWithPopup(options)`: the same login in a popup window, which the caller opens at the
   * user's gesture before anything is awaited (`win` given: worker custody's page opened it; else
   * opened here). The transaction stays in this realm's memory, never in storage, and ends with
   * the call. The callback page hands its URL over the same-origin `BroadcastChannel` (popup.js),
   * not `window.opener`, which `Cross-Origin-Opener-Policy` takes away; answers that are not this
   * login's (another state) are ignored. A popup closed before it reached the provider rejects
   * with `ERR_OAUTH_POPUP_CLOSED`; once there, the opener cannot tell a closed popup from one
   * hidden by COOP, and no answer within `timeoutInSeconds` (default 120) is
   * `ERR_OAUTH_POPUP_TIMEOUT`.
   */
  popup(options, win) {
    if (!win) {
      try {
        openPopup();
      } catch (e) {
        return Promise.reject(e);
      }
    }
    win ??= page;
    // The wait for the popup's answer (oauth-more.js, loaded now; the popup is open already).
    return more().then(
      (m) => m.popupLogin(this.#o, this.#h, options, win, () => this.#metadata(), (a, b) => this.#exchange(a, b), query),
      (e) => win.popup().catch(() => {}).then(() => { throw e; }),
    );
  }

  /**
   * `handleRedirectCallback(url)`: the transaction is taken from `sessionStorage` and checked
   * with the callback by the core, the code exchanged, the ID token verified, the tokens
   * installed, and the response removed from the address bar. A callback that is not the answer
   * to the pending login (wrong `state` or `iss`) leaves that login pending; every failure
   * leaves the session as it was.
   */
  async callback(url, win = page) {
    if (url != null && typeof url !== 'string') throw error('ERR_INVALID_OPTIONS', 'the callback URL must be a string');
    const current = await win.href();
    url ??= current;
    if (url === undefined) throw error('ERR_OAUTH_NO_WINDOW', 'no callback URL was given');
    await this.#metadata();
    const o = this.#o;
    const key = o.get(0);
    let stored = await win.take(key);
    const pairs = query(url);
    const clean = () => (current === url ? win.clean(cleaned(url)) : undefined);
    const [kind, a, b] = o.callback(url, pairs, stored, Date.now());
    stored = undefined;
    if (kind === 1) {
      await win.keep(key, b);
      throw a;
    }
    if (kind === 2) await clean();
    if (kind !== 0) throw a;
    await clean();
    await this.#exchange(a, b);
  }

  /** The code exchange `[url, body]` of a checked callback, the ID token's check, the install. */
  async #exchange(a, b) {
    const o = this.#o;
    // With DPoP, a new key for the new session, proven on the code exchange (RFC 9449 §10
    // allows it without `dpop_jkt` on the authorization request); kept only if the login succeeds.
    const dpop = this.#h.dpop && dpopHooks.Dpop ? await dpopHooks.Dpop.create() : undefined;
    const reply = await this.#send(a, b, { form: true, dpop });
    const jwks = o.exchanged(reply.status, reply.text);
    if (jwks !== null) await this.#idToken(jwks, false);
    if (this.#h.closed()) throw this.#h.freed();
    const [access, refresh, expiresIn] = o.get(7, false);
    const [failed, r, e, , cause] = await this.#grants(refresh, expiresIn, dpop);
    if (failed) throw cause;
    if (dpop) this.#h.setKey(dpop);
    await this.#h.install(access, r, e, reply.date);
  }

  /**
   * `resources`: one `refresh_token` grant per API after a login or refresh that returned
   * `refresh` (oauth-more.js `grants`, loaded when there are APIs): `[0, refresh, expiresIn]`
   * for the session, or `[1, 3, 0, NaN, error]` when the provider ends it.
   */
  async #grants(refresh, expiresIn, key) {
    return this.#apis.length
      ? (await more()).grants(this.#o, this.#h, this.#apis, this.#apiErrors, (u, b, how) => this.#send(u, b, how),
        (jwks) => this.#idToken(jwks, true), refresh, expiresIn, key)
      : [0, refresh, expiresIn];
  }

  /** Which API of `resources` a request to `url` is for (its origin), or -1: none. */
  api(url) {
    if (!this.#apis.length) return -1;
    const origin = new URL(url).origin;
    return this.#h.apis.findIndex((a) => a.origin === origin);
  }

  /**
   * API `i`'s `Authorization` value, or undefined when it has no token; with `fail`, the typed
   * error instead of undefined (its `cause`: why the provider gave none).
   */
  header(i, fail) {
    const box = this.#apis[i], value = box.input(14, Date.now());
    box.input(9);
    if (typeof value === 'string') return value;
    if (fail) throw Object.assign(error('ERR_OAUTH_RESOURCE_UNAVAILABLE', 'the provider issued no token for this API'), { cause: this.#apiErrors[i] });
  }

  /**
   * The refresh call of the driver (`refresh_token` grant): `[url, body, how]`, or the
   * `Engine#refreshFailed` kind when there is nothing to send (0: the provider's metadata could
   * not be fetched, 3: no refresh token).
   */
  async refreshRequest(engine, restored) {
    try {
      await this.#metadata();
    } catch {
      return 0;
    }
    // (`restored`: the refresh token `persist: "dpop"` kept, for a session not yet installed.)
    const token = engine.input(13) ?? restored;
    if (token === undefined) return 3;
    const [url, body] = this.#o.refreshRequest(token, []);
    return [url, body, { form: true, dpop: this.#h.key() }];
  }

  /**
   * The refresh answer, checked by the core: `[0, access, refresh, expiresIn]` or `[1, kind,
   * status, undefined, error]` (`Retry-After` is read by the manager's engine). An ID token in it is verified first (as at login, and
   * against the session's: OIDC Core §12.2); if it fails, nothing of the answer is installed
   * and the refresh fails as malformed with `error` (`ERR_OAUTH_*` / `ERR_JWS_*`).
   */
  async refreshed(reply) {
    const o = this.#o;
    let out = o.refreshed(reply.status, reply.text);
    if (out[0] === 2) {
      try {
        await this.#idToken(out[1], true);
        out = [0, ...o.get(7, true)];
      } catch (e) {
        return [1, 4, 0, NaN, e];
      }
    }
    if (out[0]) return out;
    // `resources`: the APIs' tokens with the rotated refresh token, before the session's.
    const [failed, a, b, c, cause] = await this.#grants(out[2], out[3], this.#h.key());
    return failed ? [1, a, b, c, cause] : [0, out[1], a, b];
  }

  /** `resources`' tokens and expiries, handed to a sibling tab with the session's. */
  apiTokens() {
    return this.#apis.map((box) => {
      const token = box.input(14, Date.now(), 1);
      box.input(9);
      return typeof token === 'string' ? [token, box.input(12)[0]] : null;
    });
  }

  /** The session's ID token, handed to a sibling tab with the tokens (as sensitive as they). */
  hint() {
    return this.#o.get(3);
  }

  /** A sibling's ID token, adopted with its tokens: this tab's logout hint from now on. */
  adopt(idToken, apis) {
    this.#o.get(6, idToken);
    this.#reset();
    // A sibling's API tokens (`apiTokens`), kept until the expiry it saw.
    this.#apis.forEach((box, i) => {
      const [token, at] = Array.isArray(apis?.[i]) ? apis[i] : [];
      if (typeof token !== 'string') return;
      try {
        box.install(2, token, undefined, at, NaN, Date.now());
        box.input(9);
      } catch { /* refused: the API waits for the next refresh */ }
    });
  }

  /** The session ended: its ID token and the APIs' tokens are wiped. */
  forget() {
    this.#o.get(4);
    this.#reset();
  }

  /**
   * Logout (the session is already wiped): forgets the ID token at once, then revokes the
   * refresh token (or, without one, the access token) at the provider. Resolves when the
   * provider answered or could not be reached.
   */
  revoke(access, refresh) {
    const o = this.#o;
    o.get(4);
    if (access === undefined && refresh === undefined) return undefined;
    return (async () => {
      try {
        // Built at once when the metadata is known: a `free()` right after `logout()` still revokes.
        if (!o.get(1)) await this.#metadata();
        const request = o.revocation(access, refresh);
        access = refresh = undefined;
        if (request !== undefined) await this.#send(request[0], request[1], { form: true });
      } catch { /* unreachable: the session is wiped anyway */ }
    })();
  }

  /** `logout({endSession: true})`: the provider's logout address (hint taken first), logout, navigation. */
  async endSession(logout, win = page) {
    let url, failure;
    try {
      await this.#metadata();
      url = this.#o.get(5);
    } catch (e) {
      failure = e;
    }
    await logout();
    if (failure) throw failure;
    await win.go(url);
  }
}

// The OAuth profile's parts that few logins use, loaded on first use by oauth.js (a page that
// never calls them never downloads them): the authorization request of a login,
// `loginWithPopup`'s wait for the popup's answer, `persist: "dpop"`'s IndexedDB record, and
// the grants of the APIs of `resources`.
const g = globalThis;
const LOGIN_OPTIONS = ['scope', 'prompt', 'loginHint', 'maxAge', 'extraParams'];
const POPUP_OPTIONS = [...LOGIN_OPTIONS, 'timeoutInSeconds'];

function error(code, message) {
  return Object.assign(new Error(message), { code });
}

const noCrypto = (what) => error('ERR_OAUTH_NO_CRYPTO', what);

// The same-origin channel on which a popup's callback page (popup.js) hands over its URL.
const POPUP_CHANNEL = 'tokenwarden.oauth.popup';

/**
 * `persist: "dpop"`: the session's DPoP key pair (`CryptoKey` objects, the private one
 * non-extractable: IndexedDB keeps the object, never its bytes) and the refresh token the
 * provider bound to it, in IndexedDB database `tokenwarden`, store `sessions`, under the client
 * id. `op(name, value)`: `get` resolves the record (or undefined), `put` writes `value`, `delete`
 * removes it. Every failure resolves undefined: the session then lives in memory only.
 */
export async function persisted(name, op, value) {
  let db;
  try {
    db = await new Promise((ok, no) => {
      const open = g.indexedDB.open('tokenwarden', 1);
      open.onupgradeneeded = () => open.result.createObjectStore('sessions');
      open.onsuccess = () => ok(open.result);
      open.onerror = () => no(open.error);
    });
    return await new Promise((ok, no) => {
      const t = db.transaction('sessions', op === 'get' ? 'readonly' : 'readwrite');
      const store = t.objectStore('sessions');
      const request = op === 'put' ? store.put(value, name) : store[op](name);
      t.oncomplete = () => ok(request.result);
      t.onerror = t.onabort = () => no(t.error);
    });
  } catch {
    return undefined;
  } finally {
    db?.close();
  }
}

/**
 * The authorization request of a login (`popup`: `loginWithPopup`'s): the options read, the
 * provider's metadata (`metadata()`), 96 random bytes, the verifier's SHA-256 from WebCrypto;
 * `[url, transaction]` from the engine `o`.
 */
export async function authorize(o, h, options, popup, metadata) {
  const v = h.optionsObject(options, popup ? POPUP_OPTIONS : LOGIN_OPTIONS, popup ? 'loginWithPopup options' : 'loginWithRedirect options') ?? {};
  const extra = [];
  if (v.extraParams !== undefined) {
    const p = v.extraParams;
    if (typeof p !== 'object' || p === null || Array.isArray(p)) throw h.invalid('extraParams must be an object of strings');
    for (const [name, value] of Object.entries(p)) {
      if (typeof value !== 'string') throw h.invalid('extraParams values must be strings');
      extra.push(name, value);
    }
  }
  // Their ranges (maxAge, timeoutInSeconds) are the core's: o.authorize checks them.
  const login = [h.opt(v, 'scope', 'string'), h.opt(v, 'prompt', 'string'), h.opt(v, 'loginHint', 'string'),
    h.opt(v, 'maxAge', 'number'), popup ? h.opt(v, 'timeoutInSeconds', 'number') : undefined];
  await metadata();
  const crypto = g.crypto;
  if (!crypto) throw noCrypto('this host has no WebCrypto');
  const random = new Uint8Array(96);
  try {
    crypto.getRandomValues(random);
  } catch {
    throw noCrypto('crypto.getRandomValues failed');
  }
  let digest;
  try {
    const verifier = new TextEncoder().encode(o.verifier(random));
    if (!crypto.subtle) throw noCrypto('this host has no crypto.subtle');
    digest = new Uint8Array(await crypto.subtle.digest('SHA-256', verifier));
    verifier.fill(0);
  } catch (e) {
    throw e.code ? e : noCrypto('crypto.subtle.digest failed');
  }
  if (h.closed()) throw h.freed();
  const request = o.authorize(random, digest, login, extra, Date.now(), popup);
  random.fill(0);
  return request;
}

/**
 * `loginWithPopup(options)` after the popup is open (`win.popup(url)` navigates it): the
 * transaction stays in this realm's memory, never in storage, and ends with the call. The
 * callback page hands its URL over the same-origin `BroadcastChannel` (popup.js), not
 * `window.opener`, which `Cross-Origin-Opener-Policy` takes away; answers that are not this
 * login's (another state) are ignored. A popup closed before it reached the provider rejects
 * with `ERR_OAUTH_POPUP_CLOSED`; once there, the opener cannot tell a closed popup from one
 * hidden by COOP, and no answer within `timeoutInSeconds` (default 120) is
 * `ERR_OAUTH_POPUP_TIMEOUT`. `o` the engine, `h` the manager's hooks, `metadata()` and
 * `exchange(a, b)` oauth.js's steps.
 */
export async function popupLogin(o, h, options, win, metadata, exchange, query) {
  let channel, timer, wake, transaction;
  const answers = [];
  try {
    channel = new BroadcastChannel(POPUP_CHANNEL);
    channel.onmessage = ({ data }) => {
      if (typeof data?.url === 'string') answers.push(data.url);
      wake?.();
    };
    // `wait`: how long the answer may take, `poll`: how often to look whether the manager was
    // freed meanwhile (ms), both the core's.
    let url, wait, poll;
    [url, transaction, wait, poll] = await authorize(o, h, options, true, metadata);
    if (!(await win.popup(url))) throw error('ERR_OAUTH_POPUP_CLOSED', 'the login popup was closed');
    const deadline = Date.now() + wait;
    for (;;) {
      while (!answers.length) {
        if (h.closed()) throw h.freed();
        const left = deadline - Date.now();
        if (left <= 0) throw error('ERR_OAUTH_POPUP_TIMEOUT', 'the login popup did not answer in time');
        await new Promise((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, Math.min(left, poll));
        });
        clearTimeout(timer);
      }
      const answer = answers.shift();
      const [kind, a, b] = o.callback(answer, query(answer), transaction, Date.now());
      if (kind === 1) {
        transaction = b; // not this login's answer: still pending
        continue;
      }
      transaction = undefined;
      if (kind !== 0) throw a;
      return await exchange(a, b);
    }
  } finally {
    transaction = undefined;
    clearTimeout(timer);
    channel?.close();
    try {
      await win.popup();
    } catch { /* the page is gone */ }
  }
}

/**
 * `resources`: after a login or refresh that returned `refresh`, one `refresh_token` grant per
 * API (its `resource` or `audience`, its scope), in order, each with the refresh token the
 * previous answer returned: one rotation at a time. An answer's ID token is verified as a
 * refresh's (`idToken(jwks)`); its access token goes into the API's box (a wasm `Engine`).
 * Returns `[0, refresh, expiresIn]` for the session (the last refresh token, the earliest
 * expiry: all are refreshed together), or `[1, 3, 0, NaN, error]` when the provider ends the
 * session. An API the provider refused keeps the token it had (a request to it asks for one
 * refresh, then fails with `errors[i]` as cause); after an unanswered call the rest wait for the
 * next refresh (that call may have rotated the token). `o` the OAuth engine, `h` the manager's
 * hooks, `send` oauth.js's provider call.
 */
export async function grants(o, h, boxes, errors, send, idToken, refresh, expiresIn, key) {
  for (let i = 0; i < boxes.length && refresh !== undefined; i++) {
    let out;
    try {
      const [url, body] = o.refreshRequest(refresh, h.apis[i].api);
      const reply = await send(url, body, { form: true, dpop: key });
      out = o.refreshed(reply.status, reply.text);
      if (out[0] === 2) {
        await idToken(out[1]);
        out = [0, ...o.get(7, true)];
      }
      if (!out[0]) {
        boxes[i].install(1, out[1], undefined, out[3], reply.date, Date.now());
        boxes[i].input(9);
      }
    } catch (e) {
      if (h.closed()) throw e;
      errors[i] = e;
      break;
    }
    errors[i] = out[5];
    if (out[0]) {
      if (out[1] === 3) return [1, 3, 0, NaN, out[5]];
      continue;
    }
    refresh = out[2] ?? refresh;
    if (out[3] < expiresIn || expiresIn !== expiresIn) expiresIn = out[3];
  }
  return [0, refresh, expiresIn];
}

// The dedicated module worker of `custody: "worker"` (started by custody.js from this file).
//
// It imports the package's module and runs a page-custody `TokenManager` in this worker's realm:
// the tokens, the refresh token and any DPoP key live only here. It imports the wasm-bindgen
// glue and the driver (driver.js: the page-custody TokenManager) directly, not index.js: no top-level await and no dynamic import,
// so a bundler may emit this worker in any format (Vite's default for workers is iife). The page sends one message,
// `{port, options, lock}`; everything else goes over `port`: calls `{id, op, arg}` answered with
// `{id, ok, value | error, snap}`, events `{event, payload, snap}` (what events carry in page
// custody), and `{ready}` once the lifetime lock `lock` is held (the page waits on the same
// lock to notice this worker stopping). `snap` is the getters' values (and `nextRefreshAt`,
// for the Rust API's `next_refresh_at`), never a token.
// The OAuth profile's redirect login needs the window: the worker asks `{ask, win, args}` (a
// call of redirect.js's `page`: href, take, put, keep, clean, go) and the page answers
// `{id: ask, op: 'window', arg: {ok, value | error}}`; what the page receives is the login
// transaction and the URLs, never a token.
import init from './tokenwarden.js';
import { TokenManager } from './driver.js';
import { workerCustodyOptions } from './custody.js';

const loading = init({ module_or_path: new URL('./tokenwarden_bg.wasm', import.meta.url) });

const EVENTS = ['change', 'refreshed', 'refreshFailed', 'expired', 'loggedOut'];

/** An error as plain data (messages of the manager's errors never contain a token). */
function wire(error) {
  return {
    name: error?.name ?? 'Error',
    message: error?.message ?? String(error),
    code: typeof error?.code === 'string' ? error.code : undefined,
    status: typeof error?.status === 'number' ? error.status : undefined,
    // OAuth profile: why a refresh answer was refused (its ID token's typed error).
    cause: error?.cause ? wire(error.cause) : undefined,
  };
}

function serve(TokenManager, port, options, lock) {
  let tm;
  try {
    // The page checked these already; a crafted first message must not skip them.
    tm = new TokenManager(workerCustodyOptions(options));
  } catch (error) {
    port.postMessage({ fatal: wire(error) });
    self.close();
    return;
  }
  const snap = () => ({
    state: tm.state, claims: tm.claims, expiresAt: tm.expiresAt, clockOffsetMs: tm.clockOffsetMs,
    expirySource: tm.expirySource, dpopJkt: tm.dpopJkt, nextRefreshAt: tm.__nextRefreshAt,
  });
  for (const name of EVENTS) {
    tm.on(name, (payload) => port.postMessage({
      event: name, payload: payload.error ? { ...payload, error: wire(payload.error) } : payload, snap: snap(),
    }));
  }
  const aborts = new Map();
  // The window's part of the OAuth profile's redirect login (redirect.js's `page`: the login
  // transaction in sessionStorage, the address bar, the navigation, the login popup), asked of the page.
  const asks = new Map();
  let asked = 0;
  const win = {};
  for (const name of ['href', 'take', 'put', 'keep', 'clean', 'go', 'popup']) {
    win[name] = (...args) => new Promise((resolve, reject) => {
      asked += 1;
      asks.set(asked, { resolve, reject });
      port.postMessage({ ask: asked, win: name, args });
    });
  }
  const answered = (id, reply) => {
    const ask = asks.get(id);
    asks.delete(id);
    if (!ask) return;
    if (reply?.ok) ask.resolve(reply.value);
    else ask.reject(Object.assign(new Error(reply?.error?.message), { code: reply?.error?.code }));
  };
  const answer = (id, run) => {
    let promise;
    try {
      promise = Promise.resolve(run());
    } catch (error) {
      promise = Promise.reject(error);
    }
    promise.then(
      (value) => port.postMessage({ id, ok: true, value, snap: snap() }),
      (error) => port.postMessage({ id, ok: false, error: wire(error), snap: snap() }),
    );
  };

  async function fetchFor(id, request) {
    const init = {
      method: request.method, headers: request.headers, mode: request.mode,
      credentials: request.credentials, cache: request.cache, redirect: request.redirect,
      integrity: request.integrity, referrer: request.referrer,
      referrerPolicy: request.referrerPolicy, keepalive: request.keepalive,
    };
    if (request.body !== null) {
      init.body = request.body;
      if (request.stream) init.duplex = 'half';
    }
    let controller;
    if (request.abortable) {
      controller = new AbortController();
      init.signal = controller.signal;
      aborts.set(id, controller);
    }
    try {
      const response = await tm.fetch(request.url, init);
      let body = response.body;
      if (body && controller) {
        // Keep the controller until the body is read (or cancelled): an abort then errors it.
        const relay = new TransformStream();
        body.pipeTo(relay.writable).catch(() => {}).finally(() => aborts.delete(id));
        body = relay.readable;
      } else {
        aborts.delete(id);
      }
      port.postMessage({
        id, ok: true,
        value: {
          status: response.status, statusText: response.statusText,
          headers: [...response.headers], url: response.url, redirected: response.redirected,
          type: response.type, body,
        },
      }, body ? [body] : []);
    } catch (error) {
      aborts.delete(id);
      port.postMessage({ id, ok: false, error: wire(error) });
    }
  }

  // The tokenwarden entry's manager has no OAuth methods: the same typed error as page custody.
  const oauthCall = (name) => {
    if (typeof tm[name] !== 'function') {
      const error = new Error('this needs the oauth option (the OAuth 2.0 / OpenID Connect profile), in tokenwarden/oauth');
      error.code = 'ERR_INVALID_OPTIONS';
      throw error;
    }
    return tm[name].bind(tm);
  };

  port.onmessage = ({ data }) => {
    const { id, op, arg } = data ?? {};
    switch (op) {
      case 'login': return answer(id, () => tm.login(arg));
      case 'setTokens': return answer(id, () => tm.setTokens(arg));
      case 'start': return answer(id, () => tm.__start(arg));
      case 'refresh': return answer(id, () => tm.refresh());
      case 'logout': return answer(id, () => tm.logout(arg, win));
      case 'loginWithRedirect': return answer(id, () => oauthCall('loginWithRedirect')(arg, win));
      case 'handleRedirectCallback': return answer(id, () => oauthCall('handleRedirectCallback')(arg, win));
      case 'loginWithPopup': return answer(id, () => oauthCall('loginWithPopup')(arg, win));
      case 'window': return answered(id, arg);
      case 'fetch': return fetchFor(id, arg);
      case 'abort': return aborts.get(id)?.abort();
      case 'free':
        tm.free();
        port.close();
        self.close();
        return undefined;
      default: return undefined;
    }
  };
  const ready = () => port.postMessage({ ready: true, snap: snap() });
  if (self.navigator?.locks && lock) {
    // Held until this worker ends; the page's request for it is granted then.
    self.navigator.locks.request(lock, () => {
      ready();
      return new Promise(() => {});
    }).catch(ready);
  } else {
    ready();
  }
}

self.addEventListener('message', async function first(event) {
  const { port, options, lock } = event.data ?? {};
  if (!(port instanceof MessagePort)) return;
  self.removeEventListener('message', first);
  try {
    await loading;
  } catch (error) {
    port.postMessage({ fatal: wire(error) });
    self.close();
    return;
  }
  serve(TokenManager, port, options, typeof lock === 'string' ? lock : null);
});

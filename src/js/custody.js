// The package's `TokenManager`: where the tokens live (option `custody`).
//
// - `custody: "page"` (the default): the manager runs in the page's realm. `new TokenManager()`
//   returns the JS driver's class itself (driver.js), so this mode costs nothing over it.
// - `custody: "worker"`: the manager runs in a dedicated module worker started from the
//   package's own `worker.js` (a file, not a blob URL: CSP `worker-src 'self'`), which imports
//   the package's module and constructs a page-custody manager inside the worker. The object returned
//   here has the same API and forwards every call over a `MessageChannel`; `fetch` sends the
//   request (body as an `ArrayBuffer`, or the transferred `ReadableStream`) and gets back a real
//   `Response` whose body is a transferred stream. No token, refresh token or DPoP key ever
//   enters the page: the worker posts only what events and getters carry in page custody.
//
// Worker custody, decisions (README "Worker custody"):
// - Options are validated in the page, synchronously, by constructing (and freeing at once) a
//   page-custody manager without cross-tab coordination: the same errors, thrown by the
//   constructor. `exposeToken` is refused (`ERR_INVALID_OPTIONS`), as is
//   `shareTokens: true`: the worker's manager never posts tokens on the cross-tab channel, which
//   every page script of the origin can join (each worker refreshes for itself under the shared
//   refresh lock; logout still reaches every tab).
// - URLs (options and requests) are resolved against the page's base URL before they leave it.
// - Getters are a snapshot the worker sends with every event and every call's answer, so after
//   `await tm.login(...)` they are up to date. `setTokens` is applied in call order but returns
//   a Promise (the worker installs the tokens).
// - The OAuth profile (`oauth`, tokenwarden/oauth): discovery, the code exchange, refresh,
//   revocation, the ID token and the DPoP key stay in the worker; what needs the window (the
//   login transaction in `sessionStorage`, the address bar, the navigation) the worker asks of
//   the page (redirect.js), in page custody's order.
// - If the worker stops (terminated by the browser, crashed), its session is gone: calls in
//   flight reject with `ERR_WORKER_LOST` (a response body still arriving errors with it),
//   `change` and `loggedOut` (reason `"workerLost"`) are emitted, and later `fetch`/`refresh` reject with `ERR_LOGGED_OUT` until `login()`,
//   `setTokens()` or `start()` starts a new worker (`start()` restores a cookie session).
//   The loss is noticed through a Web Lock the worker holds for its lifetime, and the worker's
//   `error` event.
// Files: this one (every page loads it) holds the custody switch, the validation and the thin
// object returned in worker custody; remote.js (loaded on first use of worker custody) talks to
// the worker; worker.js is the worker.
import { TokenManager as PageManager, error as failure, invalid, EVENTS } from './driver.js';
// @oauth-begin
import { openPopup } from './redirect.js';
// @oauth-end

function pageBase() {
  const g = globalThis;
  return g.document ? g.document.baseURI : g.location?.href;
}

/** The refusals of worker custody, applied in the page and again in the worker (which must not
 * trust its first message: any page script can start the worker file with options of its own).
 * Returns the options with token sharing off. */
export function workerCustodyOptions(options) {
  if (options?.exposeToken === true) {
    throw invalid('option "exposeToken" cannot be combined with custody "worker": the token never enters the page');
  }
  if (options?.shareTokens === true) {
    throw invalid('option "shareTokens" cannot be true with custody "worker": every page script can join the cross-tab channel');
  }
  return { ...options, shareTokens: false };
}

/** The options the worker's manager gets: URLs resolved here, tokens never shared. */
function workerOptions(options) {
  workerCustodyOptions(options);
  if (typeof Worker !== 'function' || typeof MessageChannel !== 'function') {
    throw invalid('custody "worker" needs a browser with module workers');
  }
  // The same validation as page custody, with the same errors (no channel, nothing sent).
  new PageManager({ ...options, crossTab: false }).free();
  const resolved = workerCustodyOptions(options);
  for (const key of ['loginUrl', 'refreshUrl', 'logoutUrl']) {
    if (typeof options[key] === 'string') resolved[key] = new URL(options[key], pageBase()).href;
  }
  return resolved;
}

/** What worker custody returns: the same API; remote.js (fetched on first use) does the work. */
class WorkerManager {
  #ready;
  #remote = null;
  #listeners = new Map(EVENTS.map((name) => [name, new Set()]));
  #freed = false;

  constructor(options) {
    const resolved = workerOptions(options);
    this.#ready = import('./remote.js').then(
      ({ Remote }) => (this.#remote = new Remote(resolved, (name, payload) => this.#emit(name, payload))),
      () => {
        this.#emit('loggedOut', { type: 'loggedOut', reason: 'workerLost' });
        throw failure('ERR_WORKER_LOST', 'the worker custody module did not load');
      },
    );
  }

  #emit(name, payload) {
    for (const listener of [...(this.#listeners.get(name) ?? [])]) {
      try {
        listener(payload);
      } catch (error) {
        if (typeof globalThis.reportError === 'function') globalThis.reportError(error);
      }
    }
  }

  #run(call) {
    if (this.#freed) return Promise.reject(failure('ERR_LOGGED_OUT', 'the token manager was freed'));
    return this.#ready.then(call);
  }

  login(credentials) { return this.#run((r) => r.login(credentials)); }

  setTokens(tokens) {
    if (tokens == null || typeof tokens !== 'object' || typeof tokens.accessToken !== 'string') {
      throw invalid('setTokens needs {accessToken}');
    }
    const copy = { ...tokens };
    return this.#run((r) => r.setTokens(copy));
  }

  start() { return this.#run((r) => r.start()); }

  refresh() { return this.#run((r) => r.refresh()); }

  logout(options) {
    if (options != null && (typeof options !== 'object' || Object.keys(options).some((k) => k !== 'endSession'))) {
      return Promise.reject(invalid('logout options must be an object with endSession'));
    }
    const copy = options == null ? undefined : { ...options };
    return this.#run((r) => r.logout(copy));
  }

  fetch(input, init) { return this.#run((r) => r.fetch(input, init)); }

  loginWithRedirect(options) { return this.#run((r) => r.call('loginWithRedirect', options)); }

  handleRedirectCallback(url) { return this.#run((r) => r.call('handleRedirectCallback', url)); }

  // @oauth-begin
  /** Opened here, at the user's gesture; the worker's login navigates it through the page. */
  loginWithPopup(options) {
    let w;
    try {
      w = openPopup();
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#run((r) => r.call('loginWithPopup', options, w));
  }
  // @oauth-end

  getAccessToken() {
    return Promise.reject(failure('ERR_TOKEN_NOT_EXPOSED', 'custody "worker" never hands the access token to the page'));
  }

  get state() { return this.#remote?.snap.state ?? 'anonymous'; }
  get claims() { return this.#remote?.snap.claims ?? null; }
  get expiresAt() { return this.#remote?.snap.expiresAt ?? null; }
  get clockOffsetMs() { return this.#remote?.snap.clockOffsetMs ?? null; }
  get expirySource() { return this.#remote?.snap.expirySource ?? null; }
  get dpopJkt() { return this.#remote?.snap.dpopJkt ?? null; }
  get custody() { return 'worker'; }

  on(event, listener) {
    const set = this.#listeners.get(event);
    if (!set) throw invalid(`unknown event "${event}"; events: ${EVENTS.join(', ')}`);
    if (typeof listener !== 'function') throw invalid('the listener must be a function');
    const entry = (payload) => listener(payload);
    set.add(entry);
    return () => { set.delete(entry); };
  }

  free() {
    if (this.#freed) return;
    this.#freed = true;
    for (const set of this.#listeners.values()) set.clear();
    this.#ready.then((r) => r.free(), () => {});
  }

  /** For tests: the worker (terminate it to see a lost worker handled). */
  get __worker() { return this.#remote?.worker ?? null; }
}

/**
 * `new TokenManager(options)`: page custody returns the driver's instance; `custody:
 * "worker"` returns a `WorkerManager` with the same API. `instanceof TokenManager` holds for
 * both.
 */
export function TokenManager(options) {
  if (!new.target) throw new TypeError("Class constructor TokenManager cannot be invoked without 'new'");
  const object = options !== null && typeof options === 'object';
  if (!object || !Object.hasOwn(options, 'custody')) return new PageManager(options);
  const { custody, ...rest } = options;
  if (custody !== undefined && custody !== 'page' && custody !== 'worker') {
    throw invalid('option "custody" must be one of page, worker');
  }
  return custody === 'worker' ? new WorkerManager(rest) : new PageManager(rest);
}
TokenManager.prototype = PageManager.prototype;
Object.defineProperty(PageManager.prototype, 'custody', { get: () => 'page', configurable: true });
Object.defineProperty(TokenManager, Symbol.hasInstance, {
  value: (object) => object instanceof WorkerManager || object instanceof PageManager,
});

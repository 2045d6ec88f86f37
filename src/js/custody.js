// The package's `TokenManager`: where the tokens live (option `custody`).
//
// - `custody: "page"` (the default): the manager runs in the page's realm. `new TokenManager()`
//   returns the wasm-bindgen class itself, so this mode costs nothing over the class.
// - `custody: "worker"`: the manager runs in a dedicated module worker started from the
//   package's own `worker.js` (a file, not a blob URL: CSP `worker-src 'self'`), which imports
//   this package and constructs a page-custody manager inside the worker. The object returned
//   here has the same API and forwards every call over a `MessageChannel`; `fetch` sends the
//   request (body as an `ArrayBuffer`, or the transferred `ReadableStream`) and gets back a real
//   `Response` whose body is a transferred stream. No token, refresh token or DPoP key ever
//   enters the page: the worker posts only what events and getters carry in page custody.
//
// Worker custody, decisions (README "Worker custody"):
// - Options are validated in the page, synchronously, by constructing (and freeing at once) a
//   page-custody manager without cross-tab coordination: the same errors, thrown by the
//   constructor. `exposeToken` and `oauth` are refused (`ERR_INVALID_OPTIONS`), as is
//   `shareTokens: true`: the worker's manager never posts tokens on the cross-tab channel, which
//   every page script of the origin can join (each worker refreshes for itself under the shared
//   refresh lock; logout still reaches every tab).
// - URLs (options and requests) are resolved against the page's base URL before they leave it.
// - Getters are a snapshot the worker sends with every event and every call's answer, so after
//   `await tm.login(...)` they are up to date. `setTokens` is applied in call order but returns
//   a Promise (the worker installs the tokens).
// - If the worker stops (terminated by the browser, crashed), its session is gone: calls in
//   flight reject with `ERR_WORKER_LOST`, `change` and `loggedOut` (reason `"workerLost"`) are
//   emitted, and later `fetch`/`refresh` reject with `ERR_LOGGED_OUT` until `login()`,
//   `setTokens()` or `start()` starts a new worker (`start()` restores a cookie session).
//   The loss is noticed through a Web Lock the worker holds for its lifetime, and the worker's
//   `error` event.
import { TokenManager as PageManager } from './tokenwarden.js';

const EVENTS = ['change', 'refreshed', 'refreshFailed', 'expired', 'loggedOut'];
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

function failure(code, message, extra) {
  const error = new Error(message);
  error.code = code;
  return extra ? Object.assign(error, extra) : error;
}

const invalid = (message) => failure('ERR_INVALID_OPTIONS', message);

function report(error) {
  if (typeof globalThis.reportError === 'function') globalThis.reportError(error);
}

/** An error as the worker sent it (`{name, message, code, status}`), rebuilt in the page. */
function fromWire(wire) {
  if (wire.code) return failure(wire.code, wire.message, wire.status == null ? undefined : { status: wire.status });
  if (wire.name === 'TypeError') return new TypeError(wire.message);
  if (wire.name === 'AbortError' || wire.name === 'TimeoutError') return new DOMException(wire.message, wire.name);
  return new Error(wire.message);
}

/** The worker's answer to a fetch, as a real `Response` (with its url, redirected and type). */
function toResponse(answer) {
  const status = answer.status >= 200 && answer.status <= 599 ? answer.status : 200;
  const empty = NULL_BODY.has(status) || answer.body == null;
  if (empty) answer.body?.cancel();
  const response = new Response(empty ? null : answer.body, {
    status, statusText: answer.statusText, headers: answer.headers,
  });
  const define = (key, value) => Object.defineProperty(response, key, { value, configurable: true });
  if (answer.url) define('url', answer.url);
  if (answer.redirected) define('redirected', true);
  if (answer.type !== 'default') define('type', answer.type);
  if (status !== answer.status) {
    define('status', answer.status); // 0: an opaque or opaqueredirect response
    define('ok', false);
  }
  return response;
}

function pageBase() {
  const g = globalThis;
  return g.document ? g.document.baseURI : g.location?.href;
}

function hasCookie(name) {
  const cookies = globalThis.document?.cookie;
  if (typeof cookies !== 'string') return true; // cannot tell: ask the worker
  return cookies.split(';').some((pair) => pair.trim().split('=')[0] === name);
}

/** The options the worker's manager gets: URLs resolved here, tokens never shared. */
function workerOptions(options) {
  if (options.exposeToken === true) {
    throw invalid('option "exposeToken" cannot be combined with custody "worker": the token never enters the page');
  }
  if (options.oauth !== undefined) {
    throw invalid('option "oauth" is not available with custody "worker" yet (its redirect login needs the page)');
  }
  if (options.shareTokens === true) {
    throw invalid('option "shareTokens" cannot be true with custody "worker": every page script can join the cross-tab channel');
  }
  if (typeof Worker !== 'function' || typeof MessageChannel !== 'function') {
    throw invalid('custody "worker" needs a browser with module workers');
  }
  // The same validation as page custody, with the same errors (no channel, nothing sent).
  new PageManager({ ...options, crossTab: false }).free();
  const resolved = { ...options, shareTokens: false };
  for (const key of ['loginUrl', 'refreshUrl', 'logoutUrl']) {
    if (typeof options[key] === 'string') resolved[key] = new URL(options[key], pageBase()).href;
  }
  return resolved;
}

let workerIds = 0;

/** The page's side of a worker-custody manager (see the top of this file). */
class WorkerManager {
  #options;
  #worker = null;
  #port = null;
  #watch = null;
  #pending = new Map();
  #next = 1;
  #listeners = new Map(EVENTS.map((name) => [name, new Set()]));
  #snap = { state: 'anonymous', claims: null, expiresAt: null, clockOffsetMs: null, expirySource: null, dpopJkt: null };
  #lost = false;
  #freed = false;

  constructor(options) {
    this.#options = workerOptions(options);
    this.#spawn();
  }

  #spawn() {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'tokenwarden' });
    const { port1, port2 } = new MessageChannel();
    const lock = `tokenwarden:worker:${Date.now().toString(36)}:${(workerIds += 1)}:${Math.random().toString(36).slice(2)}`;
    this.#worker = worker;
    this.#port = port1;
    this.#lost = false;
    port1.onmessage = ({ data }) => { if (this.#port === port1) this.#receive(data); };
    worker.addEventListener('error', (event) => {
      event.preventDefault?.();
      if (this.#worker === worker) this.#lose();
    });
    worker.postMessage({ port: port2, options: this.#options, lock }, [port2]);
    this.#watchLock = lock;
  }

  #watchLock = null;

  /** Waits for the worker's lifetime lock: granted means the worker is gone. */
  #watchWorker() {
    const locks = globalThis.navigator?.locks;
    const name = this.#watchLock;
    if (!locks || !name) return;
    const worker = this.#worker;
    const controller = new AbortController();
    this.#watch = controller;
    locks.request(name, { signal: controller.signal }, () => {
      if (this.#worker === worker) this.#lose();
    }).catch(() => {});
  }

  #receive(data) {
    if (data.snap) this.#snap = data.snap;
    if (data.ready) {
      this.#watchWorker();
      return;
    }
    if (data.fatal) {
      this.#lose(fromWire(data.fatal));
      return;
    }
    if (data.event) {
      this.#emit(data.event, data.payload);
      return;
    }
    const call = this.#pending.get(data.id);
    if (!call) return;
    this.#pending.delete(data.id);
    if (data.ok) call.resolve(call.op === 'fetch' ? toResponse(data.value) : data.value);
    else call.reject(fromWire(data.error));
  }

  #emit(name, payload) {
    for (const listener of [...(this.#listeners.get(name) ?? [])]) {
      try {
        listener(payload);
      } catch (error) {
        report(error);
      }
    }
  }

  /** The worker stopped: its session is gone (see the top of this file). */
  #lose(cause) {
    if (this.#lost || this.#freed) return;
    this.#lost = true;
    this.#worker?.terminate();
    this.#worker = null;
    this.#port?.close();
    this.#port = null;
    this.#watch?.abort();
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    const error = cause ?? failure('ERR_WORKER_LOST', "the token manager's worker stopped; its session is gone");
    if (!error.code) error.code = 'ERR_WORKER_LOST';
    for (const call of pending) call.reject(error);
    const was = this.#snap.state;
    this.#snap = { state: 'anonymous', claims: null, expiresAt: null, clockOffsetMs: null, expirySource: null, dpopJkt: null };
    if (was !== 'anonymous') this.#emit('change', { type: 'change', state: 'anonymous' });
    this.#emit('loggedOut', { type: 'loggedOut', reason: 'workerLost' });
  }

  #call(op, arg, transfer) {
    return this.#send(op, arg, transfer).answer;
  }

  /** Posts one call; `id` names it for an abort (0: answered here). */
  #send(op, arg, transfer) {
    const refused = (error) => ({ id: 0, answer: Promise.reject(error) });
    if (this.#freed) return refused(failure('ERR_LOGGED_OUT', 'the token manager was freed'));
    if (this.#lost) {
      if (op === 'login' || op === 'setTokens' || op === 'start') this.#spawn();
      else if (op === 'logout') return { id: 0, answer: Promise.resolve() };
      else return refused(failure('ERR_LOGGED_OUT', "logged out: the token manager's worker stopped"));
    }
    const id = this.#next++;
    const answer = new Promise((resolve, reject) => {
      this.#pending.set(id, { op, resolve, reject });
      this.#port.postMessage({ id, op, arg }, transfer ?? []);
    });
    return { id, answer };
  }

  login(credentials) { return this.#call('login', credentials); }

  setTokens(tokens) {
    if (tokens == null || typeof tokens !== 'object' || typeof tokens.accessToken !== 'string') {
      throw invalid('setTokens needs {accessToken}');
    }
    return this.#call('setTokens', { ...tokens });
  }

  start() {
    const hint = this.#options.sessionHint;
    if (hint && !this.#lost && this.#snap.state === 'anonymous' && !hasCookie(hint)) return Promise.resolve(false);
    return this.#call('start');
  }

  refresh() { return this.#call('refresh'); }

  logout(options) {
    if (options != null && (typeof options !== 'object' || Object.keys(options).some((k) => k !== 'endSession'))) {
      return Promise.reject(invalid('logout options must be an object with endSession'));
    }
    return this.#call('logout', options == null ? undefined : { ...options });
  }

  async fetch(input, init) {
    const request = new Request(input, init); // rejects as fetch does; resolves against the page
    const signal = request.signal;
    if (signal.aborted) throw signal.reason;
    // A stream body is sent as a stream (and, as in page custody, not retried after a 401).
    const stream = init?.body instanceof ReadableStream;
    const body = request.body === null ? null : stream ? request.body : await request.arrayBuffer();
    if (signal.aborted) throw signal.reason;
    const wire = {
      url: request.url, method: request.method, headers: [...request.headers], body, stream,
      mode: request.mode, credentials: request.credentials, cache: request.cache,
      redirect: request.redirect, integrity: request.integrity, referrer: request.referrer,
      referrerPolicy: request.referrerPolicy, keepalive: request.keepalive,
      abortable: init?.signal != null || input instanceof Request,
    };
    const { id, answer } = this.#send('fetch', wire, body === null ? [] : [body]);
    if (!wire.abortable || id === 0) return answer;
    const port = this.#port;
    return new Promise((resolve, reject) => {
      // Rejects at once, as fetch does; the worker aborts its fetch (or the body stream).
      signal.addEventListener('abort', () => {
        port.postMessage({ id, op: 'abort' });
        this.#pending.delete(id);
        reject(signal.reason);
      }, { once: true });
      answer.then(resolve, reject);
    });
  }

  getAccessToken() {
    return Promise.reject(failure('ERR_TOKEN_NOT_EXPOSED', 'custody "worker" never hands the access token to the page'));
  }

  get state() { return this.#snap.state; }
  get claims() { return this.#snap.claims; }
  get expiresAt() { return this.#snap.expiresAt; }
  get clockOffsetMs() { return this.#snap.clockOffsetMs; }
  get expirySource() { return this.#snap.expirySource; }
  get dpopJkt() { return this.#snap.dpopJkt; }
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
    this.#port?.postMessage({ op: 'free' });
    this.#freed = true;
    this.#watch?.abort();
    this.#port?.close();
    this.#port = null;
    this.#worker = null;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const call of pending) call.reject(failure('ERR_LOGGED_OUT', 'the token manager was freed'));
    for (const set of this.#listeners.values()) set.clear();
  }

  /** For tests: the worker (terminate it to see a lost worker handled). */
  get __worker() { return this.#worker; }
}

/**
 * `new TokenManager(options)`: page custody returns the wasm class's instance; `custody:
 * "worker"` returns a `WorkerManager` with the same API. `instanceof TokenManager` holds for
 * both.
 */
export function TokenManager(options) {
  if (!new.target) throw new TypeError("Class constructor TokenManager cannot be invoked without 'new'");
  const custody = options !== null && typeof options === 'object' ? options.custody : undefined;
  if (custody === undefined) return new PageManager(options);
  if (custody !== 'page' && custody !== 'worker') throw invalid('option "custody" must be one of page, worker');
  const { custody: _, ...rest } = options;
  return custody === 'page' ? new PageManager(rest) : new WorkerManager(rest);
}
TokenManager.prototype = PageManager.prototype;
Object.defineProperty(PageManager.prototype, 'custody', { get: () => 'page', configurable: true });
Object.defineProperty(TokenManager, Symbol.hasInstance, {
  value: (object) => object instanceof PageManager || object instanceof WorkerManager,
});

// Worker custody, the page's side (loaded by custody.js only when `custody: "worker"` is
// asked for): starts the worker (worker.js), forwards each call over a MessageChannel, rebuilds
// Responses and errors, keeps the getters' snapshot, and notices a worker that stops. Events go
// to the `emit` callback custody.js gives; the worker's OAuth profile asks the page for the
// window's part of a redirect login (redirect.js's `page`: sessionStorage, the address bar, the
// navigation). Behaviour: see the top of custody.js.
import { page, openPopup } from './redirect.js';

const NULL_BODY = new Set([101, 103, 204, 205, 304]);

function failure(code, message, extra) {
  const error = new Error(message);
  error.code = code;
  return extra ? Object.assign(error, extra) : error;
}

/** An error as the worker sent it (`{name, message, code, status}`), rebuilt in the page. */
function fromWire(wire) {
  if (wire.cause) return Object.assign(fromWire({ ...wire, cause: undefined }), { cause: fromWire(wire.cause) });
  if (wire.code) return failure(wire.code, wire.message, wire.status == null ? undefined : { status: wire.status });
  if (wire.name === 'TypeError') return new TypeError(wire.message);
  if (wire.name === 'AbortError' || wire.name === 'TimeoutError') return new DOMException(wire.message, wire.name);
  return new Error(wire.message);
}

/** The worker's answer to a fetch, as a real `Response` (with its url, redirected and type);
 * `relay(body)` wraps the transferred body stream. */
function toResponse(answer, relay) {
  const status = answer.status >= 200 && answer.status <= 599 ? answer.status : 200;
  const empty = NULL_BODY.has(status) || answer.body == null;
  if (empty) answer.body?.cancel();
  const response = new Response(empty ? null : relay(answer.body), {
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

let workerIds = 0;

/** The page's side of a worker-custody manager (see the top of this file). */
export class Remote {
  #options;
  #worker = null;
  #port = null;
  #watch = null;
  #pending = new Map();
  #next = 1;
  #emit;
  #snap = { state: 'anonymous', claims: null, expiresAt: null, clockOffsetMs: null, expirySource: null, dpopJkt: null };
  #lost = false;
  #freed = false;
  /** The stream controllers of response bodies still arriving (errored if the worker goes). */
  #bodies = new Set();

  /** `options`: validated and resolved by custody.js; `emit(name, payload)`: the events. */
  constructor(options, emit) {
    this.#options = options;
    this.#emit = emit;
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
      const payload = data.payload;
      this.#emit(data.event, payload?.error ? { ...payload, error: fromWire(payload.error) } : payload);
      return;
    }
    if (data.ask) {
      this.#window(data);
      return;
    }
    const call = this.#pending.get(data.id);
    if (!call) return;
    this.#pending.delete(data.id);
    if (data.ok) call.resolve(call.op === 'fetch' ? toResponse(data.value, (body) => this.#relay(body)) : data.value);
    else call.reject(fromWire(data.error));
  }

  /**
   * A transferred body whose worker is terminated neither ends nor errors: the page reads it
   * through a relay that `#lose` can error.
   */
  #relay(body) {
    let controller;
    const relay = new TransformStream({ start(c) { controller = c; } });
    this.#bodies.add(controller);
    body.pipeTo(relay.writable).catch(() => {}).finally(() => this.#bodies.delete(controller));
    return relay.readable;
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
    for (const body of this.#bodies) body.error(error);
    this.#bodies.clear();
    const was = this.#snap.state;
    this.#snap = { state: 'anonymous', claims: null, expiresAt: null, clockOffsetMs: null, expirySource: null, dpopJkt: null };
    if (was !== 'anonymous') this.#emit('change', { type: 'change', state: 'anonymous' });
    this.#emit('loggedOut', { type: 'loggedOut', reason: 'workerLost' });
  }

  /**
   * The worker's OAuth profile asks for one call of redirect.js's `page` (the same calls, in the
   * same order, as page custody makes): the answer, or the error's code and message.
   */
  #window({ ask, win, args }) {
    let reply;
    try {
      if (!Object.hasOwn(page, win)) throw failure('ERR_OAUTH_NO_WINDOW', `no window call "${win}"`);
      reply = { ok: true, value: page[win](...args) };
    } catch (e) {
      reply = { ok: false, error: { code: e.code, message: e.message } };
    }
    this.#port?.postMessage({ id: ask, op: 'window', arg: reply });
  }

  #call(op, arg, transfer) {
    return this.#send(op, arg, transfer).answer;
  }

  /** Posts one call; `id` names it for an abort (0: answered here). */
  #send(op, arg, transfer) {
    const refused = (error) => ({ id: 0, answer: Promise.reject(error) });
    if (this.#freed) return refused(failure('ERR_LOGGED_OUT', 'the token manager was freed'));
    if (this.#lost) {
      if (['login', 'setTokens', 'start', 'loginWithRedirect', 'loginWithPopup', 'handleRedirectCallback'].includes(op)) this.#spawn();
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

  setTokens(tokens) { return this.#call('setTokens', tokens); }

  // The worker has no `document.cookie`: the page's goes along, for the session hint.
  start() {
    let cookies;
    try { cookies = globalThis.document?.cookie; } catch { /* none */ }
    return this.#call('start', typeof cookies === 'string' ? cookies : undefined);
  }

  refresh() { return this.#call('refresh'); }

  logout(options) { return this.#call('logout', options); }

  /**
   * The OAuth profile's `loginWithRedirect(options)`, `handleRedirectCallback(url)` and
   * `loginWithPopup(options)` (`popup`: the window custody.js opened, which the worker's login
   * navigates through this module's `page`).
   */
  call(op, arg, popup) {
    if (popup) openPopup(popup);
    // A callback URL that is not a string is refused in the worker, as in page custody.
    return this.#call(op, op === 'handleRedirectCallback' && arg != null && typeof arg !== 'string' ? 0 : arg);
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
      // Rejects at once, as fetch does; the worker aborts its fetch (or, once the response is
      // here, the body stream: the listener stays for that, as fetch's own does).
      const onAbort = () => {
        port.postMessage({ id, op: 'abort' });
        this.#pending.delete(id);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      answer.then(resolve, (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      });
    });
  }

  /** The getters' values, as the worker last reported them. */
  get snap() { return this.#snap; }

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
    const freed = failure('ERR_LOGGED_OUT', 'the token manager was freed');
    for (const call of pending) call.reject(freed);
    for (const body of this.#bodies) body.error(freed);
    this.#bodies.clear();
  }

  /** The worker (for tests: terminate it to see a lost worker handled). */
  get worker() { return this.#worker; }
}

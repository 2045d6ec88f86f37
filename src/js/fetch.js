// The fast path of `TokenManager#fetch`, installed by the package entry (scripts/build-pkg.sh).
//
// For a string or URL input with a plain (or no) init, the URL is resolved here exactly as
// `fetch` resolves it, and the manager is asked, in one call into wasm, for the header of that
// canonical URL. When it has one to give at once, the request is sent with it; a 401 goes back
// to the manager (one refresh, one retry). Everything else (a `Request` input, an init with a
// prototype, a refresh due or in flight, a logged-out session, a host where redirects are
// handled manually) takes the full path in wasm, which behaves the same.
import { TokenManager } from './tokenwarden.js';

const full = TokenManager.prototype.fetch;
const functions = new WeakMap();

function base() {
  const g = globalThis;
  return g.document ? g.document.baseURI : g.location?.href;
}

// URL parsing is most of the fast path's cost (about 1.6 us in Chromium), and a pure function
// of the input and the base: resolved URLs are remembered per base (at most 256).
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

TokenManager.prototype.fetch = function fetch(input, init) {
  if ((typeof input === 'string' || input instanceof URL)
      && (init == null || Object.getPrototypeOf(init) === Object.prototype)) {
    let href;
    try {
      href = resolve(String(input));
    } catch {
      return full.call(this, input, init); // rejects as fetch does
    }
    const header = this.__headerFor(href);
    if (header !== undefined) {
      let send = functions.get(this);
      if (send === undefined) functions.set(this, send = this.__fetchFunction());
      if (header === null) return send(input, init);
      const headers = new Headers(init?.headers);
      headers.set('Authorization', header);
      return send(href, init ? { ...init, headers } : { headers }).then((response) =>
        response.status === 401 ? this.__after401(response, header, href, init) : response);
    }
  }
  return full.call(this, input, init);
};

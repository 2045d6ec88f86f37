// The window's part of the OAuth profile's redirect login (oauth.js): the login transaction in
// `sessionStorage`, the address bar and the navigation. In page custody oauth.js calls `page`
// directly; in worker custody oauth.js runs in the worker and each of these calls is asked of
// the page (worker.js asks, remote.js answers with this same `page`), so the page performs
// exactly what page custody performs, in the same order, and never receives a token.

const g = globalThis;

function failure(code, message) {
  const e = new Error(message);
  e.code = code;
  return e;
}

export function storage() {
  try {
    return g.sessionStorage ?? undefined;
  } catch {
    return undefined;
  }
}

export const page = {
  /** The page's address (the callback URL by default). */
  href: () => g.location?.href,
  /** The stored transaction, removed: a second run of the same callback finds nothing. */
  take(key) {
    const s = storage();
    let stored;
    try {
      stored = s?.getItem(key) ?? undefined;
      s?.removeItem(key);
    } catch { /* storage refused */ }
    return stored;
  },
  /** A new login's transaction. */
  put(key, transaction) {
    const s = storage();
    if (!s) throw failure('ERR_OAUTH_NO_STORAGE', 'a redirect login needs sessionStorage to survive the navigation');
    try {
      s.setItem(key, transaction);
    } catch {
      throw failure('ERR_OAUTH_NO_STORAGE', 'sessionStorage refused the login');
    }
  },
  /** A pending login put back (a callback that did not answer it). */
  keep(key, transaction) {
    try {
      storage().setItem(key, transaction);
    } catch { /* storage refused */ }
  },
  /** The provider's response removed from the address bar. */
  clean(url) {
    try {
      g.history.replaceState(g.history.state, '', url);
    } catch { /* no history */ }
  },
  /** The navigation to the provider. */
  go(url) {
    const location = g.location;
    if (!location?.assign) throw failure('ERR_OAUTH_NO_WINDOW', 'a redirect needs a window');
    try {
      location.assign(url);
    } catch {
      throw failure('ERR_OAUTH_NO_WINDOW', 'the navigation was refused');
    }
  },
};

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

// The popup login's window (loginWithPopup), opened by `openPopup` at the user's gesture.
let popup;

/**
 * Opens the login popup (blank, same-origin until the login navigates it): called at once by
 * `loginWithPopup`, before anything is awaited, so that the browser counts the user's gesture.
 * `w`: a window opened already (worker custody: custody.js opens it, in the page's bundle, and
 * remote.js, loaded apart with its own copy of this module, navigates it). Returns the window.
 */
export function openPopup(w) {
  try {
    popup?.close();
  } catch { /* gone */ }
  try {
    w ??= g.open?.('', 'tokenwarden-login', 'popup,width=480,height=640');
  } catch { /* refused */ }
  popup = w ?? undefined;
  if (!popup) throw failure('ERR_OAUTH_POPUP_BLOCKED', 'the browser did not open the login popup');
  return popup;
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
  /**
   * The login popup navigated to `url` (or, without one, closed): whether it was still open. The
   * popup stays same-origin until then, so its `closed` is true only if the user closed it.
   */
  popup(url) {
    const w = popup;
    if (url === undefined) popup = undefined;
    if (!w || w.closed) return false;
    try {
      if (url === undefined) w.close();
      else w.location.replace(url);
    } catch {
      return false;
    }
    return true;
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

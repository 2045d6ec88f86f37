// `tokenwarden/popup`: the callback page of the OAuth profile's `loginWithPopup()`. No wasm and
// no manager: the page hands its own address (the provider's answer) to the window that opened
// the login, over the same-origin `BroadcastChannel` the login listens on, and closes itself.
// Not `window.opener`: `Cross-Origin-Opener-Policy` on the app or on the provider takes that
// away. Only the login whose `state` the answer carries uses it (the code is worthless without
// that login's PKCE verifier, which never leaves the opener's memory).

/** The channel the opener listens on (oauth-more.js's `POPUP_CHANNEL`). */
const CHANNEL = 'tokenwarden.oauth.popup';

/**
 * Hands `url` (default: this page's address) to the pending `loginWithPopup()` and closes this
 * window. Throws `ERR_OAUTH_NO_WINDOW` where there is no URL or no `BroadcastChannel`.
 */
export function popupCallback(url = globalThis.location?.href) {
  if (typeof url !== 'string' || typeof BroadcastChannel !== 'function') {
    throw Object.assign(new Error('the popup callback needs a window and BroadcastChannel'), { code: 'ERR_OAUTH_NO_WINDOW' });
  }
  const channel = new BroadcastChannel(CHANNEL);
  channel.postMessage({ url });
  channel.close();
  globalThis.close?.();
}

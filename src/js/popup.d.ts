/**
 * `tokenwarden/popup`: the callback page of `loginWithPopup()` (tokenwarden/oauth). Hands `url`
 * (default: this page's address) to the login that opened this popup, over the same-origin
 * `BroadcastChannel` (so it works under `Cross-Origin-Opener-Policy`), and closes the window.
 * Loads no wasm. Throws `ERR_OAUTH_NO_WINDOW` without a URL or `BroadcastChannel`.
 */
export function popupCallback(url?: string): void;

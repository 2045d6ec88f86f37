// `tokenwarden/react`: React bindings over a TokenManager's public API (`state`, `claims`,
// `expiresAt`, `clockOffsetMs`, `on()`, `handleRedirectCallback()`), so they work with every
// entry of the package and both custodies. Imports only `react` (a peer dependency, never bundled)
// and nothing from the wasm: the app constructs the manager and passes it to the provider.
//
// - One store per manager (a WeakMap), subscribed to the manager's events only while a component
//   reads it; every `useSession()` is one `useSyncExternalStore` over it. The snapshot is a frozen
//   object that keeps its identity until one of its four fields changes (claims compared by
//   value, as page custody decodes them on every read), so an event that changes nothing renders
//   nothing, and the events of one refresh that arrive in one task render once.
// - `useRedirectCallback()` completes a callback URL once per manager: a second effect run
//   (StrictMode) or a remount gets the same promise instead of a second `handleRedirectCallback`
//   (which would find the transaction gone and fail with ERR_OAUTH_NO_TRANSACTION).
import { createContext, createElement, useContext, useEffect, useRef, useState, useSyncExternalStore } from 'react';

const EVENTS = ['change', 'refreshed', 'expired', 'loggedOut'];
const Manager = createContext(null);
const stores = new WeakMap();
const callbacks = new WeakMap();

function failure(code, message) {
  const e = new Error(message);
  e.code = code;
  return e;
}

const sameClaims = (a, b) => a === b || (a !== null && b !== null && JSON.stringify(a) === JSON.stringify(b));

/** The manager's fields now, as `prev` when none changed. */
function read(tm, prev) {
  const state = tm.state;
  const expiresAt = tm.expiresAt;
  const clockOffsetMs = tm.clockOffsetMs;
  let claims = tm.claims;
  if (prev && sameClaims(prev.claims, claims)) {
    if (prev.state === state && prev.expiresAt === expiresAt && prev.clockOffsetMs === clockOffsetMs) return prev;
    claims = prev.claims;
  }
  return Object.freeze({ state, claims, expiresAt, clockOffsetMs });
}

function storeOf(tm) {
  let store = stores.get(tm);
  if (store) return store;
  let snap = read(tm, null);
  const listeners = new Set();
  let offs = [];
  const update = () => {
    const next = read(tm, snap);
    if (next === snap) return;
    snap = next;
    for (const listener of [...listeners]) listener();
  };
  store = {
    subscribe(listener) {
      listeners.add(listener);
      if (listeners.size === 1) offs = EVENTS.map((name) => tm.on(name, update));
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) for (const off of offs.splice(0)) off();
      };
    },
    get: () => (snap = read(tm, snap)),
  };
  stores.set(tm, store);
  return store;
}

/** Makes `manager` the one `useTokenManager()`, `useSession()` and the guard below it use. */
export function TokenManagerProvider({ manager, children }) {
  if (manager === null || typeof manager !== 'object' || typeof manager.on !== 'function') {
    throw failure('ERR_INVALID_OPTIONS', 'TokenManagerProvider needs a TokenManager as its manager prop');
  }
  return createElement(Manager.Provider, { value: manager }, children);
}

/** The manager of the nearest `TokenManagerProvider`. */
export function useTokenManager() {
  const tm = useContext(Manager);
  if (tm === null) throw failure('ERR_NO_TOKEN_MANAGER', 'useTokenManager() and useSession() need a TokenManagerProvider above them');
  return tm;
}

/** `{state, claims, expiresAt, clockOffsetMs}`, re-rendering only when one of them changes. */
export function useSession() {
  const store = storeOf(useTokenManager());
  return useSyncExternalStore(store.subscribe, store.get, store.get);
}

/**
 * Renders `children` while there is a session (any state but `"anonymous"`), else `fallback`,
 * and calls `onMissing()` once each time the session is missing (e.g. to start a login).
 */
export function RequireSession({ children, fallback = null, onMissing }) {
  const missing = useSession().state === 'anonymous';
  const called = useRef(false);
  const latest = useRef(onMissing);
  latest.current = onMissing;
  useEffect(() => {
    if (!missing) {
      called.current = false;
    } else if (!called.current && typeof latest.current === 'function') {
      called.current = true;
      latest.current();
    }
  }, [missing]);
  return missing ? fallback : children;
}

const isCallback = (url) => {
  try {
    const params = new URL(url).searchParams;
    return params.has('state') && (params.has('code') || params.has('error'));
  } catch {
    return false;
  }
};

function completeOnce(tm, url) {
  let started = callbacks.get(tm);
  if (!started) callbacks.set(tm, (started = new Map()));
  let promise = started.get(url);
  if (!promise) {
    promise = Promise.resolve().then(() => tm.handleRedirectCallback(url));
    started.set(url, promise);
  }
  return promise;
}

/**
 * At the redirect URI of the OAuth profile: completes the login in the address bar (or `url`)
 * once, however often the component's effects run. Returns `{status, error}`, status `"idle"`
 * (not a callback), `"pending"`, `"success"` or `"error"` (with the manager's coded error).
 */
export function useRedirectCallback({ url, onSuccess, onError } = {}) {
  const tm = useTokenManager();
  const [target] = useState(() => url ?? globalThis.location?.href ?? '');
  const callback = isCallback(target);
  const [result, setResult] = useState(() => ({ status: callback ? 'pending' : 'idle', error: null }));
  const handlers = useRef(null);
  handlers.current = { onSuccess, onError };
  useEffect(() => {
    if (!callback) return undefined;
    let live = true;
    completeOnce(tm, target).then(
      () => {
        if (!live) return;
        setResult({ status: 'success', error: null });
        handlers.current.onSuccess?.();
      },
      (error) => {
        if (!live) return;
        setResult({ status: 'error', error });
        handlers.current.onError?.(error);
      },
    );
    return () => {
      live = false;
    };
  }, [tm, target, callback]);
  return result;
}

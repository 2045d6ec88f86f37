// Type declarations for `tokenwarden/react` (React >= 18, a peer dependency).
import type { ReactNode } from 'react';
import type { JWTClaims, TokenManager, TokenManagerError, TokenManagerEventMap, TokenManagerState } from 'tokenwarden';

/**
 * What the bindings read from a manager: the `TokenManager` of any entry of the package, in
 * page or worker custody.
 */
export interface SessionSource {
  readonly state: TokenManagerState;
  readonly claims: JWTClaims | null;
  readonly expiresAt: number | null;
  readonly clockOffsetMs: number | null;
  on<K extends keyof TokenManagerEventMap>(event: K, listener: (event: TokenManagerEventMap[K]) => void): () => void;
  /** OAuth profile only (used by `useRedirectCallback`). */
  handleRedirectCallback?(url?: string): Promise<void>;
}

/** A consistent snapshot of the session; its identity changes only when a field changes. */
export interface Session<C extends JWTClaims = JWTClaims> {
  readonly state: TokenManagerState;
  /** Decoded, unverified claims of the current token, or `null`. */
  readonly claims: Readonly<C> | null;
  /** Expiry of the current token (ms since the epoch, local clock), or `null`. */
  readonly expiresAt: number | null;
  /** Server clock minus local clock in ms, or `null`. */
  readonly clockOffsetMs: number | null;
}

export interface TokenManagerProviderProps {
  /** The manager, constructed once (outside render, or in a `useState` initializer). */
  manager: SessionSource;
  children?: ReactNode;
}

/** Makes `manager` the one the hooks and `RequireSession` below it use. */
export function TokenManagerProvider(props: TokenManagerProviderProps): ReactNode;

/** The nearest provider's manager; throws `ERR_NO_TOKEN_MANAGER` without a provider. */
export function useTokenManager<M extends SessionSource = TokenManager>(): M;

/** The session, from one `useSyncExternalStore` subscription; re-renders only when a field changes. */
export function useSession<C extends JWTClaims = JWTClaims>(): Session<C>;

export interface RequireSessionProps {
  children?: ReactNode;
  /** Rendered while the state is `"anonymous"` (default: nothing). */
  fallback?: ReactNode;
  /** Called once each time the session goes missing (e.g. `() => tm.loginWithRedirect()`). */
  onMissing?: () => void;
}

/** Renders `children` while there is a session (any state but `"anonymous"`), else `fallback`. */
export function RequireSession(props: RequireSessionProps): ReactNode;

export interface RedirectCallbackOptions {
  /** The callback URL (default: `location.href` at the first render). */
  url?: string;
  /** Called once the login is complete (once per mounted component). */
  onSuccess?: () => void;
  /** Called with the manager's error (`ERR_OAUTH_*`) if the callback fails. */
  onError?: (error: TokenManagerError) => void;
}

export type RedirectCallbackResult =
  | { status: 'idle' | 'pending' | 'success'; error: null }
  | { status: 'error'; error: TokenManagerError };

/**
 * OAuth profile, at the redirect URI: completes the callback once per manager and URL, even
 * when StrictMode runs effects twice or the component remounts. `"idle"`: the URL is no callback.
 */
export function useRedirectCallback(options?: RedirectCallbackOptions): RedirectCallbackResult;

// A TypeScript consumer of `tokenwarden/react` (pkg/react.d.ts): every export used, misuse marked
// with @ts-expect-error. Checked by scripts/test-types.sh with consumer.ts; never run.
import { createElement, type ReactNode } from 'react';
import { TokenManager, type JWTClaims, type TokenManagerState, type TokenManagerError } from 'tokenwarden';
// The OAuth profile's manager (tokenwarden/oauth) for the guard that starts a redirect login.
import type { TokenManager as OAuthTokenManager } from 'tokenwarden/oauth';
import {
  RequireSession,
  TokenManagerProvider,
  useRedirectCallback,
  useSession,
  useTokenManager,
  type RedirectCallbackOptions,
  type RedirectCallbackResult,
  type RequireSessionProps,
  type Session,
  type SessionSource,
  type TokenManagerProviderProps,
} from 'tokenwarden/react';

const tm = new TokenManager({ refreshUrl: '/auth/refresh', custody: 'worker' });
declare const oauthTm: OAuthTokenManager;
const source: SessionSource = tm; // any entry's manager, in either custody
const props: TokenManagerProviderProps = { manager: tm, children: 'app' };
const tree: ReactNode = createElement(TokenManagerProvider, props);
// @ts-expect-error the manager is required
const noManager: TokenManagerProviderProps = { children: 'app' };
// @ts-expect-error a manager needs the session getters and on()
createElement(TokenManagerProvider, { manager: { state: 'anonymous' } });

interface AppClaims extends JWTClaims { name: string }
function Account(): ReactNode {
  const session: Session<AppClaims> = useSession<AppClaims>();
  const state: TokenManagerState = session.state;
  const name: string | undefined = session.claims?.name;
  const expiresAt: number | null = session.expiresAt;
  const offset: number | null = session.clockOffsetMs;
  // @ts-expect-error the snapshot is read-only
  session.state = 'anonymous';
  // @ts-expect-error not a state
  const wrong: typeof session.state = 'loggedIn';
  const manager: TokenManager = useTokenManager();
  manager.fetch('/api/me').then((r: Response) => r.status);
  return [state, name, expiresAt, offset, String(source === manager), String(wrong)].join();
}

const guard: RequireSessionProps = { fallback: 'sign in', onMissing: () => { void oauthTm.loginWithRedirect(); }, children: createElement(Account) };
createElement(RequireSession, guard);
// @ts-expect-error onMissing takes no argument and is a function
createElement(RequireSession, { onMissing: 'login' });

const options: RedirectCallbackOptions = {
  url: 'https://app.example/?code=c&state=s',
  onSuccess: () => {},
  onError: (error: TokenManagerError) => error.code,
};
const result: RedirectCallbackResult = useRedirectCallback(options);
if (result.status === 'error') {
  const code: TokenManagerError['code'] = result.error.code;
  void code;
} else {
  const none: null = result.error;
  void none;
}
// @ts-expect-error the status is one of four
const bad: RedirectCallbackResult['status'] = 'done';
// @ts-expect-error onSuccess gets no value
useRedirectCallback({ onSuccess: (value: string) => value });
void [tree, noManager, bad];

// The example's components. The README's React quick start quotes the ANCHOR parts verbatim
// (checked by tests/react/hooks.test.mjs).
import { memo, useEffect, useLayoutEffect, useRef, useState, useSyncExternalStore } from 'react';
import { RequireSession, useRedirectCallback, useSession, useTokenManager } from 'tokenwarden/react';

const starts = new WeakMap();
/** `tm.start()` once per manager, however often effects run (StrictMode runs them twice). */
const startOnce = (tm) => {
  if (!starts.has(tm)) starts.set(tm, tm.start());
  return starts.get(tm);
};

const onHash = (notify) => {
  addEventListener('hashchange', notify);
  return () => removeEventListener('hashchange', notify);
};
const useRoute = () => useSyncExternalStore(onHash, () => location.hash || '#/');

export function Failure({ error }) {
  return <p role="alert" data-testid="error">{error.code ?? 'Error'}: {error.message}</p>;
}

export function App({ profile, api }) {
  const tm = useTokenManager();
  const route = useRoute();
  const [error, setError] = useState(null);
  const [loggedOut, setLoggedOut] = useState(null);
  // A ref too: the guard's onMissing runs in an effect after the session store's render, which
  // may come before the render with this state.
  const ended = useRef(null);
  useEffect(() => tm.on('loggedOut', ({ reason }) => {
    ended.current = reason;
    setLoggedOut(reason);
  }), [tm]);
  // ANCHOR: callback
  // At the redirect URI (OAuth profile): the code is exchanged once, even though StrictMode runs
  // this component's effects twice. Elsewhere the status is 'idle' and the session is restored.
  const callback = useRedirectCallback({
    onSuccess: () => { location.hash = '#/account'; },
    onError: setError,
  });
  const [ready, setReady] = useState(false);
  useEffect(() => {
    if (callback.status !== 'idle') {
      if (callback.status !== 'pending') setReady(true);
      return undefined;
    }
    let live = true;
    startOnce(tm).catch(setError).finally(() => live && setReady(true));
    return () => { live = false; };
  }, [tm, callback.status]);
  // ANCHOR_END: callback

  // The guard starts a login when the account page is opened without a session (OAuth: by
  // redirect; the dialect: its form asks for it), unless this page just saw the session end
  // (logout here or in another tab): then it shows why.
  const [asked, setAsked] = useState(false);
  const redirect = profile === 'oauth' ? () => tm.loginWithRedirect().catch(setError) : null;
  const onMissing = () => (redirect && ended.current === null ? redirect() : setAsked(true));
  const notice = loggedOut ? `Signed out (${loggedOut}).` : asked ? 'Sign in to open your account.' : '';
  const signIn = redirect
    ? <SignInRedirect notice={notice} onClick={redirect} />
    : <SignInForm notice={notice} onError={setError} />;

  let page;
  if (!ready) page = <p data-testid="loading">{callback.status === 'pending' ? 'Completing sign-in…' : 'Restoring session…'}</p>;
  else if (route === '#/account') page = <AccountPage signIn={signIn} onMissing={onMissing} api={api} onError={setError} />;
  else page = <p data-testid="home">Open the <a href="#/account">account page</a>: it needs a session.</p>;

  return (
    <main>
      <h1>tokenwarden · React</h1>
      <p data-testid="mode">{profile} · {tm.custody} custody · callback {callback.status}</p>
      <nav><a href="#/">Home</a> · <a href="#/account">Account</a></nav>
      <SessionPanel />
      {error && <Failure error={error} />}
      {page}
    </main>
  );
}

// ANCHOR: guard
/** Rendered once the session is restored (or not): the guard decides between page and sign-in. */
function AccountPage({ signIn, onMissing, api, onError }) {
  return (
    <RequireSession fallback={signIn} onMissing={onMissing}>
      <Account api={api} onError={onError} />
    </RequireSession>
  );
}
// ANCHOR_END: guard

// ANCHOR: session
/** Re-renders only when the session snapshot changes (memo: nothing from its parent). */
const SessionPanel = memo(function SessionPanel() {
  const { state, claims, expiresAt, clockOffsetMs } = useSession();
  // Commits of this panel, written to the DOM without rendering (the same in StrictMode).
  const commits = useRef(0);
  const panel = useRef(null);
  useLayoutEffect(() => {
    commits.current += 1;
    panel.current.dataset.renders = String(commits.current);
  });
  return (
    <dl ref={panel} data-testid="session" data-state={state} data-expires-at={expiresAt ?? ''}>
      <dt>State</dt><dd data-testid="state">{state}</dd>
      <dt>User</dt><dd data-testid="sub">{claims?.sub ?? '—'}</dd>
      <dt>Expires</dt><dd>{expiresAt === null ? '—' : new Date(expiresAt).toISOString()}</dd>
      <dt>Server clock offset</dt><dd>{clockOffsetMs === null ? '—' : `${clockOffsetMs} ms`}</dd>
    </dl>
  );
});
// ANCHOR_END: session

// ANCHOR: account
function Account({ api, onError }) {
  const tm = useTokenManager();
  const [me, setMe] = useState(null);
  const callApi = async () => {
    try {
      const response = await tm.fetch(`${api}/api/me`); // the token is attached here, and only here
      setMe({ status: response.status, body: await response.json() });
    } catch (error) {
      onError(error);
    }
  };
  return (
    <section data-testid="account">
      <h2>Account</h2>
      <button type="button" onClick={callApi}>Call /api/me</button>
      <button type="button" onClick={() => tm.logout().catch(onError)}>Sign out</button>
      {me && <pre data-testid="api" data-status={me.status}>{JSON.stringify(me.body, null, 2)}</pre>}
    </section>
  );
}
// ANCHOR_END: account

function SignInRedirect({ notice, onClick }) {
  return (
    <section data-testid="signin">
      <p data-testid="notice">{notice}</p>
      <button type="button" onClick={onClick}>Sign in with the provider</button>
    </section>
  );
}

function SignInForm({ notice, onError }) {
  const tm = useTokenManager();
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    try {
      await tm.login({ username: form.get('username'), password: form.get('password') });
    } catch (error) {
      onError(error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form data-testid="signin" onSubmit={submit}>
      <p data-testid="notice">{notice}</p>
      <label>User <input name="username" defaultValue="demo" autoComplete="username" /></label>
      <label>Password <input name="password" type="password" autoComplete="current-password" /></label>
      <button type="submit" disabled={busy}>Sign in</button>
    </form>
  );
}

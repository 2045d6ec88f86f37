import { memo, useEffect, useRef, useState, useSyncExternalStore } from 'react';
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
  // At the redirect URI (OAuth): the code exchange, once even under StrictMode.
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
  useEffect(() => tm.on('loggedOut', ({ reason }) => setLoggedOut(reason)), [tm]);

  const signIn = profile === 'oauth' ? () => tm.loginWithRedirect().catch(setError) : null;
  // The guard starts a login when the account page is opened without a session, unless this page
  // just saw the session end (logout here or in another tab): then it shows the fallback.
  const [asked, setAsked] = useState(false);
  const onMissing = () => {
    if (signIn && loggedOut === null) signIn();
    else setAsked(true);
  };

  let page;
  if (!ready) page = <p data-testid="loading">{callback.status === 'pending' ? 'Completing sign-in…' : 'Restoring session…'}</p>;
  else if (route === '#/account') {
    page = (
      <RequireSession onMissing={onMissing} fallback={<SignIn asked={asked} loggedOut={loggedOut} onRedirect={signIn} onError={setError} />}>
        <Account api={api} onError={setError} />
      </RequireSession>
    );
  } else page = <Home />;

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

function Home() {
  return <p data-testid="home">Open the <a href="#/account">account page</a>: it needs a session.</p>;
}

/** Re-renders only when the session snapshot changes (memo: no props from its parent). */
const SessionPanel = memo(function SessionPanel() {
  const { state, claims, expiresAt, clockOffsetMs } = useSession();
  const renders = useRef(0);
  renders.current += 1;
  return (
    <dl data-testid="session" data-state={state} data-renders={renders.current} data-expires-at={expiresAt ?? ''}>
      <dt>State</dt><dd data-testid="state">{state}</dd>
      <dt>User</dt><dd data-testid="sub">{claims?.sub ?? '—'}</dd>
      <dt>Expires</dt><dd>{expiresAt === null ? '—' : new Date(expiresAt).toISOString()}</dd>
      <dt>Server clock offset</dt><dd>{clockOffsetMs === null ? '—' : `${clockOffsetMs} ms`}</dd>
      <dt>Renders</dt><dd>{renders.current}</dd>
    </dl>
  );
});

function SignIn({ asked, loggedOut, onRedirect, onError }) {
  const tm = useTokenManager();
  const [busy, setBusy] = useState(false);
  const notice = loggedOut ? `Signed out (${loggedOut}).` : asked ? 'Sign in to open your account.' : '';
  if (onRedirect) {
    return (
      <section data-testid="signin">
        <p data-testid="notice">{notice}</p>
        <button type="button" onClick={onRedirect}>Sign in with the provider</button>
      </section>
    );
  }
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

function Account({ api, onError }) {
  const tm = useTokenManager();
  const [me, setMe] = useState(null);
  const callApi = async () => {
    try {
      const response = await tm.fetch(`${api}/api/me`);
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

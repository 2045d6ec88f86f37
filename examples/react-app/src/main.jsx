// Entry: reads the deployment's /config.json (none: the reference dialect on this origin),
// constructs ONE TokenManager, and renders the app under StrictMode.
//   /config.json {"profile": "dialect"}                                  the reference server
//   /config.json {"profile": "oauth", "issuer", "clientId", "resource", "api"}  an OpenID provider
// `?custody=worker` keeps the tokens (and any DPoP key) in a dedicated worker, on both profiles.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { TokenManagerProvider } from 'tokenwarden/react';
import { App, Failure } from './App.jsx';

const response = await fetch('/config.json', { cache: 'no-store' });
const config = response.ok ? await response.json() : { profile: 'dialect' };
const custody = new URLSearchParams(location.search).get('custody') === 'worker' ? 'worker' : 'page';
const tuning = config.tuning ?? {}; // refresh knobs (the tests shorten the lifetimes)
// Each profile imports its own entry, so a page downloads one wasm module: the reference dialect
// tokenwarden's small one, the OAuth profile tokenwarden/oauth's.
const { TokenManager } = config.profile === 'oauth' ? await import('tokenwarden/oauth') : await import('tokenwarden');

// ANCHOR: manager
/** One manager for the page, created once, outside render. */
function createManager() {
  if (config.profile === 'oauth') {
    return new TokenManager({
      oauth: {
        issuer: config.issuer,
        clientId: config.clientId,
        // This page completes the login (useRedirectCallback); the switch survives the redirect.
        redirectUri: `${location.origin}/${custody === 'worker' ? '?custody=worker' : ''}`,
        scope: 'openid profile offline_access api:read',
        resource: config.resource,
      },
      allowedOrigins: [config.api],
      custody,
      ...tuning,
    });
  }
  return new TokenManager({
    loginUrl: '/auth/login',
    refreshUrl: '/auth/refresh',
    logoutUrl: '/auth/logout',
    sessionHint: '__Host-tw_session', // no refresh request on a first visit without a session
    custody, // 'page' or 'worker': the hooks work the same
    ...tuning,
  });
}
// ANCHOR_END: manager

const root = createRoot(document.getElementById('root'));

// ANCHOR: render
function render(tm) {
  root.render(
    <StrictMode>
      <TokenManagerProvider manager={tm}>
        <App profile={config.profile === 'oauth' ? 'oauth' : 'dialect'} api={config.api ?? location.origin} />
      </TokenManagerProvider>
    </StrictMode>,
  );
}
// ANCHOR_END: render

let tm;
try {
  tm = createManager();
} catch (error) {
  root.render(<Failure error={error} />); // e.g. ERR_INVALID_OPTIONS: a bad /config.json
}
if (tm) render(tm);

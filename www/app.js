// The tokenwarden demo page: plain ES modules, no build step. Everything authenticated goes
// through `tm.fetch`; the page never sees the access token.
import { onWire, untappedFetch } from './tap.js'; // first: it must wrap fetch before the manager runs
import { Timeline } from './timeline.js';

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};
const clockTime = (t) => new Date(t).toLocaleTimeString([], { hour12: false }) + '.' + String(t % 1000).padStart(3, '0');
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

// ---------------------------------------------------------------------------------------------
// Options: the documented defaults, with numeric refresh knobs overridable from the URL.

const DEFAULT_POLICY = {
  refreshLeadFraction: 0.2,
  minRefreshLeadMs: 5_000,
  maxRefreshLeadMs: 120_000,
  refreshJitterFraction: 0.1,
  minRefreshIntervalMs: 10_000,
  backoffInitialMs: 1_000,
  backoffMaxMs: 60_000,
  backoffJitterFraction: 0.2,
  requestTimeoutMs: 10_000,
};
// sessionHint: the reference server sets the script-readable `__Host-tw_session` cookie with the
// refresh cookie, so a first visit without a session sends no refresh request.
const params = new URLSearchParams(location.search);
// "OAuth provider" mode (?mode=oauth): the same page logs in by redirect at the oidc-provider
// that `make demo` starts on the next port (tests/oauth/provider.mjs), and the reference server
// accepts that provider's access tokens (--trust-issuer).
const oauthMode = params.get('mode') === 'oauth';
// Each mode imports the package entry it needs (one wasm each): tokenwarden for the reference
// dialect, tokenwarden/oauth for the OAuth profile.
const { TokenManager } = await import(oauthMode ? '/pkg/oauth/web/index.js' : '/pkg/web/index.js');
const options = oauthMode
  ? {
    oauth: {
      issuer: `${location.protocol}//${location.hostname}:${Number(location.port) + 1}`,
      clientId: 'tokenwarden-spa',
      redirectUri: `${location.origin}/?mode=oauth`,
      scope: 'openid profile offline_access api:read',
      resource: 'https://api.tokenwarden.test/',
      postLogoutRedirectUri: `${location.origin}/?mode=oauth`,
    },
  }
  : { loginUrl: '/auth/login', refreshUrl: '/auth/refresh', logoutUrl: '/auth/logout', sessionHint: '__Host-tw_session' };
for (const key of Object.keys(DEFAULT_POLICY)) {
  if (params.has(key)) options[key] = Number(params.get(key));
}
// Custody (?custody=worker): the manager and its tokens run in a dedicated Web Worker; this page
// keeps the same API. The OAuth profile runs in page custody only.
const workerCustody = params.get('custody') === 'worker' && !oauthMode;
if (workerCustody) options.custody = 'worker';
const policy = { ...DEFAULT_POLICY, ...options };
$('options').textContent = `new TokenManager(${JSON.stringify(options, null, 2)})`;

/** The earliest and latest moment the manager will refresh a token (it adds random jitter). */
function refreshWindow(token) {
  const lifetime = Math.max(token.expiresAt - token.receivedAt, 0);
  const lead = Math.min(Math.max(lifetime * policy.refreshLeadFraction, policy.minRefreshLeadMs), policy.maxRefreshLeadMs);
  const notBefore = token.receivedAt + policy.minRefreshIntervalMs;
  return {
    earliest: Math.max(token.expiresAt - lead, notBefore),
    latest: Math.max(token.expiresAt - lead * (1 - policy.refreshJitterFraction), notBefore),
  };
}

// ---------------------------------------------------------------------------------------------
// Model of what happened, for the timeline and the event list.

const model = { states: [], tokens: [], refreshes: [], calls: [], marks: [] };
const timeline = new Timeline($('timeline'), model);
let pendingRetryAt = null;
/** True while start() tries to restore a session: "no session" is not a logout to report. */
let booting = false;

function logEvent(text, kind = 'info') {
  const list = $('event-log');
  list.prepend(el('li', { className: kind }, el('time', {}, clockTime(Date.now())), ' ', text));
  while (list.children.length > 200) list.lastElementChild.remove();
  $('event-count').textContent = String(model.states.length + model.refreshes.length + model.marks.length);
}

function currentToken() {
  const tok = model.tokens.at(-1);
  return tok && !tok.endedAt ? tok : null;
}

function endToken(reason) {
  const tok = currentToken();
  if (tok) {
    tok.endedAt = Date.now();
    tok.endReason = reason;
  }
}

/** Records the token the manager now holds (after a login, a refresh or a restore). */
function noteToken(how) {
  if (tm.expiresAt === null) return;
  endToken('replaced');
  const tok = {
    n: model.tokens.length + 1,
    receivedAt: Date.now(),
    expiresAt: tm.expiresAt,
    jti: tm.claims?.jti ?? null,
    endedAt: null,
    endReason: null,
  };
  tok.refreshAt = refreshWindow(tok).earliest;
  model.tokens.push(tok);
  logEvent(`${how}: token #${tok.n} (expires ${clockTime(tok.expiresAt)}, source ${tm.expirySource}, clock offset ${tm.clockOffsetMs ?? 'n/a'} ms)`, 'ok');
}

// ---------------------------------------------------------------------------------------------
// The manager.

let tm;
try {
  tm = new TokenManager(options);
} catch (error) {
  $('boot').textContent = `Could not create the token manager: ${error.code ?? error.name}: ${error.message}`;
  $('boot').setAttribute('role', 'alert');
  throw error;
}

tm.on('change', ({ state }) => {
  model.states.push({ t: Date.now(), state });
  logEvent(`state → ${state}`);
  render();
});
tm.on('refreshed', ({ source }) => {
  pendingRetryAt = null;
  if (source === 'otherTab') {
    // Another tab of this app refreshed (or already held the session) and shared the token.
    const label = booting ? 'session handed over by another tab' : 'token refreshed by another tab';
    model.marks.push({ t: Date.now(), kind: 'tab', label });
    logEvent(label);
    noteToken(booting ? 'handed over by another tab' : 'refreshed by another tab');
    render();
    return;
  }
  const r = model.refreshes.findLast((x) => x.outcome === 'pending');
  if (r) r.outcome = 'ok';
  noteToken(booting ? 'restored after reload' : 'refreshed');
  render();
});
tm.on('refreshFailed', ({ reason, status, retryAt, tokenExpiresFirst }) => {
  pendingRetryAt = retryAt;
  const r = model.refreshes.findLast((x) => x.outcome === 'pending');
  if (r) {
    r.outcome = 'fail';
    r.retryAt = retryAt;
  }
  logEvent(`refresh failed: ${reason}${status ? ` ${status}` : ''}; retry at ${clockTime(retryAt)}${tokenExpiresFirst ? ' (the token expires first)' : ' (the token is still valid)'}`, 'fail');
  render();
});
tm.on('expired', () => {
  model.marks.push({ t: Date.now(), kind: 'expired', label: 'access token expired' });
  endToken('expired');
  logEvent('access token expired', 'warn');
  render();
});
tm.on('loggedOut', ({ reason }) => {
  pendingRetryAt = null;
  const r = model.refreshes.findLast((x) => x.outcome === 'pending');
  if (booting && !currentToken()) {
    if (r) r.outcome = 'none';
    logEvent('no session to restore');
    render();
    return;
  }
  if (r) r.outcome = 'out';
  endToken(`logged out (${reason})`);
  model.marks.push({ t: Date.now(), kind: 'out', label: `logged out: ${reason}` });
  logEvent(`logged out: ${reason}`, 'fail');
  const explain = {
    invalid_grant: 'the server refused the refresh token (revoked, reused or expired)',
    logout: 'logout() was called',
    otherTab: 'another tab of this site logged out',
  }[reason] ?? 'the session ended';
  const status = $('session-status');
  status.dataset.reason = reason;
  status.textContent = `Logged out — reason: ${reason} (${explain}).`;
  render();
});

// The wire: refresh calls and API attempts.
const attempts = new Map();
onWire((phase, entry) => {
  if (entry.path === '/auth/refresh') {
    if (phase === 'start') {
      model.refreshes.push({ start: entry.start, end: null, status: null, outcome: 'pending', retryAt: null });
    } else {
      const r = model.refreshes.findLast((x) => x.start === entry.start);
      if (r) {
        r.end = entry.end;
        r.status = entry.status ?? entry.error;
      }
    }
  } else if (entry.callId && phase === 'start') {
    attempts.set(entry.callId, [...(attempts.get(entry.callId) ?? []), entry]);
  }
});

// ---------------------------------------------------------------------------------------------
// Rendering.

function render() {
  const state = tm.state;
  const badge = $('state');
  badge.textContent = state;
  badge.dataset.state = state;
  const anonymous = state === 'anonymous';
  $('login-panel').hidden = !anonymous;
  $('refresh-button').disabled = anonymous;
  $('logout-button').disabled = anonymous;
  $('claims').textContent = JSON.stringify(tm.claims, null, 2);
  $('expiry-source').textContent = tm.expirySource ?? '—';
  const offset = tm.clockOffsetMs;
  $('clock-offset').textContent = offset === null
    ? '—'
    : `${offset >= 0 ? '+' : '−'}${seconds(Math.abs(offset))} ${Math.abs(offset) < 1000 ? '(in sync)' : offset > 0 ? '(server ahead)' : '(server behind)'}`;
  $('token-count').textContent = String(model.tokens.length);
  tick();
  timeline.draw();
}

/** The countdowns (four times a second). */
function tick() {
  const now = Date.now();
  const expiresAt = tm.expiresAt;
  $('expires-in').textContent = expiresAt === null
    ? '—'
    : expiresAt > now ? seconds(expiresAt - now) : `expired ${seconds(now - expiresAt)} ago`;
  const tok = currentToken();
  let next = '—';
  if (tm.state === 'refreshing') {
    next = 'refreshing now…';
  } else if (pendingRetryAt !== null) {
    next = pendingRetryAt > now ? `retry in ${seconds(pendingRetryAt - now)} (backing off)` : 'retry due';
  } else if (tok && tm.state !== 'anonymous') {
    const { earliest, latest } = refreshWindow(tok);
    next = earliest > now
      ? `in ${seconds(earliest - now)}${latest > earliest ? ` to ${seconds(latest - now)} (jitter)` : ''}`
      : 'due';
  }
  $('next-refresh').textContent = next;
}

// ---------------------------------------------------------------------------------------------
// Login and logout.

if (oauthMode) {
  for (const id of ['username', 'password', 'login-hint']) $(id).closest('.field, p').hidden = true;
  $('login-button').textContent = 'Log in with the OAuth provider';
  $('mode-link').href = '/';
  $('mode-link').textContent = 'Switch to the reference server\'s own login';
}

{
  const other = new URLSearchParams(params);
  if (workerCustody) other.delete('custody');
  else other.set('custody', 'worker');
  $('custody').textContent = workerCustody ? 'worker' : 'page';
  $('custody-explain').textContent = workerCustody
    ? 'The tokens live in a dedicated Web Worker: no script in this page can read them (it can still make requests through tm.fetch). The network tap below sees only the page\'s own requests, so attempts and refresh calls are not shown.'
    : 'The tokens live in this page\'s wasm memory.';
  $('custody-link').href = `/?${other}`;
  $('custody-link').textContent = workerCustody ? 'Switch to page custody' : 'Switch to worker custody';
  $('custody-line').hidden = oauthMode;
}

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const button = $('login-button');
  const error = $('login-error');
  if (oauthMode) {
    // Navigates to the provider (any login and password there), which redirects back here.
    await tm.loginWithRedirect({ prompt: 'login' }).catch((e) => {
      error.textContent = `Login failed: ${e.message} (${e.code ?? e.name}).`;
    });
    return;
  }
  const username = $('username').value.trim();
  const password = $('password').value;
  if (!username || !password) {
    error.textContent = 'Enter a username and a password.';
    (username ? $('password') : $('username')).focus();
    return;
  }
  button.disabled = true;
  button.textContent = 'Logging in…';
  error.textContent = '';
  try {
    await tm.login({ username, password });
    $('password').value = '';
    $('session-status').textContent = 'Logged in.';
    delete $('session-status').dataset.reason;
    model.marks.push({ t: Date.now(), kind: 'login', label: 'login' });
    noteToken('logged in');
    render();
    $('session-h').focus();
  } catch (e) {
    const why = e.status === 401 ? 'wrong username or password'
      : e.status === 429 ? 'too many attempts, wait a moment'
      : e.message;
    error.textContent = `Login failed: ${why} (${e.code ?? e.name}).`;
    $('password').focus();
  } finally {
    button.disabled = false;
    button.textContent = 'Log in';
  }
});

$('logout-button').addEventListener('click', async () => {
  await tm.logout();
  render();
  $('username').focus();
});

$('refresh-button').addEventListener('click', async () => {
  try {
    await tm.refresh();
  } catch (e) {
    logEvent(`refresh() rejected: ${e.code}`, 'fail');
  }
  render();
});

// ---------------------------------------------------------------------------------------------
// API calls through tm.fetch, with a request log.

let callSeq = 0;
async function callApi(spec) {
  const [method, path] = spec.split(' ');
  const id = String(++callSeq);
  const call = { t: Date.now(), label: spec, status: null, error: null, attempts: 0 };
  model.calls.push(call);
  const cells = {
    status: el('td', {}, '…'),
    bearer: el('td', {}, '…'),
    attempts: el('td', {}, '…'),
  };
  const row = el('tr', {}, el('td', { className: 'wide-only' }, new Date(call.t).toLocaleTimeString([], { hour12: false })), el('td', {}, el('code', {}, spec)), cells.status, cells.bearer, cells.attempts);
  row.dataset.call = spec;
  const init = { method, headers: { 'x-demo-call': id } };
  if (method === 'POST') {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify({ hello: 'tokenwarden', at: new Date().toISOString() });
  }
  try {
    const response = await tm.fetch(path, init);
    const body = await response.json().catch(() => null);
    const wire = attempts.get(id) ?? [];
    call.status = response.status;
    call.attempts = wire.length;
    const serverSaw = body?.authorization_header_received;
    const sent = wire.at(-1)?.bearer;
    cells.status.replaceChildren(String(response.status), ' ',
      el('span', { className: 'wide-only' }, response.statusText));
    cells.status.className = response.ok ? 'ok' : 'warn';
    // Worker custody: the worker sends the request, the page's tap does not see it.
    const unseen = workerCustody && typeof serverSaw !== 'boolean';
    const attached = typeof serverSaw === 'boolean' ? serverSaw : Boolean(sent);
    cells.bearer.replaceChildren(unseen ? 'in the worker' : attached ? 'yes ' : 'no ',
      el('span', { className: 'muted wide-only' }, unseen ? '' : typeof serverSaw === 'boolean' ? '(server)' : '(sent)'));
    cells.attempts.textContent = workerCustody ? 'n/a' : String(wire.length);
    row.dataset.status = String(response.status);
    row.dataset.bearer = unseen ? 'unknown' : String(attached);
    row.dataset.attempts = workerCustody ? 'n/a' : String(wire.length);
  } catch (e) {
    call.error = e.code ?? e.name;
    call.attempts = (attempts.get(id) ?? []).length;
    cells.status.textContent = call.error;
    cells.status.className = 'fail';
    cells.bearer.textContent = '—';
    cells.attempts.textContent = String(call.attempts);
    row.dataset.status = call.error;
  }
  attempts.delete(id);
  // Added when complete, so the live region announces the outcome once.
  const log = $('request-log');
  log.prepend(row);
  while (log.children.length > 50) log.lastElementChild.remove();
}

for (const button of document.querySelectorAll('[data-call]')) {
  button.addEventListener('click', () => callApi(button.dataset.call));
}

// ---------------------------------------------------------------------------------------------
// Faults: the reference server's test hooks.

async function hook(path, body) {
  const response = await untappedFetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${path} answered ${response.status}`);
  return response.status === 204 ? null : response.json();
}

function faultStatus(text) {
  $('fault-status').textContent = text;
}

async function runFault(label, action) {
  try {
    const text = await action();
    model.marks.push({ t: Date.now(), kind: 'fault', label });
    logEvent(label, 'warn');
    faultStatus(text);
  } catch (e) {
    faultStatus(`Failed: ${e.message}`);
  }
  render();
}

$('fault-refresh').addEventListener('click', () => runFault('fault armed: next refresh fails with 503', async () => {
  await hook('/__test/faults', { count: 1, status: 503 });
  return 'The next refresh will get 503. The manager keeps the still-valid token and retries with backoff.';
}));

$('fault-revoke').addEventListener('click', () => runFault('session revoked on the server', async () => {
  const { revoked } = await hook('/__test/revoke');
  return `Revoked ${revoked} refresh-token famil${revoked === 1 ? 'y' : 'ies'}. The access token works until it expires; the next refresh gets invalid_grant and the manager logs out (press “Refresh now” to see it at once).`;
}));

$('fault-clock').addEventListener('click', async () => {
  const button = $('fault-clock');
  const skewed = button.getAttribute('aria-pressed') === 'true';
  const offset = skewed ? 0 : 300;
  await runFault(`server clock offset set to ${offset} s`, async () => {
    await hook('/__test/clock', { offset_secs: offset });
    button.setAttribute('aria-pressed', String(!skewed));
    button.textContent = skewed ? 'Skew the server clock +300 s' : 'Reset the server clock';
    return offset
      ? 'The server clock now runs 300 s ahead. The next token (refresh or press “Refresh now”) shows the measured offset; expiry still comes out right.'
      : 'The server clock is back in sync.';
  });
});

async function detectHooks() {
  try {
    const response = await untappedFetch('/__test/faults');
    if (response.ok) return;
  } catch {
    // fall through
  }
  for (const id of ['fault-refresh', 'fault-revoke', 'fault-clock']) $(id).disabled = true;
  faultStatus('The server runs without --test-hooks: faults are unavailable.');
}

// ---------------------------------------------------------------------------------------------
// Storage inspector.

$('storage-button').addEventListener('click', async () => {
  const dbs = indexedDB.databases ? (await indexedDB.databases()).map((d) => d.name) : ['(unknown)'];
  const rows = [
    ['localStorage', localStorage.length === 0 ? 'empty' : `${localStorage.length} keys: ${Object.keys(localStorage).join(', ')}`],
    ['sessionStorage', sessionStorage.length === 0 ? 'empty' : `${sessionStorage.length} keys: ${Object.keys(sessionStorage).join(', ')}`],
    ['IndexedDB', dbs.length === 0 ? 'no databases' : dbs.join(', ')],
    ['document.cookie', document.cookie === '' ? 'empty (the refresh cookie is HttpOnly)' : document.cookie],
    ['tm.getAccessToken()', await tm.getAccessToken().then(() => 'returns the token (exposeToken: true)', (e) => `refused: ${e.code}`)],
  ];
  $('storage').replaceChildren(...rows.map(([k, v]) => el('div', {}, el('dt', {}, k), el('dd', {}, v))));
});

// ---------------------------------------------------------------------------------------------
// Start: restore a session from the refresh cookie (memory does not survive a reload).

setInterval(tick, 250);
setInterval(() => timeline.draw(), 500);
detectHooks();
$('boot').textContent = 'Restoring the session (from another tab, or the refresh cookie)…';
model.states.push({ t: Date.now(), state: tm.state });
booting = true;
let handedOver = false;
const noteHandOver = tm.on('refreshed', ({ source }) => { handedOver ||= source === 'otherTab'; });
let restored;
if (oauthMode && (params.has('code') || params.has('error'))) {
  // Back from the provider: check the answer, exchange the code, verify the ID token.
  restored = await tm.handleRedirectCallback().then(() => true, (e) => {
    $('login-error').textContent = `Login failed: ${e.message} (${e.code}).`;
    return false;
  });
  if (restored) noteToken('logged in at the OAuth provider');
} else {
  restored = await tm.start();
}
noteHandOver();
booting = false;
$('boot').hidden = true;
$('session-status').textContent = !restored
  ? (oauthMode ? 'No session in this or another tab. Log in at the OAuth provider (after a reload the refresh token is gone: it lives only in memory).' : 'No session to restore. Log in to start one.')
  : handedOver
    ? 'Session handed over by another open tab (no refresh call).'
    : oauthMode
      ? 'Logged in at the OAuth provider (ID token verified, code exchanged, refresh token in memory).'
      : 'Session restored from the refresh cookie.';
render();
timeline.draw();
document.body.dataset.ready = 'true';

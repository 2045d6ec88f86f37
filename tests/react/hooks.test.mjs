// Unit tests of tokenwarden/react's binding logic (src/js/react.js) with React's own test
// renderer in Node, over a fake manager (the bindings only read the public API: getters, `on`,
// `handleRedirectCallback`). The example app in Chromium (app.test.mjs) covers the real managers.
// Run: node --test tests/react/hooks.test.mjs   (make test-react)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Component, StrictMode, createElement as h, useState } from 'react';
import TestRenderer from 'react-test-renderer';

const { act, create } = TestRenderer;
globalThis.IS_REACT_ACT_ENVIRONMENT = true;
// React 19 prints a deprecation notice for react-test-renderer; nothing else may be printed.
const consoleError = console.error;
console.error = (...args) => {
  if (String(args[0]).includes('react-test-renderer is deprecated')) return;
  consoleError(...args);
};

const { TokenManagerProvider, useSession, useTokenManager, RequireSession, useRedirectCallback } = await import(
  new URL(process.env.TW_REACT_MODULE ?? '../../src/js/react.js', import.meta.url).href
);

/** A stand-in manager: fields set by the test, events emitted by it; claims decoded per read. */
class FakeManager {
  fields = { state: 'anonymous', claims: null, expiresAt: null, clockOffsetMs: null };
  listeners = new Map();
  callbacks = [];
  get state() { return this.fields.state; }
  get claims() { return this.fields.claims === null ? null : JSON.parse(JSON.stringify(this.fields.claims)); }
  get expiresAt() { return this.fields.expiresAt; }
  get clockOffsetMs() { return this.fields.clockOffsetMs; }
  on(name, listener) {
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    const entry = (event) => listener(event);
    this.listeners.get(name).add(entry);
    return () => this.listeners.get(name).delete(entry);
  }
  listenerCount() { return [...this.listeners.values()].reduce((n, set) => n + set.size, 0); }
  emit(name, event = {}) { for (const l of [...(this.listeners.get(name) ?? [])]) l({ type: name, ...event }); }
  set(fields) { Object.assign(this.fields, fields); }
  handleRedirectCallback(url) {
    this.callbacks.push(url);
    return this.result ?? Promise.resolve();
  }
}

const signedIn = { state: 'authenticated', claims: { sub: 'alice', exp: 2000 }, expiresAt: 2_000_000, clockOffsetMs: -15 };

function render(element) {
  let renderer;
  act(() => { renderer = create(element); });
  return renderer;
}

/** A useSession() consumer that records every render's snapshot. */
function recorder() {
  const seen = [];
  function Consumer() {
    seen.push(useSession());
    return null;
  }
  return { seen, Consumer };
}

test('useSession returns the four fields of one consistent snapshot', () => {
  const tm = new FakeManager();
  tm.set(signedIn);
  const { seen, Consumer } = recorder();
  render(h(TokenManagerProvider, { manager: tm }, h(Consumer)));
  assert.deepEqual(seen.at(-1), signedIn);
  assert.ok(Object.isFrozen(seen.at(-1)));
});

test('render count: one refreshed event renders a useSession() consumer exactly once', () => {
  const tm = new FakeManager();
  tm.set(signedIn);
  const { seen, Consumer } = recorder();
  render(h(TokenManagerProvider, { manager: tm }, h(Consumer)));
  const before = seen.length;
  act(() => {
    tm.set({ claims: { sub: 'alice', exp: 2300 }, expiresAt: 2_300_000, clockOffsetMs: -12 });
    tm.emit('refreshed', { source: 'self' });
  });
  assert.equal(seen.length - before, 1, 'one render for one refreshed event');
  assert.equal(seen.at(-1).expiresAt, 2_300_000);
  assert.equal(seen.at(-1).claims.exp, 2300);
  // The events of one refresh delivered in one task (state, token) render once too.
  act(() => {
    tm.set({ state: 'refreshing' });
    tm.emit('change', { state: 'refreshing' });
    tm.set({ state: 'authenticated', expiresAt: 2_600_000 });
    tm.emit('change', { state: 'authenticated' });
    tm.emit('refreshed', { source: 'self' });
  });
  assert.equal(seen.length - before, 2);
  assert.equal(seen.at(-1).expiresAt, 2_600_000);
});

test('the snapshot keeps its identity (and its claims object) until a field changes', () => {
  const tm = new FakeManager();
  tm.set(signedIn);
  const { seen, Consumer } = recorder();
  render(h(TokenManagerProvider, { manager: tm }, h(Consumer)));
  const first = seen.at(-1);
  const count = seen.length;
  act(() => tm.emit('refreshed', { source: 'otherTab' })); // nothing changed
  act(() => tm.emit('change', { state: 'authenticated' }));
  assert.equal(seen.length, count, 'no render when no field changed');
  act(() => { tm.set({ clockOffsetMs: 40 }); tm.emit('refreshed', { source: 'self' }); });
  assert.equal(seen.length, count + 1);
  assert.notEqual(seen.at(-1), first);
  assert.equal(seen.at(-1).claims, first.claims, 'equal claims keep their object');
});

test('consumers share one store: one listener per event, removed with the last consumer', () => {
  const tm = new FakeManager();
  const a = recorder();
  const b = recorder();
  let show;
  function Both() {
    const [visible, setVisible] = useState(true);
    show = setVisible;
    return visible ? [h(a.Consumer, { key: 'a' }), h(b.Consumer, { key: 'b' })] : null;
  }
  render(h(TokenManagerProvider, { manager: tm }, h(Both)));
  assert.equal(tm.listenerCount(), 4, 'change, refreshed, expired, loggedOut: once each');
  act(() => { tm.set(signedIn); tm.emit('change', { state: 'authenticated' }); });
  assert.equal(a.seen.at(-1), b.seen.at(-1), 'both consumers render the same snapshot');
  act(() => show(false));
  assert.equal(tm.listenerCount(), 0);
});

test('useTokenManager returns the provider\'s manager; without a provider it throws ERR_NO_TOKEN_MANAGER', () => {
  const tm = new FakeManager();
  let got;
  function Reader() {
    got = useTokenManager();
    return null;
  }
  render(h(TokenManagerProvider, { manager: tm }, h(Reader)));
  assert.equal(got, tm);
  const caught = [];
  class Boundary extends Component {
    static getDerivedStateFromError(error) { caught.push(error); return { failed: true }; }
    state = { failed: false };
    render() { return this.state.failed ? null : this.props.children; }
  }
  render(h(Boundary, null, h(Reader)));
  assert.equal(caught[0]?.code, 'ERR_NO_TOKEN_MANAGER');
  assert.throws(() => render(h(TokenManagerProvider, { manager: null })), { code: 'ERR_INVALID_OPTIONS' });
});

test('RequireSession: fallback without a session, children with one; onMissing once per missing session under StrictMode', () => {
  const tm = new FakeManager();
  let missing = 0;
  const renderer = render(h(StrictMode, null, h(TokenManagerProvider, { manager: tm },
    h(RequireSession, { fallback: 'sign in', onMissing: () => { missing += 1; } }, 'account'))));
  assert.equal(renderer.toJSON(), 'sign in');
  assert.equal(missing, 1, 'StrictMode\'s second effect run does not call onMissing again');
  act(() => { tm.set(signedIn); tm.emit('change', { state: 'authenticated' }); });
  assert.equal(renderer.toJSON(), 'account');
  act(() => { tm.set({ state: 'refreshing' }); tm.emit('change', { state: 'refreshing' }); });
  assert.equal(renderer.toJSON(), 'account', 'a refresh keeps the children');
  act(() => { tm.set({ state: 'anonymous', claims: null, expiresAt: null }); tm.emit('loggedOut', { reason: 'otherTab' }); });
  assert.equal(renderer.toJSON(), 'sign in');
  assert.equal(missing, 2, 'a session that ends calls onMissing again');
});

const CALLBACK = 'https://app.example/?code=abc&state=xyz&iss=https%3A%2F%2Fidp.example';

test('useRedirectCallback completes a callback once under StrictMode, and once across a remount', async () => {
  const tm = new FakeManager();
  const results = [];
  let successes = 0;
  function Callback() {
    results.push(useRedirectCallback({ url: CALLBACK, onSuccess: () => { successes += 1; } }));
    return null;
  }
  const tree = (key) => h(StrictMode, null, h(TokenManagerProvider, { manager: tm }, h(Callback, { key })));
  const renderer = render(tree('first'));
  assert.equal(results.at(-1).status, 'pending');
  await act(async () => {});
  assert.deepEqual(tm.callbacks, [CALLBACK], 'one handleRedirectCallback for two effect runs');
  assert.deepEqual(results.at(-1), { status: 'success', error: null });
  assert.equal(successes, 1);
  await act(async () => { renderer.update(tree('second')); });
  assert.equal(tm.callbacks.length, 1, 'a remount with the same URL does not exchange the code again');
  assert.equal(results.at(-1).status, 'success');
});

test('useRedirectCallback: a page that is no callback is idle; a failure is reported with its code', async () => {
  const tm = new FakeManager();
  const results = [];
  function Callback({ url }) {
    results.push(useRedirectCallback({ url }));
    return null;
  }
  render(h(TokenManagerProvider, { manager: tm }, h(Callback, { url: 'https://app.example/account' })));
  await act(async () => {});
  assert.deepEqual(results.at(-1), { status: 'idle', error: null });
  assert.equal(tm.callbacks.length, 0);
  const refused = Object.assign(new Error('state mismatch'), { code: 'ERR_OAUTH_STATE_MISMATCH' });
  tm.result = Promise.reject(refused);
  render(h(StrictMode, null, h(TokenManagerProvider, { manager: tm }, h(Callback, { url: `${CALLBACK}&x=1` }))));
  await act(async () => {});
  assert.equal(tm.callbacks.length, 1);
  assert.equal(results.at(-1).status, 'error');
  assert.equal(results.at(-1).error.code, 'ERR_OAUTH_STATE_MISMATCH');
});

test('the README\'s React quick start quotes examples/react-app verbatim (the ANCHOR parts)', async () => {
  const { readFile } = await import('node:fs/promises');
  const read = (path) => readFile(new URL(`../../${path}`, import.meta.url), 'utf8');
  const readme = await read('README.md');
  const anchored = (source, name) => {
    const start = `// ANCHOR: ${name}\n`;
    const from = source.indexOf(start) + start.length;
    const to = source.indexOf(`// ANCHOR_END: ${name}\n`, from);
    assert.ok(from >= start.length && to > from, `anchor ${name}`);
    return source.slice(from, to);
  };
  const sources = { 'src/main.jsx': ['manager', 'render'], 'src/App.jsx': ['session', 'account', 'guard', 'callback'] };
  for (const [file, names] of Object.entries(sources)) {
    const source = await read(`examples/react-app/${file}`);
    for (const name of names) {
      assert.ok(readme.includes(`\`\`\`jsx\n${anchored(source, name)}\`\`\``), `README.md quotes ${file} (${name}) in a jsx block`);
    }
  }
});

// The scenario runner, in the page: runs one scenario's steps on one shell, the npm package's
// TokenManager (the JS driver: `js`) or the Rust shell behind the same surface (`rust`,
// tests/scenarios/shell), and returns each step's outcome, each tab's events and final state.
// The same code drives both shells; only the constructor differs.
//
// Steps (each an object; `expect` is the outcome the suite compares, default "ok"):
//   { "login": {credentials} }    { "refresh": true }    { "logout": true }    { "start": true }
//   { "fetch": "url", "init": {RequestInit}, "read": true }   (outcome: the status[, the body])
//   { "fetch": { "request": "url", "init": {...} } }          (a Request object as input)
//   { "parallel": [steps] }       (concurrently; outcome: theirs joined by " | ")
//   { "go": step, "as": "name" }  { "await": "name" }  (a step left running, then its outcome)
//   { "tab": "b" }                (later steps on tab b: another manager in this page, a sibling)
//   { "cookie": "name=value" }    (document.cookie)    { "wait": ms }
//   { "until": "event text", "count": n }  (until the tab has emitted it n times; default 1)
//   { "state": true }             (outcome: the tab's state)   { "free": true }
//   { "construct": {options} }    (outcome: "ok" or the constructor's error code)
//   { "wrapFetch": true }         (window.fetch replaced by a wrapper that counts its calls)
//   { "wrapped": true }           (outcome: how many calls that wrapper saw)
//   { "requests": true }          (outcome: how many requests the server has logged so far)
//   { "authorize": true }         (OAuth: the login's authorization URL, from loginWithRedirect's
//                                  navigation or the Rust shell's authorizationUrl, visited with
//                                  the page's fetch: the server answers with the callback URL)
//   { "callback": true }          (handleRedirectCallback with that callback URL)
// "@self" and "@other" at the start of any string are the two origins.
const EVENTS = ['change', 'refreshed', 'refreshFailed', 'expired', 'loggedOut'];

function describe(name, e) {
  switch (name) {
    case 'change': return `change ${e.state}`;
    case 'refreshed': return `refreshed ${e.source}`;
    case 'refreshFailed': return `refreshFailed ${e.reason}${e.status == null ? '' : ` ${e.status}`}`;
    case 'loggedOut': return `loggedOut ${e.reason}`;
    default: return name;
  }
}

/** `value` with every string that starts with @self or @other made an absolute URL (the
 * scripted server's answers use it too). */
export function substitute(value, origins) {
  if (typeof value === 'string') return value.replace(/^@(self|other)/, (_, who) => origins[who]);
  if (Array.isArray(value)) return value.map((v) => substitute(v, origins));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, origins)]));
  }
  return value;
}

async function shellFactory(shell, entry) {
  if (shell === 'js') {
    const { TokenManager } = await import(entry === 'oauth' ? '/pkg/oauth/web/index.js' : '/pkg/web/index.js');
    return (options) => new TokenManager(options);
  }
  const rust = await import('/shell/shell.js');
  await rust.default({ module_or_path: '/shell/shell_bg.wasm' });
  return (options) => new rust.Shell(options);
}

/**
 * The OAuth login's authorization URL: the Rust shell returns it; the npm class navigates to it
 * through the window it is given (redirect.js's interface: the transaction stored in
 * sessionStorage, where the callback finds it, and the navigation caught here).
 */
function authorizationUrl(manager) {
  if (typeof manager.authorizationUrl === 'function') return manager.authorizationUrl();
  return new Promise((ok, fail) => {
    const win = {
      href: () => location.href,
      put: (key, transaction) => sessionStorage.setItem(key, transaction),
      go: (url) => ok(url),
    };
    manager.loginWithRedirect(undefined, win).catch(fail);
  });
}

const failure = (e) => (e && typeof e.code === 'string' ? e.code : `THROWN ${e}`);

export async function run(shell, scenario, origins) {
  const make = await shellFactory(shell, scenario.entry);
  const options = substitute(scenario.options, origins);
  const tabs = new Map();
  const events = {};
  const pending = new Map();
  let current = 'a';
  let wrapped = 0;
  let callback;

  const tab = (name) => {
    if (!tabs.has(name)) {
      const manager = make(options);
      events[name] = [];
      for (const event of EVENTS) manager.on(event, (e) => events[name].push(describe(event, e)));
      tabs.set(name, manager);
    }
    return tabs.get(name);
  };

  const until = (name, text, count, timeoutMs) => new Promise((ok) => {
    const started = Date.now();
    const check = () => {
      if (events[name].filter((e) => e === text).length >= count) ok('ok');
      else if (Date.now() - started > timeoutMs) ok(`timeout waiting for "${text}"`);
      else setTimeout(check, 20);
    };
    check();
  });

  async function perform(step, on) {
    const name = step.tab ?? on;
    try {
      if (step.parallel) {
        return (await Promise.all(step.parallel.map((s) => perform(s, on)))).join(' | ');
      }
      if (step.go) {
        pending.set(step.as, perform(step.go, on));
        return 'ok';
      }
      if (step.await) return await pending.get(step.await);
      if ('tab' in step && Object.keys(step).length === 1) {
        current = step.tab;
        tab(current);
        return 'ok';
      }
      if (step.construct) {
        make(substitute(step.construct, origins)).free();
        return 'ok';
      }
      if (step.wrapFetch) {
        const original = window.fetch;
        window.fetch = (...args) => {
          wrapped += 1;
          return original(...args);
        };
        return 'ok';
      }
      if (step.wrapped) return String(wrapped);
      if (step.requests) return (await (await fetch('/__scenario/count')).text());
      const manager = tab(name);
      if (step.login) {
        await manager.login(step.login);
        return 'ok';
      }
      if (step.refresh) {
        await manager.refresh();
        return 'ok';
      }
      if (step.logout) {
        await manager.logout();
        return 'ok';
      }
      if (step.start) return String(await manager.start());
      if (step.authorize) {
        const url = await authorizationUrl(manager);
        callback = (await (await fetch(url)).json()).callback;
        return 'ok';
      }
      if (step.callback) {
        await manager.handleRedirectCallback(callback);
        return 'ok';
      }
      if (step.fetch) {
        const spec = substitute(step.fetch, origins);
        const init = substitute(step.init, origins);
        const input = typeof spec === 'string' ? spec : new Request(spec.request, spec.init);
        const response = await manager.fetch(input, init);
        const status = response.type === 'opaqueredirect' ? 'opaqueredirect' : String(response.status);
        return step.read ? `${status} ${await response.text()}` : status;
      }
      if (step.cookie !== undefined) {
        document.cookie = step.cookie;
        return 'ok';
      }
      if (step.wait !== undefined) {
        await new Promise((r) => setTimeout(r, step.wait));
        return 'ok';
      }
      if (step.until) return await until(name, step.until, step.count ?? 1, step.timeoutMs ?? 15_000);
      if (step.state) return manager.state;
      if (step.free) {
        manager.free();
        tabs.delete(name);
        return 'ok';
      }
      return `UNKNOWN STEP ${JSON.stringify(step)}`;
    } catch (e) {
      return failure(e);
    }
  }

  const outcomes = [];
  for (const step of scenario.steps) outcomes.push(await perform(step, current));
  // Let the events of the last step's consequences arrive (a logout's broadcast, a refresh
  // that a step started).
  await new Promise((r) => setTimeout(r, scenario.settleMs ?? 100));
  const states = Object.fromEntries([...tabs].map(([name, manager]) => [name, manager.state]));
  for (const manager of tabs.values()) manager.free();
  return { outcomes, events, states };
}

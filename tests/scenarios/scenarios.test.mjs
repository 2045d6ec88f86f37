// One scenario suite, both shells: every scenario in tests/scenarios/cases/*.json runs in
// headless Chromium on the npm package's TokenManager (the JS driver, `js`) and on the Rust shell
// (tokenwarden::web::TokenManager behind the same surface, `rust`: tests/scenarios/shell), driven
// by the same runner (page/runner.js) against the same scripted server (server.mjs), and each
// must produce what the file says: the requests the server saw (method, origin, path, which
// token in which header, the refresh cookie or body, the DPoP proof), each step's outcome, each
// tab's events and final state. A scenario file:
//   { "name", "entry": "oauth" (DPoP scenarios: the tokenwarden/oauth entry), "options": {...},
//     "server": { "METHOD /path": [answers] }, "steps": [...],
//     "requests": ["line", ["unordered", "lines"], ...], "events": { "a": [...] },
//     "states": { "a": "authenticated" } }
// (the answers' and the log's format: server.mjs; the steps': page/runner.js).
//
// Run with `make test-scenarios` (pkg/ from test-js, the Rust shell from example-apps).
// Env: TW_PKG_DIR (default pkg), TW_SCENARIO_SHELL (default target/scenario-shell),
// TW_SHELLS (default "js rust"), TW_SCENARIOS (a substring of the file names to run).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { launchChromium } from '../support/harness.mjs';
import { startScenarioServer } from './server.mjs';

const HERE = resolve('tests/scenarios');
const PKG = resolve(process.env.TW_PKG_DIR ?? 'pkg');
const SHELL = resolve(process.env.TW_SCENARIO_SHELL ?? 'target/scenario-shell');
const SHELLS = (process.env.TW_SHELLS ?? 'js rust').split(/\s+/).filter(Boolean);
const ONLY = process.env.TW_SCENARIOS;
const CASES = readdirSync(join(HERE, 'cases')).filter((f) => f.endsWith('.json') && (!ONLY || f.includes(ONLY))).sort();

let server;
let browser;

before(async () => {
  assert.ok(existsSync(join(PKG, 'web', 'index.js')), `${PKG}/web/index.js is missing: run scripts/build-pkg.sh pkg`);
  assert.ok(existsSync(join(SHELL, 'shell.js')), `${SHELL}/shell.js is missing: run scripts/build-example-apps.sh (make example-apps)`);
  server = await startScenarioServer({ files: { '/pkg/': PKG, '/shell/': SHELL, '/': join(HERE, 'page') } });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** The log against the expected lines, where a nested array is a group in any order. */
function matchLog(log, expected) {
  const want = [];
  let at = 0;
  for (const entry of expected) {
    if (Array.isArray(entry)) {
      const got = log.slice(at, at + entry.length);
      want.push(...(got.slice().sort().join('\n') === entry.slice().sort().join('\n') ? got : entry));
      at += entry.length;
    } else {
      want.push(entry);
      at += 1;
    }
  }
  return want;
}

async function runOn(shell, scenario) {
  await server.script(scenario.server);
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(`${server.self}/`);
    const result = await page.evaluate(
      async ([kind, s, origins]) => (await import('/runner.js')).run(kind, s, origins),
      [shell, scenario, { self: server.self, other: server.other }],
    );
    return { ...result, requests: server.log(), errors };
  } finally {
    await context.close();
  }
}

function check(scenario, got) {
  assert.deepEqual(got.errors, [], 'no uncaught error in the page');
  assert.deepEqual(got.requests, matchLog(got.requests, scenario.requests), 'the requests the server saw');
  assert.deepEqual(got.outcomes, scenario.steps.map((s) => s.expect ?? 'ok'), 'each step\'s outcome');
  for (const [tab, events] of Object.entries(scenario.events ?? {})) {
    assert.deepEqual(got.events[tab], events, `tab ${tab}'s events`);
  }
  if (scenario.states) assert.deepEqual(got.states, scenario.states, 'the final states');
}

for (const file of CASES) {
  const scenario = JSON.parse(readFileSync(join(HERE, 'cases', file), 'utf8'));
  test(`${file}: ${scenario.name}`, async (t) => {
    const results = {};
    for (const shell of SHELLS) {
      await t.test(shell, async (st) => {
        const got = (results[shell] = await runOn(shell, scenario));
        try {
          check(scenario, got);
        } catch (e) {
          const { requests, outcomes, events, states } = got;
          st.diagnostic(`${shell} got: ${JSON.stringify({ requests, outcomes, events, states })}`);
          throw e;
        }
      });
    }
    if (results.js && results.rust) {
      await t.test('both shells sent and emitted the same', () => {
        const same = (r) => ({ requests: matchLog(r.requests, scenario.requests), outcomes: r.outcomes, events: r.events, states: r.states });
        assert.deepEqual(same(results.rust), same(results.js));
      });
    }
  });
}

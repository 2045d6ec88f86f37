// The session-hint rule of the npm package's driver (driver.js's sessionMayExist, used in page and
// worker custody) on the cases core::manager::session_may_exist passes (the Rust shell's rule):
// tests/vectors/session-hint.json. Run by `make test-js` (pkg/ built; env TW_PKG_DIR).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const PKG = resolve(process.env.TW_PKG_DIR ?? 'pkg');

test('driver.js decides the session hint as the core does', async () => {
  const { sessionMayExist } = await import(pathToFileURL(resolve(PKG, 'node/driver.js')).href);
  assert.equal(typeof sessionMayExist, 'function');
  const { cases } = JSON.parse(readFileSync('tests/vectors/session-hint.json', 'utf8'));
  assert.ok(cases.length >= 10);
  for (const { hint, cookies, may } of cases) {
    assert.equal(sessionMayExist(hint ?? undefined, cookies ?? undefined), may, JSON.stringify({ hint, cookies }));
  }
});

// The OAuth profile's options in the package's JS driver (oauth.js over the wasm OAuthEngine)
// against the Rust shell's class (`TokenManager` of tokenwarden.js, which the package still
// constructs for `dpop: true`): the same refusals with the same codes and messages, in Node.
// Run: make test-oauth (needs pkg/; under a second).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';

const PKG = resolve(process.env.TW_PKG_DIR ?? 'pkg');
const { TokenManager } = await import(`${PKG}/node/index.js`);
const { TokenManager: Shell } = await import(`${PKG}/node/tokenwarden.js`);

const client = { issuer: 'https://id.example', clientId: 'spa', redirectUri: 'https://app.example/cb' };

/** `{code, message}` of what `make()` throws or rejects with. */
async function failure(make) {
  try {
    await make();
  } catch (e) {
    return { code: e.code, message: e.message };
  }
  return 'no error';
}

const bad = {
  'refreshUrl next to oauth': { oauth: client, refreshUrl: 'https://id.example/token' },
  'a missing redirectUri': { oauth: { issuer: client.issuer, clientId: 'spa' } },
  'an unknown member': { oauth: { ...client, secret: 'x' } },
  'an issuer over plain http': { oauth: { ...client, issuer: 'http://id.example' } },
  'a redirect URI with a fragment': { oauth: { ...client, redirectUri: 'https://app.example/cb#x' } },
  'loginUrl next to oauth': { oauth: client, loginUrl: 'https://app.example/login' },
  'a resource that is not a string': { oauth: { ...client, resource: 5 } },
  'a scope that is not a string': { oauth: { ...client, scope: 7 } },
  'oauth that is not an object': { oauth: 'https://id.example' },
};

for (const [what, options] of Object.entries(bad)) {
  test(`oauth options: ${what} is refused as the Rust shell refuses it`, async () => {
    const driver = await failure(() => new TokenManager(options));
    assert.notEqual(driver, 'no error');
    assert.deepEqual(driver, await failure(() => new Shell(options)));
  });
}

test('the driver runs the OAuth profile; loginWithRedirect and handleRedirectCallback fail as the shell\'s do', async () => {
  const tm = new TokenManager({ oauth: client });
  const shell = new Shell({ oauth: client });
  assert.equal(typeof tm.__full, 'function', 'the JS driver, not the Rust shell');
  assert.equal(tm.state, 'anonymous');
  assert.equal(await tm.start(), false, 'no session without a sibling tab');
  for (const options of [{ prompt: 1 }, { maxAge: -1 }, { extraParams: { a: 1 } }, { extraParams: [] }, { popup: true }]) {
    const driver = await failure(() => tm.loginWithRedirect(options));
    assert.equal(driver.code, 'ERR_INVALID_OPTIONS', JSON.stringify(options));
    assert.deepEqual(driver, await failure(() => shell.loginWithRedirect(options)));
  }
  // Node has no window: no callback URL to read.
  const noWindow = await failure(() => tm.handleRedirectCallback());
  assert.equal(noWindow.code, 'ERR_OAUTH_NO_WINDOW');
  assert.deepEqual(noWindow, await failure(() => shell.handleRedirectCallback()));
  tm.free();
  shell.free();
  // Without the profile, its methods say which option they need.
  const plain = new TokenManager({ refreshUrl: 'https://app.example/auth/refresh' });
  const plainShell = new Shell({ refreshUrl: 'https://app.example/auth/refresh' });
  const none = await failure(() => plain.handleRedirectCallback('https://app.example/cb?code=x&state=y'));
  assert.equal(none.code, 'ERR_INVALID_OPTIONS');
  assert.deepEqual(none, await failure(() => plainShell.handleRedirectCallback('https://app.example/cb?code=x&state=y')));
  plain.free();
  plainShell.free();
});

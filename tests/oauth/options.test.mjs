// The OAuth profile's options in the package's JS driver (oauth.js over the wasm OAuthEngine):
// the refusals with the codes and messages the Rust shell's class gave (pinned from it when the
// package stopped linking it), in Node.
// Run: make test-oauth (needs pkg/: the tokenwarden/oauth entry, TW_PKG_DIR default pkg/oauth, and
// the tokenwarden entry at pkg/, which has no OAuth; under a second).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { createServer } from 'node:http';

const PKG = resolve(process.env.TW_PKG_DIR ?? 'pkg/oauth');
const { TokenManager } = await import(`${PKG}/node/index.js`);

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
  'refreshUrl next to oauth': [{ oauth: client, refreshUrl: 'https://id.example/token' }, 'ERR_INVALID_OPTIONS',
    'option "oauth" replaces refreshUrl (the provider\'s token endpoint refreshes)'],
  'a missing redirectUri': [{ oauth: { issuer: client.issuer, clientId: 'spa' } }, 'ERR_INVALID_OPTIONS',
    'oauth.redirectUri is required'],
  'an unknown member': [{ oauth: { ...client, secret: 'x' } }, 'ERR_INVALID_OPTIONS',
    'unknown option "secret" in the oauth option; known options: issuer, clientId, redirectUri, scope, audience, resource, postLogoutRedirectUri, popupRedirectUri, resources'],
  'an issuer over plain http': [{ oauth: { ...client, issuer: 'http://id.example' } }, 'ERR_OAUTH_INSECURE_ENDPOINT',
    'issuer must use https (http only on a loopback host), without credentials or fragment'],
  'a redirect URI with a fragment': [{ oauth: { ...client, redirectUri: 'https://app.example/cb#x' } }, 'ERR_OAUTH_INSECURE_ENDPOINT',
    'redirect_uri must use https (http only on a loopback host), without credentials or fragment'],
  'a popup redirect URI over plain http': [{ oauth: { ...client, popupRedirectUri: 'http://app.example/popup' } }, 'ERR_OAUTH_INSECURE_ENDPOINT',
    'redirect_uri must use https (http only on a loopback host), without credentials or fragment'],
  'persist without dpop': [{ oauth: client, persist: 'dpop' }, 'ERR_INVALID_OPTIONS',
    'option "persist" must be "dpop", with the oauth option and dpop: true'],
  'persist of another kind': [{ oauth: client, dpop: true, persist: 'localStorage' }, 'ERR_INVALID_OPTIONS',
    'option "persist" must be "dpop", with the oauth option and dpop: true'],
  'loginUrl next to oauth': [{ oauth: client, loginUrl: 'https://app.example/login' }, 'ERR_INVALID_OPTIONS',
    'the oauth option replaces loginUrl and logoutUrl'],
  'a resource that is not a string': [{ oauth: { ...client, resource: 5 } }, 'ERR_INVALID_OPTIONS',
    'option "resource" must be a string or an array of strings'],
  'a scope that is not a string': [{ oauth: { ...client, scope: 7 } }, 'ERR_INVALID_OPTIONS',
    'option "scope" must be a string'],
  'oauth that is not an object': [{ oauth: 'https://id.example' }, 'ERR_INVALID_OPTIONS',
    'the oauth option must be an object'],
  'resources that are not an object': [{ oauth: { ...client, resources: ['https://a.example'] } }, 'ERR_INVALID_OPTIONS',
    'oauth.resources must be an object'],
  'a resources key with a path': [{ oauth: { ...client, resources: { 'https://a.example/v1': { resource: 'a' } } } },
    'ERR_INVALID_OPTIONS', 'oauth.resources["https://a.example/v1"]: not an origin'],
  'a resources key that is no URL': [{ oauth: { ...client, resources: { 'a.example': { resource: 'a' } } } },
    'ERR_INVALID_OPTIONS', 'oauth.resources["a.example"]: not an origin'],
  'a resources key over plain http': [{ oauth: { ...client, resources: { 'http://a.example': { resource: 'a' } } } },
    'ERR_INVALID_OPTIONS', 'oauth.resources["http://a.example"] must be https (plain http only for loopback hosts)'],
  'an API with both resource and audience': [{ oauth: { ...client, resources: { 'https://a.example': { resource: 'a', audience: 'a' } } } },
    'ERR_INVALID_OPTIONS', 'oauth.resources["https://a.example"] needs one of resource, audience or scope'],
  'an API with nothing to ask for': [{ oauth: { ...client, resources: { 'https://a.example': {} } } },
    'ERR_INVALID_OPTIONS', 'oauth.resources["https://a.example"] needs one of resource, audience or scope'],
  'an API with an unknown member': [{ oauth: { ...client, resources: { 'https://a.example': { resource: 'a', token: 'x' } } } },
    'ERR_INVALID_OPTIONS', 'unknown option "token" in oauth.resources["https://a.example"]; known options: resource, audience, scope'],
};

for (const [what, [options, code, message]] of Object.entries(bad)) {
  test(`oauth options: ${what} is refused as the Rust shell refused it`, async () => {
    assert.deepEqual(await failure(() => new TokenManager(options)), { code, message });
  });
}

const loginRefusals = [
  [{ prompt: 1 }, 'option "prompt" must be a string'],
  [{ maxAge: '60' }, 'option "maxAge" must be a number'],
  [{ extraParams: { a: 1 } }, 'extraParams values must be strings'],
  [{ extraParams: [] }, 'extraParams must be an object of strings'],
  [{ popup: true }, 'unknown option "popup" in loginWithRedirect options; known options: scope, prompt, loginHint, maxAge, extraParams'],
];

test('the driver runs the OAuth profile; loginWithRedirect and handleRedirectCallback fail as the shell\'s did', async () => {
  const tm = new TokenManager({ oauth: client });
  assert.equal(typeof tm.__full, 'function', 'the JS driver, not the Rust shell');
  assert.equal(tm.state, 'anonymous');
  assert.equal(await tm.start(), false, 'no session without a sibling tab');
  for (const [options, message] of loginRefusals) {
    assert.deepEqual(await failure(() => tm.loginWithRedirect(options)), { code: 'ERR_INVALID_OPTIONS', message });
  }
  // Node has no window: no callback URL to read.
  const noWindow = await failure(() => tm.handleRedirectCallback());
  assert.deepEqual(noWindow, { code: 'ERR_OAUTH_NO_WINDOW', message: 'no callback URL was given' });
  tm.free();
  // Without the profile, its methods say which option they need.
  const plain = new TokenManager({ refreshUrl: 'https://app.example/auth/refresh' });
  const none = await failure(() => plain.handleRedirectCallback('https://app.example/cb?code=x&state=y'));
  assert.deepEqual(none, { code: 'ERR_INVALID_OPTIONS', message: 'this needs the oauth option (the OAuth 2.0 / OpenID Connect profile)' });
  plain.free();
});

test("a login's ranges are the core's: checked with the provider's metadata, as the Rust shell does (maxAge within ten years, no parameter the profile sets)", async () => {
  // A provider on loopback http that answers discovery (nothing else is asked of it).
  const asked = [];
  const server = createServer((req, res) => {
    asked.push(req.url);
    const issuer = `http://127.0.0.1:${server.address().port}`;
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({
      issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token`,
      jwks_uri: `${issuer}/jwks`, code_challenge_methods_supported: ['S256'], response_types_supported: ['code'],
    }));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const tm = new TokenManager({ oauth: { issuer, clientId: 'spa', redirectUri: 'http://127.0.0.1:1/cb' }, crossTab: false });
  try {
    const range = { code: 'ERR_INVALID_OPTIONS', message: 'option "maxAge" must be a number from 0 to 316224000' };
    for (const maxAge of [-1, 316_224_001, NaN, Infinity]) {
      assert.deepEqual(await failure(() => tm.loginWithRedirect({ maxAge })), range, String(maxAge));
    }
    assert.deepEqual(await failure(() => tm.loginWithRedirect({ extraParams: { nonce: 'n' } })), {
      code: 'ERR_OAUTH_INVALID_CONFIG', message: 'invalid oauth configuration: an extra parameter repeats one the login sets itself',
    });
    assert.deepEqual(asked, ['/.well-known/openid-configuration'], 'the metadata, fetched once');
    // In range: the request is built, and the login goes on to keep its transaction (Node has
    // no sessionStorage).
    assert.deepEqual(await failure(() => tm.loginWithRedirect({ maxAge: 316_224_000 })), {
      code: 'ERR_OAUTH_NO_STORAGE', message: 'a redirect login needs sessionStorage to survive the navigation',
    });
  } finally {
    tm.free();
    server.close();
  }
});

test('oauth with dpop: true is the JS driver too (the package exports no Rust shell)', async () => {
  const tm = new TokenManager({ oauth: client, dpop: true });
  assert.equal(typeof tm.__full, 'function', 'the JS driver, not the Rust shell');
  assert.equal(tm.dpopJkt, null, 'no key before a login');
  assert.equal(tm.state, 'anonymous');
  tm.free();
  const module = await import(`${PKG}/node/tokenwarden.js`);
  assert.equal(module.TokenManager, undefined, 'tokenwarden.js exports no TokenManager class');
});

test('the tokenwarden entry has no OAuth profile and no DPoP: both options name the entry that has them', async () => {
  const base = await import(`${resolve(process.env.TW_BASE_DIR ?? 'pkg')}/node/index.js`);
  const hint = 'is in the tokenwarden/oauth entry: import { TokenManager } from "tokenwarden/oauth"';
  assert.deepEqual(await failure(() => new base.TokenManager({ oauth: client })),
    { code: 'ERR_INVALID_OPTIONS', message: `option "oauth" ${hint}` });
  assert.deepEqual(await failure(() => new base.TokenManager({ refreshUrl: 'https://app.example/r', dpop: true })),
    { code: 'ERR_INVALID_OPTIONS', message: `option "dpop" ${hint}` });
  const glue = await import(`${resolve(process.env.TW_BASE_DIR ?? 'pkg')}/node/tokenwarden.js`);
  assert.equal(glue.OAuthEngine, undefined);
  assert.equal(glue.DpopCore, undefined);
  assert.equal(base.verifyDpopProof, undefined);
  assert.equal(base.verifyJwt, undefined);
  // The oauth entry runs both, and exports no verification function.
  assert.equal(new TokenManager({ refreshUrl: 'https://app.example/r', dpop: true }).dpopJkt, null);
  const oauthEntry = await import(`${PKG}/node/index.js`);
  assert.deepEqual(['verifyJwt', 'KeySet', 'verifyDpopProof'].filter((n) => n in oauthEntry), []);
});

// A real, certified OpenID provider for tests: npm `oidc-provider` on a loopback port.
//
//   node tests/oauth/provider.mjs --port 0 --redirect-uri http://127.0.0.1:5173/callback
//
// prints `listening on http://127.0.0.1:<port>` (the issuer) once it accepts connections, like
// the reference server, so tests/support/harness.mjs-style code can start it. It serves:
// - one public client (`--client-id`, default `tokenwarden-spa`): authorization code with PKCE
//   S256 required, `token_endpoint_auth_method: none`, the `refresh_token` grant, the redirect
//   URIs given with `--redirect-uri` (repeatable) and `--post-logout-redirect-uri`, CORS for the
//   origins of those URIs (plus `--cors-origin`);
// - refresh tokens for every code grant of that client (no `offline_access` consent needed),
//   rotated on every use; reuse of a rotated one revokes the whole grant;
// - RFC 7009 revocation, RP-initiated logout, RFC 9207 `iss` in authorization responses;
// - JWT access tokens (ES256, RFC 9068) for the API named by `--resource` (default
//   `https://api.tokenwarden.test/`) with scope `api:read`; ID tokens are RS256;
// - the development login and consent pages at `/interaction/:uid` (any login and password);
// - `GET /__test/records`: what happened to refresh tokens and grants (see `records()` below).
//
// Options: --port N (0: any free port), --client-id ID, --redirect-uri URI...,
// --post-logout-redirect-uri URI..., --cors-origin ORIGIN..., --resource URI (the default one),
// --extra-resource URI... (more APIs, each its own audience, asked for with RFC 8707 `resource`),
// --access-ttl SECONDS (default 300), --refresh-ttl SECONDS (default 86400), --dpop (DPoP,
// RFC 9449, with a server nonce required on every proof; DPoP-bound refresh tokens of public
// clients rotate too; `records().dpop` counts the token endpoint's `use_dpop_nonce` answers).
// --coop: Cross-Origin-Opener-Policy: same-origin on every response.
// --tls-cert PEM --tls-key PEM: serve https (the issuer is then `https://127.0.0.1:<port>`).
// Start-up takes about half a second (two key pairs are generated). oidc-provider 9 prints
// "Unsupported runtime" on Node 20; it works.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { parseArgs } from 'node:util';
import Provider from 'oidc-provider';

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'client-id': { type: 'string', default: 'tokenwarden-spa' },
    'redirect-uri': { type: 'string', multiple: true, default: [] },
    'post-logout-redirect-uri': { type: 'string', multiple: true, default: [] },
    'cors-origin': { type: 'string', multiple: true, default: [] },
    resource: { type: 'string', default: 'https://api.tokenwarden.test/' },
    'extra-resource': { type: 'string', multiple: true, default: [] },
    'access-ttl': { type: 'string', default: '300' },
    'refresh-ttl': { type: 'string', default: '86400' },
    dpop: { type: 'boolean', default: false },
    coop: { type: 'boolean', default: false },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
  },
});
if (opts['redirect-uri'].length === 0) {
  console.error('provider: at least one --redirect-uri is required');
  process.exit(2);
}
const accessTtl = Number(opts['access-ttl']);
const refreshTtl = Number(opts['refresh-ttl']);

/** Signing keys: RS256 for ID tokens (the OpenID default), ES256 for API access tokens. */
function signingKey(type, options, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, alg, use: 'sig', kid: `${alg.toLowerCase()}-${randomBytes(4).toString('hex')}` };
}
const jwks = {
  keys: [
    signingKey('rsa', { modulusLength: 2048 }, 'RS256'),
    signingKey('ec', { namedCurve: 'P-256' }, 'ES256'),
  ],
};

/** SHA-256 of a token value, base64url: records name tokens without holding them. */
export const fingerprint = (value) => createHash('sha256').update(value).digest('base64url');

// What happened to refresh tokens and grants, from the provider's own events.
const refreshTokens = new Map(); // fingerprint -> record
const grantRevocations = []; // { grantId, route }
const codes = { issued: 0, consumed: 0 };
const dpop = { useNonce: 0, invalidProof: 0 };
function refreshRecord(token) {
  const key = fingerprint(token.jti);
  if (!refreshTokens.has(key)) {
    refreshTokens.set(key, {
      fingerprint: key, grantId: token.grantId, issuedAt: Date.now(),
      consumedAt: null, destroyedAt: null, revokedWithGrantAt: null,
    });
  }
  return refreshTokens.get(key);
}
function records() {
  return {
    // Every refresh token issued, in order: consumedAt is set when it was rotated (used once),
    // destroyedAt when it was revoked or presented again after rotation, revokedWithGrantAt
    // when its whole grant was revoked (revocation, logout, or reuse detection).
    refreshTokens: [...refreshTokens.values()],
    // route "token": the grant was revoked at the token endpoint (a rotated refresh token or a
    // used code presented again: reuse detection); route "revocation": RFC 7009.
    grantRevocations,
    reuseDetections: grantRevocations.filter((r) => r.route === 'token').length,
    codes,
    dpop,
  };
}

const tls = opts['tls-cert'] !== undefined;
const server = tls
  ? createTlsServer({ cert: readFileSync(opts['tls-cert']), key: readFileSync(opts['tls-key']) })
  : createServer();
await new Promise((ok, fail) => {
  server.once('error', fail);
  server.listen(Number(opts.port), '127.0.0.1', ok);
});
const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${server.address().port}`;
const clientId = opts['client-id'];
const allowedOrigins = new Set([
  ...opts['redirect-uri'].map((u) => new URL(u).origin),
  ...opts['cors-origin'],
]);

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    application_type: 'web',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: opts['redirect-uri'],
    post_logout_redirect_uris: opts['post-logout-redirect-uri'],
  }],
  jwks,
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  claims: { openid: ['sub'], profile: ['name'], email: ['email', 'email_verified'] },
  scopes: ['openid', 'offline_access', 'profile', 'email'],
  async findAccount(_ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, name: `User ${sub}`, email: `${sub}@example.test`, email_verified: true };
      },
    };
  },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    // Nonces on every proof (the nonce rotates with the provider's clock window).
    dPoP: opts.dpop
      ? { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true }
      : { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => opts.resource,
      useGrantedResource: () => true,
      getResourceServerInfo(_ctx, resourceIndicator) {
        if (![opts.resource, ...opts['extra-resource']].includes(resourceIndicator)) throw new Provider.errors.InvalidTarget();
        return {
          scope: 'api:read',
          audience: resourceIndicator,
          accessTokenTTL: accessTtl,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
  // oidc-provider drops `offline_access` unless `prompt=consent`; a browser app that logs in
  // silently would then get no refresh token. Issue one to every code grant of a client that
  // may refresh, as SPA-oriented providers (Auth0, Okta with rotation) do.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  // A function, not `true`: oidc-provider's default keeps DPoP-bound refresh tokens of public
  // clients (sender-constrained) unrotated; this provider rotates every one.
  rotateRefreshToken: () => true,
  clientBasedCORS: (_ctx, origin) => allowedOrigins.has(origin),
  ttl: {
    AccessToken: accessTtl,
    AuthorizationCode: 60,
    IdToken: 3600,
    RefreshToken: refreshTtl,
    Grant: refreshTtl,
    Session: refreshTtl,
    Interaction: 600,
  },
});

provider.on('refresh_token.issued', (token) => refreshRecord(token));
provider.on('refresh_token.saved', (token) => refreshRecord(token));
provider.on('refresh_token.consumed', (token) => { refreshRecord(token).consumedAt ??= Date.now(); });
provider.on('refresh_token.destroyed', (token) => { refreshRecord(token).destroyedAt ??= Date.now(); });
provider.on('authorization_code.issued', () => { codes.issued += 1; });
provider.on('authorization_code.consumed', () => { codes.consumed += 1; });
provider.on('grant.revoked', (ctx, grantId) => {
  grantRevocations.push({ grantId, route: ctx.oidc?.route ?? null });
  for (const record of refreshTokens.values()) {
    if (record.grantId === grantId) record.revokedWithGrantAt ??= Date.now();
  }
});
provider.on('grant.error', (_ctx, err) => {
  if (err.error === 'use_dpop_nonce') dpop.useNonce += 1;
  if (err.error === 'invalid_dpop_proof') dpop.invalidProof += 1;
});
provider.on('server_error', (_ctx, err) => console.error('provider: server_error', err));

const handle = provider.callback();
server.on('request', (req, res) => {
  // --coop: every page of the provider sets Cross-Origin-Opener-Policy: same-origin (a popup
  // that reaches it loses its opener).
  if (opts.coop) res.setHeader('cross-origin-opener-policy', 'same-origin');
  if (req.method === 'GET' && req.url === '/__test/records') {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(records()));
    return;
  }
  handle(req, res);
});

console.log(`listening on ${issuer}`);
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

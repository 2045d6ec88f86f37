// The scenario suite's HTTP server: it answers what the scenario file says and logs what each
// shell sent. Two listeners on 127.0.0.1, the page's origin ("self": the runner's page, the npm
// package under /pkg/, the Rust shell under /shell/, and the scripted routes) and another port
// ("other", a second origin, with CORS for the page's origin), so that a scenario can ask which
// origin got the token.
//
// A scenario's `server` maps "METHOD /path" (or "METHOD @other/path") to a list of answers, used
// in turn (the last one again once the list is spent):
//   { status, headers, body, tokens: { ttl, refresh: "cookie" | "body" | "none" },
//     cookies: ["Set-Cookie value", ...], delayMs, redirect: "/path" | "@other/path" }
//   OAuth provider answers: { jwks: true } (the provider key's JWKS); { authorize: { code, error,
//   state, iss } } (the authorization endpoint, fetched by the runner: it remembers the request's
//   state, nonce and PKCE challenge and answers {"callback": redirect_uri?code&state&iss}, or
//   with the `error`, a forged `state` or another `iss`); tokens with `idToken: { nonce, aud,
//   iss }` (an ES256 ID token for the client, with the authorization request's nonce unless
//   given). Strings in bodies that start with @self or @other name the two origins.
// `tokens` mints an access token (a JWT whose `exp` is now + ttl, named A1, A2, ... in the log)
// and a refresh token (R1, R2, ...: an HttpOnly cookie, or in the body), and answers with a
// token response (token_type DPoP when the call carried a DPoP proof). A route the scenario does
// not name answers 404. Every scripted request is logged as one line:
//   METHOD [@other]/path[?query] [auth=<scheme> <An>] [cookie=<Rn>] [body.refresh=<Rn>]
//     [body=<the first 40 characters of an API request's body>] [dpop(<Kn>[,ath][,nonce=<n>])]
// where a DPoP proof is checked here (ES256 signature over its own JWK, typ, htm, htu, iat, ath
// against the access token sent) and logged as dpop(INVALID: why) when it fails.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createHash, createPublicKey, generateKeyPairSync, sign, verify as verifySignature } from 'node:crypto';
import { extname, join, normalize, resolve } from 'node:path';
import { substitute } from './page/runner.js';

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };
const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
const json = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

function mintJwt(name, ttl) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify({ sub: 'scenario-user', iat: now, exp: now + ttl, jti: name }));
  // Not verified by the manager (it decodes); the signature only has to be well-formed.
  return `${header}.${payload}.${b64url(createHash('sha256').update(name).digest())}`;
}

// The identity provider's signing key (ES256), for the OAuth scenarios' ID tokens and JWKS.
const PROVIDER = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const PROVIDER_JWK = { ...PROVIDER.publicKey.export({ format: 'jwk' }), kid: 'scenario-key', alg: 'ES256', use: 'sig' };

function signJwt(claims) {
  const header = b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: PROVIDER_JWK.kid }));
  const payload = b64url(JSON.stringify(claims));
  const signature = sign('sha256', Buffer.from(`${header}.${payload}`), { key: PROVIDER.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${header}.${payload}.${b64url(signature)}`;
}

function listen(handler) {
  return new Promise((ok) => {
    const server = createServer(handler);
    server.listen(0, '127.0.0.1', () => ok(server));
  });
}

/**
 * Starts both listeners. `files` maps URL prefixes of the page's origin to directories
 * (`{ '/pkg/': 'pkg', '/shell/': 'target/scenario-shell', '/': 'tests/scenarios/page' }`).
 */
export async function startScenarioServer({ files }) {
  let routes = new Map();
  let log = [];
  let names = new Map(); // token value -> A1 / R1
  let keys = new Map(); // JWK thumbprint -> K1
  let counters = { A: 0, R: 0 };
  let inflight = 0;
  let authorization = {}; // the last authorization request's parameters
  const servers = {};
  const origin = {};

  const name = (kind, value) => {
    const n = `${kind}${++counters[kind]}`;
    names.set(value, n);
    return n;
  };

  function checkProof(proof, method, url, access) {
    try {
      const [h, p, s] = proof.split('.');
      const header = json(h);
      const claims = json(p);
      if (header.typ !== 'dpop+jwt' || header.alg !== 'ES256' || !header.jwk) return 'INVALID: header';
      if (header.jwk.d !== undefined) return 'INVALID: private key in the proof';
      const key = createPublicKey({ key: header.jwk, format: 'jwk' });
      const ok = verifySignature('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
      if (!ok) return 'INVALID: signature';
      const target = new URL(url);
      if (claims.htm !== method) return `INVALID: htm ${claims.htm}`;
      if (claims.htu !== `${target.origin}${target.pathname}`) return `INVALID: htu ${claims.htu}`;
      if (typeof claims.jti !== 'string' || Math.abs(claims.iat - Date.now() / 1000) > 60) return 'INVALID: jti or iat';
      const { kty, crv, x, y } = header.jwk;
      const thumb = b64url(createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest());
      if (!keys.has(thumb)) keys.set(thumb, `K${keys.size + 1}`);
      const parts = [keys.get(thumb)];
      if (claims.ath !== undefined || access !== undefined) {
        const want = access === undefined ? undefined : b64url(createHash('sha256').update(access).digest());
        if (claims.ath !== want) return 'INVALID: ath';
        parts.push('ath');
      }
      if (claims.nonce !== undefined) parts.push(`nonce=${claims.nonce}`);
      return parts.join(',');
    } catch (e) {
      return `INVALID: ${e.message}`;
    }
  }

  function describe(req, who, url, body) {
    let line = `${req.method} ${who === 'other' ? '@other' : ''}${url.pathname}${url.search}`;
    const auth = req.headers.authorization;
    let access;
    if (auth !== undefined) {
      const [scheme, value] = auth.split(' ');
      access = value;
      line += ` auth=${scheme} ${names.get(value) ?? 'UNKNOWN'}`;
    }
    const cookie = /(?:^|;\s*)tw_refresh=([^;]*)/.exec(req.headers.cookie ?? '')?.[1];
    if (cookie) line += ` cookie=${names.get(cookie) ?? 'UNKNOWN'}`;
    if (url.pathname.endsWith('/authorize')) {
      // The random parameters by presence, the others by value.
      const params = [...url.searchParams].map(([k, v]) => (['state', 'nonce', 'code_challenge'].includes(k) ? k : `${k}=${v.replace(origin.self, '@self')}`));
      line = `${req.method} ${url.pathname} ${params.sort().join(' ')}`;
    }
    const form = (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
    if (form) {
      const form = new URLSearchParams(body);
      for (const [k, v] of [...form].sort()) {
        if (k === 'code_verifier') {
          const ok = b64url(createHash('sha256').update(v).digest()) === authorization.code_challenge;
          line += ` pkce=${ok ? 'ok' : 'BAD'}`;
        } else if (k === 'refresh_token' || k === 'token') line += ` ${k}=${names.get(v) ?? 'UNKNOWN'}`;
        else line += ` ${k}=${v.replace(origin.self, '@self')}`;
      }
    }
    if (body && !form && !url.pathname.startsWith('/auth/')) line += ` body=${body.slice(0, 40)}`;
    if (body && !form) {
      try {
        const refresh = JSON.parse(body).refresh_token;
        if (typeof refresh === 'string') line += ` body.refresh=${names.get(refresh) ?? 'UNKNOWN'}`;
      } catch { /* not JSON: a login's form or nothing to report */ }
    }
    const proof = req.headers.dpop;
    if (proof !== undefined) line += ` dpop(${checkProof(proof, req.method, `${origin[who]}${url.pathname}`, access)})`;
    return line;
  }

  const named = (value) => substitute(value, origin);

  function answerOf(key) {
    const list = routes.get(key);
    if (!list || list.length === 0) return undefined;
    return list.length > 1 ? list.shift() : list[0];
  }

  async function scripted(req, res, who, url) {
    inflight += 1;
    try {
      await answer(req, res, who, url);
    } finally {
      inflight -= 1;
    }
  }

  async function answer(req, res, who, url) {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks).toString('utf8');
    log.push(describe(req, who, url, body));
    const key = `${req.method} ${who === 'other' ? '@other' : ''}${url.pathname}`;
    const answer = answerOf(key);
    const headers = { 'cache-control': 'no-store' };
    if (who === 'other') cors(req, headers);
    if (!answer) {
      res.writeHead(404, headers).end(`no answer scripted for ${key}`);
      return;
    }
    if (answer.delayMs) await new Promise((r) => setTimeout(r, answer.delayMs));
    const cookies = [...(answer.cookies ?? [])];
    let payload = named(answer.body);
    if (answer.jwks) payload = { keys: [PROVIDER_JWK] };
    if (answer.authorize) {
      authorization = Object.fromEntries(url.searchParams);
      const { code, error, state = authorization.state, iss = `${origin.self}/oauth` } = named(answer.authorize);
      const back = new URL(authorization.redirect_uri);
      if (code) back.searchParams.set('code', code);
      if (error) back.searchParams.set('error', error);
      back.searchParams.set('state', state);
      back.searchParams.set('iss', iss);
      payload = { callback: back.href };
    }
    if (answer.tokens) {
      const { ttl = 600, refresh = 'cookie' } = answer.tokens;
      const access = mintJwt(`A${counters.A + 1}`, ttl);
      name('A', access);
      payload = { access_token: access, token_type: req.headers.dpop ? 'DPoP' : 'Bearer', expires_in: ttl, ...payload };
      const id = named(answer.tokens.idToken);
      if (id) {
        const now = Math.floor(Date.now() / 1000);
        payload.id_token = signJwt({
          iss: id.iss ?? `${origin.self}/oauth`, sub: 'scenario-user', aud: id.aud ?? authorization.client_id,
          iat: now, exp: now + 300, nonce: id.nonce ?? authorization.nonce,
        });
      }
      if (refresh !== 'none') {
        const token = `refresh-${Math.random().toString(36).slice(2)}${Date.now()}`;
        name('R', token);
        if (refresh === 'body') payload.refresh_token = token;
        else cookies.push(`tw_refresh=${token}; Path=/auth; HttpOnly; SameSite=Strict`);
      }
    }
    if (answer.redirect) headers.location = answer.redirect.replace(/^@other/, origin.other);
    if (cookies.length) headers['set-cookie'] = cookies;
    Object.assign(headers, answer.headers ?? {});
    let text = '';
    if (payload !== undefined) {
      text = typeof payload === 'string' ? payload : JSON.stringify(payload);
      headers['content-type'] ??= typeof payload === 'string' ? 'text/plain' : 'application/json';
    }
    res.writeHead(answer.status ?? (answer.redirect ? 302 : 200), headers).end(text);
  }

  function cors(req, headers) {
    headers['access-control-allow-origin'] = origin.self;
    headers['access-control-allow-credentials'] = 'true';
    headers['access-control-expose-headers'] = 'www-authenticate, dpop-nonce, retry-after, date';
    headers.vary = 'origin';
  }

  async function serveFile(res, prefix, dir, path) {
    const file = normalize(join(dir, path.slice(prefix.length) || 'index.html'));
    if (!file.startsWith(resolve(dir))) return res.writeHead(403).end();
    try {
      const data = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(data);
    } catch {
      res.writeHead(404).end();
    }
  }

  const handler = (who) => (req, res) => {
    const url = new URL(req.url, origin[who]);
    if (who === 'other' && req.method === 'OPTIONS') {
      const headers = { 'access-control-allow-methods': 'GET, POST, PUT, DELETE', 'access-control-allow-headers': 'authorization, dpop, content-type', 'access-control-max-age': '600' };
      cors(req, headers);
      return res.writeHead(204, headers).end();
    }
    if (who === 'self' && req.method === 'GET') {
      for (const [prefix, dir] of Object.entries(files)) {
        if (url.pathname.startsWith(prefix) && (prefix !== '/' || url.pathname === '/' || url.pathname === '/runner.js')) {
          return serveFile(res, prefix, resolve(dir), url.pathname);
        }
      }
    }
    if (url.pathname === '/favicon.ico') return res.writeHead(404).end();
    if (who === 'self' && url.pathname === '/__scenario/count') {
      return res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end(String(log.length));
    }
    scripted(req, res, who, url).catch((e) => res.writeHead(500).end(String(e)));
  };

  for (const who of ['self', 'other']) {
    servers[who] = await listen(handler(who));
    origin[who] = `http://127.0.0.1:${servers[who].address().port}`;
  }

  return {
    self: origin.self,
    other: origin.other,
    /**
     * Loads a scenario's answers and clears the log and the token names, once no request of the
     * previous run is still being answered (a delayed answer must not mint into this run).
     */
    async script(server) {
      for (const started = Date.now(); inflight > 0 && Date.now() - started < 10_000;) {
        await new Promise((r) => setTimeout(r, 20));
      }
      routes = new Map(Object.entries(server ?? {}).map(([key, list]) => [key, [...(Array.isArray(list) ? list : [list])]]));
      log = [];
      names = new Map();
      keys = new Map();
      counters = { A: 0, R: 0 };
      authorization = {};
    },
    log: () => [...log],
    close: () => Promise.all(Object.values(servers).map((s) => new Promise((r) => { s.closeAllConnections?.(); s.close(r); }))),
  };
}

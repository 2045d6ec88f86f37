// Cross-checks the reference server's tokens with an independent JOSE implementation (npm `jose`).
// Run: cargo build -p tokenwarden-server && node --test tests/js/
// The server binary comes from $TW_SERVER_BIN (default target/debug/tokenwarden-server).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { startServer as start, stopServer } from "../support/harness.mjs";


/** The server on an ephemeral port with the test hooks on, plus `extraArgs`. */
function startServer(extraArgs = []) {
  return start(["--port", "0", "--test-hooks", "--quiet", ...extraArgs]);
}

async function login(base) {
  const res = await fetch(`${base}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "demo", password: "demo-password" }),
  });
  assert.equal(res.status, 200);
  return res.json();
}

async function jwks(base) {
  const res = await fetch(`${base}/.well-known/jwks.json`);
  assert.equal(res.status, 200);
  return res.json();
}


for (const [alg, flag] of [
  ["ES256", "es256"],
  ["EdDSA", "eddsa"],
  ["RS256", "rs256"],
]) {
  test(`jose verifies a ${alg} access token against the server's JWKS`, async () => {
    const server = await startServer(["--alg", flag]);
    try {
      const { base } = server;
      const body = await login(base);
      assert.equal(body.token_type, "Bearer");
      assert.equal(body.expires_in, 300);
      const keys = await jwks(base);
      for (const k of keys.keys) {
        assert.equal(k.use, "sig");
        assert.equal(k.alg, alg);
        assert.ok(k.kid);
        assert.equal(k.d, undefined, "no private members");
      }
      const header = decodeProtectedHeader(body.access_token);
      assert.equal(header.alg, alg);
      assert.equal(header.kid, keys.keys[0].kid);
      const { payload, protectedHeader } = await jwtVerify(body.access_token, createLocalJWKSet(keys), {
        issuer: base,
        audience: "tokenwarden-demo",
        algorithms: [alg],
        typ: "at+jwt",
      });
      assert.equal(protectedHeader.kid, keys.keys[0].kid);
      assert.equal(payload.sub, "demo");
      assert.equal(payload.scope, "read write");
      assert.equal(payload.exp - payload.iat, 300);
      assert.ok(typeof payload.jti === "string" && payload.jti.length >= 16);
      await assert.rejects(
        jwtVerify(body.access_token, createLocalJWKSet(keys), { issuer: base, audience: "other" }),
        (e) => e.code === "ERR_JWT_CLAIM_VALIDATION_FAILED",
      );
    } finally {
      await stopServer(server);
    }
  });
}

let shared;
before(async () => {
  shared = await startServer();
});
after(async () => {
  await stopServer(shared);
});

test("after a key rotation, jose verifies old and new tokens with one JWKS", async () => {
  const { base } = shared;
  const first = await login(base);
  const res = await fetch(`${base}/__test/rotate-keys`, { method: "POST" });
  assert.equal(res.status, 200);
  const second = await login(base);
  const keys = await jwks(base);
  assert.equal(keys.keys.length, 2);
  const set = createLocalJWKSet(keys);
  const opts = { issuer: base, audience: "tokenwarden-demo" };
  const a = await jwtVerify(first.access_token, set, opts);
  const b = await jwtVerify(second.access_token, set, opts);
  assert.notEqual(a.protectedHeader.kid, b.protectedHeader.kid);
});

test("the clock hook skews iat and the Date header seen by jose", async () => {
  const { base } = shared;
  const res = await fetch(`${base}/__test/clock`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ offset_secs: 7200 }),
  });
  assert.equal(res.status, 200);
  const dateSkew = Date.parse(res.headers.get("date")) / 1000 - Date.now() / 1000;
  assert.ok(Math.abs(dateSkew - 7200) < 3, `Date skew ${dateSkew}`);
  try {
    const body = await login(base);
    const set = createLocalJWKSet(await jwks(base));
    const opts = { issuer: base, audience: "tokenwarden-demo" };
    // jose on the real clock: the token is not yet expired but its iat is 2 h in the future.
    const { payload } = await jwtVerify(body.access_token, set, opts);
    assert.ok(Math.abs(payload.iat - (Date.now() / 1000 + 7200)) < 3);
    // With the server's clock passed explicitly, it verifies normally too.
    await jwtVerify(body.access_token, set, { ...opts, currentDate: new Date(Date.now() + 7200_000) });
  } finally {
    await fetch(`${base}/__test/reset`, { method: "POST" });
  }
});

test("stats has exactly the documented keys", async () => {
  const { base } = shared;
  const stats = await (await fetch(`${base}/__test/stats`)).json();
  assert.deepEqual(Object.keys(stats).sort(), [
    "active_families",
    "api_requests",
    "api_unauthorized",
    "logins",
    "refreshes",
    "reuse_detected",
    "revocations",
    "rotations",
  ]);
});

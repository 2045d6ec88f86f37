//! DPoP in headless Chromium against the reference server started with `--dpop --dpop-nonce`
//! (scripts/test-dpop-browser.sh passes its URL at compile time as `TW_DPOP_SERVER_URL`).
//! Each test resets the server and checks its counters (`/__test/stats`, `dpop`).
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Promise, Reflect};
use tokenwarden::web::{Config, SessionState, TokenManager};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
const b64 = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
  .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const enc = (o) => b64(new TextEncoder().encode(JSON.stringify(o)));
// A proof from a key the manager never saw (what a thief with the token could make).
export async function foreign_proof(method, url, token, nonce) {
  const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  return proof_with(pair, method, url, token, nonce);
}
// Keeps every key pair WebCrypto generates from now on (the manager's DPoP key: non-extractable,
// but the test can sign with it), until restore().
export function capture_keys() {
  const subtle = crypto.subtle;
  const pairs = [];
  subtle.generateKey = function (...args) {
    return SubtleCrypto.prototype.generateKey.apply(this, args).then((pair) => (pairs.push(pair), pair));
  };
  return { pairs, restore() { delete subtle.generateKey; } };
}
// A proof signed with `pair`.
export async function proof_with(pair, method, url, token, nonce) {
  const jwk = await crypto.subtle.exportKey('jwk', pair.publicKey);
  const ath = b64(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token)));
  const header = enc({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y } });
  const payload = enc({ jti: crypto.randomUUID(), htm: method, htu: url, iat: Math.floor(Date.now() / 1000), ath, ...(nonce ? { nonce } : {}) });
  const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, pair.privateKey,
    new TextEncoder().encode(header + '.' + payload));
  return header + '.' + payload + '.' + b64(sig);
}
// A plain fetch with the given Authorization and DPoP headers (either may be null):
// {status, challenge, nonce, body}.
export async function send(method, url, authorization, proof, credentials) {
  const headers = {};
  if (authorization) headers.authorization = authorization;
  if (proof) headers.dpop = proof;
  const response = await fetch(url, { method, headers, credentials: credentials ? 'include' : 'same-origin' });
  const text = await response.text();
  return { status: response.status, challenge: response.headers.get('www-authenticate'),
    nonce: response.headers.get('dpop-nonce'), body: text ? JSON.parse(text) : null };
}
// Records what every fetch sends (url, method, Authorization, DPoP) and passes it on; install
// it before creating a manager (which captures fetch at construction).
export function record() {
  const original = globalThis.fetch;
  const calls = [];
  globalThis.fetch = (input, init) => {
    // Not `new Request(input)` for a Request input: that would use up its body.
    const request = input instanceof Request ? input : new Request(input, init);
    calls.push({ url: request.url, method: request.method,
      authorization: request.headers.get('authorization'), dpop: request.headers.get('dpop') });
    return original(input, init);
  };
  return { calls, restore() { globalThis.fetch = original; } };
}
export function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }
"#)]
extern "C" {
    fn foreign_proof(method: &str, url: &str, token: &JsValue, nonce: &JsValue) -> Promise;
    fn capture_keys() -> JsValue;
    fn proof_with(
        pair: &JsValue,
        method: &str,
        url: &str,
        token: &JsValue,
        nonce: &JsValue,
    ) -> Promise;
    fn send(
        method: &str,
        url: &str,
        authorization: &JsValue,
        proof: &JsValue,
        credentials: bool,
    ) -> Promise;
    fn record() -> JsValue;
    fn sleep(ms: u32) -> Promise;
}

fn server() -> &'static str {
    match option_env!("TW_DPOP_SERVER_URL") {
        Some(url) => url,
        None => panic!("TW_DPOP_SERVER_URL was not set: run scripts/test-dpop-browser.sh"),
    }
}

fn url(path: &str) -> String {
    format!("{}{path}", server())
}

fn field(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(key)).unwrap()
}

/// `(status, WWW-Authenticate, DPoP-Nonce, body)` of a plain fetch.
async fn plain(
    method: &str,
    path: &str,
    authorization: Option<&str>,
    proof: Option<&JsValue>,
) -> (u16, String, JsValue, JsValue) {
    let authorization = authorization.map_or(JsValue::NULL, JsValue::from_str);
    let proof = proof.cloned().unwrap_or(JsValue::NULL);
    let reply = JsFuture::from(send(method, &url(path), &authorization, &proof, false))
        .await
        .unwrap();
    (
        field(&reply, "status").as_f64().unwrap() as u16,
        field(&reply, "challenge").as_string().unwrap_or_default(),
        field(&reply, "nonce"),
        field(&reply, "body"),
    )
}

/// The `dpop` counters of `/__test/stats`: `(accepted, refused by reason)`.
async fn counters() -> (u64, JsValue) {
    let (status, _, _, body) = plain("GET", "/__test/stats", None, None).await;
    assert_eq!(status, 200);
    let dpop = field(&body, "dpop");
    (
        field(&dpop, "accepted").as_f64().unwrap() as u64,
        field(&dpop, "refused"),
    )
}

fn refused(counters: &JsValue, reason: &str) -> u64 {
    field(counters, reason).as_f64().unwrap_or(0.0) as u64
}

async fn reset() {
    let (status, _, _, _) = plain("POST", "/__test/reset", None, None).await;
    assert_eq!(status, 204);
}

fn config(cross_tab: bool) -> Config {
    let mut config = Config::new(url("/auth/refresh"));
    config.login_url = Some(url("/auth/login"));
    config.logout_url = Some(url("/auth/logout"));
    config.allowed_origins = vec![server().to_owned()];
    config.cross_tab = cross_tab;
    config.dpop = true;
    config
}

fn credentials() -> JsValue {
    js_sys::JSON::parse(r#"{"username":"demo","password":"demo-password"}"#).unwrap()
}

/// The recorded calls to `path` (url without query), as `(method, Authorization, DPoP)`.
fn calls_to(recorder: &JsValue, path: &str) -> Vec<(String, String, JsValue)> {
    let calls: Array = field(recorder, "calls").unchecked_into();
    calls
        .iter()
        .filter(|c| field(c, "url").as_string().unwrap().starts_with(&url(path)))
        .map(|c| {
            (
                field(&c, "method").as_string().unwrap(),
                field(&c, "authorization").as_string().unwrap_or_default(),
                field(&c, "dpop"),
            )
        })
        .collect()
}

fn restore(recorder: &JsValue) {
    let restore: js_sys::Function = field(recorder, "restore").unchecked_into();
    restore.call0(recorder).unwrap();
}

#[wasm_bindgen_test]
async fn proofs_on_login_api_and_refresh_and_every_replay_refused() {
    reset().await;
    let recorder = record();
    let manager = TokenManager::new(config(false)).unwrap();
    restore(&recorder);
    manager.login(credentials()).await.unwrap();
    assert_eq!(manager.state(), SessionState::Authenticated);
    let jkt = manager.dpop_jkt().expect("a key after login");
    let claims = manager.token_claims().unwrap();
    let cnf = claims.extra.get("cnf").expect("a bound token");
    let bound = match cnf {
        tokenwarden::core::json::Value::Object(cnf) => {
            cnf.get("jkt").and_then(|v| v.as_str()).map(str::to_owned)
        }
        _ => None,
    };
    assert_eq!(bound.as_deref(), Some(jkt.as_str()));
    // The first login proof had no nonce: exactly one retry with the server's.
    let logins = calls_to(&recorder, "/auth/login");
    assert_eq!(logins.len(), 2, "login and its one nonce retry");
    assert!(logins.iter().all(|(_, _, proof)| proof.is_string()));

    let response = manager.fetch_url(&url("/api/echo")).await.unwrap();
    assert_eq!(response.status(), 200);
    let echo = calls_to(&recorder, "/api/echo");
    let (_, authorization, proof) = echo.last().unwrap().clone();
    assert!(authorization.starts_with("DPoP "), "{authorization}");
    let token = JsValue::from_str(&authorization["DPoP ".len()..]);

    let (accepted_before, _) = counters().await;
    // The token without a proof, as Bearer, with the same proof again (reused jti), with the
    // proof sent to another URL or with another method, and with another key's proof.
    let (status, challenge, nonce, _) = plain("GET", "/api/echo", Some(&authorization), None).await;
    assert_eq!(status, 401);
    assert!(
        challenge.starts_with("DPoP error=\"invalid_dpop_proof\""),
        "{challenge}"
    );
    let bearer = format!("Bearer {}", token.as_string().unwrap());
    assert_eq!(plain("GET", "/api/echo", Some(&bearer), None).await.0, 401);
    assert_eq!(
        plain("GET", "/api/echo", Some(&authorization), Some(&proof))
            .await
            .0,
        401
    );
    assert_eq!(
        plain("GET", "/api/me", Some(&authorization), Some(&proof))
            .await
            .0,
        401
    );
    assert_eq!(
        plain("POST", "/api/echo", Some(&authorization), Some(&proof))
            .await
            .0,
        401
    );
    let foreign = JsFuture::from(foreign_proof("GET", &url("/api/echo"), &token, &nonce))
        .await
        .unwrap();
    let (status, challenge, _, _) =
        plain("GET", "/api/echo", Some(&authorization), Some(&foreign)).await;
    assert_eq!(status, 401);
    assert!(
        challenge.starts_with("DPoP error=\"invalid_token\""),
        "{challenge}"
    );

    // The refresh cookie replayed without the key: refused, and the family lives on.
    let reply = JsFuture::from(send(
        "POST",
        &url("/auth/refresh"),
        &JsValue::NULL,
        &JsValue::NULL,
        true,
    ))
    .await
    .unwrap();
    assert_eq!(field(&reply, "status").as_f64(), Some(400.0));
    assert_eq!(
        field(&field(&reply, "body"), "error")
            .as_string()
            .as_deref(),
        Some("invalid_dpop_proof")
    );
    manager.refresh().await.unwrap();
    assert_eq!(
        manager.dpop_jkt().as_deref(),
        Some(jkt.as_str()),
        "one key per session"
    );
    assert_eq!(
        manager.fetch_url(&url("/api/me")).await.unwrap().status(),
        200
    );

    let (accepted, refused_by) = counters().await;
    assert_eq!(accepted, accepted_before + 2, "the refresh and /api/me");
    for (reason, count) in [
        ("missing", 3),
        ("replay", 1),
        ("htu", 1),
        ("htm", 1),
        ("key_mismatch", 1),
    ] {
        assert_eq!(refused(&refused_by, reason), count, "{reason}");
    }
    manager.logout().await;
}

/// `GET /api/me` with `authorization` (`DPoP <token>`) and a proof signed with `pair` (a nonce
/// asked for is fetched once): `(status, the refusal's code)`.
async fn api_me_with(pair: &JsValue, authorization: &str) -> (u16, String) {
    let token = JsValue::from_str(authorization.strip_prefix("DPoP ").unwrap());
    let mut nonce = JsValue::NULL;
    loop {
        let proof = JsFuture::from(proof_with(pair, "GET", &url("/api/me"), &token, &nonce))
            .await
            .unwrap();
        let (status, challenge, fresh, body) =
            plain("GET", "/api/me", Some(authorization), Some(&proof)).await;
        if status == 401 && challenge.contains("use_dpop_nonce") && nonce.is_null() {
            nonce = fresh;
            continue;
        }
        let code = field(&body, "code").as_string().unwrap_or_default();
        assert!(
            status != 401 || !code.is_empty(),
            "{challenge} {:?}",
            js_sys::JSON::stringify(&body)
                .ok()
                .and_then(|s| s.as_string())
        );
        return (status, code);
    }
}

/// Logout of a DPoP session: the bound access token goes as `DPoP` with a proof (the server
/// requires one for a bound token and answered `400` to a `Bearer` logout), the family is
/// revoked and the token blocklisted: a request with it and a valid proof of its key is `401`.
#[wasm_bindgen_test]
async fn logout_sends_the_bound_token_with_a_proof_and_the_token_is_blocklisted() {
    reset().await;
    let keys = capture_keys();
    let recorder = record();
    let manager = TokenManager::new(config(false)).unwrap();
    manager.login(credentials()).await.unwrap();
    let restore_keys: js_sys::Function = field(&keys, "restore").unchecked_into();
    restore_keys.call0(&keys).unwrap();
    let pair = Array::from(&field(&keys, "pairs")).get(0);
    assert_eq!(
        manager.fetch_url(&url("/api/me")).await.unwrap().status(),
        200
    );
    let (_, authorization, _) = calls_to(&recorder, "/api/me").pop().unwrap();
    assert!(authorization.starts_with("DPoP "), "{authorization}");
    // The test's own proof with the session's key is accepted before the logout.
    let before_logout = api_me_with(&pair, &authorization).await;
    assert_eq!(before_logout.0, 200, "{before_logout:?}");

    let stats = |body: &JsValue| field(body, "revocations").as_f64().unwrap();
    let before = stats(&plain("GET", "/__test/stats", None, None).await.3);
    manager.logout().await;
    restore(&recorder);
    let logout = calls_to(&recorder, "/auth/logout");
    assert_eq!(logout.len(), 1, "one logout call");
    let (method, sent, proof) = &logout[0];
    assert_eq!(method, "POST");
    assert_eq!(sent, &authorization, "the bound token as DPoP");
    assert!(proof.is_string(), "with a proof");
    let after = stats(&plain("GET", "/__test/stats", None, None).await.3);
    assert_eq!(after, before + 1.0, "the server accepted the logout");
    assert_eq!(
        api_me_with(&pair, &authorization).await,
        (401, "ERR_JWT_REVOKED".to_owned())
    );
}

#[wasm_bindgen_test]
async fn two_tabs_share_one_key_and_a_nonce_change_costs_one_retry() {
    reset().await;
    let recorder = record();
    let mut tab_config = config(true);
    tab_config.channel_name = Some(format!("dpop-{}", js_sys::Math::random()));
    let first = TokenManager::new(tab_config.clone()).unwrap();
    let second = TokenManager::new(tab_config).unwrap();
    restore(&recorder);
    first.login(credentials()).await.unwrap();
    let jkt = first.dpop_jkt().unwrap();
    if second.state() != SessionState::Authenticated {
        assert!(second.start().await, "the second tab adopts the session");
    }
    assert_eq!(
        second.dpop_jkt().as_deref(),
        Some(jkt.as_str()),
        "one jkt for two tabs"
    );
    assert_eq!(
        second.fetch_url(&url("/api/me")).await.unwrap().status(),
        200
    );
    assert_eq!(
        first.fetch_url(&url("/api/me")).await.unwrap().status(),
        200
    );

    // A new server nonce: the next request is refused once and sent again, once.
    let (status, _, _, _) = plain("POST", "/__test/dpop-nonce", None, None).await;
    assert_eq!(status, 200);
    let before = calls_to(&recorder, "/api/items").len();
    assert_eq!(
        first.fetch_url(&url("/api/items")).await.unwrap().status(),
        200
    );
    assert_eq!(
        calls_to(&recorder, "/api/items").len() - before,
        2,
        "exactly one retry"
    );
    let (_, refused_by) = counters().await;
    assert_eq!(refused(&refused_by, "nonce_invalid"), 1);

    // Logout ends the session in both tabs, and the key with it.
    first.logout().await;
    JsFuture::from(sleep(200)).await.unwrap();
    assert_eq!(first.dpop_jkt(), None, "the key is gone after logout");
    assert_eq!(second.dpop_jkt(), None, "and from the sibling tab");
    assert_eq!(second.state(), SessionState::Anonymous);
}

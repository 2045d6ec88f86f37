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
  const jwk = await crypto.subtle.exportKey('jwk', pair.publicKey);
  const ath = b64(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token)));
  const header = enc({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y } });
  const payload = enc({ jti: crypto.randomUUID(), htm: method, htu: url, iat: Math.floor(Date.now() / 1000), ath, nonce });
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

//! The token manager in headless Chromium against the reference server.
//!
//! Run with `scripts/test-browser.sh`: it starts two servers and passes their URLs at compile
//! time, `TW_SERVER_URL` (refresh token in an HttpOnly cookie) and `TW_SERVER2_URL`
//! (`--refresh-transport body`, for memory mode; also "another local port that is not
//! allowed"). Tests run one at a time and reset the servers' counters, faults and clock first;
//! each checks the servers' own counters (`/__test/stats`).
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Promise, Reflect};
use serde::{Deserialize, Serialize};
use tokenwarden::core::secret::Secret;
use tokenwarden::web::{
    origin_allowed, Config, Event, ExpirySource, LogoutReason, RefreshPolicy, RefreshTokenMode,
    SessionState, TokenManager, TokenOrigin,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use wasm_bindgen_test::*;
use web_sys::Response;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
export function sleep(ms) { return new Promise(resolve => setTimeout(resolve, ms)); }
export async function call(method, url, body) {
  const init = { method, headers: {} };
  if (body !== undefined) { init.body = JSON.stringify(body); init.headers['content-type'] = 'application/json'; }
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}
export async function status_with_bearer(url, token) {
  const response = await fetch(url, { headers: { authorization: 'Bearer ' + token } });
  return response.status;
}
// Searches the whole wasm memory for the token's bytes, and for its signature segment alone.
export function memory_contains(memory, token) {
  const hay = new Uint8Array(memory.buffer);
  const find = (text) => {
    const needle = new TextEncoder().encode(text);
    outer: for (let i = hay.indexOf(needle[0]); i !== -1 && i + needle.length <= hay.length;
         i = hay.indexOf(needle[0], i + 1)) {
      for (let j = 1; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
      return true;
    }
    return false;
  };
  return find(token) || find(token.split('.').pop());
}
// What JS can see in every storage API: [localStorage.length, sessionStorage.length,
// IndexedDB database count, document.cookie].
export async function storage_report() {
  const databases = await indexedDB.databases();
  return [localStorage.length, sessionStorage.length, databases.length, document.cookie];
}
export function cookie_contains(text) { return document.cookie.includes(text); }
// Points the document base at `href` (replacing any <base>); `null` removes it.
export function set_base(href) {
  for (const old of document.querySelectorAll('base')) old.remove();
  if (href !== null) {
    const base = document.createElement('base');
    base.href = href;
    document.head.prepend(base);
  }
  return document.baseURI;
}
// Replaces globalThis.fetch with a wrapper that records each call (and whether it carried an
// Authorization header) and sends nothing: what a script injected into the page could do.
export function wrap_fetch() {
  const original = globalThis.fetch;
  const calls = [];
  globalThis.fetch = (input, init) => {
    const headers = new Headers(input instanceof Request ? input.headers : init?.headers);
    calls.push({ url: String(input instanceof Request ? input.url : input), bearer: headers.has('authorization') });
    return Promise.reject(new TypeError('blocked by the wrapper'));
  };
  return { calls, restore() { globalThis.fetch = original; } };
}
// Like wrap_fetch, but the calls go through to the real fetch.
export function record_fetch() {
  const original = globalThis.fetch;
  const calls = [];
  globalThis.fetch = (input, init) => {
    const headers = new Headers(input instanceof Request ? input.headers : init?.headers);
    calls.push({ url: String(input instanceof Request ? input.url : input), bearer: headers.has('authorization') });
    return original(input, init);
  };
  return { calls, restore() { globalThis.fetch = original; } };
}
// A Request for `real` whose `url` getter claims `shown` (the browser sends it to `real`).
export function lying_request(real, shown) {
  class Liar extends Request { get url() { return shown; } }
  return new Liar(real);
}
// A Request that asked for redirect: 'error', and an init whose `redirect` is an object that the
// Request constructor turns into 'follow'.
export function sneaky_redirect(url) {
  return [new Request(url, { redirect: 'error' }), { redirect: { toString() { return 'follow'; } } }];
}
"#)]
extern "C" {
    fn sleep(ms: u32) -> Promise;
    fn call(method: &str, url: &str, body: JsValue) -> Promise;
    fn status_with_bearer(url: &str, token: &JsValue) -> Promise;
    fn memory_contains(memory: &JsValue, token: &JsValue) -> bool;
    fn storage_report() -> Promise;
    fn set_base(href: Option<&str>) -> String;
    fn cookie_contains(text: &JsValue) -> bool;
    fn wrap_fetch() -> JsValue;
    fn record_fetch() -> JsValue;
    fn lying_request(real: &str, shown: &str) -> JsValue;
    fn sneaky_redirect(url: &str) -> Array;
}

/// Calls recorded by a [`wrap_fetch`] wrapper, which is removed.
fn unwrap_fetch(wrapper: &JsValue) -> Array {
    let restore: js_sys::Function = field(wrapper, "restore").unchecked_into();
    restore.call0(wrapper).unwrap();
    field(wrapper, "calls").unchecked_into()
}

fn server() -> &'static str {
    match option_env!("TW_SERVER_URL") {
        Some(url) => url,
        None => panic!("TW_SERVER_URL was not set at compile time: run scripts/test-browser.sh"),
    }
}

/// The second server: refresh token in the body; not an allowed origin of `config()`.
fn server2() -> &'static str {
    match option_env!("TW_SERVER2_URL") {
        Some(url) => url,
        None => panic!("TW_SERVER2_URL was not set at compile time: run scripts/test-browser.sh"),
    }
}

fn url(path: &str) -> String {
    format!("{}{path}", server())
}

fn url2(path: &str) -> String {
    format!("{}{path}", server2())
}

async fn pause(ms: u32) {
    JsFuture::from(sleep(ms)).await.unwrap();
}

fn json(text: &str) -> JsValue {
    js_sys::JSON::parse(text).unwrap()
}

fn field(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(key)).unwrap()
}

/// A plain `fetch` (no manager) to `full_url`: `(status, parsed body)`.
async fn call_at(method: &str, full_url: &str, body: Option<&str>) -> (u16, JsValue) {
    let body = body.map_or(JsValue::UNDEFINED, json);
    let reply = JsFuture::from(call(method, full_url, body)).await.unwrap();
    (
        field(&reply, "status").as_f64().unwrap() as u16,
        field(&reply, "body"),
    )
}

/// A test-hook call to the main server: `(status, parsed body)`.
async fn hook(method: &str, path: &str, body: Option<&str>) -> (u16, JsValue) {
    call_at(method, &url(path), body).await
}

async fn stat(name: &str) -> u64 {
    stat_at(server(), name).await
}

async fn stat_at(base: &str, name: &str) -> u64 {
    let (status, body) = call_at("GET", &format!("{base}/__test/stats"), None).await;
    assert_eq!(status, 200);
    field(&body, name).as_f64().unwrap() as u64
}

/// Resets both servers.
async fn reset() {
    for base in [server(), server2()] {
        let (status, _) = call_at("POST", &format!("{base}/__test/reset"), Some("{}")).await;
        assert_eq!(status, 204);
    }
}

/// Short-lived-token policy: 4 s tokens refresh about 1.5 s before expiry.
fn config() -> Config {
    let mut config = Config::new(url("/auth/refresh"));
    config.login_url = Some(url("/auth/login"));
    config.logout_url = Some(url("/auth/logout"));
    config.allowed_origins = vec![server().to_owned()];
    config.policy = RefreshPolicy {
        min_lead_ms: 1_500,
        min_refresh_interval_ms: 1_000,
        backoff_initial_ms: 100,
        backoff_jitter_fraction: 0.0,
        ..RefreshPolicy::default()
    };
    // Every manager in this suite lives in one page; cross-tab coordination would make them
    // share one session. It has its own suite (tests/js/tabs.test.mjs).
    config.cross_tab = false;
    config
}

/// Login credentials as a Rust type (the Rust-native `login` serialises them).
#[derive(Serialize)]
struct Credentials<'a> {
    username: &'a str,
    password: &'a str,
}

const DEMO: Credentials<'static> = Credentials {
    username: "demo",
    password: "demo-password",
};

async fn logged_in() -> TokenManager {
    let manager = TokenManager::new(config()).unwrap();
    manager.login_with(&DEMO).await.unwrap();
    assert_eq!(manager.state(), SessionState::Authenticated);
    manager
}

async fn me(manager: &TokenManager) -> Result<Response, tokenwarden::web::Error> {
    manager.fetch_url(&url("/api/me")).await
}

/// Asserts that no storage API holds anything, and that `document.cookie` shows none of
/// `secrets` (JS strings) and no refresh cookie (it is HttpOnly).
async fn assert_storage_empty(secrets: &[&JsValue]) {
    let report: Array = JsFuture::from(storage_report())
        .await
        .unwrap()
        .unchecked_into();
    assert_eq!(
        report.get(0).as_f64(),
        Some(0.0),
        "localStorage is not empty"
    );
    assert_eq!(
        report.get(1).as_f64(),
        Some(0.0),
        "sessionStorage is not empty"
    );
    assert_eq!(report.get(2).as_f64(), Some(0.0), "IndexedDB has databases");
    let cookie = report.get(3).as_string().unwrap();
    assert!(
        !cookie.contains("tw_refresh"),
        "the refresh cookie is visible to JS"
    );
    for secret in secrets {
        assert!(
            !cookie_contains(secret),
            "a token is visible in document.cookie"
        );
    }
}

/// A manager of the suite's policy on `base` (the cookie server or the body-transport one).
fn manager_on(base: &str, refresh_token: RefreshTokenMode) -> TokenManager {
    let mut config = config();
    config.refresh_url = format!("{base}/auth/refresh");
    config.login_url = Some(format!("{base}/auth/login"));
    config.logout_url = Some(format!("{base}/auth/logout"));
    config.allowed_origins = vec![base.to_owned()];
    config.refresh_token = refresh_token;
    TokenManager::new(config).unwrap()
}

/// The current access token as a JS string (`access_token_js`: converting it would put a copy
/// into wasm memory).
async fn js_token(manager: &TokenManager) -> JsValue {
    manager.access_token_js().await.unwrap()
}

async fn body_json(response: &Response) -> JsValue {
    JsFuture::from(response.json().unwrap()).await.unwrap()
}

fn record_events(
    manager: &TokenManager,
) -> (Rc<RefCell<Vec<Event>>>, tokenwarden::web::Subscription) {
    let events = Rc::new(RefCell::new(Vec::new()));
    let sink = events.clone();
    let subscription = manager.subscribe(move |event| sink.borrow_mut().push(event.clone()));
    (events, subscription)
}

#[wasm_bindgen_test]
async fn login_then_fetch_attaches_the_header() {
    reset().await;
    let manager = logged_in().await;
    assert_eq!(manager.expiry_source(), Some(ExpirySource::ExpiresIn));
    assert_eq!(
        manager.token_claims().and_then(|c| c.sub).as_deref(),
        Some("demo")
    );
    assert!(manager.clock_offset_ms().is_some());
    let response = me(&manager).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = body_json(&response).await;
    assert_eq!(field(&body, "authorization_header_received"), JsValue::TRUE);
    assert_eq!(field(&body, "sub").as_string().as_deref(), Some("demo"));
    // Relative URLs resolve against the page, whose origin is not allowed: no header, no gate.
    set_base(None);
    let page = manager.fetch_url("/no-such-page").await.unwrap();
    assert_eq!(page.status(), 404);
    assert_eq!(stat("api_unauthorized").await, 0);
}

#[wasm_bindgen_test]
async fn silent_refresh_keeps_the_api_authorized() {
    reset().await;
    let manager = logged_in().await;
    let refreshes_before = stat("refreshes").await;
    // 4 s tokens over 8 s: the timer must refresh before each expiry.
    for _ in 0..16 {
        let response = me(&manager).await.unwrap();
        assert_eq!(response.status(), 200);
        pause(500).await;
    }
    assert_eq!(stat("api_unauthorized").await, 0);
    let refreshes = stat("refreshes").await - refreshes_before;
    assert!(refreshes >= 2, "only {refreshes} refreshes");
    assert_eq!(manager.state(), SessionState::Authenticated);
}

/// Moves the server clock 30 s ahead: a token the manager holds is now expired there.
async fn expire_on_server() {
    assert_eq!(
        hook("POST", "/__test/clock", Some(r#"{"offset_secs":30}"#))
            .await
            .0,
        200
    );
}

#[wasm_bindgen_test]
async fn concurrent_401s_share_a_single_refresh() {
    reset().await;
    let manager = logged_in().await;
    expire_on_server().await;
    let refreshes_before = stat("refreshes").await;
    let requests = Array::new();
    for _ in 0..20 {
        let fetch = manager.fetch_url(&url("/api/me"));
        requests.push(&future_to_promise(async move {
            fetch
                .await
                .map(JsValue::from)
                .map_err(|e| JsValue::from_str(e.code()))
        }));
    }
    let responses: Array = JsFuture::from(Promise::all(&requests))
        .await
        .unwrap()
        .unchecked_into();
    for response in responses.iter() {
        assert_eq!(response.unchecked_into::<Response>().status(), 200);
    }
    assert_eq!(stat("refreshes").await - refreshes_before, 1);
    assert_eq!(stat("api_unauthorized").await, 20);
    // The new token was measured against the skewed `Date` header (1 s resolution).
    let offset = manager.clock_offset_ms().unwrap();
    assert!((28_000..=31_000).contains(&offset), "clock offset {offset}");
    reset().await;
}

#[wasm_bindgen_test]
async fn transient_refresh_failures_are_retried() {
    reset().await;
    let manager = logged_in().await;
    let (events, _subscription) = record_events(&manager);
    assert_eq!(
        hook(
            "POST",
            "/__test/faults",
            Some(r#"{"count":2,"status":503}"#)
        )
        .await
        .0,
        200
    );
    let refreshes_before = stat("refreshes").await;
    let error = manager.refresh().await.unwrap_err();
    assert_eq!(error.code(), "ERR_REFRESH_FAILED");
    // Backoff 100 ms, then 200 ms: the third attempt succeeds.
    for _ in 0..30 {
        if events.borrow().iter().any(|e| {
            matches!(
                e,
                Event::Installed {
                    origin: TokenOrigin::Refresh,
                    ..
                }
            )
        }) {
            break;
        }
        pause(100).await;
    }
    let failed = events
        .borrow()
        .iter()
        .filter(|e| matches!(e, Event::RefreshFailed { .. }))
        .count();
    assert_eq!(failed, 2);
    assert!(events.borrow().iter().any(|e| matches!(
        e,
        Event::Installed {
            origin: TokenOrigin::Refresh,
            ..
        }
    )));
    assert_eq!(stat("refreshes").await - refreshes_before, 3);
    assert_eq!(me(&manager).await.unwrap().status(), 200);
}

#[wasm_bindgen_test]
async fn invalid_grant_ends_the_session() {
    reset().await;
    let manager = logged_in().await;
    let (events, _subscription) = record_events(&manager);
    assert_eq!(hook("POST", "/__test/revoke", Some("{}")).await.0, 200);
    let error = manager.refresh().await.unwrap_err();
    assert_eq!(error.code(), "ERR_LOGGED_OUT");
    assert!(events.borrow().contains(&Event::LoggedOut {
        reason: LogoutReason::InvalidGrant
    }));
    assert_eq!(manager.state(), SessionState::Anonymous);
    assert!(manager.token_claims().is_none());
    let api_before = stat("api_requests").await;
    let error = me(&manager).await.unwrap_err();
    assert_eq!(error.code(), "ERR_LOGGED_OUT");
    assert_eq!(
        stat("api_requests").await,
        api_before,
        "a request was sent after the session ended"
    );
}

/// Logout: the server revokes the session, the token is refused, and neither wasm memory nor
/// any storage API keeps a trace of it; the manager refuses requests afterwards.
#[wasm_bindgen_test]
async fn logout_revokes_and_leaves_no_trace() {
    reset().await;
    let manager = TokenManager::new(config()).unwrap();
    let (events, _subscription) = record_events(&manager);
    manager.login_with(&DEMO).await.unwrap();
    assert_eq!(manager.state(), SessionState::Authenticated);
    // The token stays a JS string here: converting it would put a copy into wasm memory.
    let token = js_token(&manager).await;
    let me_url = url("/api/me");
    let response = manager.fetch_url(&me_url).await.unwrap();
    assert_eq!(response.status(), 200);
    let memory = wasm_bindgen::memory();
    assert!(
        memory_contains(&memory, &token),
        "the scan must find the live token"
    );
    assert_storage_empty(&[&token]).await;
    // The claims as the browser's JSON.parse builds them.
    let claims = manager.claims_js();
    assert_eq!(field(&claims, "sub").as_string().as_deref(), Some("demo"));
    assert!(field(&claims, "exp")
        .as_f64()
        .is_some_and(|exp| exp > 1.0e9));

    manager.logout().await;
    assert!(events.borrow().contains(&Event::LoggedOut {
        reason: LogoutReason::UserLogout
    }));
    assert_eq!(manager.state(), SessionState::Anonymous);
    assert!(manager.claims_js().is_null());
    let status = JsFuture::from(status_with_bearer(&me_url, &token))
        .await
        .unwrap();
    assert_eq!(
        status.as_f64(),
        Some(401.0),
        "the old token must be refused after logout"
    );
    assert!(
        !memory_contains(&memory, &token),
        "the old token is still in wasm memory"
    );
    assert_storage_empty(&[&token]).await;
    let error = manager.fetch_url(&me_url).await.unwrap_err();
    assert_eq!(error.code(), "ERR_LOGGED_OUT");
}

/// The Rust config is checked by `TokenManager::new` like the package's options are by the JS
/// driver (whose own option parsing, unknown keys and value types included, tests/js covers):
/// endpoints and allowed origins over HTTPS or on loopback, origins without a path.
#[wasm_bindgen_test]
fn config_is_validated() {
    let code = |edit: &dyn Fn(&mut Config)| {
        let mut config = config();
        edit(&mut config);
        TokenManager::new(config).map(drop).unwrap_err().code()
    };
    assert_eq!(
        code(&|c| c.allowed_origins = vec!["http://api.example.com".into()]),
        "ERR_INVALID_OPTIONS"
    );
    assert_eq!(
        code(&|c| c.allowed_origins = vec!["https://api.example.com/path".into()]),
        "ERR_INVALID_OPTIONS"
    );
    // A domain that only looks like a loopback address (the URL parser keeps `+1` as a label):
    // plain http refused, by the core's loopback rule as in the JS driver.
    let mut lookalike = config();
    lookalike.allowed_origins = vec!["http://127.0.0.+1:8080".into()];
    let err = TokenManager::new(lookalike).map(drop).unwrap_err();
    assert_eq!(err.code(), "ERR_INVALID_OPTIONS");
    assert!(err.message().contains("must be https"), "{}", err.message());
    assert_eq!(
        code(&|c| c.refresh_url = "http://auth.example.com/refresh".into()),
        "ERR_INVALID_OPTIONS"
    );
    assert_eq!(
        code(&|c| c.logout_url = Some("http://auth.example.com/logout".into())),
        "ERR_INVALID_OPTIONS"
    );
    // The refresh policy's bounds are the core's, in the JS driver's words.
    let message = |edit: &dyn Fn(&mut Config)| {
        let mut config = config();
        edit(&mut config);
        let err = TokenManager::new(config).map(drop).unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_OPTIONS");
        err.message().to_owned()
    };
    assert_eq!(
        message(&|c| c.policy.backoff_max_ms = 316_224_000_001),
        "option \"backoffMaxMs\" must be a number from 0 to 316224000000"
    );
    assert_eq!(
        message(&|c| c.policy.lead_jitter_fraction = f64::NAN),
        "option \"refreshJitterFraction\" must be a number from 0 to 1"
    );
    // One browser timer: a longer request timeout would fire at once.
    assert_eq!(
        message(&|c| c.request_timeout_ms = 1 << 31),
        "option \"requestTimeoutMs\" must be a number from 1 to 2147483647"
    );
    assert_eq!(
        message(&|c| c.request_timeout_ms = 0),
        "option \"requestTimeoutMs\" must be a number from 1 to 2147483647"
    );
    assert_eq!(
        message(&|c| c.policy.min_lead_ms = c.policy.max_lead_ms + 1),
        "minRefreshLeadMs exceeds maxRefreshLeadMs"
    );
    let mut config = config();
    config.allowed_origins = vec!["HTTPS://API.example.com:443".into()];
    config.refresh_token = RefreshTokenMode::Memory;
    config.request_timeout_ms = i32::MAX as u32;
    config.policy.backoff_max_ms = 316_224_000_000;
    assert!(TokenManager::new(config).is_ok());
}

#[wasm_bindgen_test]
fn origin_check_refuses_look_alikes() {
    let allowed = vec![
        "https://api.example.com".to_owned(),
        "http://127.0.0.1:8080".to_owned(),
    ];
    let base = Some("https://app.example.com/dir/page.html");
    for ok in [
        "https://api.example.com/v1",
        "HTTPS://API.EXAMPLE.COM:443/v1",
        "https://api.example.com",
        "//api.example.com/x",
        "http://127.0.0.1:8080/api",
        "http://0x7f.1:8080/api",
    ] {
        assert!(origin_allowed(ok, base, &allowed), "{ok} must be allowed");
    }
    for bad in [
        "https://api.example.com.evil.com/v1",
        "https://api.example.com@evil.com/v1",
        "//evil.com/v1",
        "http://api.example.com/v1",
        "https://api.example.com:8443/v1",
        "wss://api.example.com/",
        "/relative/to/the/page",
        "http://127.0.0.1:8081/api",
        "not a url at all ::",
    ] {
        assert!(
            !origin_allowed(bad, base, &allowed),
            "{bad} must be refused"
        );
    }
    // Plain http to a non-loopback host is refused even if configured.
    let allowed = vec!["http://api.example.com".to_owned()];
    assert!(!origin_allowed("http://api.example.com/", None, &allowed));
}

#[wasm_bindgen_test]
async fn a_401_retry_replays_the_body_and_leaves_the_callers_request_alone() {
    reset().await;
    let manager = logged_in().await;
    expire_on_server().await;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str("hello"));
    let headers = web_sys::Headers::new().unwrap();
    headers.set("Content-Type", "text/plain").unwrap();
    init.set_headers(&headers);
    let request = web_sys::Request::new_with_str_and_init(&url("/api/echo"), &init).unwrap();
    let response = manager.fetch(Clone::clone(&request)).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = body_json(&response).await;
    assert_eq!(field(&body, "authenticated"), JsValue::TRUE);
    assert_eq!(field(&body, "body_length").as_f64(), Some(5.0));
    assert_eq!(
        stat("api_unauthorized").await,
        1,
        "the first attempt got the 401"
    );
    // The caller's Request: body unread, no Authorization header added.
    assert!(!request.body_used());
    assert_eq!(request.headers().get("Authorization").unwrap(), None);
    assert_eq!(headers.get("Authorization").unwrap(), None);
    reset().await;
}

/// The Rust-native API end to end, with no JS in between: typed login credentials, typed
/// claims, `fetch` with a `web_sys::Request` and with a gloo-net request, `subscribe` with a
/// drop guard, logout.
#[wasm_bindgen_test]
async fn rust_api_login_fetch_subscribe_logout() {
    reset().await;
    let manager = TokenManager::new(config()).unwrap();
    let (events, _recording) = record_events(&manager);
    let counted = Rc::new(RefCell::new(0u32));
    let sink = counted.clone();
    let guard = manager.subscribe(move |_| *sink.borrow_mut() += 1);

    manager.login_with(&DEMO).await.unwrap();
    assert_eq!(manager.state(), SessionState::Authenticated);
    assert!(events
        .borrow()
        .contains(&Event::Changed(SessionState::Authenticated)));
    assert!(
        *counted.borrow() > 0,
        "the guarded subscriber saw the login"
    );
    assert!(manager.expires_at().is_some());

    #[derive(Deserialize)]
    struct DemoClaims {
        sub: String,
        scope: String,
        aud: String,
        exp: i64,
        iat: i64,
    }
    let claims: DemoClaims = manager.claims().unwrap().unwrap();
    assert_eq!(claims.sub, "demo");
    assert_eq!(claims.aud, "tokenwarden-demo");
    assert!(!claims.scope.is_empty());
    assert!(claims.exp > claims.iat);
    #[derive(Deserialize, Debug)]
    struct Wrong {
        #[allow(dead_code)]
        sub: u64,
    }
    assert_eq!(
        manager.claims::<Wrong>().unwrap_err().code(),
        "ERR_JWT_INVALID"
    );

    // A web_sys::Request (POST with a body): header attached, the caller's request untouched.
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str("from rust"));
    let request = web_sys::Request::new_with_str_and_init(&url("/api/echo"), &init).unwrap();
    let response = manager.fetch(Clone::clone(&request)).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = body_json(&response).await;
    assert_eq!(field(&body, "authenticated"), JsValue::TRUE);
    assert_eq!(field(&body, "body_length").as_f64(), Some(9.0));
    assert!(!request.body_used());
    assert_eq!(request.headers().get("Authorization").unwrap(), None);

    // A gloo-net request converts into a web_sys::Request; the response converts back.
    let request = gloo_net::http::Request::get(&url("/api/me"))
        .build()
        .unwrap();
    let response = gloo_net::http::Response::from(manager.fetch(request).await.unwrap());
    assert_eq!(response.status(), 200);
    let body = JsFuture::from(web_sys::Response::from(response).json().unwrap())
        .await
        .unwrap();
    assert_eq!(field(&body, "sub").as_string().as_deref(), Some("demo"));

    // Dropping the guard removes that listener; the other still hears the logout.
    drop(guard);
    let seen = *counted.borrow();
    let revocations = stat("revocations").await;
    manager.logout().await;
    assert_eq!(*counted.borrow(), seen, "a dropped subscription was called");
    assert!(events.borrow().contains(&Event::LoggedOut {
        reason: LogoutReason::UserLogout
    }));
    assert_eq!(manager.state(), SessionState::Anonymous);
    assert!(manager.claims::<DemoClaims>().unwrap().is_none());
    assert!(
        stat("revocations").await > revocations,
        "logout did not revoke"
    );
    let api_before = stat("api_requests").await;
    assert_eq!(me(&manager).await.unwrap_err().code(), "ERR_LOGGED_OUT");
    assert_eq!(stat("api_requests").await, api_before);
}

/// After a reload: a new manager in cookie mode restores the session with `start()`, using only
/// the HttpOnly refresh cookie; after logout there is nothing to restore.
#[wasm_bindgen_test]
async fn start_restores_the_session_in_a_new_manager() {
    reset().await;
    let first = logged_in().await;
    // The "reload": the first manager (and every token in memory) is gone, the cookie stays.
    drop(first);
    let manager = TokenManager::new(config()).unwrap();
    assert_eq!(manager.state(), SessionState::Anonymous);
    let refreshes = stat("refreshes").await;
    assert!(manager.start().await, "start() did not restore the session");
    assert_eq!(manager.state(), SessionState::Authenticated);
    assert_eq!(stat("refreshes").await - refreshes, 1);
    let response = me(&manager).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = body_json(&response).await;
    assert_eq!(field(&body, "sub").as_string().as_deref(), Some("demo"));
    // start() on a session that is already there does nothing.
    assert!(manager.start().await);
    assert_eq!(stat("refreshes").await - refreshes, 1);

    manager.logout().await;
    drop(manager);
    let manager = TokenManager::new(config()).unwrap();
    assert!(!manager.start().await, "a logged-out session was restored");
    assert_ne!(manager.state(), SessionState::Authenticated);
    assert!(manager.token_claims().is_none());
}

/// Cookie mode: after a rotation the old access token's bytes are gone from wasm memory, and
/// nothing was ever written to storage.
#[wasm_bindgen_test]
async fn rotation_leaves_no_trace_of_the_old_token() {
    reset().await;
    let manager = manager_on(server(), RefreshTokenMode::Cookie);
    manager.login_with(&DEMO).await.unwrap();
    let memory = wasm_bindgen::memory();
    let old = js_token(&manager).await;
    assert!(
        memory_contains(&memory, &old),
        "the scan must find the live token"
    );
    let rotations = stat("rotations").await;
    manager.refresh().await.unwrap();
    assert_eq!(stat("rotations").await - rotations, 1);
    let new = js_token(&manager).await;
    assert_ne!(old, new);
    assert!(
        memory_contains(&memory, &new),
        "the scan must find the new token"
    );
    assert!(
        !memory_contains(&memory, &old),
        "the rotated-out token is still in wasm memory"
    );
    assert_storage_empty(&[&old, &new]).await;
    manager.logout().await;
    assert!(
        !memory_contains(&memory, &new),
        "the last token survived logout"
    );
    assert_storage_empty(&[&old, &new]).await;
}

/// Memory mode against the server with `--refresh-transport body`: the refresh token lives in
/// wasm memory and is sent in the refresh body; after a rotation neither old token remains in
/// wasm memory, and after logout neither new one.
#[wasm_bindgen_test]
async fn memory_mode_refreshes_from_wasm_memory() {
    reset().await;
    // The Rust API: login, silent refresh by the timer (4 s tokens), API calls.
    let mut config = config();
    config.refresh_url = url2("/auth/refresh");
    config.login_url = Some(url2("/auth/login"));
    config.logout_url = Some(url2("/auth/logout"));
    config.allowed_origins = vec![server2().to_owned()];
    config.refresh_token = RefreshTokenMode::Memory;
    let manager = TokenManager::new(config).unwrap();
    manager.login_with(&DEMO).await.unwrap();
    assert_eq!(stat_at(server2(), "rotations").await, 0);
    manager.refresh().await.unwrap();
    assert_eq!(stat_at(server2(), "rotations").await, 1);
    let response = manager.fetch_url(&url2("/api/me")).await.unwrap();
    assert_eq!(response.status(), 200);
    manager.logout().await;
    assert_eq!(stat_at(server2(), "active_families").await, 0);
    drop(manager);

    // Custody of tokens handed over with set_tokens: the test keeps them as JS strings, and the
    // Strings made of them move into the manager's secrets, so the only wasm copies are its own.
    let (status, body) = call_at(
        "POST",
        &url2("/auth/login"),
        Some(r#"{"username":"demo","password":"demo-password"}"#),
    )
    .await;
    assert_eq!(status, 200);
    let old_refresh = field(&body, "refresh_token");
    assert!(
        old_refresh.is_string(),
        "body transport returns the refresh token"
    );
    let manager = manager_on(server2(), RefreshTokenMode::Memory);
    let secret = |key: &str| Secret::from(field(&body, key).as_string().unwrap());
    let expires_in = field(&body, "expires_in").as_f64().map(|s| s as i64);
    manager
        .set_tokens(
            secret("access_token"),
            Some(secret("refresh_token")),
            expires_in,
        )
        .unwrap();
    let memory = wasm_bindgen::memory();
    let old_access = js_token(&manager).await;
    assert!(memory_contains(&memory, &old_access));
    assert!(
        memory_contains(&memory, &old_refresh),
        "the refresh token is held in memory"
    );
    manager.refresh().await.unwrap();
    assert_eq!(stat_at(server2(), "rotations").await, 2);
    let new_access = js_token(&manager).await;
    assert_ne!(old_access, new_access);
    assert!(
        !memory_contains(&memory, &old_access),
        "old access token left in memory"
    );
    assert!(
        !memory_contains(&memory, &old_refresh),
        "old refresh token left in memory"
    );
    // The session goes on with the new tokens.
    let response = manager.fetch_url(&url2("/api/me")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_storage_empty(&[&old_access, &old_refresh, &new_access]).await;
    manager.logout().await;
    assert!(
        !memory_contains(&memory, &new_access),
        "the access token survived logout"
    );
    assert_eq!(
        stat_at(server2(), "active_families").await,
        0,
        "logout did not revoke"
    );
    let status = JsFuture::from(status_with_bearer(&url2("/api/me"), &new_access))
        .await
        .unwrap();
    assert_eq!(status.as_f64(), Some(401.0));
    assert_storage_empty(&[&old_access, &old_refresh, &new_access]).await;
}

/// Another local port that is not an allowed origin never receives the header: the second
/// server's `/api/echo` reports what arrived.
#[wasm_bindgen_test]
async fn no_header_to_another_local_port() {
    reset().await;
    let manager = logged_in().await;
    let response = manager.fetch_url(&url("/api/echo")).await.unwrap();
    let body = body_json(&response).await;
    assert_eq!(field(&body, "authorization_header_received"), JsValue::TRUE);

    let before = stat_at(server2(), "api_requests").await;
    let response = manager.fetch_url(&url2("/api/echo")).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = body_json(&response).await;
    assert_eq!(
        field(&body, "authorization_header_received"),
        JsValue::FALSE
    );
    let init = web_sys::RequestInit::new();
    init.set_method("PUT");
    init.set_body(&JsValue::from_str("x"));
    let request = web_sys::Request::new_with_str_and_init(&url2("/api/echo"), &init).unwrap();
    let body = body_json(&manager.fetch(request).await.unwrap()).await;
    assert_eq!(field(&body, "method").as_string().as_deref(), Some("PUT"));
    assert_eq!(
        field(&body, "authorization_header_received"),
        JsValue::FALSE
    );
    assert_eq!(stat_at(server2(), "api_requests").await - before, 2);
    assert_eq!(stat_at(server2(), "api_unauthorized").await, 0);
}

/// Relative URLs resolve against the document base (`<base href>`), exactly as `fetch` does:
/// under a base on another origin they get no header; under a base on the allowed origin they do.
#[wasm_bindgen_test]
async fn relative_urls_follow_the_document_base() {
    reset().await;
    let manager = logged_in().await;
    let base = set_base(Some(&format!("{}/api/", server2())));
    assert_eq!(base, format!("{}/api/", server2()));
    let response = manager.fetch_url("echo").await;
    let body = body_json(&response.unwrap()).await;
    assert_eq!(
        field(&body, "authorization_header_received"),
        JsValue::FALSE,
        "a relative URL under another base carried the token"
    );
    assert_eq!(stat_at(server2(), "api_requests").await, 1);
    assert!(!origin_allowed("echo", Some(&base), &[server().to_owned()]));

    set_base(Some(&format!("{}/api/", server())));
    let response = manager.fetch_url("echo").await.unwrap();
    let body = body_json(&response).await;
    assert_eq!(field(&body, "authenticated"), JsValue::TRUE);
    set_base(None);
    assert_eq!(stat("api_unauthorized").await, 0);
}

/// On the manual path (`manual_redirects`, the default outside browsers), a request carrying the
/// token never follows a redirect, even one the caller asked to follow: the redirect target on
/// another origin receives nothing.
#[wasm_bindgen_test]
async fn the_header_never_follows_a_redirect_on_the_manual_path() {
    reset().await;
    let mut config = config();
    config.manual_redirects = true;
    let manager = TokenManager::new(config).unwrap();
    manager.login_with(&DEMO).await.unwrap();
    let target = url2("/api/echo");
    let redirect = format!(
        "{}?to={}",
        url("/api/redirect"),
        String::from(js_sys::encode_uri_component(&target))
    );
    let response = manager.fetch_url(&redirect).await.unwrap();
    assert_eq!(response.type_(), web_sys::ResponseType::Opaqueredirect);
    let follow = json(r#"{"redirect":"follow"}"#);
    let response = manager
        .fetch_js(JsValue::from_str(&redirect), follow)
        .await
        .unwrap();
    assert_eq!(response.type_(), web_sys::ResponseType::Opaqueredirect);
    let request = web_sys::Request::new_with_str(&redirect).unwrap();
    let response = manager.fetch(request).await.unwrap();
    assert_eq!(response.type_(), web_sys::ResponseType::Opaqueredirect);
    let error = manager
        .fetch_js(
            JsValue::from_str(&redirect),
            json(r#"{"redirect":"error"}"#),
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), "ERR_FETCH");
    assert!(error
        .cause()
        .is_some_and(|e| e.is_instance_of::<js_sys::TypeError>()));
    assert_eq!(
        stat_at(server2(), "api_requests").await,
        0,
        "the redirect target was reached"
    );
    // The target itself is reachable (so the zero above means "never reached").
    let (status, body) = call_at("GET", &target, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        field(&body, "authorization_header_received"),
        JsValue::FALSE
    );
    assert_eq!(stat_at(server2(), "api_requests").await, 1);
}

#[wasm_bindgen_test]
async fn a_fetch_wrapper_installed_after_construction_never_sees_a_request() {
    reset().await;
    let manager = logged_in().await;
    let wrapper = wrap_fetch();
    let api = me(&manager).await.map(|r| r.status());
    let refreshed = manager.refresh().await;
    let calls = unwrap_fetch(&wrapper);
    assert_eq!(api.ok(), Some(200));
    assert!(refreshed.is_ok());
    assert_eq!(calls.length(), 0, "the wrapper saw {:?}", calls);
    assert!(
        stat("rotations").await >= 1,
        "the refresh reached the server"
    );
    // The capture happens at construction: a manager created while the wrapper is in place
    // goes through it (the wrapper sends nothing, so the login fails cleanly).
    let wrapper = wrap_fetch();
    let later = TokenManager::new(config()).unwrap();
    let login = later.login_with(&DEMO).await;
    let calls = unwrap_fetch(&wrapper);
    assert_eq!(login.map_err(|e| e.code()), Err("ERR_LOGIN_FAILED"));
    assert_eq!(calls.length(), 1);
    assert_eq!(field(&calls.get(0), "bearer"), JsValue::FALSE);
    manager.logout().await;
}

/// Security review: the origin is checked on the request actually sent. A `Request` subclass
/// whose `url` getter names an allowed origin, while the browser sends it elsewhere, gets no
/// header.
#[wasm_bindgen_test]
async fn a_request_whose_url_getter_lies_gets_no_header() {
    reset().await;
    let manager = logged_in().await;
    let liar = lying_request(&url2("/api/echo"), &url("/api/echo"));
    let response = manager.fetch_js(liar, JsValue::UNDEFINED).await.unwrap();
    let body = body_json(&response).await;
    assert_eq!(
        field(&body, "authorization_header_received"),
        JsValue::FALSE,
        "the token reached another origin"
    );
    assert_eq!(stat_at(server2(), "api_requests").await, 1);
    manager.logout().await;
}

/// Security review: `redirect` is read from the request as built, not from `init`. A request
/// that claims `redirect: "error"` with an init whose `redirect` stringifies to `"follow"` is
/// handled as `"follow"`: on the manual path (hosts where the Fetch standard's rule that drops
/// `Authorization` on a cross-origin redirect cannot be relied on) the caller gets the
/// `opaqueredirect` and the target is never reached.
#[wasm_bindgen_test]
async fn a_redirect_option_that_stringifies_is_read_from_the_built_request() {
    reset().await;
    let mut config = config();
    config.manual_redirects = true;
    let manager = TokenManager::new(config).unwrap();
    manager.login_with(&DEMO).await.unwrap();
    let redirect = format!(
        "{}?to={}",
        url("/api/redirect"),
        String::from(js_sys::encode_uri_component(&url2("/api/echo")))
    );
    let pair = sneaky_redirect(&redirect);
    let response = manager.fetch_js(pair.get(0), pair.get(1)).await.unwrap();
    assert_eq!(response.type_(), web_sys::ResponseType::Opaqueredirect);
    assert_eq!(
        stat_at(server2(), "api_requests").await,
        0,
        "the redirect target was reached"
    );
    manager.logout().await;
}

/// Security review: the bearer token goes to `logoutUrl` only when its origin is allowed;
/// otherwise the logout call goes without it (the refresh cookie or body still revokes).
#[wasm_bindgen_test]
async fn logout_url_on_a_foreign_origin_gets_no_bearer() {
    reset().await;
    let recorder = record_fetch();
    let mut config = config();
    config.logout_url = Some(url2("/api/echo"));
    let manager = TokenManager::new(config).unwrap();
    manager.login_with(&DEMO).await.unwrap();
    manager.logout().await;
    let calls = unwrap_fetch(&recorder);
    let logout = calls
        .iter()
        .find(|call| field(call, "url").as_string() == Some(url2("/api/echo")))
        .expect("the logout call was sent");
    assert_eq!(
        field(&logout, "bearer"),
        JsValue::FALSE,
        "the token went to a logoutUrl whose origin is not allowed"
    );
    assert_eq!(stat_at(server2(), "api_requests").await, 1);
}

/// With the default redirect handling in a browser, a token-carrying request follows a redirect
/// as `fetch` does, and the Fetch standard drops `Authorization` on the cross-origin hop: the
/// foreign origin, which records headers, receives none. A same-origin redirect keeps it.
#[wasm_bindgen_test]
async fn redirects_are_followed_and_the_header_stays_on_its_origin() {
    reset().await;
    let manager = logged_in().await;
    let to = |target: &str| {
        format!(
            "{}?to={}",
            url("/api/redirect"),
            String::from(js_sys::encode_uri_component(target))
        )
    };
    // The page cannot read the answer (after a cross-origin redirect its origin is `null`, which
    // the server's CORS refuses), but the server records what arrived: a request that carried
    // the server-1 token would have been answered 401 there.
    let _ = manager.fetch_url(&to(&url2("/api/echo"))).await;
    assert_eq!(
        stat_at(server2(), "api_requests").await,
        1,
        "the redirect was not followed"
    );
    assert_eq!(
        stat_at(server2(), "api_unauthorized").await,
        0,
        "Authorization followed a cross-origin redirect"
    );
    let response = manager.fetch_url(&to(&url("/api/echo"))).await.unwrap();
    assert!(response.redirected());
    let body = body_json(&response).await;
    assert_eq!(field(&body, "authorization_header_received"), JsValue::TRUE);
    manager.logout().await;
}

/// With `session_hint`, a page whose `document.cookie` lacks the hint cookie sends no refresh
/// request from `start()`; the reference server sets the hint with the refresh cookie and clears
/// it at logout, so a page with a session still restores it.
#[wasm_bindgen_test]
async fn start_without_the_session_hint_sends_no_request() {
    reset().await;
    let hinted = || {
        let mut config = config();
        config.session_hint = Some("__Host-tw_session".to_owned());
        TokenManager::new(config).unwrap()
    };
    let first = hinted();
    first.login_with(&DEMO).await.unwrap();
    assert!(cookie_contains(&JsValue::from_str("__Host-tw_session=1")));
    let second = hinted();
    assert!(
        second.start().await,
        "the hint is present: the session is restored"
    );
    assert_eq!(stat("refreshes").await, 1);
    second.logout().await;
    first.logout().await;
    assert!(!cookie_contains(&JsValue::from_str("__Host-tw_session=1")));
    let third = hinted();
    assert!(!third.start().await);
    assert_eq!(stat("refreshes").await, 1, "start() sent a refresh request");
    assert_eq!(third.state(), SessionState::Anonymous);
    // Without the option the manager works as before: it tries.
    let plain = TokenManager::new(config()).unwrap();
    assert!(!plain.start().await);
    assert_eq!(stat("refreshes").await, 2);
}

/// Polls `done` every 50 ms for up to 5 s.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    for _ in 0..100 {
        if done() {
            return;
        }
        pause(50).await;
    }
    panic!("{what}: not within 5 s");
}

/// Two managers of one app in one page are two tabs to the channel and to Web Locks: the
/// second adopts the first's session without a refresh request, one refresh serves both, and a
/// logout in one ends the other (`core::manager` composes the coordinator for this shell as for
/// the npm engine).
#[wasm_bindgen_test]
async fn two_tabs_share_one_session() {
    reset().await;
    let mut config = config();
    config.cross_tab = true;
    // A channel of this test's own: the suite's other managers never coordinate.
    config.channel_name = Some(format!("two-tabs-{}", js_sys::Math::random()));
    let first = TokenManager::new(config.clone()).unwrap();
    first.login_with(&DEMO).await.unwrap();
    let rotations = stat("rotations").await;
    let second = TokenManager::new(config).unwrap();
    let (events, _subscription) = record_events(&second);
    assert!(second.start().await, "the sibling's session is adopted");
    assert_eq!(second.state(), SessionState::Authenticated);
    assert_eq!(
        stat("rotations").await,
        rotations,
        "adopted without a refresh request"
    );
    assert_eq!(js_token(&first).await, js_token(&second).await);
    let response = me(&second).await.unwrap();
    assert_eq!(response.status(), 200);

    // One refresh, in one tab, renews both.
    first.refresh().await.unwrap();
    assert_eq!(stat("rotations").await, rotations + 1);
    let renewed = js_token(&first).await;
    for _ in 0..100 {
        if js_token(&second).await == renewed {
            break;
        }
        pause(50).await;
    }
    assert_eq!(
        js_token(&second).await,
        renewed,
        "the sibling got the new token"
    );
    assert_eq!(stat("rotations").await, rotations + 1, "and asked for none");

    // A logout in the first ends the second.
    first.logout().await;
    eventually("the sibling's session ends", || {
        second.state() == SessionState::Anonymous
    })
    .await;
    assert!(events.borrow().contains(&Event::LoggedOut {
        reason: LogoutReason::OtherTab
    }));
}

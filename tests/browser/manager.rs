//! The token manager in headless Chromium against the reference server.
//!
//! Run with `scripts/test-browser.sh` (it starts the server and passes its URL at compile time
//! as `TW_SERVER_URL`). Tests run one at a time and reset the server's counters, faults and
//! clock first; each checks the server's own counters (`/__test/stats`).
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Object, Promise, Reflect};
use tokenwarden::web::{
    origin_allowed, Config, Event, ExpirySource, LogoutReason, RefreshPolicy, SessionState,
    TokenManager,
};
use tokenwarden::JsTokenManager;
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
export function storage_lengths() {
  return [localStorage.length, sessionStorage.length];
}
"#)]
extern "C" {
    fn sleep(ms: u32) -> Promise;
    fn call(method: &str, url: &str, body: JsValue) -> Promise;
    fn status_with_bearer(url: &str, token: &JsValue) -> Promise;
    fn memory_contains(memory: &JsValue, token: &JsValue) -> bool;
    fn storage_lengths() -> Array;
}

fn server() -> &'static str {
    match option_env!("TW_SERVER_URL") {
        Some(url) => url,
        None => panic!("TW_SERVER_URL was not set at compile time: run scripts/test-browser.sh"),
    }
}

fn url(path: &str) -> String {
    format!("{}{path}", server())
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

/// A test-hook call: `(status, parsed body)`.
async fn hook(method: &str, path: &str, body: Option<&str>) -> (u16, JsValue) {
    let body = body.map_or(JsValue::UNDEFINED, json);
    let reply = JsFuture::from(call(method, &url(path), body))
        .await
        .unwrap();
    (
        field(&reply, "status").as_f64().unwrap() as u16,
        field(&reply, "body"),
    )
}

async fn stat(name: &str) -> u64 {
    let (status, body) = hook("GET", "/__test/stats", None).await;
    assert_eq!(status, 200);
    field(&body, name).as_f64().unwrap() as u64
}

async fn reset() {
    assert_eq!(hook("POST", "/__test/reset", Some("{}")).await.0, 204);
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
    config
}

fn demo_credentials() -> JsValue {
    json(r#"{"username":"demo","password":"demo-password"}"#)
}

async fn logged_in() -> TokenManager {
    let manager = TokenManager::new(config()).unwrap();
    manager.login(demo_credentials()).await.unwrap();
    assert_eq!(manager.state(), SessionState::Authenticated);
    manager
}

async fn me(manager: &TokenManager) -> Result<Response, tokenwarden::web::Error> {
    manager
        .fetch(JsValue::from_str(&url("/api/me")), JsValue::UNDEFINED)
        .await
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
        manager.claims().and_then(|c| c.sub).as_deref(),
        Some("demo")
    );
    assert!(manager.clock_offset_ms().is_some());
    let response = me(&manager).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = body_json(&response).await;
    assert_eq!(field(&body, "authorization_header_received"), JsValue::TRUE);
    assert_eq!(field(&body, "sub").as_string().as_deref(), Some("demo"));
    // Relative URLs resolve against the page, whose origin is not allowed: no header, no gate.
    let page = manager
        .fetch(JsValue::from_str("/no-such-page"), JsValue::UNDEFINED)
        .await
        .unwrap();
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

#[wasm_bindgen_test]
async fn concurrent_401s_share_a_single_refresh() {
    reset().await;
    let manager = logged_in().await;
    // Move the server clock 30 s ahead: the token the manager holds is now expired there.
    assert_eq!(
        hook("POST", "/__test/clock", Some(r#"{"offset_secs":30}"#))
            .await
            .0,
        200
    );
    let refreshes_before = stat("refreshes").await;
    let requests = Array::new();
    for _ in 0..20 {
        let fetch = manager.fetch(JsValue::from_str(&url("/api/me")), JsValue::UNDEFINED);
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
        if events
            .borrow()
            .iter()
            .any(|e| matches!(e, Event::Refreshed { .. }))
        {
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
    assert!(events
        .borrow()
        .iter()
        .any(|e| matches!(e, Event::Refreshed { .. })));
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
    assert!(manager.claims().is_none());
    let api_before = stat("api_requests").await;
    let error = me(&manager).await.unwrap_err();
    assert_eq!(error.code(), "ERR_LOGGED_OUT");
    assert_eq!(
        stat("api_requests").await,
        api_before,
        "a request was sent after the session ended"
    );
}

/// Through the JS class: options, `exposeToken`, logout, and custody after logout.
#[wasm_bindgen_test]
async fn logout_revokes_and_leaves_no_trace() {
    reset().await;
    let options = Object::new();
    let set = |key: &str, value: JsValue| {
        Reflect::set(&options, &JsValue::from_str(key), &value).unwrap();
    };
    set("loginUrl", url("/auth/login").into());
    set("refreshUrl", url("/auth/refresh").into());
    set("logoutUrl", url("/auth/logout").into());
    set("allowedOrigins", Array::of1(&server().into()).into());
    set("exposeToken", JsValue::TRUE);
    let manager = JsTokenManager::new(options.into()).unwrap();
    let loggeds = Rc::new(RefCell::new(Vec::<String>::new()));
    let sink = loggeds.clone();
    let listener = Closure::<dyn Fn(JsValue)>::new(move |event: JsValue| {
        sink.borrow_mut()
            .push(field(&event, "reason").as_string().unwrap_or_default());
    });
    manager.on("loggedOut", listener.as_ref().clone()).unwrap();
    JsFuture::from(manager.login(demo_credentials()))
        .await
        .unwrap();
    assert_eq!(manager.state(), "authenticated");
    // The token stays a JS string here: converting it would put a copy into wasm memory.
    let token = JsFuture::from(manager.get_access_token()).await.unwrap();
    let me_url = url("/api/me");
    let response: Response =
        JsFuture::from(manager.fetch(me_url.clone().into(), JsValue::UNDEFINED))
            .await
            .unwrap()
            .unchecked_into();
    assert_eq!(response.status(), 200);
    let memory = wasm_bindgen::memory();
    assert!(
        memory_contains(&memory, &token),
        "the scan must find the live token"
    );

    JsFuture::from(manager.logout()).await.unwrap();
    assert_eq!(*loggeds.borrow(), ["logout"]);
    assert_eq!(manager.state(), "anonymous");
    assert!(manager.claims().unwrap().is_null());
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
    let lengths = storage_lengths();
    assert_eq!(lengths.get(0).as_f64(), Some(0.0));
    assert_eq!(lengths.get(1).as_f64(), Some(0.0));
    let error = JsFuture::from(manager.fetch(me_url.into(), JsValue::UNDEFINED))
        .await
        .unwrap_err();
    assert_eq!(
        field(&error, "code").as_string().as_deref(),
        Some("ERR_LOGGED_OUT")
    );
}

#[wasm_bindgen_test]
fn options_are_validated() {
    let code = |options: &str| {
        let error = JsTokenManager::new(json(options)).map(drop).unwrap_err();
        field(&error, "code").as_string().unwrap()
    };
    let refresh = url("/auth/refresh");
    assert_eq!(code(r#"{}"#), "ERR_INVALID_OPTIONS");
    assert_eq!(
        code(&format!(r#"{{"refreshUrl":"{refresh}","bogus":1}}"#)),
        "ERR_INVALID_OPTIONS"
    );
    assert_eq!(
        code(&format!(
            r#"{{"refreshUrl":"{refresh}","refreshToken":"local"}}"#
        )),
        "ERR_INVALID_OPTIONS"
    );
    assert_eq!(
        code(&format!(
            r#"{{"refreshUrl":"{refresh}","allowedOrigins":["http://api.example.com"]}}"#
        )),
        "ERR_INVALID_OPTIONS"
    );
    assert_eq!(
        code(&format!(
            r#"{{"refreshUrl":"{refresh}","allowedOrigins":["https://api.example.com/path"]}}"#
        )),
        "ERR_INVALID_OPTIONS"
    );
    assert_eq!(
        code(r#"{"refreshUrl":"http://auth.example.com/refresh"}"#),
        "ERR_INVALID_OPTIONS"
    );
    assert_eq!(
        code(&format!(
            r#"{{"refreshUrl":"{refresh}","refreshLeadFraction":2}}"#
        )),
        "ERR_INVALID_OPTIONS"
    );
    assert!(JsTokenManager::new(json(&format!(
        r#"{{"refreshUrl":"{refresh}","allowedOrigins":"HTTPS://API.example.com:443","refreshToken":"memory"}}"#
    )))
    .is_ok());
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
    assert_eq!(
        hook("POST", "/__test/clock", Some(r#"{"offset_secs":30}"#))
            .await
            .0,
        200
    );
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str("hello"));
    let headers = web_sys::Headers::new().unwrap();
    headers.set("Content-Type", "text/plain").unwrap();
    init.set_headers(&headers);
    let request = web_sys::Request::new_with_str_and_init(&url("/api/echo"), &init).unwrap();
    let response = manager
        .fetch(JsValue::clone(&request), JsValue::UNDEFINED)
        .await
        .unwrap();
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

//! The Rust-only conveniences in a headless browser (run by `make test-kit`):
//! `TokenManager::send` (feature `gloo`) takes the same allowlist, wait and single-retry path as
//! `fetch`, and `claims::<T>()` through `JSON.parse` and serde-wasm-bindgen (feature
//! `serde-wasm-bindgen`) reads the payload and reports a mismatch as `ERR_JWT_INVALID`.
#![cfg(all(
    target_arch = "wasm32",
    feature = "testing",
    feature = "gloo",
    feature = "serde-wasm-bindgen"
))]

use gloo_net::http::Request;
use tokenwarden::web::testing::{Answer, AuthServer, TestToken};
use tokenwarden::web::{Config, TokenManager};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn manager() -> TokenManager {
    let mut config = Config::new("/auth/refresh");
    config.login_url = Some("/auth/login".into());
    config.cross_tab = false;
    config.policy.min_refresh_interval_ms = 0;
    TokenManager::new(config).expect("valid config")
}

fn sign_in(tm: &TokenManager, token: &TestToken) {
    tm.set_tokens(token.mint(), None, Some(token.lifetime()))
        .expect("set_tokens");
}

#[wasm_bindgen_test]
async fn send_attaches_the_token_and_retries_a_401_once() {
    let server = AuthServer::install();
    let tm = manager();
    sign_in(&tm, &TestToken::new());
    server.api([
        Answer::invalid_token(),
        Answer::json(201, serde_json::json!({"id": 7})),
    ]);
    let request = Request::post("/api/items")
        .header("content-type", "application/json")
        .body(r#"{"name":"figs"}"#)
        .expect("request");
    let response = tm.send(request).await.expect("send");
    assert_eq!(response.status(), 201);
    assert_eq!(response.text().await.expect("body"), r#"{"id":7}"#);
    let counts = server.counts();
    assert_eq!(
        (counts.api, counts.api_with_token, counts.refresh),
        (2, 2, 1)
    );
}

#[wasm_bindgen_test]
async fn send_leaves_other_origins_without_the_token() {
    let _server = AuthServer::install();
    let tm = manager();
    sign_in(&tm, &TestToken::new());
    // The scripted fetch answers every URL; this one is not on an allowed origin.
    let request = Request::get("https://elsewhere.example/api")
        .build()
        .expect("request");
    let response = tm.send(request).await.expect("send");
    assert_eq!(response.status(), 401, "sent without a token");
}

#[wasm_bindgen_test]
fn claims_go_through_json_parse_and_report_a_mismatch() {
    let _server = AuthServer::install();
    let tm = manager();
    assert!(tm
        .claims::<serde_json::Value>()
        .expect("no token")
        .is_none());
    sign_in(&tm, &TestToken::new().claim("sub", "ada").claim("n", 3));
    #[derive(serde::Deserialize)]
    struct Mine {
        sub: String,
        n: u8,
    }
    let mine: Mine = tm.claims().expect("fits").expect("a JWT");
    assert_eq!((mine.sub.as_str(), mine.n), ("ada", 3));
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Wrong {
        n: String,
    }
    let error = tm.claims::<Wrong>().expect_err("n is a number");
    assert_eq!(error.code(), "ERR_JWT_INVALID");
}

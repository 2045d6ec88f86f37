//! Testing an app's authenticated flows in a headless browser with tokenwarden's test kit
//! (README, "Testing your app"). Run it as users do:
//! `wasm-pack test --headless --chrome --features testing --test testing_kit`.
#![cfg(all(target_arch = "wasm32", feature = "testing"))]

use tokenwarden::web::testing::{Answer, AuthServer, TestToken};
use tokenwarden::web::{Config, SessionState, TokenManager};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// The app's manager, as the app configures it. Install the `AuthServer` first: the manager
/// captures `fetch` when it is created.
fn manager() -> TokenManager {
    let mut config = Config::new("/auth/refresh");
    config.login_url = Some("/auth/login".into());
    config.logout_url = Some("/auth/logout".into());
    config.cross_tab = false; // the tests share one page: keep their managers apart
    config.policy.min_refresh_interval_ms = 0; // a 401 right after login refreshes at once
    TokenManager::new(config).expect("valid config")
}

#[derive(serde::Serialize)]
struct Credentials {
    username: &'static str,
    password: &'static str,
}

const ADA: Credentials = Credentials {
    username: "ada",
    password: "correct horse",
};

#[wasm_bindgen_test]
async fn a_rejected_token_is_refreshed_and_the_request_sent_again_once() {
    let server = AuthServer::install();
    let tm = manager();
    tm.login_with(&ADA).await.expect("login");
    // The API rejects the token once, as after a server-side revocation or a key rotation.
    server.api([Answer::invalid_token()]);
    let response = tm.fetch_url("/api/items").await.expect("fetch");
    assert_eq!(response.status(), 200);
    let counts = server.counts();
    assert_eq!(counts.refresh, 1, "one refresh after the 401");
    assert_eq!(counts.api, 2, "the request was sent again");
    assert_eq!(
        counts.api_with_latest_token, 2,
        "each time with the newest token"
    );
}

#[wasm_bindgen_test]
async fn a_second_401_is_returned_to_the_app_not_looped() {
    let server = AuthServer::install();
    let tm = manager();
    tm.login_with(&ADA).await.expect("login");
    server.api([Answer::invalid_token(), Answer::invalid_token()]);
    let response = tm.fetch_url("/api/items").await.expect("fetch");
    assert_eq!(response.status(), 401);
    assert_eq!((server.counts().refresh, server.counts().api), (1, 2));
}

#[wasm_bindgen_test]
async fn invalid_grant_ends_the_session() {
    let server = AuthServer::install();
    let tm = manager();
    tm.login_with(&ADA).await.expect("login");
    server.refresh([Answer::invalid_grant()]);
    let error = tm
        .refresh()
        .await
        .expect_err("the refresh token was revoked");
    assert_eq!(error.code(), "ERR_LOGGED_OUT");
    assert_eq!(tm.state(), SessionState::Anonymous);
    let error = tm.fetch_url("/api/items").await.expect_err("no session");
    assert_eq!(error.code(), "ERR_LOGGED_OUT");
}

#[wasm_bindgen_test]
async fn minted_tokens_carry_the_claims_the_test_chose() {
    let server = AuthServer::install();
    let tm = manager();
    let token = TestToken::new()
        .claim("sub", "grace")
        .claim("scope", "read admin")
        .lifetime_secs(60);
    tm.set_tokens(token.mint(), None, Some(token.lifetime()))
        .expect("set_tokens");
    #[derive(serde::Deserialize)]
    struct Claims {
        sub: String,
        scope: String,
    }
    let claims: Claims = tm.claims().expect("claims fit").expect("a JWT");
    assert_eq!(
        (claims.sub.as_str(), claims.scope.as_str()),
        ("grace", "read admin")
    );
    assert_eq!(tm.state(), SessionState::Authenticated);
    tm.fetch_url("/api/items").await.expect("fetch");
    assert_eq!(
        (server.counts().login, server.counts().api_with_token),
        (0, 1)
    );
}

#[wasm_bindgen_test]
async fn a_slow_login_is_awaited_and_a_failed_one_reported() {
    let server = AuthServer::install();
    let tm = manager();
    server.login([Answer::status(401), Answer::tokens().after_ms(300)]);
    let error = tm.login_with(&ADA).await.expect_err("first login refused");
    assert_eq!(
        (error.code(), error.status()),
        ("ERR_LOGIN_FAILED", Some(401))
    );
    let started = js_sys::Date::now();
    tm.login_with(&ADA).await.expect("second login");
    assert!(
        js_sys::Date::now() - started >= 290.0,
        "the answer was delayed"
    );
    assert_eq!(server.counts().login, 2);
}

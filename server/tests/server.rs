//! In-process integration tests of the reference server (127.0.0.1:0, real HTTP via reqwest).

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, AUTHORIZATION, COOKIE, SET_COOKIE, WWW_AUTHENTICATE};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use tokenwarden::{Algorithm, JwkSet, KeyOptions, Verifier};
use tokenwarden_server::{spawn, Config, PasswordCost, RefreshTransport, Running, SigningAlg};

fn test_config() -> Config {
    Config {
        password_cost: PasswordCost::cheap_for_tests(),
        log_requests: false,
        test_hooks: true,
        ..Config::default()
    }
}

/// Starts a server; returns it (kept alive for the test) and its base URL.
async fn start(config: Config) -> (Running, String) {
    let server = spawn(config).await.expect("server starts");
    let base = server.base_url();
    (server, base)
}

fn client() -> Client {
    Client::builder().build().unwrap()
}

fn jar_client() -> Client {
    Client::builder().cookie_store(true).build().unwrap()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Sends a request and returns the response, whatever its status.
async fn send(req: RequestBuilder) -> Response {
    req.send().await.unwrap()
}

/// `GET path` without credentials.
async fn get(base: &str, path: &str) -> Response {
    send(client().get(format!("{base}{path}"))).await
}

/// `POST path` without a body or credentials.
async fn post(base: &str, path: &str) -> Response {
    send(client().post(format!("{base}{path}"))).await
}

/// `POST path` with `body` as JSON.
async fn post_json(c: &Client, base: &str, path: &str, body: &Value) -> Response {
    send(c.post(format!("{base}{path}")).json(body)).await
}

/// The JSON body of a response.
async fn body_json(res: Response) -> Value {
    res.json().await.unwrap()
}

/// A string member of a JSON response body.
async fn body_string(res: Response, member: &str) -> String {
    body_json(res).await[member].as_str().unwrap().to_string()
}

/// The JSON body of `GET path`.
async fn get_json(base: &str, path: &str) -> Value {
    body_json(get(base, path).await).await
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// `GET path` with `Authorization: Bearer token`.
async fn get_with_bearer(base: &str, path: &str, token: &str) -> Response {
    send(
        client()
            .get(format!("{base}{path}"))
            .header(AUTHORIZATION, bearer(token)),
    )
    .await
}

/// `GET path` from a page on `origin`.
fn get_from_origin(c: &Client, base: &str, path: &str, origin: &str) -> RequestBuilder {
    c.get(format!("{base}{path}")).header("origin", origin)
}

/// A CORS preflight for `method` on `path` from a page on `origin`.
fn preflight(c: &Client, base: &str, path: &str, origin: &str, method: &str) -> RequestBuilder {
    c.request(Method::OPTIONS, format!("{base}{path}"))
        .header("origin", origin)
        .header("access-control-request-method", method)
}

fn login_request(c: &Client, base: &str, username: &str, password: &str) -> RequestBuilder {
    c.post(format!("{base}/auth/login"))
        .json(&json!({"username": username, "password": password}))
}

async fn login_as(c: &Client, base: &str, username: &str, password: &str) -> Response {
    send(login_request(c, base, username, password)).await
}

/// Login as the demo user.
async fn login(c: &Client, base: &str) -> Response {
    login_as(c, base, "demo", "demo-password").await
}

/// The `tw_refresh` value from a response's `Set-Cookie`.
fn refresh_cookie(res: &Response) -> Option<String> {
    set_cookie_line(res.headers()).and_then(|l| {
        l.strip_prefix("__Host-tw_refresh=")
            .and_then(|r| r.split(';').next())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    })
}

fn set_cookie_line(h: &HeaderMap) -> Option<String> {
    h.get(SET_COOKIE).map(|v| v.to_str().unwrap().to_string())
}

/// Login without a cookie jar; returns (access token, refresh cookie value).
async fn login_manual(base: &str) -> (String, String) {
    let res = login(&client(), base).await;
    assert_eq!(res.status(), 200);
    let cookie = refresh_cookie(&res).expect("refresh cookie");
    (body_string(res, "access_token").await, cookie)
}

/// `POST path` carrying the refresh token as the `tw_refresh` cookie.
fn post_with_refresh_cookie(base: &str, path: &str, cookie: &str) -> RequestBuilder {
    client()
        .post(format!("{base}{path}"))
        .header(COOKIE, format!("__Host-tw_refresh={cookie}"))
}

async fn refresh_with(base: &str, cookie: &str) -> Response {
    send(post_with_refresh_cookie(base, "/auth/refresh", cookie)).await
}

/// `POST path` with `{"refresh_token": token}` as JSON (body transport).
async fn post_refresh_token(c: &Client, base: &str, path: &str, token: &str) -> Response {
    post_json(c, base, path, &json!({ "refresh_token": token })).await
}

async fn get_me(base: &str, token: &str) -> Response {
    get_with_bearer(base, "/api/me", token).await
}

async fn stats(base: &str) -> Value {
    get_json(base, "/__test/stats").await
}

async fn hook(base: &str, path: &str, body: Value) -> Response {
    post_json(&client(), base, &format!("/__test/{path}"), &body).await
}

fn content_type(res: &Response) -> &str {
    res.headers()["content-type"].to_str().unwrap()
}

fn www_authenticate(res: &Response) -> Option<String> {
    res.headers()
        .get(WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_string())
}

fn payload(token: &str) -> Value {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let p = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(p).unwrap()).unwrap()
}

async fn assert_invalid_token(res: Response) -> Value {
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        www_authenticate(&res).as_deref(),
        Some("Bearer error=\"invalid_token\"")
    );
    body_json(res).await
}

#[tokio::test]
async fn login_returns_token_and_http_only_cookie() {
    let (_server, base) = start(test_config()).await;
    let res = login(&client(), &base).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let line = set_cookie_line(res.headers()).unwrap();
    // `__Host-`: Secure, Path=/ and no Domain (browsers keep Secure cookies from loopback http).
    assert!(line.starts_with("__Host-tw_refresh="), "{line}");
    for attr in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/;",
        "Max-Age=86400",
        "Secure",
    ] {
        assert!(line.contains(attr), "{line}");
    }
    assert!(!line.contains("Domain"), "{line}");
    let cookie = refresh_cookie(&res).unwrap();
    assert!(cookie.len() >= 22, "at least 128 bits");
    let body = body_json(res).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert!(body.get("refresh_token").is_none());
    let claims = payload(body["access_token"].as_str().unwrap());
    assert_eq!(claims["iss"], base.as_str());
    assert_eq!(claims["aud"], "tokenwarden-demo");
    assert_eq!(claims["sub"], "demo");
    assert_eq!(claims["scope"], "read write");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300
    );
    assert!(claims["jti"].as_str().unwrap().len() >= 16);
    assert_eq!(stats(&base).await["logins"], 1);
}

#[tokio::test]
async fn bad_credentials_are_401_and_throttled() {
    let (_server, base) = start(test_config()).await;
    let c = client();
    for _ in 0..5 {
        let res = login_as(&c, &base, "demo", "wrong").await;
        assert_eq!(res.status(), 401);
        assert!(res.headers().get(SET_COOKIE).is_none());
        assert_eq!(
            body_json(res).await,
            json!({"error": "invalid_credentials"})
        );
    }
    // Locked: even the right password is refused for now, with Retry-After.
    let res = login(&c, &base).await;
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "1");
    // Unknown users are 401 too, and other users are not affected.
    let res = login_as(&c, &base, "nobody", "x").await;
    assert_eq!(res.status(), 401);
    // Move the server clock past the lock.
    hook(&base, "clock", json!({"offset_secs": 5})).await;
    assert_eq!(login(&c, &base).await.status(), 200);
    // Malformed body.
    let res = send(c.post(format!("{base}/auth/login")).body("{")).await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn refresh_rotates() {
    let (_server, base) = start(test_config()).await;
    let (access, cookie) = login_manual(&base).await;
    let res = refresh_with(&base, &cookie).await;
    assert_eq!(res.status(), 200);
    let new_cookie = refresh_cookie(&res).unwrap();
    assert_ne!(new_cookie, cookie);
    let body = body_json(res).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    let new_access = body["access_token"].as_str().unwrap();
    assert_ne!(new_access, access);
    assert_eq!(get_me(&base, new_access).await.status(), 200);
    // The new token rotates again.
    assert_eq!(refresh_with(&base, &new_cookie).await.status(), 200);
    // With a cookie jar the browser-like flow works too.
    let jar = jar_client();
    assert_eq!(login(&jar, &base).await.status(), 200);
    for _ in 0..3 {
        let res = send(jar.post(format!("{base}/auth/refresh"))).await;
        assert_eq!(res.status(), 200);
    }
    let st = stats(&base).await;
    assert_eq!(st["rotations"], 5);
    assert_eq!(st["refreshes"], 5);
    assert_eq!(st["active_families"], 2);
}

#[tokio::test]
async fn reuse_of_rotated_token_revokes_family() {
    let (_server, base) = start(test_config()).await;
    let (_, a) = login_manual(&base).await;
    let res = refresh_with(&base, &a).await;
    assert_eq!(res.status(), 200);
    let b = refresh_cookie(&res).unwrap();
    // Replay of the rotated token: invalid_grant, cookie cleared.
    let res = refresh_with(&base, &a).await;
    assert_eq!(res.status(), 400);
    assert!(set_cookie_line(res.headers())
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(body_json(res).await, json!({"error": "invalid_grant"}));
    // The newest token of the family is dead too.
    assert_eq!(refresh_with(&base, &b).await.status(), 400);
    let st = stats(&base).await;
    assert_eq!(st["reuse_detected"], 1);
    assert_eq!(st["revocations"], 1);
    assert_eq!(st["active_families"], 0);
}

#[tokio::test]
async fn missing_or_unknown_refresh_token_is_invalid_grant() {
    let (_server, base) = start(test_config()).await;
    let res = post(&base, "/auth/refresh").await;
    assert_eq!(res.status(), 400);
    assert_eq!(body_json(res).await["error"], "invalid_grant");
    let res = refresh_with(&base, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_exactly_one_succeeds() {
    let (_server, base) = start(test_config()).await;
    let (_, a) = login_manual(&base).await;
    let (r1, r2) = tokio::join!(refresh_with(&base, &a), refresh_with(&base, &a));
    let mut codes = [r1.status().as_u16(), r2.status().as_u16()];
    codes.sort();
    assert_eq!(codes, [200, 400]);
    assert_eq!(stats(&base).await["reuse_detected"], 1);
}

#[tokio::test]
async fn grace_window_tolerates_a_benign_race() {
    let (_server, base) = start(Config {
        reuse_grace_ms: 10_000,
        ..test_config()
    })
    .await;
    let (_, a) = login_manual(&base).await;
    let (r1, r2) = tokio::join!(refresh_with(&base, &a), refresh_with(&base, &a));
    assert_eq!((r1.status(), r2.status()), (StatusCode::OK, StatusCode::OK));
    assert_eq!(stats(&base).await["reuse_detected"], 0);
    // After the window, reuse is detected again.
    hook(&base, "clock", json!({"offset_secs": 11})).await;
    assert_eq!(refresh_with(&base, &a).await.status(), 400);
    assert_eq!(stats(&base).await["reuse_detected"], 1);
}

#[tokio::test]
async fn refresh_lifetimes_absolute_and_idle() {
    let (_server, base) = start(Config {
        refresh_ttl_secs: 100,
        refresh_idle_secs: 30,
        ..test_config()
    })
    .await;
    let (_, a) = login_manual(&base).await;
    hook(&base, "clock", json!({"offset_secs": 31})).await;
    assert_eq!(refresh_with(&base, &a).await.status(), 400, "idle");
    hook(&base, "clock", json!({"offset_secs": 0})).await;
    let (_, mut t) = login_manual(&base).await;
    for off in [20, 40, 60, 80] {
        hook(&base, "clock", json!({"offset_secs": off})).await;
        let res = refresh_with(&base, &t).await;
        assert_eq!(res.status(), 200);
        t = refresh_cookie(&res).unwrap();
    }
    hook(&base, "clock", json!({"offset_secs": 101})).await;
    assert_eq!(refresh_with(&base, &t).await.status(), 400, "absolute");
}

#[tokio::test]
async fn logout_revokes_family_and_blocklists_access_token() {
    let (_server, base) = start(test_config()).await;
    let (access, cookie) = login_manual(&base).await;
    assert_eq!(get_me(&base, &access).await.status(), 200);
    let res = send(
        post_with_refresh_cookie(&base, "/auth/logout", &cookie)
            .header(AUTHORIZATION, bearer(&access)),
    )
    .await;
    assert_eq!(res.status(), 204);
    let line = set_cookie_line(res.headers()).unwrap();
    assert!(
        line.starts_with("__Host-tw_refresh=;") && line.contains("Max-Age=0"),
        "{line}"
    );
    assert_eq!(refresh_with(&base, &cookie).await.status(), 400);
    let body = assert_invalid_token(get_me(&base, &access).await).await;
    assert_eq!(body["code"], "ERR_JWT_REVOKED");
    // Idempotent, with or without credentials.
    for _ in 0..2 {
        assert_eq!(post(&base, "/auth/logout").await.status(), 204);
    }
    let st = stats(&base).await;
    assert_eq!(st["revocations"], 1);
    assert_eq!(st["active_families"], 0);
}

#[tokio::test]
async fn cors_allowed_refused_and_preflight() {
    let (_server, base) = start(Config {
        allow_origins: vec!["http://app.example:5173".into()],
        ..test_config()
    })
    .await;
    let c = client();
    let (access, _) = login_manual(&base).await;
    // Allowed origin: exact echo with credentials.
    let res = send(
        get_from_origin(&c, &base, "/api/me", "http://app.example:5173")
            .header(AUTHORIZATION, bearer(&access)),
    )
    .await;
    assert_eq!(res.status(), 200);
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], "http://app.example:5173");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert_eq!(
        h["access-control-expose-headers"],
        "date,www-authenticate,retry-after"
    );
    assert!(h.get_all("vary").iter().any(|v| v
        .to_str()
        .unwrap()
        .to_ascii_lowercase()
        .contains("origin")));
    // Refused origin: no CORS headers at all.
    let res = send(get_from_origin(&c, &base, "/api/me", "http://evil.example")).await;
    assert_eq!(res.status(), 401);
    assert!(res.headers().get("access-control-allow-origin").is_none());
    assert!(res
        .headers()
        .get("access-control-allow-credentials")
        .is_none());
    // Preflight.
    let res = send(
        preflight(
            &c,
            &base,
            "/auth/refresh",
            "http://app.example:5173",
            "POST",
        )
        .header("access-control-request-headers", "content-type"),
    )
    .await;
    assert!(res.status().is_success());
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], "http://app.example:5173");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert_eq!(
        h["access-control-allow-headers"],
        "authorization,content-type"
    );
    assert!(h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    assert_eq!(h["access-control-max-age"], "600");
    assert!(h.get("date").is_some());
    let res = send(preflight(
        &c,
        &base,
        "/api/me",
        "http://evil.example",
        "GET",
    ))
    .await;
    assert!(res.headers().get("access-control-allow-origin").is_none());
    // A loopback page on a random port is refused without the test flag...
    let res = send(get_from_origin(
        &c,
        &base,
        "/api/echo",
        "http://127.0.0.1:45678",
    ))
    .await;
    assert!(res.headers().get("access-control-allow-origin").is_none());
    // ...and a cross-origin POST to /auth/* from a refused origin never reaches the handler.
    let res = send(
        login_request(&c, &base, "demo", "demo-password").header("origin", "http://evil.example"),
    )
    .await;
    assert_eq!(res.status(), 403);
    // Same-origin POSTs (the demo page served by this server) are fine.
    let res =
        send(login_request(&c, &base, "demo", "demo-password").header("origin", base.as_str()))
            .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn any_loopback_origin_test_flag() {
    let (_server, base) = start(Config {
        allow_any_loopback_origin: true,
        ..test_config()
    })
    .await;
    for origin in ["http://127.0.0.1:45678", "http://localhost:9"] {
        let res = send(get_from_origin(&client(), &base, "/__test/stats", origin)).await;
        assert_eq!(res.headers()["access-control-allow-origin"], origin);
    }
    for origin in [
        "http://127.0.0.1.evil.example:80",
        "https://localhost:1",
        "null",
    ] {
        let res = send(get_from_origin(&client(), &base, "/__test/stats", origin)).await;
        assert!(
            res.headers().get("access-control-allow-origin").is_none(),
            "{origin}"
        );
    }
}

#[tokio::test]
async fn missing_malformed_and_foreign_bearer_tokens() {
    let (_server, base) = start(test_config()).await;
    let res = get(&base, "/api/me").await;
    assert_eq!(res.status(), 401);
    assert_eq!(www_authenticate(&res).as_deref(), Some("Bearer"));
    for bad in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."] {
        assert_invalid_token(get_me(&base, bad).await).await;
    }
    assert_invalid_token(get_with_bearer(&base, "/api/items", "").await).await;
    // A token from another server instance (other key, other issuer).
    let (_other, other_base) = start(test_config()).await;
    let (foreign, _) = login_manual(&other_base).await;
    assert_invalid_token(get_me(&base, &foreign).await).await;
    // A tampered payload.
    let (good, _) = login_manual(&base).await;
    let parts: Vec<&str> = good.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        &parts[1][..parts[1].len() - 2],
        parts[2]
    );
    assert_invalid_token(get_me(&base, &forged).await).await;
    assert_eq!(stats(&base).await["api_unauthorized"], 7);
}

#[tokio::test]
async fn expired_token_is_rejected() {
    let (_server, base) = start(Config {
        access_ttl_secs: 1,
        ..test_config()
    })
    .await;
    let (access, _) = login_manual(&base).await;
    // Jump the server clock instead of sleeping.
    hook(&base, "clock", json!({"offset_secs": 5})).await;
    let body = assert_invalid_token(get_me(&base, &access).await).await;
    assert_eq!(body["code"], "ERR_JWT_EXPIRED");
}

#[tokio::test]
async fn missing_scope_is_403() {
    let (_server, base) = start(test_config()).await;
    let (access, _) = login_manual(&base).await;
    let res = get_with_bearer(&base, "/api/items", &access).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body_json(res).await["items"].as_array().unwrap().len(), 3);
    let res = get_with_bearer(&base, "/api/admin", &access).await;
    assert_eq!(res.status(), 403);
    assert!(www_authenticate(&res)
        .unwrap()
        .starts_with("Bearer error=\"insufficient_scope\""));
}

#[tokio::test]
async fn adding_an_item_needs_the_write_scope_and_a_name() {
    let (_server, base) = start(test_config()).await;
    let post = |token: Option<&str>, body: &str| {
        let mut request = client()
            .post(format!("{base}/api/items"))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, bearer(token));
        }
        send(request)
    };
    assert_eq!(post(None, r#"{"name":"figs"}"#).await.status(), 401);
    let (access, _) = login_manual(&base).await;
    let res = post(Some(&access), r#"{"name":"figs"}"#).await;
    assert_eq!(res.status(), 201);
    let item = body_json(res).await;
    assert_eq!(item["name"], "figs");
    assert!(item["id"].as_u64().is_some());
    for bad in [r#"{"name":""}"#, r#"{"title":"figs"}"#, "not json"] {
        assert_eq!(post(Some(&access), bad).await.status(), 400, "{bad}");
    }

    let users = tokenwarden_server::UserSpec::parse_file("reader:secret-pass\tread\n").unwrap();
    let (_reader_server, reader_base) = start(Config {
        users,
        ..test_config()
    })
    .await;
    let res = login_as(&client(), &reader_base, "reader", "secret-pass").await;
    let token = body_json(res).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let res = send(
        client()
            .post(format!("{reader_base}/api/items"))
            .header(AUTHORIZATION, bearer(&token))
            .body(r#"{"name":"figs"}"#),
    )
    .await;
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn admin_scope_from_users_file_line() {
    let users =
        tokenwarden_server::UserSpec::parse_file("# admins\nroot:toor\tread admin\n").unwrap();
    let (_server, base) = start(Config {
        users,
        ..test_config()
    })
    .await;
    let res = login_as(&client(), &base, "root", "toor").await;
    let access = body_string(res, "access_token").await;
    let res = get_with_bearer(&base, "/api/admin", &access).await;
    assert_eq!(res.status(), 200);
    // The default demo user is not there when users are given.
    assert_eq!(login(&client(), &base).await.status(), 401);
}

#[tokio::test]
async fn fault_status_with_retry_after_then_recovery() {
    let (_server, base) = start(test_config()).await;
    let (_, a) = login_manual(&base).await;
    let res = hook(
        &base,
        "faults",
        json!({"count": 2, "status": 503, "retry_after": 7}),
    )
    .await;
    assert_eq!(res.status(), 200);
    for _ in 0..2 {
        let res = refresh_with(&base, &a).await;
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()["retry-after"], "7");
    }
    // The faulted requests did not consume the token.
    assert_eq!(refresh_with(&base, &a).await.status(), 200);
    assert_eq!(stats(&base).await["refreshes"], 3);
}

#[tokio::test]
async fn fault_malformed_body() {
    let (_server, base) = start(test_config()).await;
    let (_, a) = login_manual(&base).await;
    hook(&base, "faults", json!({"malformed": true})).await;
    let res = refresh_with(&base, &a).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get(SET_COOKIE).is_none());
    let text = res.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
    assert_eq!(refresh_with(&base, &a).await.status(), 200);
}

#[tokio::test]
async fn fault_drop_closes_connection() {
    let (_server, base) = start(test_config()).await;
    let (_, a) = login_manual(&base).await;
    hook(&base, "faults", json!({"drop": true})).await;
    let err = post_with_refresh_cookie(&base, "/auth/refresh", &a)
        .send()
        .await
        .expect_err("no response");
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    assert_eq!(refresh_with(&base, &a).await.status(), 200);
}

#[tokio::test]
async fn fault_delay_then_normal_answer() {
    let (_server, base) = start(test_config()).await;
    let (_, a) = login_manual(&base).await;
    hook(&base, "faults", json!({"delay_ms": 300})).await;
    let t = Instant::now();
    assert_eq!(refresh_with(&base, &a).await.status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    // Invalid fault specs are refused.
    assert_eq!(
        hook(&base, "faults", json!({"status": 42})).await.status(),
        400
    );
    assert_eq!(
        hook(&base, "faults", json!({"bogus": 1})).await.status(),
        400
    );
}

#[tokio::test]
async fn clock_offset_shifts_date_header_and_iat() {
    let (_server, base) = start(test_config()).await;
    let res = hook(&base, "clock", json!({"offset_secs": 3600})).await;
    let date = res.headers()["date"].to_str().unwrap().to_string();
    let date = httpdate_secs(&date);
    assert!(
        (date - (now() + 3600)).abs() <= 2,
        "Date {date} vs {}",
        now() + 3600
    );
    let (access, _) = login_manual(&base).await;
    let iat = payload(&access)["iat"].as_i64().unwrap();
    assert!((iat - (now() + 3600)).abs() <= 2);
    // The server verifies against its own (skewed) clock.
    assert_eq!(get_me(&base, &access).await.status(), 200);
    // Moving the clock past the token's lifetime expires it.
    hook(&base, "clock", json!({"offset_secs": 3600 + 400})).await;
    assert_invalid_token(get_me(&base, &access).await).await;
}

fn httpdate_secs(s: &str) -> i64 {
    // e.g. "Fri, 27 Nov 2026 09:08:02 GMT"
    let parts: Vec<&str> = s.split_whitespace().collect();
    let day: i64 = parts[1].parse().unwrap();
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[2])
    .unwrap() as i64
        + 1;
    let year: i64 = parts[3].parse().unwrap();
    let hms: Vec<i64> = parts[4].split(':').map(|x| x.parse().unwrap()).collect();
    // Days from civil (Howard Hinnant).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2]
}

#[tokio::test]
async fn stats_shape_is_exact_and_reset_zeroes_it() {
    let (_server, base) = start(test_config()).await;
    let (access, _) = login_manual(&base).await;
    get_me(&base, &access).await;
    let st = stats(&base).await;
    let keys: BTreeSet<&str> = st.as_object().unwrap().keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = [
        "logins",
        "refreshes",
        "rotations",
        "reuse_detected",
        "revocations",
        "api_requests",
        "api_unauthorized",
        "active_families",
    ]
    .into_iter()
    .collect();
    assert_eq!(keys, expected);
    assert!(st.as_object().unwrap().values().all(Value::is_u64));
    assert_eq!(st["api_requests"], 1);
    hook(&base, "faults", json!({"count": 3, "status": 500})).await;
    hook(&base, "clock", json!({"offset_secs": 10})).await;
    let res = hook(&base, "reset", json!({})).await;
    assert_eq!(res.status(), 204);
    let st = stats(&base).await;
    assert_eq!(st["logins"], 0);
    assert_eq!(st["api_requests"], 0);
    assert_eq!(st["active_families"], 1, "sessions survive a reset");
    assert_eq!(get_json(&base, "/__test/faults").await["count"], 0);
    assert_eq!(get_json(&base, "/__test/clock").await["offset_secs"], 0);
}

#[tokio::test]
async fn revoke_hook_ends_all_sessions() {
    let (_server, base) = start(test_config()).await;
    let (_, a) = login_manual(&base).await;
    let (_, b) = login_manual(&base).await;
    let res = hook(&base, "revoke", json!({})).await;
    assert_eq!(body_json(res).await["revoked"], 2);
    assert_eq!(refresh_with(&base, &a).await.status(), 400);
    assert_eq!(refresh_with(&base, &b).await.status(), 400);
    let st = stats(&base).await;
    assert_eq!(st["revocations"], 2);
    assert_eq!(st["active_families"], 0);
}

#[tokio::test]
async fn test_hooks_are_404_without_the_flag() {
    let (_server, base) = start(Config {
        test_hooks: false,
        ..test_config()
    })
    .await;
    for path in ["stats", "faults", "clock", "revoke", "reset", "rotate-keys"] {
        let hook_path = format!("/__test/{path}");
        assert_eq!(post(&base, &hook_path).await.status(), 404, "{path}");
        assert_eq!(get(&base, &hook_path).await.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn body_transport_mode() {
    let (_server, base) = start(Config {
        refresh_transport: RefreshTransport::Body,
        ..test_config()
    })
    .await;
    let c = client();
    let res = login(&c, &base).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get(SET_COOKIE).is_none());
    let r1 = body_string(res, "refresh_token").await;
    // JSON body.
    let res = post_refresh_token(&c, &base, "/auth/refresh", &r1).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get(SET_COOKIE).is_none());
    let r2 = body_string(res, "refresh_token").await;
    assert_ne!(r1, r2);
    // RFC 6749 form body.
    let res = send(
        c.post(format!("{base}/auth/refresh"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("grant_type=refresh_token&refresh_token={r2}")),
    )
    .await;
    assert_eq!(res.status(), 200);
    let r3 = body_string(res, "refresh_token").await;
    // A cookie is ignored in body mode.
    assert_eq!(refresh_with(&base, &r3).await.status(), 400);
    // Reuse detection works the same.
    let res = post_refresh_token(&c, &base, "/auth/refresh", &r1).await;
    assert_eq!(res.status(), 400);
    let res = post_refresh_token(&c, &base, "/auth/refresh", &r3).await;
    assert_eq!(res.status(), 400);
    // Logout takes the body token.
    let res = login(&c, &base).await;
    let r = body_string(res, "refresh_token").await;
    let res = post_refresh_token(&c, &base, "/auth/logout", &r).await;
    assert_eq!(res.status(), 204);
    let res = post_refresh_token(&c, &base, "/auth/refresh", &r).await;
    assert_eq!(res.status(), 400);
}

async fn jwks_verifies(alg: SigningAlg, tw_alg: Algorithm, kty: &str) {
    let (_server, base) = start(Config {
        alg,
        ..test_config()
    })
    .await;
    let (access, _) = login_manual(&base).await;
    let res = get(&base, "/.well-known/jwks.json").await;
    assert_eq!(res.status(), 200);
    assert!(content_type(&res).starts_with("application/json"));
    let text = res.text().await.unwrap();
    let jwks: Value = serde_json::from_str(&text).unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let k = &keys[0];
    assert_eq!(k["kty"], kty);
    assert_eq!(k["use"], "sig");
    assert_eq!(k["alg"], alg.name());
    assert!(k.get("d").is_none() && k.get("p").is_none(), "public only");
    let set = JwkSet::from_json(&text, &KeyOptions::default()).unwrap();
    let verifier = Verifier::builder()
        .algorithms([tw_alg])
        .issuer(base.as_str())
        .audience("tokenwarden-demo")
        .leeway_secs(0)
        .build();
    let v = verifier.verify(&access, &set, now()).unwrap();
    assert_eq!(v.header.alg, alg.name());
    assert_eq!(v.header.kid.as_deref(), k["kid"].as_str());
    assert_eq!(v.claims.sub.as_deref(), Some("demo"));
    assert_eq!(
        v.claims
            .extra
            .get("scope")
            .and_then(tokenwarden::core::json::Value::as_str),
        Some("read write")
    );
    // Wrong audience / issuer are refused by the same core.
    let wrong = Verifier::builder()
        .algorithms([tw_alg])
        .issuer(base.as_str())
        .audience("someone-else")
        .build();
    assert!(wrong.verify(&access, &set, now()).is_err());
    assert_eq!(get_me(&base, &access).await.status(), 200);
}

#[tokio::test]
async fn jwks_verifies_access_token_es256() {
    jwks_verifies(SigningAlg::Es256, Algorithm::Es256, "EC").await;
}

#[tokio::test]
async fn jwks_verifies_access_token_eddsa() {
    jwks_verifies(SigningAlg::EdDsa, Algorithm::EdDsa, "OKP").await;
}

#[tokio::test]
async fn jwks_verifies_access_token_rs256() {
    jwks_verifies(SigningAlg::Rs256, Algorithm::Rs256, "RSA").await;
}

#[tokio::test]
async fn key_rotation_keeps_old_public_keys() {
    let (_server, base) = start(test_config()).await;
    let (old, _) = login_manual(&base).await;
    let mut kids = Vec::new();
    for _ in 0..3 {
        let res = hook(&base, "rotate-keys", json!({})).await;
        assert_eq!(res.status(), 200);
        kids.push(body_string(res, "kid").await);
    }
    let jwks = get_json(&base, "/.well-known/jwks.json").await;
    let published: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(published.len(), 3, "bounded");
    assert_eq!(published[0], kids[2]);
    let (new, _) = login_manual(&base).await;
    assert_eq!(
        body_json(get_me(&base, &new).await).await["kid"],
        kids[2].as_str()
    );
    // The very first key fell out after three rotations.
    assert_invalid_token(get_me(&base, &old).await).await;

    // One rotation keeps a token from the previous key valid.
    let (prev, _) = login_manual(&base).await;
    hook(&base, "rotate-keys", json!({})).await;
    assert_eq!(get_me(&base, &prev).await.status(), 200);
}

#[tokio::test]
async fn echo_reports_method_body_and_authorization() {
    let (_server, base) = start(test_config()).await;
    let res = send(client().post(format!("{base}/api/echo")).body("hello")).await;
    assert_eq!(res.status(), 200);
    let v = body_json(res).await;
    assert_eq!(v["method"], "POST");
    assert_eq!(v["body_length"], 5);
    assert_eq!(v["authorization_header_received"], false);
    let (access, _) = login_manual(&base).await;
    let res = send(
        client()
            .put(format!("{base}/api/echo"))
            .header(AUTHORIZATION, bearer(&access))
            .body(vec![7u8; 1000]),
    )
    .await;
    let v = body_json(res).await;
    assert_eq!(v["method"], "PUT");
    assert_eq!(v["body_length"], 1000);
    assert_eq!(v["authorization_header_received"], true);
    assert_eq!(v["sub"], "demo");
    let res = send(
        client()
            .post(format!("{base}/api/echo"))
            .header(AUTHORIZATION, bearer("nope"))
            .body("x"),
    )
    .await;
    assert_invalid_token(res).await;
}

#[tokio::test]
async fn redirect_hook_answers_302_only_with_test_hooks() {
    let no_follow = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (_server, base) = start(test_config()).await;
    let to = "http://127.0.0.1:9/api/echo?x=1&y=2";
    let redirect_to = |base: &str| {
        no_follow
            .get(format!("{base}/api/redirect"))
            .query(&[("to", to)])
    };
    let res = send(redirect_to(&base)).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], to);
    for bad in ["", "?to=", "?to=javascript:alert(1)", "?to=/relative"] {
        let res = send(no_follow.get(format!("{base}/api/redirect{bad}"))).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let (_unhooked, unhooked_base) = start(Config {
        test_hooks: false,
        ..test_config()
    })
    .await;
    let res = send(redirect_to(&unhooked_base)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn static_files_and_wasm_mime_and_date_everywhere() {
    let dir = std::env::temp_dir().join(format!("tw-server-test-{}-{}", std::process::id(), now()));
    let www = dir.join("www");
    let pkg = dir.join("pkg");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(www.join("index.html"), "<!doctype html><title>demo</title>").unwrap();
    std::fs::write(pkg.join("tokenwarden_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(pkg.join("tokenwarden.js"), "export {}").unwrap();
    let (_server, base) = start(Config {
        www_dir: www,
        pkg_dir: pkg,
        ..test_config()
    })
    .await;
    let res = get(&base, "/").await;
    assert_eq!(res.status(), 200);
    assert!(content_type(&res).starts_with("text/html"));
    assert!(res.headers().get("date").is_some());
    let res = get(&base, "/pkg/tokenwarden_bg.wasm").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/wasm");
    let res = get(&base, "/pkg/tokenwarden.js").await;
    assert!(content_type(&res).contains("javascript"));
    let res = get(&base, "/nope.txt").await;
    assert_eq!(res.status(), 404);
    assert!(res.headers().get("date").is_some());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The session hint cookie (`__Host-tw_session=1`, script-readable, `Path=/`) is set with the refresh
/// cookie and cleared with it, by logout and by a refresh answered `invalid_grant`.
#[tokio::test]
async fn the_session_hint_cookie_follows_the_refresh_cookie() {
    let (_server, base) = start(test_config()).await;
    let hint = |h: &HeaderMap| -> String {
        h.get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|l| l.starts_with("__Host-tw_session="))
            .expect("a tw_session cookie")
    };
    let res = login(&client(), &base).await;
    assert_eq!(res.status(), 200);
    let line = hint(res.headers());
    assert!(line.starts_with("__Host-tw_session=1;"), "{line}");
    assert!(
        line.contains("Path=/;") && line.contains("SameSite=Strict"),
        "{line}"
    );
    assert!(
        !line.contains("HttpOnly"),
        "the hint must be readable by scripts: {line}"
    );
    assert!(!line.contains("Max-Age=0"), "{line}");
    let cookie = refresh_cookie(&res).expect("refresh cookie");

    let res = refresh_with(&base, &cookie).await;
    assert_eq!(res.status(), 200);
    assert!(hint(res.headers()).starts_with("__Host-tw_session=1;"));
    let rotated = refresh_cookie(&res).expect("rotated cookie");

    // Reuse of the rotated-away token: invalid_grant clears both cookies.
    let res = refresh_with(&base, &cookie).await;
    assert_eq!(res.status(), 400);
    let line = hint(res.headers());
    assert!(
        line.starts_with("__Host-tw_session=;") && line.contains("Max-Age=0"),
        "{line}"
    );

    let res = send(post_with_refresh_cookie(&base, "/auth/logout", &rotated)).await;
    assert_eq!(res.status(), 204);
    let line = hint(res.headers());
    assert!(
        line.starts_with("__Host-tw_session=;") && line.contains("Max-Age=0"),
        "{line}"
    );
}

/// `--cookie-secure never` (plain http off loopback, where no `__Host-` cookie can exist): the
/// unprefixed names, the refresh cookie scoped to `/auth`, no `Secure`; and only that naming is
/// read (a `__Host-` cookie is not looked at, nor is `tw_refresh` in the default naming).
#[tokio::test]
async fn cookie_secure_never_falls_back_to_the_unprefixed_names() {
    let mut config = test_config();
    config.cookie_secure = Some(false);
    let (_server, base) = start(config).await;
    let res = login(&client(), &base).await;
    assert_eq!(res.status(), 200);
    let lines: Vec<String> = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let refresh = lines.iter().find(|l| l.starts_with("tw_refresh=")).unwrap();
    assert!(
        refresh.contains("Path=/auth;") && refresh.contains("HttpOnly"),
        "{refresh}"
    );
    assert!(!refresh.contains("Secure"), "{refresh}");
    let hint = lines
        .iter()
        .find(|l| l.starts_with("tw_session=1;"))
        .unwrap();
    assert!(!hint.contains("Secure"), "{hint}");
    let token = refresh
        .strip_prefix("tw_refresh=")
        .and_then(|r| r.split(';').next())
        .unwrap();
    let refresh_as = |name: &str| {
        client()
            .post(format!("{base}/auth/refresh"))
            .header(COOKIE, format!("{name}={token}"))
    };
    assert_eq!(send(refresh_as("__Host-tw_refresh")).await.status(), 400);
    assert_eq!(send(refresh_as("tw_refresh")).await.status(), 200);

    // And the default naming never reads the unprefixed cookie.
    let (_server, base) = start(test_config()).await;
    let (_, token) = login_manual(&base).await;
    let res = send(
        client()
            .post(format!("{base}/auth/refresh"))
            .header(COOKIE, format!("tw_refresh={token}")),
    )
    .await;
    assert_eq!(res.status(), 400);
}

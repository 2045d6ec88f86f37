//! `/auth/login`, `/auth/refresh`, `/auth/logout` and the access-token minting.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use chrono::DateTime;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::sessions::{Issued, Rejection};
use crate::state::{AppState, FaultPlan, Stats};
use crate::util::{
    bearer, cookie_value, json_error, json_response, parse_body, random_b64, BearerHeader,
};
use crate::ConnKill;

/// Name of the refresh cookie.
pub const REFRESH_COOKIE: &str = "tw_refresh";

#[derive(Deserialize, Default)]
struct LoginBody {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

#[derive(Deserialize, Default)]
struct RefreshBody {
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    grant_type: Option<String>,
}

#[derive(Serialize)]
struct AccessClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    jti: String,
    scope: &'a str,
}

/// `POST /auth/login`.
pub async fn login(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(creds) = parse_body::<LoginBody>(&headers, &body) else {
        return json_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    if creds.username.is_empty()
        || creds.password.is_empty()
        || creds.username.len() > 256
        || creds.password.len() > 1024
    {
        return json_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    if let Some(retry) = state.throttle().check(&creds.username, state.now_ms()) {
        let mut res = json_error(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry));
        return res;
    }
    let st = state.clone();
    let username = creds.username.clone();
    let password = creds.password;
    let verified = tokio::task::spawn_blocking(move || st.users.verify(&username, &password))
        .await
        .ok()
        .flatten();
    let Some(scope) = verified else {
        state.throttle().failure(
            &creds.username,
            state.now_ms(),
            state.config.login_max_failures,
        );
        return json_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    };
    state.throttle().success(&creds.username);
    Stats::bump(&state.stats.logins);
    let issued = state
        .store()
        .login(&creds.username, &scope, state.now_ms(), state.lifetimes());
    token_response(&state, issued)
}

/// Mints an access token for `sub`/`scope` at the server clock; returns `(token, expires_in)`.
pub fn mint_access_token(
    state: &AppState,
    sub: &str,
    scope: &str,
) -> Result<(String, u64), String> {
    let now = state.now_secs();
    let ttl = state.config.access_ttl_secs;
    let mut claims = jwt_compact::Claims::new(AccessClaims {
        iss: &state.issuer,
        aud: &state.config.audience,
        sub,
        jti: random_b64(16),
        scope,
    });
    claims.issued_at = DateTime::from_timestamp(now, 0);
    claims.expiration = DateTime::from_timestamp(now.saturating_add(ttl as i64), 0);
    let token = state.keys().sign(&claims)?;
    Ok((token, ttl))
}

fn refresh_cookie(state: &AppState, value: &str, max_age: u64) -> HeaderValue {
    let secure = if state.cookie_secure { "; Secure" } else { "" };
    let s = format!("{REFRESH_COOKIE}={value}; Path=/auth; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&s).expect("cookie value is base64url")
}

/// Name of the session hint cookie: `tw_session=1`, not secret and readable by scripts, set and
/// cleared together with the `HttpOnly` refresh cookie (as auth0-spa-js's `is.authenticated`
/// cookie), so that a page without it knows there is certainly no session and skips the refresh
/// call that would only answer `400 invalid_grant` (the manager's `sessionHint` option).
pub const HINT_COOKIE: &str = "tw_session";

/// Sets (`Some(refresh token)`) or clears (`None`) the refresh cookie and the hint cookie.
fn session_cookies(res: &mut Response, state: &AppState, token: Option<&str>) {
    let (value, hint, max_age) = match token {
        Some(token) => (token, "1", state.config.refresh_ttl_secs),
        None => ("", "", 0),
    };
    let secure = if state.cookie_secure { "; Secure" } else { "" };
    let hint = format!("{HINT_COOKIE}={hint}; Path=/; SameSite=Strict; Max-Age={max_age}{secure}");
    let headers = res.headers_mut();
    headers.append(header::SET_COOKIE, refresh_cookie(state, value, max_age));
    headers.append(
        header::SET_COOKIE,
        HeaderValue::from_str(&hint).expect("the hint cookie is ASCII"),
    );
}

fn token_response(state: &AppState, issued: Issued) -> Response {
    let (access, expires_in) = match mint_access_token(state, &issued.sub, &issued.scope) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return json_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error");
        }
    };
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": issued.scope,
    });
    if state.cookie_mode() {
        let mut res = json_response(StatusCode::OK, &body);
        session_cookies(&mut res, state, Some(&issued.token));
        res
    } else {
        body["refresh_token"] = json!(issued.token);
        json_response(StatusCode::OK, &body)
    }
}

fn invalid_grant(state: &AppState) -> Response {
    let mut res = json_error(StatusCode::BAD_REQUEST, "invalid_grant");
    if state.cookie_mode() {
        session_cookies(&mut res, state, None);
    }
    res
}

/// Applies an injected fault; `None` means "go on normally" (after any delay).
async fn apply_fault(fault: FaultPlan, kill: Option<&ConnKill>) -> Option<Response> {
    if fault.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
    }
    if fault.drop {
        if let Some(kill) = kill {
            kill.0.notify_one();
            // The connection task drops this future together with the socket.
            std::future::pending::<()>().await;
        }
        // Not served by `serve` (no connection handle): the closest thing is a 502.
        return Some(json_error(StatusCode::BAD_GATEWAY, "connection_dropped"));
    }
    if fault.malformed {
        let mut res = (StatusCode::OK, Body::from("{\"access_token\": \"trunc")).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return Some(res);
    }
    let status = StatusCode::from_u16(fault.status?).ok()?;
    let code = match status.as_u16() {
        400 => "invalid_grant",
        401 => "invalid_client",
        429 => "slow_down",
        _ => "temporarily_unavailable",
    };
    let mut res = json_error(status, code);
    if let Some(secs) = fault.retry_after {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    Some(res)
}

/// `POST /auth/refresh`.
pub async fn refresh(
    State(state): State<AppState>,
    kill: Option<Extension<ConnKill>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    Stats::bump(&state.stats.refreshes);
    if let Some(fault) = state.take_fault() {
        if let Some(res) = apply_fault(fault, kill.as_ref().map(|e| &e.0)).await {
            return res;
        }
    }
    let presented = if state.cookie_mode() {
        cookie_value(&headers, REFRESH_COOKIE)
    } else {
        let Some(b) = parse_body::<RefreshBody>(&headers, &body) else {
            return json_error(StatusCode::BAD_REQUEST, "invalid_request");
        };
        if b.grant_type
            .as_deref()
            .is_some_and(|g| g != "refresh_token")
        {
            return json_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
        }
        b.refresh_token
    };
    let Some(presented) = presented.filter(|t| !t.is_empty() && t.len() <= 512) else {
        return invalid_grant(&state);
    };
    let result = state
        .store()
        .rotate(&presented, state.now_ms(), state.lifetimes());
    match result {
        Ok(issued) => {
            Stats::bump(&state.stats.rotations);
            token_response(&state, issued)
        }
        Err(rejection) => {
            if rejection == Rejection::ReuseDetected {
                Stats::bump(&state.stats.reuse_detected);
                Stats::bump(&state.stats.revocations);
            }
            invalid_grant(&state)
        }
    }
}

/// `POST /auth/logout`: always 204.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    // Either transport is accepted here: revoking is always safe.
    let mut candidates = Vec::new();
    if let Some(c) = cookie_value(&headers, REFRESH_COOKIE) {
        candidates.push(c);
    }
    if let Some(b) = parse_body::<RefreshBody>(&headers, &body) {
        candidates.extend(b.refresh_token);
    }
    for t in candidates.iter().filter(|t| t.len() <= 512) {
        if state.store().revoke_by_token(t) {
            Stats::bump(&state.stats.revocations);
        }
    }
    if let BearerHeader::Token(token) = bearer(&headers) {
        let verified = {
            let keys = state.keys();
            state
                .verifier
                .verify(&token, keys.verify_set(), state.now_secs())
        };
        if let Ok(v) = verified {
            if let (Some(jti), Some(exp)) = (v.claims.jti, v.claims.exp) {
                state.block_jti(jti, exp);
            }
        }
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    session_cookies(&mut res, &state, None);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

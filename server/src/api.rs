//! Protected demo resources. Bearer tokens are verified with tokenwarden's core.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{json, Value};

use crate::state::{AppState, Stats};
use crate::store::Store;
use crate::util::{bearer, hex, json_error, json_response, sha256, unavailable, BearerHeader};

/// A successfully authenticated request.
pub struct Authed {
    /// `sub` claim.
    pub sub: Option<String>,
    /// `kid` of the key that verified the token.
    pub kid: Option<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// The verified token's payload segment (base64url), decoded only when asked for.
    payload_segment: String,
}

impl Authed {
    /// The full verified payload as JSON (the signature is verified, so decoding the segment
    /// again for display is safe).
    pub fn payload(&self) -> Value {
        Base64UrlUnpadded::decode_vec(&self.payload_segment)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null)
    }
}

/// Why a bearer token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization` header: `401` with a bare `WWW-Authenticate: Bearer` (RFC 6750 §3.1).
    Missing,
    /// Invalid token, with tokenwarden's error code.
    Invalid(&'static str),
    /// The blocklist could not be read: `503`, not a verdict on the token (a `401` would make
    /// clients refresh, and fail open is not an option).
    Unavailable,
}

impl AuthError {
    /// The `401` response (also counts it in the stats).
    pub fn response(self, state: &AppState) -> Response {
        match self {
            AuthError::Missing => {
                unauthorized(state, "Bearer", json!({ "error": "missing_token" }))
            }
            AuthError::Invalid(code) => unauthorized(
                state,
                "Bearer error=\"invalid_token\"",
                json!({ "error": "invalid_token", "code": code }),
            ),
            AuthError::Unavailable => unavailable(),
        }
    }
}

fn unauthorized(state: &AppState, challenge: &'static str, body: Value) -> Response {
    Stats::bump(&state.stats.api_unauthorized);
    let mut res = json_response(StatusCode::UNAUTHORIZED, &body);
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    res
}

/// Verifies the bearer token (signature, alg pinned to ours, iss, aud, exp, blocklist).
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Authed, AuthError> {
    let token = match bearer(headers) {
        BearerHeader::Missing => return Err(AuthError::Missing),
        BearerHeader::Malformed => return Err(AuthError::Invalid("ERR_JWS_INVALID")),
        BearerHeader::Token(t) => t,
    };
    // A token of the trusted external issuer.
    let trusted = state.trusted.as_ref().filter(|t| t.issued(&token));
    let result = match trusted {
        Some(trusted) => trusted
            .verify(&token, state.now_secs())
            .await
            .map_err(AuthError::Invalid),
        None => {
            let keys = state.keys();
            state
                .verifier
                .verify(&token, keys.verify_set(), state.now_secs())
                .map_err(|e| AuthError::Invalid(e.code()))
        }
    };
    let verified = result?;
    if let Some(jti) = &verified.claims.jti {
        match state.store.is_blocked(jti, state.now_secs()).await {
            Ok(false) => {}
            Ok(true) => return Err(AuthError::Invalid("ERR_JWT_REVOKED")),
            Err(e) => {
                eprintln!("error: {e}");
                return Err(AuthError::Unavailable);
            }
        }
    }
    let scopes = verified
        .claims
        .extra
        .get("scope")
        .and_then(tokenwarden::core::json::Value::as_str)
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let payload_segment = token.split('.').nth(1).unwrap_or_default().to_string();
    Ok(Authed {
        sub: verified.claims.sub.clone(),
        kid: verified.header.kid.clone(),
        scopes,
        payload_segment,
    })
}

/// `None` if the scope is granted, else the `403 insufficient_scope` response.
fn require_scope(authed: &Authed, scope: &str) -> Option<Response> {
    if authed.scopes.iter().any(|s| s == scope) {
        return None;
    }
    let mut res = json_response(
        StatusCode::FORBIDDEN,
        &json!({ "error": "insufficient_scope", "scope": scope }),
    );
    let challenge = format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\"");
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_str(&challenge).expect("static scope"),
    );
    Some(res)
}

/// `GET /api/me`.
pub async fn me(State(state): State<AppState>, headers: HeaderMap) -> Response {
    Stats::bump(&state.stats.api_requests);
    match authenticate(&state, &headers).await {
        Ok(a) => json_response(
            StatusCode::OK,
            &json!({
                "sub": a.sub,
                "kid": a.kid,
                "claims": a.payload(),
                "authorization_header_received": true,
            }),
        ),
        Err(e) => e.response(&state),
    }
}

/// Counts an API request, authenticates it and checks `scope`; answers with `respond` if all
/// is well, else with the refusal (401, or 403 for a missing scope).
async fn with_scope(
    state: &AppState,
    headers: &HeaderMap,
    scope: &str,
    respond: impl FnOnce(Authed) -> Response,
) -> Response {
    Stats::bump(&state.stats.api_requests);
    let authed = match authenticate(state, headers).await {
        Ok(a) => a,
        Err(e) => return e.response(state),
    };
    if let Some(refused) = require_scope(&authed, scope) {
        return refused;
    }
    respond(authed)
}

/// `GET /api/items` (scope `read`).
pub async fn items(State(state): State<AppState>, headers: HeaderMap) -> Response {
    with_scope(&state, &headers, "read", |authed| {
        json_response(
            StatusCode::OK,
            &json!({
                "owner": authed.sub,
                "items": [
                    { "id": 1, "name": "apples" },
                    { "id": 2, "name": "pears" },
                    { "id": 3, "name": "plums" },
                ],
            }),
        )
    })
    .await
}

/// `POST /api/items` (scope `write`) with `{"name": "..."}` (1-100 characters): answers `201`
/// with the created item. The reference server keeps no item store: the item is echoed with a
/// fresh id, which is all the example apps need to show an authenticated write.
pub async fn add_item(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let name = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("name").and_then(Value::as_str).map(str::to_string))
        .filter(|name| (1..=100).contains(&name.chars().count()));
    with_scope(&state, &headers, "write", |_| match name {
        Some(name) => {
            let id = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as u64);
            json_response(StatusCode::CREATED, &json!({ "id": id, "name": name }))
        }
        None => json_error(StatusCode::BAD_REQUEST, "invalid_item"),
    })
    .await
}

/// `GET /api/admin` (scope `admin`, which the demo users lack: shows a 403).
pub async fn admin(State(state): State<AppState>, headers: HeaderMap) -> Response {
    with_scope(&state, &headers, "admin", |authed| {
        json_response(StatusCode::OK, &json!({ "admin": true, "sub": authed.sub }))
    })
    .await
}

/// `/api/echo` (any method): echoes the method, body length and digest, and whether an
/// `Authorization` header arrived. Without the header it answers 200 (so a test can see that a
/// header was *not* attached); with an invalid token it answers 401 like the other resources.
pub async fn echo(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    Stats::bump(&state.stats.api_requests);
    let received = headers.contains_key(header::AUTHORIZATION);
    let sub = if received {
        match authenticate(&state, &headers).await {
            Ok(a) => a.sub,
            Err(e) => return e.response(&state),
        }
    } else {
        None
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    json_response(
        StatusCode::OK,
        &json!({
            "method": method.as_str(),
            "body_length": body.len(),
            "body_sha256": hex(&sha256(&body)),
            "content_type": content_type,
            "authorization_header_received": received,
            "authenticated": sub.is_some(),
            "sub": sub,
        }),
    )
}

/// `GET /api/redirect?to=URL`, routed only with `--test-hooks` (an open redirect has no place
/// in a real server): answers `302 Found` with `Location: URL` (absolute http or https), so
/// browser tests can check that a bearer token never follows a redirect.
pub async fn redirect(RawQuery(query): RawQuery) -> Response {
    let to = query
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(&q).ok())
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "to").map(|(_, v)| v))
        .filter(|to| to.starts_with("http://") || to.starts_with("https://"))
        .and_then(|to| HeaderValue::from_str(&to).ok());
    match to {
        Some(location) => {
            let mut res = StatusCode::FOUND.into_response();
            res.headers_mut().insert(header::LOCATION, location);
            res
        }
        None => json_error(StatusCode::BAD_REQUEST, "invalid_request"),
    }
}

/// Answer for routes that exist only with `--test-hooks`.
pub async fn not_found() -> Response {
    json_error(StatusCode::NOT_FOUND, "not_found")
}

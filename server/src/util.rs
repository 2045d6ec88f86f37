//! Small helpers: randomness, encodings, responses, request parsing.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64ct::{Base64UrlUnpadded, Encoding};
use rand::rngs::OsRng;
use rand::RngCore;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

/// `n` random bytes from the OS, base64url without padding.
pub fn random_b64(n: usize) -> String {
    let mut buf = vec![0u8; n];
    OsRng.fill_bytes(&mut buf);
    Base64UrlUnpadded::encode_string(&buf)
}

/// SHA-256 of a string.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A JSON response with `Cache-Control: no-store` (every auth answer carries it).
pub fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut res = (status, Body::from(value.to_string())).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// `{"error": code}` with a status.
pub fn json_error(status: StatusCode, code: &str) -> Response {
    json_response(status, &serde_json::json!({ "error": code }))
}

/// Every non-empty value of cookie `name` in the `Cookie` header(s), in order. Callers that
/// act on a cookie must refuse more than one: a second one is cookie tossing (a sibling
/// subdomain or a more specific path can add its own cookie of the same name).
pub fn cookie_values(headers: &HeaderMap, name: &str) -> Vec<String> {
    let mut values = Vec::new();
    for value in headers.get_all(header::COOKIE) {
        let Ok(s) = value.to_str() else { continue };
        for pair in s.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=') {
                if k.trim() == name {
                    let v = v.trim().trim_matches('"');
                    if !v.is_empty() {
                        values.push(v.to_string());
                    }
                }
            }
        }
    }
    values
}

/// `503 {"error":"temporarily_unavailable"}` with `Retry-After: 1`: the store cannot answer
/// now. Clients retry; it never says anything about the session itself.
pub fn unavailable() -> Response {
    let mut res = json_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable");
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    res
}

/// Parses a request body as JSON or as `application/x-www-form-urlencoded`, by content type.
/// An empty body parses as `T::default()`; `None` if the body does not parse.
pub fn parse_body<T: DeserializeOwned + Default>(headers: &HeaderMap, body: &[u8]) -> Option<T> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Some(T::default());
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ct.starts_with("application/x-www-form-urlencoded") {
        serde_urlencoded::from_bytes(body).ok()
    } else {
        // JSON is the default (also for text/plain, which a CORS "simple request" would use).
        serde_json::from_slice(body).ok()
    }
}

/// The bearer token from `Authorization`, if the scheme is Bearer.
pub enum BearerHeader {
    /// No `Authorization` header.
    Missing,
    /// Present but not a usable Bearer credential.
    Malformed,
    /// `Bearer <token>`.
    Token(String),
}

/// Upper bound for an `Authorization` header we even look at.
pub const MAX_AUTHORIZATION_LEN: usize = 16 * 1024;

/// Reads `Authorization: Bearer <token>`.
pub fn bearer(headers: &HeaderMap) -> BearerHeader {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return BearerHeader::Missing;
    };
    if v.len() > MAX_AUTHORIZATION_LEN {
        return BearerHeader::Malformed;
    }
    let Ok(s) = v.to_str() else {
        return BearerHeader::Malformed;
    };
    let Some((scheme, rest)) = s.split_once(' ') else {
        return BearerHeader::Malformed;
    };
    let token = rest.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
        return BearerHeader::Malformed;
    }
    BearerHeader::Token(token.to_string())
}

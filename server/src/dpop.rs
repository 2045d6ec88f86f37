//! DPoP (RFC 9449) on the reference server (`--dpop`, `--dpop-nonce`): proofs checked by
//! tokenwarden's core on `/auth/login`, `/auth/refresh` and `/api/*`, refusals answered as the
//! RFC says, and counted by reason for `/__test/stats`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use tokenwarden::core::dpop::{
    DpopError, DpopVerifier, NonceSchedule, ProofRequest, UnrecordedProof, VerifiedProof,
};

use crate::state::AppState;
use crate::store::{Store, StoreError};
use crate::util::{json_response, MAX_AUTHORIZATION_LEN};

/// The `DPoP` request header and the `DPoP-Nonce` response header.
pub static DPOP: HeaderName = HeaderName::from_static("dpop");
/// `DPoP-Nonce`.
pub static DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// The key DPoP nonces are MACed with: every instance behind one issuer must have the same.
pub type NonceKey = [u8; 32];

/// The server's DPoP state (present with `--dpop`). The `jti` replay cache lives in the store,
/// nonces are stateless (a MAC of the time window under [`NonceKey`]), so any instance accepts
/// what another one handed out or recorded.
pub struct Dpop {
    verifier: DpopVerifier,
    /// The key of stateless nonces (`--dpop-nonce`); the test hook replaces it.
    nonce_key: Option<Mutex<NonceKey>>,
    schedule: NonceSchedule,
    accepted: AtomicU64,
    refused: Mutex<BTreeMap<&'static str, u64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn mac(key: &[u8], input: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(input);
    mac.finalize().into_bytes().into()
}

/// Derives the nonce key from key material every instance is given: the `--dpop-nonce-key`
/// file (at least 32 bytes) or else the `--signing-key` file. Without either, a random key
/// (one instance only: its tokens do not verify elsewhere anyway).
pub fn nonce_key(
    nonce_key_file: Option<&Path>,
    signing_key_file: Option<&Path>,
) -> Result<NonceKey, String> {
    const LABEL: &[u8] = b"tokenwarden dpop nonce key";
    let material = match (nonce_key_file, signing_key_file) {
        (Some(path), _) => {
            let bytes = std::fs::read(path)
                .map_err(|e| format!("cannot read DPoP nonce key {}: {e}", path.display()))?;
            if bytes.len() < 32 {
                return Err(format!(
                    "DPoP nonce key {}: at least 32 bytes are needed",
                    path.display()
                ));
            }
            bytes
        }
        (None, Some(path)) => std::fs::read(path)
            .map_err(|e| format!("cannot read signing key {}: {e}", path.display()))?,
        (None, None) => rand::random::<[u8; 32]>().to_vec(),
    };
    Ok(mac(&material, LABEL))
}

fn wall_clock_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Dpop {
    /// DPoP with stateless nonces under `nonce_key` if given, and a quota of live proofs per
    /// client key.
    pub fn new(nonce_key: Option<NonceKey>, proofs_per_key: u32) -> Self {
        Self {
            verifier: DpopVerifier::builder()
                .proofs_per_key(proofs_per_key)
                .build(),
            nonce_key: nonce_key.map(Mutex::new),
            schedule: NonceSchedule::default(),
            accepted: AtomicU64::new(0),
            refused: Mutex::new(BTreeMap::new()),
        }
    }

    /// The nonces accepted now (the current window's first), if nonces are required.
    fn nonces(&self) -> Option<[String; 2]> {
        let key = *lock(self.nonce_key.as_ref()?);
        let windows = self.schedule.accepted_windows(wall_clock_secs());
        Some(windows.map(|w| NonceSchedule::nonce(&mac(&key, &NonceSchedule::mac_input(w)))))
    }

    /// The nonce handed out now, if nonces are required.
    pub fn current_nonce(&self) -> Option<String> {
        self.nonces().map(|[current, _]| current)
    }

    /// Replaces this instance's nonce key (test hook): proofs with its earlier nonces get
    /// `use_dpop_nonce`.
    pub fn rotate_nonce(&self) -> Option<String> {
        *lock(self.nonce_key.as_ref()?) = rand::random();
        self.current_nonce()
    }

    /// `{"accepted": n, "refused": {"reason": n, ...}}` for `/__test/stats`.
    pub fn stats(&self) -> serde_json::Value {
        json!({
            "accepted": self.accepted.load(Ordering::Relaxed),
            "refused": *lock(&self.refused),
            "nonce_required": self.nonce_key.is_some(),
        })
    }

    /// Zeroes the counters (`/__test/reset`).
    pub fn reset(&self) {
        self.accepted.store(0, Ordering::Relaxed);
        lock(&self.refused).clear();
    }

    /// Counts one outcome.
    pub fn count(&self, result: &Result<VerifiedProof, DpopError>) {
        match result {
            Ok(_) => {
                self.accepted.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => *lock(&self.refused).entry(e.reason()).or_default() += 1,
        }
    }
}

/// `Authorization` is present but not `DPoP <token>`.
#[derive(Debug, PartialEq, Eq)]
pub struct NotDpop;

/// The token of `Authorization: DPoP <token>`; [`NotDpop`] for any other scheme or shape.
pub fn dpop_token(headers: &HeaderMap) -> Result<Option<String>, NotDpop> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    if value.len() > MAX_AUTHORIZATION_LEN {
        return Err(NotDpop);
    }
    let text = value.to_str().map_err(|_| NotDpop)?;
    let (scheme, token) = text.split_once(' ').ok_or(NotDpop)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("dpop") || token.is_empty() || token.contains(' ') {
        return Err(NotDpop);
    }
    Ok(Some(token.to_string()))
}

/// Checks the request's one `DPoP` proof for `method` and `path` at this server, with the
/// access token it comes with and the key it must be bound to, and records its `jti` in the
/// store; counts the outcome. `Err` when the store cannot answer.
#[allow(clippy::too_many_arguments)]
pub async fn check(
    state: &AppState,
    dpop: &Dpop,
    headers: &HeaderMap,
    method: &str,
    path: &str,
    access_token: Option<&str>,
    jkt: Option<&str>,
) -> Result<Result<VerifiedProof, DpopError>, StoreError> {
    match check_unrecorded(state, dpop, headers, method, path, access_token, jkt) {
        Ok(proof) => record(state, dpop, proof).await,
        Err(e) => {
            let result = Err(e);
            dpop.count(&result);
            Ok(result)
        }
    }
}

/// Records the `jti` of a proof whose request was accepted otherwise, in the store every
/// instance shares (atomically with the replay and quota checks); counts the outcome. `Err`
/// when the store cannot answer: never an accepted proof then.
pub async fn record(
    state: &AppState,
    dpop: &Dpop,
    proof: UnrecordedProof,
) -> Result<Result<VerifiedProof, DpopError>, StoreError> {
    let answer = state
        .store
        .record_proof(
            proof.jkt(),
            proof.jti(),
            proof.expires_at(),
            proof.now(),
            proof.quota(),
        )
        .await?;
    let result = proof.settle(answer);
    dpop.count(&result);
    Ok(result)
}

/// Every check of [`check`] but the replay check (see [`record`]); not counted.
pub fn check_unrecorded(
    state: &AppState,
    dpop: &Dpop,
    headers: &HeaderMap,
    method: &str,
    path: &str,
    access_token: Option<&str>,
    jkt: Option<&str>,
) -> Result<UnrecordedProof, DpopError> {
    let mut proofs = headers.get_all(&DPOP).iter();
    let (Some(proof), None) = (proofs.next(), proofs.next()) else {
        return Err(DpopError::Missing);
    };
    let proof = proof.to_str().map_err(|_| DpopError::Missing)?;
    // The URL as the client addressed it: the issuer's scheme and the (allow-listed) Host.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let scheme = state.issuer.split_once("://").map_or("http", |(s, _)| s);
    let url = format!("{scheme}://{host}{path}");
    let accepted = dpop.nonces();
    let nonces: Vec<&str> = accepted.iter().flatten().map(String::as_str).collect();
    let request = ProofRequest {
        method,
        url: &url,
        access_token,
        nonces: &nonces,
        jkt,
    };
    dpop.verifier.check(proof, &request, state.now_secs())
}

/// Adds `DPoP-Nonce` (when nonces are on) to a response of a DPoP-protected endpoint.
pub fn add_nonce(dpop: &Dpop, res: &mut Response) {
    if let Some(nonce) = dpop.current_nonce() {
        if let Ok(value) = HeaderValue::from_str(&nonce) {
            res.headers_mut().insert(DPOP_NONCE.clone(), value);
        }
    }
}

/// The token endpoint's refusal (RFC 9449 §5, §8): `400 {"error": "invalid_dpop_proof" |
/// "use_dpop_nonce"}` with the current nonce; a key over its quota gets `429` with
/// `Retry-After`.
pub fn token_endpoint_refusal(dpop: &Dpop, err: &DpopError) -> Response {
    if let Some(res) = quota_refusal(dpop, err) {
        return res;
    }
    let mut res = json_response(
        StatusCode::BAD_REQUEST,
        &json!({ "error": err.oauth_error(), "code": err.code() }),
    );
    add_nonce(dpop, &mut res);
    res
}

/// `429` with `Retry-After` for a key over its quota of live proofs: that client waits, the
/// others are not affected.
fn quota_refusal(dpop: &Dpop, err: &DpopError) -> Option<Response> {
    let wait = err.retry_after_secs()?;
    let mut res = json_response(
        StatusCode::TOO_MANY_REQUESTS,
        &json!({ "error": err.oauth_error(), "code": err.code() }),
    );
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(wait));
    add_nonce(dpop, &mut res);
    Some(res)
}

/// A resource's refusal (RFC 9449 §7.1, §9): `401` with `WWW-Authenticate: DPoP
/// error="..."` and the algorithms accepted, plus the current nonce.
pub fn resource_refusal(dpop: &Dpop, oauth_error: &str, code: &str) -> Response {
    let mut res = json_response(
        StatusCode::UNAUTHORIZED,
        &json!({ "error": oauth_error, "code": code }),
    );
    let challenge = format!("DPoP error=\"{oauth_error}\", algs=\"ES256 EdDSA RS256 PS256\"");
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    add_nonce(dpop, &mut res);
    res
}

/// `cnf.jkt` of a verified access token.
pub fn bound_jkt(claims: &tokenwarden::Claims) -> Option<String> {
    use tokenwarden::core::json::Value;
    match claims.extra.get("cnf") {
        Some(Value::Object(cnf)) => cnf.get("jkt").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

/// With `--dpop`, every `/api/*` request with an `Authorization` header needs `Authorization:
/// DPoP <token>` and a proof for this method and URL, from the key the token is bound to; the
/// handlers behind then see the checked token as `Bearer` and do their usual checks (blocklist,
/// scope). A `401` they answer is re-issued with a `DPoP` challenge.
pub async fn guard(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(dpop) = state.dpop.as_ref() else {
        return next.run(req).await;
    };
    if !req.uri().path().starts_with("/api/") || req.method() == axum::http::Method::OPTIONS {
        return next.run(req).await;
    }
    if !req.headers().contains_key(header::AUTHORIZATION) {
        let mut res = next.run(req).await;
        dpop_challenge(dpop, &mut res);
        return res;
    }
    let Ok(Some(token)) = dpop_token(req.headers()) else {
        // A Bearer (or malformed) credential: a DPoP-bound token is no bearer token.
        let err = DpopError::Missing;
        dpop.count(&Err(err.clone()));
        return resource_refusal(dpop, err.oauth_error(), err.code());
    };
    let claims = match verify_access_token(&state, &token).await {
        Ok(claims) => claims,
        Err(code) => return resource_refusal(dpop, "invalid_token", code),
    };
    let Some(jkt) = bound_jkt(&claims) else {
        return resource_refusal(dpop, "invalid_token", "ERR_DPOP_TOKEN_NOT_BOUND");
    };
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let checked = check(
        &state,
        dpop,
        req.headers(),
        &method,
        &path,
        Some(&token),
        Some(&jkt),
    )
    .await;
    match checked {
        Err(e) => return crate::auth::store_failed(&e),
        Ok(Err(e)) => {
            return quota_refusal(dpop, &e)
                .unwrap_or_else(|| resource_refusal(dpop, e.oauth_error(), e.code()))
        }
        Ok(Ok(_)) => {}
    }
    if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
        req.headers_mut().insert(header::AUTHORIZATION, value);
    }
    let mut res = next.run(req).await;
    dpop_challenge(dpop, &mut res);
    res
}

/// Verifies an access token presented with `DPoP`: one of the trusted issuer's
/// (`--trust-issuer`) against that provider's
/// keys, else one of this server's. The binding (`cnf.jkt`) is checked by the caller.
async fn verify_access_token(
    state: &AppState,
    token: &str,
) -> Result<tokenwarden::Claims, &'static str> {
    match state.trusted.as_ref().filter(|t| t.issued(token)) {
        Some(trusted) => trusted
            .verify(token, state.now_secs())
            .await
            .map(|v| v.claims),
        None => {
            let keys = state.keys();
            state
                .verifier
                .verify(token, keys.verify_set(), state.now_secs())
                .map(|v| v.claims)
                .map_err(|e| e.code())
        }
    }
}

/// A handler's `401 Bearer ...` becomes `401 DPoP ...`; every answer carries the nonce.
fn dpop_challenge(dpop: &Dpop, res: &mut Response) {
    if res.status() == StatusCode::UNAUTHORIZED {
        let challenge = res
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer"))
            .map(|rest| format!("DPoP{rest}, algs=\"ES256 EdDSA RS256 PS256\""));
        if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
    }
    add_nonce(dpop, res);
}

/// The refresh family's record keeps the key it is bound to beside the scope, so that every
/// store (memory, SQLite, Redis) keeps the binding without a schema change. The separator is a
/// character no scope token may contain (RFC 6749 §3.3).
const BINDING_SEPARATOR: char = '"';

/// The family's stored scope for `scope`, bound to `jkt`.
pub fn bind_scope(scope: &str, jkt: Option<&str>) -> String {
    match jkt {
        Some(jkt) => format!("{scope}{BINDING_SEPARATOR}{jkt}"),
        None => scope.to_owned(),
    }
}

/// The scope and the bound key of a family's stored scope.
pub fn split_scope(stored: &str) -> (&str, Option<&str>) {
    match stored.split_once(BINDING_SEPARATOR) {
        Some((scope, jkt)) => (scope, Some(jkt)),
        None => (stored, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_binding_round_trips() {
        assert_eq!(
            split_scope(&bind_scope("read write", Some("abc"))),
            ("read write", Some("abc"))
        );
        assert_eq!(split_scope(&bind_scope("read", None)), ("read", None));
    }

    #[test]
    fn dpop_authorization_scheme() {
        let mut headers = HeaderMap::new();
        assert_eq!(dpop_token(&headers), Ok(None));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("DPoP abc"));
        assert_eq!(dpop_token(&headers), Ok(Some("abc".into())));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(dpop_token(&headers), Err(NotDpop));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("DPoP a b"));
        assert_eq!(dpop_token(&headers), Err(NotDpop));
    }
}

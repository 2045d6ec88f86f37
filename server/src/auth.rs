//! `/auth/login`, `/auth/refresh`, `/auth/logout` and the access-token minting.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use chrono::DateTime;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::{ForwardedHeader, TrustProxy};
use crate::dpop;
use crate::sessions::{self, RefreshToken, MAX_TOKEN_LEN};
use crate::state::{AppState, FaultPlan, Stats};
use crate::store::{Rejection, Rotation, Store, ThrottleKey};
use crate::util::{
    bearer, cookie_values, json_error, json_response, parse_body, random_b64, unavailable,
    BearerHeader,
};
use crate::{ConnKill, PeerAddr};

/// Name of the refresh cookie: the `__Host-` prefix makes browsers accept it only with `Secure`,
/// `Path=/` and no `Domain`, from this very origin, so that no sibling subdomain can set, toss or
/// shadow it.
pub const REFRESH_COOKIE: &str = "__Host-tw_refresh";

/// Name of the refresh cookie with `--cookie-secure never` (plain http off loopback, where a
/// `__Host-` cookie cannot exist): scoped to `/auth`, and exposed to cookie tossing from sibling
/// subdomains (a duplicate then ends the session, see [`refresh`]).
pub const INSECURE_REFRESH_COOKIE: &str = "tw_refresh";

/// Name of the hint cookie with `--cookie-secure never` (see [`INSECURE_REFRESH_COOKIE`]).
pub const INSECURE_HINT_COOKIE: &str = "tw_session";

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

/// A refresh token handed to the client, and whose it is.
struct Issued {
    token: String,
    sub: String,
    scope: String,
    /// The DPoP key the tokens are bound to (`--dpop`).
    jkt: Option<String>,
}

#[derive(Serialize)]
struct AccessClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    jti: String,
    scope: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<Confirmation<'a>>,
}

/// `cnf` (RFC 7800) of a DPoP-bound token: the thumbprint of the client's key.
#[derive(Serialize)]
struct Confirmation<'a> {
    jkt: &'a str,
}

/// How long a login waits for a free password-hashing slot before answering `503`.
const HASHING_QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

/// `POST /auth/login`.
///
/// The attempt is counted (per user name and client address, and per address) *before* the
/// password is hashed, atomically in the store, so parallel guesses cannot slip past the
/// throttle; a success gives the attempt back. Keying the user counter by address means that
/// nobody can lock a user out from elsewhere. Hashing runs on the blocking pool, at most
/// [`crate::state::hashing_permits`] at a time.
pub async fn login(
    State(state): State<AppState>,
    peer: Option<Extension<PeerAddr>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
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
    // With `--dpop` the login carries a proof: the tokens are bound to its key. Its `jti` is
    // recorded only once the password is right (no replay-cache entries for strangers).
    let proof = match state.dpop.as_ref() {
        None => None,
        Some(d) => {
            match dpop::check_unrecorded(&state, d, &headers, "POST", "/auth/login", None, None) {
                Ok(proof) => Some((d, proof)),
                Err(e) => {
                    d.count(&Err(e.clone()));
                    return dpop::token_endpoint_refusal(d, &e);
                }
            }
        }
    };
    let ip = client_address(
        peer.map(|p| p.0 .0.ip()),
        &headers,
        state.config.trust_proxy,
    );
    let user_key = format!("user:{}@{ip}", creds.username);
    let ip_key = format!("ip:{ip}");
    let keys = [
        ThrottleKey {
            key: user_key.clone(),
            max: state.config.login_max_failures,
        },
        ThrottleKey {
            key: ip_key.clone(),
            max: state.config.login_ip_max_failures,
        },
    ];
    match state.store.throttle_attempt(&keys, state.now_ms()).await {
        Err(e) => return store_failed(&e),
        Ok(Err(wait_ms)) => {
            let mut res = json_error(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
            let secs = (wait_ms.max(1) as u64).div_ceil(1000);
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            return res;
        }
        Ok(Ok(())) => {}
    }
    let scope = match verify_password(&state, creds.username.clone(), creds.password).await {
        Ok(Some(scope)) => scope,
        Ok(None) => return json_error(StatusCode::UNAUTHORIZED, "invalid_credentials"),
        Err(Busy) => return unavailable(),
    };
    let jkt = match proof {
        None => None,
        Some((d, proof)) => match dpop::record(&state, d, proof).await {
            Err(e) => return store_failed(&e),
            Ok(Ok(proof)) => Some(proof.jkt),
            Ok(Err(e)) => return dpop::token_endpoint_refusal(d, &e),
        },
    };
    if let Err(e) = state.store.throttle_success(&user_key, &ip_key).await {
        eprintln!("error: {e}");
    }
    let token = RefreshToken::generate();
    let created = state
        .store
        .create_family(
            token.hash,
            &creds.username,
            &dpop::bind_scope(&scope, jkt.as_deref()),
            state.now_ms(),
            state.lifetimes(),
        )
        .await;
    if let Err(e) = created {
        return store_failed(&e);
    }
    Stats::bump(&state.stats.logins);
    token_response(
        &state,
        Issued {
            token: token.token,
            sub: creds.username,
            scope,
            jkt,
        },
    )
}

/// The address the login throttle keys on: the TCP peer, or with `--trust-proxy` the entry the
/// nearest trusted proxy appended (the `hops`-th from the right of every line of the header,
/// in order). A request whose header is missing, short or unreadable keys on the peer.
fn client_address(peer: Option<IpAddr>, headers: &HeaderMap, trust: Option<TrustProxy>) -> String {
    let forwarded = trust.and_then(|t| {
        let entries: Vec<&str> = headers
            .get_all(match t.header {
                ForwardedHeader::XForwardedFor => "x-forwarded-for",
                ForwardedHeader::Forwarded => "forwarded",
            })
            .iter()
            .map(|v| v.to_str().ok())
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .flat_map(|line| line.split(','))
            .collect();
        let entry = entries
            .len()
            .checked_sub(usize::from(t.hops))
            .map(|i| entries[i])?;
        match t.header {
            ForwardedHeader::XForwardedFor => parse_node(entry.trim()),
            ForwardedHeader::Forwarded => entry.split(';').find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                name.eq_ignore_ascii_case("for")
                    .then(|| parse_node(value.trim().trim_matches('"')))?
            }),
        }
    });
    forwarded
        .or(peer)
        .map_or_else(|| "unknown".to_string(), |ip| ip.to_string())
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]:80`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    node.rsplit_once(':')?.0.parse().ok()
}

/// No password-hashing slot came free in time (answered `503`, the attempt stays counted).
struct Busy;

/// Checks a password on the blocking pool, holding one of the bounded hashing slots: the
/// user's scope, `None` for a wrong password or an unknown user.
async fn verify_password(
    state: &AppState,
    username: String,
    password: String,
) -> Result<Option<String>, Busy> {
    let permit = match tokio::time::timeout(HASHING_QUEUE_TIMEOUT, state.hashing.acquire()).await {
        Ok(Ok(permit)) => permit,
        _ => return Err(Busy),
    };
    let now = state
        .stats
        .password_hashes_now
        .fetch_add(1, Ordering::SeqCst)
        + 1;
    state
        .stats
        .password_hashes_peak
        .fetch_max(now, Ordering::SeqCst);
    let st = state.clone();
    let verified = tokio::task::spawn_blocking(move || st.users.verify(&username, &password))
        .await
        .ok()
        .flatten();
    state
        .stats
        .password_hashes_now
        .fetch_sub(1, Ordering::SeqCst);
    drop(permit);
    Ok(verified)
}

/// The store could not answer: `503` with `Retry-After` (logged without any token).
pub(crate) fn store_failed(e: &crate::store::StoreError) -> Response {
    eprintln!("error: {e}");
    unavailable()
}

/// Mints an access token for `sub`/`scope` at the server clock; returns `(token, expires_in)`.
pub fn mint_access_token(
    state: &AppState,
    sub: &str,
    scope: &str,
) -> Result<(String, u64), String> {
    mint_bound_access_token(state, sub, scope, None)
}

/// [`mint_access_token`], bound to a DPoP key (`cnf.jkt`) when `jkt` is given.
pub fn mint_bound_access_token(
    state: &AppState,
    sub: &str,
    scope: &str,
    jkt: Option<&str>,
) -> Result<(String, u64), String> {
    let now = state.now_secs();
    let ttl = state.config.access_ttl_secs;
    let mut claims = jwt_compact::Claims::new(AccessClaims {
        iss: &state.issuer,
        aud: &state.config.audience,
        sub,
        jti: random_b64(16),
        scope,
        cnf: jkt.map(|jkt| Confirmation { jkt }),
    });
    claims.issued_at = DateTime::from_timestamp(now, 0);
    claims.expiration = DateTime::from_timestamp(now.saturating_add(ttl as i64), 0);
    let token = state.keys().sign(&claims)?;
    Ok((token, ttl))
}

/// What a response does to the refresh cookie.
enum CookieUpdate<'a> {
    /// Set it to a new refresh token.
    Set(&'a str),
    /// Delete it (refused refresh, logout).
    Clear,
}

/// Name of the session hint cookie: `__Host-tw_session=1`, not secret and readable by scripts, set and
/// cleared together with the `HttpOnly` refresh cookie (as auth0-spa-js's `is.authenticated`
/// cookie), so that a page without it knows there is certainly no session and skips the refresh
/// call that would only answer `400 invalid_grant` (the manager's `sessionHint` option).
pub const HINT_COOKIE: &str = "__Host-tw_session";

/// The refresh and hint cookie names this server writes and reads: the `__Host-` ones, or with
/// `--cookie-secure never` the unprefixed ones (no cookie of the other naming is ever read: an
/// unprefixed cookie may have been tossed by a sibling subdomain).
pub fn cookie_names(state: &AppState) -> (&'static str, &'static str) {
    if state.cookie_secure {
        (REFRESH_COOKIE, HINT_COOKIE)
    } else {
        (INSECURE_REFRESH_COOKIE, INSECURE_HINT_COOKIE)
    }
}

/// Every `Set-Cookie` this server sends goes through here: the refresh token as an `HttpOnly;
/// SameSite=Strict; Secure; Path=/` `__Host-` cookie, and the script-readable hint cookie beside
/// it; or the deletion of both. With `--cookie-secure never` the unprefixed names, without
/// `Secure`, the refresh cookie scoped to `/auth`.
fn update_cookies(res: &mut Response, state: &AppState, update: CookieUpdate<'_>) {
    let (value, hint, max_age) = match update {
        CookieUpdate::Set(token) => (token, "1", state.config.refresh_ttl_secs),
        CookieUpdate::Clear => ("", "", 0),
    };
    let (name, hint_name) = cookie_names(state);
    let (path, secure) = if state.cookie_secure {
        ("/", "; Secure")
    } else {
        ("/auth", "")
    };
    let refresh = format!(
        "{name}={value}; Path={path}; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    );
    let hint = format!("{hint_name}={hint}; Path=/; SameSite=Strict; Max-Age={max_age}{secure}");
    let headers = res.headers_mut();
    for line in [refresh, hint] {
        let line = HeaderValue::from_str(&line).expect("cookie values are base64url or ASCII");
        headers.append(header::SET_COOKIE, line);
    }
}

fn token_response(state: &AppState, issued: Issued) -> Response {
    let minted = mint_bound_access_token(state, &issued.sub, &issued.scope, issued.jkt.as_deref());
    let (access, expires_in) = match minted {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return json_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error");
        }
    };
    let mut body = json!({
        "access_token": access,
        "token_type": if issued.jkt.is_some() { "DPoP" } else { "Bearer" },
        "expires_in": expires_in,
        "scope": issued.scope,
    });
    let mut res = if state.cookie_mode() {
        let mut res = json_response(StatusCode::OK, &body);
        update_cookies(&mut res, state, CookieUpdate::Set(&issued.token));
        res
    } else {
        body["refresh_token"] = json!(issued.token);
        json_response(StatusCode::OK, &body)
    };
    if let Some(d) = state.dpop.as_ref() {
        dpop::add_nonce(d, &mut res);
    }
    res
}

fn invalid_grant(state: &AppState) -> Response {
    let mut res = json_error(StatusCode::BAD_REQUEST, "invalid_grant");
    if state.cookie_mode() {
        update_cookies(&mut res, state, CookieUpdate::Clear);
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
        let mut cookies = cookie_values(&headers, cookie_names(&state).0);
        if cookies.len() > 1 {
            // Cookie tossing (a sibling subdomain set one for a parent domain): which one is
            // the user's cannot be told, so neither is used, and the session ends here with
            // the cookies cleared (`invalid_grant`, terminal for clients) rather than an
            // error a client would retry for ever.
            return invalid_grant(&state);
        }
        cookies.pop()
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
    let Some(presented) = presented.filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN_LEN) else {
        return invalid_grant(&state);
    };
    // With `--dpop` a refresh carries a proof, checked before the family is touched: a refresh
    // token presented without the key rotates nothing. Its `jti` is recorded after the rotation
    // (no replay-cache entries for requests without a live refresh token).
    let proof = match state.dpop.as_ref() {
        None => None,
        Some(d) => {
            let checked =
                dpop::check_unrecorded(&state, d, &headers, "POST", "/auth/refresh", None, None);
            match checked {
                Ok(proof) => Some((d, proof)),
                Err(e) => {
                    d.count(&Err(e.clone()));
                    return dpop::token_endpoint_refusal(d, &e);
                }
            }
        }
    };
    let successor = RefreshToken::successor_of(&presented);
    let lifetimes = state.lifetimes();
    // Sealed only for a grace window: without one, nothing in the store leads to the successor.
    let sealed = (lifetimes.grace_ms > 0).then(|| successor.sealed_with(&presented));
    let result = state
        .store
        .rotate(
            sessions::hash(&presented),
            successor.hash,
            sealed,
            state.now_ms(),
            lifetimes,
        )
        .await;
    match result {
        Err(e) => store_failed(&e),
        Ok(Ok(rotation)) => {
            Stats::bump(&state.stats.rotations);
            let (token, sub, scope) = match rotation {
                Rotation::Rotated { sub, scope } => (successor.token, sub, scope),
                Rotation::Replayed {
                    sub,
                    scope,
                    sealed_successor,
                } => (sessions::unseal(sealed_successor, &presented), sub, scope),
            };
            let (scope, bound) = dpop::split_scope(&scope);
            let jkt = match proof {
                None => None,
                Some((d, proof)) => {
                    // The refresh token in the hands of another key, or with a replayed
                    // proof: treat it as stolen, like a reuse, and end the family.
                    // The refresh token is spent: no quota stands between it and its successor.
                    let verdict = if bound != Some(proof.jkt()) {
                        let err = tokenwarden::core::dpop::DpopError::KeyMismatch;
                        d.count(&Err(err.clone()));
                        Err(err)
                    } else {
                        match dpop::record(&state, d, proof.exempt_from_quota()).await {
                            Err(e) => return store_failed(&e),
                            Ok(verdict) => verdict,
                        }
                    };
                    match verdict {
                        Ok(proof) => Some(proof.jkt),
                        Err(err) => {
                            let revoked =
                                state.store.revoke_family_of(sessions::hash(&token)).await;
                            if let Err(e) = revoked {
                                return store_failed(&e);
                            }
                            Stats::bump(&state.stats.revocations);
                            return dpop::token_endpoint_refusal(d, &err);
                        }
                    }
                }
            };
            let scope = scope.to_owned();
            token_response(
                &state,
                Issued {
                    token,
                    sub,
                    scope,
                    jkt,
                },
            )
        }
        Ok(Err(rejection)) => {
            if rejection == Rejection::ReuseDetected {
                Stats::bump(&state.stats.reuse_detected);
                Stats::bump(&state.stats.revocations);
            }
            invalid_grant(&state)
        }
    }
}

/// `POST /auth/logout`: 204 (503 if the store cannot record it, so that a client may retry).
///
/// A DPoP-bound access token (`cnf.jkt`) is blocklisted only when it comes as `DPoP` with a
/// proof of its key for this request: a copy of the token alone is good for nothing, not even
/// for cutting the user's session short. Without one the answer is the token endpoint's DPoP
/// refusal and nothing is revoked.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let token = match bearer(&headers) {
        BearerHeader::Token(token) => Some((token, false)),
        _ => dpop::dpop_token(&headers).ok().flatten().map(|t| (t, true)),
    };
    let verified = token.and_then(|(token, as_dpop)| {
        let keys = state.keys();
        let v = state
            .verifier
            .verify(&token, keys.verify_set(), state.now_secs())
            .ok()?;
        Some((token, as_dpop, v.claims))
    });
    if let Some((token, as_dpop, claims)) = &verified {
        if let Some(jkt) = dpop::bound_jkt(claims) {
            // (A bound token reaches a server without `--dpop` only if it was restarted
            // without it: no proof can be checked, so the logout is refused alike.)
            let Some(d) = state.dpop.as_ref() else {
                return json_error(StatusCode::BAD_REQUEST, "invalid_dpop_proof");
            };
            let proven = if *as_dpop {
                let path = "/auth/logout";
                match dpop::check(
                    &state,
                    d,
                    &headers,
                    "POST",
                    path,
                    Some(token.as_str()),
                    Some(&jkt),
                )
                .await
                {
                    Ok(result) => result.err(),
                    // The replay cache did not answer: no logout without a recorded proof.
                    Err(e) => return store_failed(&e),
                }
            } else {
                Some(tokenwarden::core::dpop::DpopError::Missing)
            };
            if let Some(e) = proven {
                return dpop::token_endpoint_refusal(d, &e);
            }
        }
    }
    // Either transport is accepted here, and every cookie of ours: revoking is always safe.
    let mut candidates = cookie_values(&headers, cookie_names(&state).0);
    if let Some(b) = parse_body::<RefreshBody>(&headers, &body) {
        candidates.extend(b.refresh_token);
    }
    for t in candidates.iter().filter(|t| t.len() <= MAX_TOKEN_LEN) {
        match state.store.revoke_family_of(sessions::hash(t)).await {
            Ok(true) => Stats::bump(&state.stats.revocations),
            Ok(false) => {}
            Err(e) => return store_failed(&e),
        }
    }
    if let Some((_, _, claims)) = verified {
        if let (Some(jti), Some(exp)) = (claims.jti, claims.exp) {
            if let Err(e) = state.store.block_jti(&jti, exp, state.now_secs()).await {
                return store_failed(&e);
            }
        }
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    update_cookies(&mut res, &state, CookieUpdate::Clear);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &'static str, lines: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for line in lines {
            h.append(name, HeaderValue::from_str(line).unwrap());
        }
        h
    }

    const PEER: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)));

    fn trust(header: ForwardedHeader, hops: u8) -> Option<TrustProxy> {
        Some(TrustProxy { header, hops })
    }

    #[test]
    fn the_client_is_the_entry_the_nearest_trusted_proxy_wrote() {
        let xff = ForwardedHeader::XForwardedFor;
        let spoofed = headers("x-forwarded-for", &["6.6.6.6, 1.2.3.4", "5.6.7.8"]);
        assert_eq!(client_address(PEER, &spoofed, trust(xff, 1)), "5.6.7.8");
        assert_eq!(client_address(PEER, &spoofed, trust(xff, 2)), "1.2.3.4");
        assert_eq!(client_address(PEER, &spoofed, trust(xff, 3)), "6.6.6.6");
        // More hops than entries, garbage, or no trust at all: the peer.
        assert_eq!(client_address(PEER, &spoofed, trust(xff, 4)), "10.0.0.1");
        assert_eq!(client_address(PEER, &spoofed, None), "10.0.0.1");
        let junk = headers("x-forwarded-for", &["1.2.3.4, not-an-address"]);
        assert_eq!(client_address(PEER, &junk, trust(xff, 1)), "10.0.0.1");
        let fwd = ForwardedHeader::Forwarded;
        let rfc7239 = headers(
            "forwarded",
            &[r#"for=6.6.6.6, For="[2001:db8:cafe::17]:4711";proto=https, for=192.0.2.60:80;by=x"#],
        );
        assert_eq!(client_address(PEER, &rfc7239, trust(fwd, 1)), "192.0.2.60");
        assert_eq!(
            client_address(PEER, &rfc7239, trust(fwd, 2)),
            "2001:db8:cafe::17"
        );
        // The other header is not read.
        assert_eq!(client_address(PEER, &spoofed, trust(fwd, 1)), "10.0.0.1");
        assert_eq!(client_address(None, &HeaderMap::new(), None), "unknown");
    }

    #[test]
    fn trust_proxy_flag() {
        let parse = TrustProxy::parse;
        assert_eq!(
            parse("x-forwarded-for"),
            Ok(TrustProxy {
                header: ForwardedHeader::XForwardedFor,
                hops: 1
            })
        );
        assert_eq!(
            parse("Forwarded:2"),
            Ok(TrustProxy {
                header: ForwardedHeader::Forwarded,
                hops: 2
            })
        );
        for bad in [
            "",
            "x-real-ip",
            "forwarded:0",
            "forwarded:17",
            "forwarded:x",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}

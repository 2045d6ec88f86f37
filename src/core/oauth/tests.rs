//! Scenario tests of the OAuth profile: a login from request to tokens, and every way a
//! callback, token response or ID token is refused, each with a typed error and no state lost.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::collections::HashMap;

use super::*;
use crate::core::secret::Secret;
use crate::core::session::{Action, RefreshFailure, RefreshPolicy, Session, SessionState};

pub(crate) const ISSUER: &str = "https://idp.example";
const NOW_MS: u64 = 1_800_000_000_000;
const NOW_SECS: i64 = 1_800_000_000;

pub(crate) fn config() -> ClientConfig {
    ClientConfig::new(ISSUER, "spa", "https://app.example/callback")
}

pub(crate) fn metadata() -> ProviderMetadata {
    let doc = format!(
        r#"{{"issuer":"{ISSUER}","authorization_endpoint":"{ISSUER}/auth",
        "token_endpoint":"{ISSUER}/token","jwks_uri":"{ISSUER}/jwks",
        "revocation_endpoint":"{ISSUER}/token/revocation",
        "end_session_endpoint":"{ISSUER}/session/end",
        "code_challenge_methods_supported":["S256"],
        "authorization_response_iss_parameter_supported":true}}"#
    );
    ProviderMetadata::parse(&doc, ISSUER).unwrap()
}

pub(crate) fn random(seed: u8) -> LoginRandomness {
    let bytes: [u8; 96] = core::array::from_fn(|i| (i as u8).wrapping_mul(31).wrapping_add(seed));
    LoginRandomness::from_bytes(&bytes)
}

/// The query parameters of `url`, each expected once.
pub(crate) fn query(url: &str) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for (name, value) in form_urlencoded::parse(url::query_of(url).unwrap_or("").as_bytes()) {
        assert!(
            map.insert(name.to_string(), value.into_owned()).is_none(),
            "{name} twice"
        );
    }
    map
}

fn start_login() -> Transaction {
    authorization_request(
        &metadata(),
        &config(),
        &LoginOptions::default(),
        &random(3),
        NOW_MS,
    )
    .unwrap()
    .transaction
}

fn callback(params: &[(&str, &str)]) -> String {
    url::with_query("https://app.example/callback", params.iter().copied())
}

fn good_callback(tx: &Transaction) -> String {
    callback(&[("code", "the-code"), ("state", &tx.state), ("iss", ISSUER)])
}

/// Completes `tx` with `url` and expects a refusal with `code`; returns whether the
/// transaction came back (still pending) and asserts it is unchanged if so.
fn refused(tx: Transaction, url: &str, code: &str) -> bool {
    let original = tx.clone();
    let err = tx
        .complete(url, &metadata(), NOW_MS + 1000)
        .expect_err("refused");
    assert_eq!(err.error.code(), code, "{url}: {}", err.error);
    if let Some(back) = &err.transaction {
        assert_eq!(
            *back, original,
            "the pending login is handed back unchanged"
        );
    }
    err.transaction.is_some()
}

#[test]
fn a_login_completes_and_builds_the_code_exchange() {
    let tx = start_login();
    let verifier = tx.code_verifier.clone();
    let exchange = tx
        .complete(&good_callback(&start_login()), &metadata(), NOW_MS + 1000)
        .unwrap();
    assert_eq!(exchange.code.expose(), "the-code");
    let request = exchange.token_request(&metadata());
    assert_eq!(request.url, "https://idp.example/token");
    let body = query(&format!("?{}", request.body.expose()));
    assert_eq!(body["grant_type"], "authorization_code");
    assert_eq!(body["code"], "the-code");
    assert_eq!(body["redirect_uri"], "https://app.example/callback");
    assert_eq!(body["client_id"], "spa");
    assert_eq!(body["code_verifier"], verifier.expose());
    assert!(exchange.expects_id_token());
    assert!(!format!("{exchange:?} {request:?}").contains("the-code"));
}

#[test]
fn state_mismatch_is_refused_and_the_login_stays_pending() {
    let tx = start_login();
    let mut tampered = tx.state.clone();
    tampered.replace_range(0..1, if tampered.starts_with('A') { "B" } else { "A" });
    for url in [
        callback(&[("code", "c"), ("state", &tampered), ("iss", ISSUER)]),
        callback(&[("code", "c"), ("iss", ISSUER)]),
        callback(&[("code", "c"), ("state", ""), ("iss", ISSUER)]),
        // An error response for another login does not end this one either.
        callback(&[
            ("error", "access_denied"),
            ("state", "other"),
            ("iss", ISSUER),
        ]),
    ] {
        assert!(refused(tx.clone(), &url, "ERR_OAUTH_STATE_MISMATCH"));
    }
    // The real callback still completes afterwards.
    assert!(tx
        .clone()
        .complete(&good_callback(&tx), &metadata(), NOW_MS + 1000)
        .is_ok());
}

#[test]
fn iss_is_checked_per_rfc_9207() {
    let tx = start_login();
    let state = tx.state.clone();
    let wrong = callback(&[
        ("code", "c"),
        ("state", &state),
        ("iss", "https://evil.example"),
    ]);
    assert!(refused(tx.clone(), &wrong, "ERR_OAUTH_ISS_MISMATCH"));
    let slash = callback(&[
        ("code", "c"),
        ("state", &state),
        ("iss", "https://idp.example/"),
    ]);
    assert!(refused(tx.clone(), &slash, "ERR_OAUTH_ISS_MISMATCH"));
    let absent = callback(&[("code", "c"), ("state", &state)]);
    assert!(refused(tx.clone(), &absent, "ERR_OAUTH_ISS_MISSING"));
    // A provider that does not advertise RFC 9207 may omit iss, but a wrong one is refused.
    let mut quiet = metadata();
    quiet.authorization_response_iss_parameter_supported = false;
    assert!(tx.clone().complete(&absent, &quiet, NOW_MS).is_ok());
    let err = tx.complete(&wrong, &quiet, NOW_MS).unwrap_err();
    assert_eq!(err.error, OAuthError::IssMismatch);
}

#[test]
fn a_missing_or_repeated_code_is_refused() {
    let tx = start_login();
    let state = tx.state.clone();
    let twice = callback(&[
        ("code", "a"),
        ("code", "b"),
        ("state", &state),
        ("iss", ISSUER),
    ]);
    assert!(refused(tx.clone(), &twice, "ERR_OAUTH_INVALID_CALLBACK"));
    let state_twice = callback(&[("code", "a"), ("state", &state), ("state", &state)]);
    assert!(refused(
        tx.clone(),
        &state_twice,
        "ERR_OAUTH_INVALID_CALLBACK"
    ));
    // The provider answered this login without a code: the login is over.
    let none = callback(&[("state", &state), ("iss", ISSUER)]);
    assert!(!refused(tx.clone(), &none, "ERR_OAUTH_CODE_MISSING"));
    let empty = callback(&[("code", ""), ("state", &state), ("iss", ISSUER)]);
    assert!(!refused(tx.clone(), &empty, "ERR_OAUTH_CODE_MISSING"));
    // Not our redirect URI, or a fragment response.
    let other = good_callback(&tx).replace("/callback", "/other");
    assert!(refused(tx.clone(), &other, "ERR_OAUTH_INVALID_CALLBACK"));
    let fragment = format!("https://app.example/callback#code=c&state={state}");
    assert!(refused(tx, &fragment, "ERR_OAUTH_INVALID_CALLBACK"));
}

#[test]
fn a_replayed_callback_finds_no_transaction() {
    // sessionStorage, as the shell uses it: written at the redirect, taken at the callback.
    let mut storage: HashMap<String, Secret> = HashMap::new();
    let request = authorization_request(
        &metadata(),
        &config(),
        &LoginOptions::default(),
        &random(9),
        NOW_MS,
    )
    .unwrap();
    let key = transaction_storage_key("spa");
    storage.insert(key.clone(), request.transaction.to_storage());
    let url = good_callback(&request.transaction);

    let taken = storage.remove(&key);
    let tx = Transaction::from_storage(taken.as_ref().map(Secret::expose), NOW_MS + 5).unwrap();
    assert_eq!(tx, request.transaction);
    assert!(tx.complete(&url, &metadata(), NOW_MS + 5).is_ok());

    // The same callback URL again (back button, double handling): the code is not used twice.
    let taken = storage.remove(&key);
    assert_eq!(
        Transaction::from_storage(taken.as_ref().map(Secret::expose), NOW_MS + 9).unwrap_err(),
        OAuthError::NoTransaction
    );
}

#[test]
fn provider_errors_at_the_callback_are_typed() {
    for (error, code) in [
        ("access_denied", "ERR_OAUTH_ACCESS_DENIED"),
        ("login_required", "ERR_OAUTH_LOGIN_REQUIRED"),
        ("consent_required", "ERR_OAUTH_CONSENT_REQUIRED"),
        ("interaction_required", "ERR_OAUTH_INTERACTION_REQUIRED"),
        ("something_new", "ERR_OAUTH_PROVIDER_ERROR"),
    ] {
        let tx = start_login();
        let state = tx.state.clone();
        let url = callback(&[
            ("error", error),
            ("error_description", "The user said no\n"),
            ("error_uri", "https://idp.example/help"),
            ("state", &state),
            ("iss", ISSUER),
        ]);
        let err = tx.complete(&url, &metadata(), NOW_MS).unwrap_err();
        assert!(err.transaction.is_none(), "the provider ended this login");
        assert_eq!(err.error.code(), code);
        let provider = err.error.provider().unwrap();
        assert_eq!(provider.endpoint, Endpoint::Authorization);
        assert_eq!(provider.kind.as_str(), error);
        assert_eq!(provider.description.as_deref(), Some("The user said no\n"));
        assert_eq!(provider.uri.as_deref(), Some("https://idp.example/help"));
        assert!(
            !err.error.to_string().contains('\n'),
            "control characters neutralised"
        );
    }
}

#[test]
fn transactions_expire_after_ten_minutes() {
    let tx = start_login();
    let stored = tx.to_storage();
    let ttl_ms = TRANSACTION_TTL_SECS * 1000;
    assert!(Transaction::from_storage(Some(stored.expose()), NOW_MS + ttl_ms - 1).is_ok());
    assert_eq!(
        Transaction::from_storage(Some(stored.expose()), NOW_MS + ttl_ms).unwrap_err(),
        OAuthError::TransactionExpired
    );
    assert_eq!(
        Transaction::from_storage(Some(stored.expose()), NOW_MS - 120_000).unwrap_err(),
        OAuthError::TransactionExpired,
        "started in the future"
    );
    let err = tx
        .complete(&good_callback(&start_login()), &metadata(), NOW_MS + ttl_ms)
        .unwrap_err();
    assert_eq!(err.error, OAuthError::TransactionExpired);
    assert!(err.transaction.is_none());
}

#[test]
fn stored_transactions_are_parsed_strictly() {
    let tx = start_login();
    let stored = tx.to_storage();
    let good = stored.expose();
    assert!(!format!("{tx:?}").contains(tx.code_verifier.expose()));
    let bad = [
        good.replacen("{", "{\"extra\":1,", 1),
        good.replace("\"created_at\":", "\"created_at\":\"1\",\"x\":"),
        good.replace("\"v\":1", "\"v\":2"),
        good.replace(&tx.state, &tx.state[1..]),
        good.replace(&tx.state, &format!("{}=", &tx.state[1..])),
        good.replace(tx.code_verifier.expose(), "short"),
        good.replace(tx.code_verifier.expose(), &"a/".repeat(30)),
        good.replace("\"client_id\":\"spa\"", "\"client_id\":\"\""),
        good.replace("\"created_at\":", "\"created_at\":-"),
        format!("{good}{{}}"),
        "[]".to_owned(),
        String::new(),
        format!("{{\"pad\":\"{}\"}}", "x".repeat(5000)),
    ];
    for text in &bad {
        let err = Transaction::from_storage(Some(text), NOW_MS).unwrap_err();
        let reason = if let OAuthError::InvalidTransaction { reason } = &err {
            reason
        } else {
            ""
        };
        assert_eq!(err.code(), "ERR_OAUTH_INVALID_TRANSACTION", "{text}: {err}");
        assert!(!reason.is_empty());
    }
}

#[test]
fn token_responses_are_parsed() {
    let body = r#"{"access_token":"at","token_type":"bearer","expires_in":300,
        "refresh_token":"rt","id_token":"h.p.s","scope":"openid offline_access","x":[1]}"#;
    let response = parse_token_response(200, body).unwrap();
    assert_eq!(response.access_token.expose(), "at");
    assert_eq!(response.token_type, TokenType::Bearer);
    assert_eq!(response.expires_in, Some(300));
    assert_eq!(response.refresh_token.as_ref().unwrap().expose(), "rt");
    assert_eq!(response.id_token.as_ref().unwrap().expose(), "h.p.s");
    assert_eq!(response.scope.as_deref(), Some("openid offline_access"));
    assert!(!format!("{response:?}").contains("\"at\""));

    let dpop = parse_token_response(
        200,
        r#"{"access_token":"at","token_type":"DPoP","expires_in":"60"}"#,
    )
    .unwrap();
    assert_eq!(dpop.token_type, TokenType::DPoP);
    assert_eq!(dpop.expires_in, Some(60));
    assert!(dpop.refresh_token.is_none() && dpop.id_token.is_none());
    // RFC 6749 §5.1: the type is case-insensitive (the DPoP option accepts any spelling).
    for spelling in ["dpop", "DPOP", "dPoP"] {
        let body = format!(r#"{{"access_token":"at","token_type":"{spelling}"}}"#);
        let response = parse_token_response(200, &body).unwrap();
        assert_eq!(response.token_type, TokenType::DPoP, "{spelling}");
    }

    for (body, code) in [
        ("not json", "ERR_OAUTH_INVALID_TOKEN_RESPONSE"),
        (
            r#"{"token_type":"Bearer"}"#,
            "ERR_OAUTH_INVALID_TOKEN_RESPONSE",
        ),
        (
            r#"{"access_token":"","token_type":"Bearer"}"#,
            "ERR_OAUTH_INVALID_TOKEN_RESPONSE",
        ),
        (
            r#"{"access_token":"at"}"#,
            "ERR_OAUTH_INVALID_TOKEN_RESPONSE",
        ),
        (
            r#"{"access_token":"at","token_type":"mac"}"#,
            "ERR_OAUTH_UNSUPPORTED_TOKEN_TYPE",
        ),
        (
            r#"{"access_token":"at","token_type":"Bearer","expires_in":-1}"#,
            "ERR_OAUTH_INVALID_TOKEN_RESPONSE",
        ),
        (
            r#"{"access_token":"at","token_type":"Bearer","expires_in":1.5}"#,
            "ERR_OAUTH_INVALID_TOKEN_RESPONSE",
        ),
        (
            r#"{"access_token":"at","token_type":"Bearer","expires_in":"1e3"}"#,
            "ERR_OAUTH_INVALID_TOKEN_RESPONSE",
        ),
        (
            r#"{"access_token":7,"token_type":"Bearer"}"#,
            "ERR_OAUTH_INVALID_TOKEN_RESPONSE",
        ),
        (
            r#"{"access_token":"at","token_type":"Bearer","scope":7}"#,
            "ERR_OAUTH_INVALID_TOKEN_RESPONSE",
        ),
    ] {
        let err = parse_token_response(200, body).unwrap_err();
        assert_eq!(err.code(), code, "{body}");
        assert!(!err.ends_session(), "{body}");
    }

    // The session's own limits (`session::grant`) hold for provider responses too: tokens of
    // 1 to 8192 characters, `expires_in` up to 2^31-1 seconds.
    let long = "a".repeat(crate::core::session::grant::MAX_TOKEN_LEN + 1);
    let at_limit = "a".repeat(crate::core::session::grant::MAX_TOKEN_LEN);
    for member in ["access_token", "refresh_token"] {
        let base = r#""token_type":"Bearer""#;
        let fill = |token: &str| match member {
            "access_token" => format!(r#"{{"access_token":"{token}",{base}}}"#),
            _ => format!(r#"{{"access_token":"at","refresh_token":"{token}",{base}}}"#),
        };
        let err = parse_token_response(200, &fill(&long)).unwrap_err();
        assert_eq!(err.code(), "ERR_OAUTH_INVALID_TOKEN_RESPONSE", "{member}");
        assert!(
            parse_token_response(200, &fill(&at_limit)).is_ok(),
            "{member}"
        );
    }
    let max = r#"{"access_token":"at","token_type":"Bearer","expires_in":2147483647}"#;
    assert_eq!(
        parse_token_response(200, max).unwrap().expires_in,
        Some(2_147_483_647)
    );
    for over in ["2147483648", "\"2147483648\""] {
        let body = format!(r#"{{"access_token":"at","token_type":"Bearer","expires_in":{over}}}"#);
        let err = parse_token_response(200, &body).unwrap_err();
        assert_eq!(err.code(), "ERR_OAUTH_INVALID_TOKEN_RESPONSE", "{over}");
    }
}

#[test]
fn token_endpoint_errors_are_typed_and_only_invalid_grant_ends_the_session() {
    let err = parse_token_response(
        400,
        r#"{"error":"invalid_grant","error_description":"grant request is invalid"}"#,
    )
    .unwrap_err();
    assert_eq!(err.code(), "ERR_OAUTH_INVALID_GRANT");
    assert!(err.ends_session());
    assert_eq!(err.refresh_failure(None), RefreshFailure::InvalidGrant);
    assert_eq!(err.provider().unwrap().status, Some(400));

    let scope = parse_token_response(400, r#"{"error":"invalid_scope"}"#).unwrap_err();
    assert_eq!(scope.code(), "ERR_OAUTH_INVALID_SCOPE");
    assert!(!scope.ends_session() && !scope.is_transient());

    let unavailable =
        parse_token_response(503, r#"{"error":"temporarily_unavailable"}"#).unwrap_err();
    assert!(unavailable.is_transient() && !unavailable.ends_session());
    assert_eq!(
        unavailable.refresh_failure(Some(5000)),
        RefreshFailure::Server {
            status: 503,
            retry_after_ms: Some(5000)
        }
    );
    let page = parse_token_response(502, "<html>bad gateway</html>").unwrap_err();
    assert_eq!(
        page,
        OAuthError::Http {
            endpoint: Endpoint::Token,
            status: 502
        }
    );
    assert!(page.is_transient());
    let limited = parse_token_response(429, "").unwrap_err();
    assert_eq!(
        limited.refresh_failure(None),
        RefreshFailure::TooManyRequests {
            retry_after_ms: None
        }
    );
    let unauthorized = parse_token_response(401, r#"{"error":"invalid_client"}"#).unwrap_err();
    assert!(unauthorized.ends_session());
    let malformed = parse_token_response(200, "{}").unwrap_err();
    assert_eq!(malformed.refresh_failure(None), RefreshFailure::Malformed);
}

/// A session with access token `at-1` and refresh token `rt-1`, a refresh in flight.
fn session_refreshing() -> (Session, crate::core::session::Generation) {
    let mut session = Session::new(RefreshPolicy::default(), 1);
    let mut grant = parse_token_response(
        200,
        r#"{"access_token":"at-1","token_type":"Bearer","expires_in":300,"refresh_token":"rt-1"}"#,
    )
    .unwrap()
    .into_grant(None);
    grant.expires_in = Some(300);
    session.handle_tokens(grant, NOW_MS);
    session.request_refresh(NOW_MS + 1);
    let generation = std::iter::from_fn(|| session.poll_action())
        .find_map(|action| match action {
            Action::StartRefresh { generation } => Some(generation),
            _ => None,
        })
        .expect("a refresh starts");
    let request = refresh_request(&metadata(), "spa", session.refresh_token().unwrap(), None);
    let body = query(&format!("?{}", request.body.expose()));
    assert_eq!(body["grant_type"], "refresh_token");
    assert_eq!(body["refresh_token"], "rt-1");
    assert_eq!(body["client_id"], "spa");
    assert!(!body.contains_key("scope"));
    (session, generation)
}

#[test]
fn a_refresh_response_without_a_refresh_token_keeps_the_old_one() {
    let (mut session, generation) = session_refreshing();
    let response = parse_token_response(
        200,
        r#"{"access_token":"at-2","token_type":"Bearer","expires_in":300}"#,
    )
    .unwrap();
    assert!(response.refresh_token.is_none());
    session.handle_refresh_ok(generation, response.into_grant(None), NOW_MS + 2);
    assert_eq!(session.refresh_token().unwrap().expose(), "rt-1");
    assert_eq!(session.state(), SessionState::Authenticated);

    // With rotation the new one replaces it.
    session.request_refresh(NOW_MS + 3);
    let generation = std::iter::from_fn(|| session.poll_action())
        .find_map(|a| match a {
            Action::StartRefresh { generation } => Some(generation),
            _ => None,
        })
        .unwrap();
    let rotated = parse_token_response(
        200,
        r#"{"access_token":"at-3","token_type":"Bearer","expires_in":300,"refresh_token":"rt-2"}"#,
    )
    .unwrap();
    session.handle_refresh_ok(generation, rotated.into_grant(None), NOW_MS + 4);
    assert_eq!(session.refresh_token().unwrap().expose(), "rt-2");
}

#[test]
fn invalid_grant_ends_the_session_other_refresh_errors_keep_it() {
    let (mut session, generation) = session_refreshing();
    let err = parse_token_response(400, r#"{"error":"server_error"}"#).unwrap_err();
    session.handle_refresh_err(generation, err.refresh_failure(None), NOW_MS + 2);
    assert_eq!(session.refresh_token().unwrap().expose(), "rt-1", "kept");
    assert_eq!(session.state(), SessionState::Authenticated);

    let (mut session, generation) = session_refreshing();
    let err = parse_token_response(400, r#"{"error":"invalid_grant"}"#).unwrap_err();
    session.handle_refresh_err(generation, err.refresh_failure(None), NOW_MS + 2);
    assert_eq!(session.state(), SessionState::Anonymous);
    assert!(session.refresh_token().is_none());
}

#[test]
fn revocation_and_refresh_requests_are_form_encoded() {
    let token = Secret::from("rt+/=&1");
    let request =
        revocation_request(&metadata(), "spa", &token, TokenTypeHint::RefreshToken).unwrap();
    assert_eq!(request.url, "https://idp.example/token/revocation");
    assert_eq!(
        request.body.expose(),
        "token=rt%2B%2F%3D%261&token_type_hint=refresh_token&client_id=spa"
    );
    let mut without = metadata();
    without.revocation_endpoint = None;
    assert_eq!(
        revocation_request(&without, "spa", &token, TokenTypeHint::AccessToken).unwrap_err(),
        OAuthError::EndpointNotOffered {
            member: "revocation_endpoint"
        }
    );
    let narrowed = refresh_request(&metadata(), "spa", &token, Some("openid api:read"));
    assert!(narrowed
        .body
        .expose()
        .ends_with("&client_id=spa&scope=openid+api%3Aread"));
    assert_eq!(parse_revocation_response(200, ""), Ok(()));
    assert_eq!(
        parse_revocation_response(400, r#"{"error":"unsupported_token_type"}"#)
            .unwrap_err()
            .code(),
        "ERR_OAUTH_UNSUPPORTED_TOKEN_TYPE"
    );
    assert!(
        !parse_revocation_response(400, r#"{"error":"invalid_grant"}"#)
            .unwrap_err()
            .ends_session()
    );
}

fn id_claims(nonce: &str) -> IdTokenClaims {
    IdTokenClaims {
        iss: Some(ISSUER.into()),
        sub: Some("user-1".into()),
        aud: vec!["spa".into()],
        azp: None,
        nonce: Some(nonce.into()),
        exp: Some(NOW_SECS + 300),
        iat: Some(NOW_SECS - 5),
        auth_time: Some(NOW_SECS - 30),
    }
}

fn login_check() -> (IdTokenCheck, String) {
    let tx = start_login();
    let nonce = tx.nonce.clone().unwrap();
    let exchange = tx
        .complete(&good_callback(&start_login()), &metadata(), NOW_MS)
        .unwrap();
    (IdTokenCheck::for_login(&metadata(), &exchange), nonce)
}

#[test]
fn id_token_claims_are_checked() {
    let (check, nonce) = login_check();
    assert_eq!(check.validate(&id_claims(&nonce), NOW_SECS), Ok(()));
    type Change = Box<dyn Fn(&mut IdTokenClaims)>;
    let cases: Vec<(&str, Change)> = vec![
        (
            "ERR_OAUTH_ID_TOKEN_ISSUER_MISMATCH",
            Box::new(|c| c.iss = Some("https://evil.example".into())),
        ),
        (
            "ERR_OAUTH_ID_TOKEN_CLAIM_MISSING",
            Box::new(|c| c.iss = None),
        ),
        (
            "ERR_OAUTH_ID_TOKEN_CLAIM_MISSING",
            Box::new(|c| c.sub = None),
        ),
        (
            "ERR_OAUTH_ID_TOKEN_CLAIM_MISSING",
            Box::new(|c| c.aud.clear()),
        ),
        (
            "ERR_OAUTH_ID_TOKEN_AUDIENCE_MISMATCH",
            Box::new(|c| c.aud = vec!["other".into()]),
        ),
        (
            "ERR_OAUTH_ID_TOKEN_AZP_MISMATCH",
            Box::new(|c| c.aud.push("api".into())),
        ),
        (
            "ERR_OAUTH_ID_TOKEN_AZP_MISMATCH",
            Box::new(|c| c.azp = Some("other".into())),
        ),
        (
            "ERR_OAUTH_NONCE_MISMATCH",
            Box::new(|c| c.nonce = Some("replayed".into())),
        ),
        ("ERR_OAUTH_NONCE_MISMATCH", Box::new(|c| c.nonce = None)),
        (
            "ERR_OAUTH_ID_TOKEN_EXPIRED",
            Box::new(|c| c.exp = Some(NOW_SECS - 61)),
        ),
        (
            "ERR_OAUTH_ID_TOKEN_CLAIM_MISSING",
            Box::new(|c| c.exp = None),
        ),
        (
            "ERR_OAUTH_ID_TOKEN_IAT",
            Box::new(|c| c.iat = Some(NOW_SECS + 61)),
        ),
        (
            "ERR_OAUTH_ID_TOKEN_IAT",
            Box::new(|c| c.iat = Some(NOW_SECS - 661)),
        ),
        (
            "ERR_OAUTH_ID_TOKEN_CLAIM_MISSING",
            Box::new(|c| c.iat = None),
        ),
    ];
    for (code, change) in cases {
        let mut claims = id_claims(&nonce);
        change(&mut claims);
        assert_eq!(
            check.validate(&claims, NOW_SECS).unwrap_err().code(),
            code,
            "{claims:?}"
        );
    }
    // Several audiences are fine when azp names this client; leeway is 60 s.
    let mut claims = id_claims(&nonce);
    claims.aud.push("api".into());
    claims.azp = Some("spa".into());
    claims.exp = Some(NOW_SECS - 59);
    assert_eq!(check.validate(&claims, NOW_SECS), Ok(()));
}

#[test]
fn auth_time_and_subject_are_checked_when_asked() {
    let (mut check, nonce) = login_check();
    check.max_age = Some(60);
    let mut claims = id_claims(&nonce);
    assert_eq!(check.validate(&claims, NOW_SECS), Ok(()));
    claims.auth_time = Some(NOW_SECS - 200);
    assert_eq!(
        check.validate(&claims, NOW_SECS),
        Err(OAuthError::AuthTimeTooOld)
    );
    claims.auth_time = None;
    assert_eq!(
        check.validate(&claims, NOW_SECS),
        Err(OAuthError::IdTokenClaimMissing { claim: "auth_time" })
    );

    let refresh = IdTokenCheck::for_refresh(&metadata(), "spa", Some(id_claims("n-1")));
    let mut claims = id_claims("any");
    claims.nonce = None;
    assert_eq!(refresh.validate_refresh(&claims, NOW_SECS), Ok(()));
    claims.sub = Some("user-2".into());
    assert_eq!(
        refresh.validate_refresh(&claims, NOW_SECS),
        Err(OAuthError::IdTokenSubjectMismatch)
    );
}

#[test]
fn a_refreshed_id_token_keeps_the_sessions_iss_sub_aud_auth_time_and_nonce() {
    let mut original = id_claims("n-1");
    original.auth_time = Some(NOW_SECS - 300);
    original.aud = vec!["spa".into(), "api".into()];
    original.azp = Some("spa".into());
    let check = IdTokenCheck::for_refresh(&metadata(), "spa", Some(original.clone()));
    let refreshed = || {
        let mut claims = original.clone();
        claims.nonce = None;
        claims.iat = Some(NOW_SECS);
        claims.exp = Some(NOW_SECS + 300);
        claims
    };
    let check_of = |claims: &IdTokenClaims| check.validate_refresh(claims, NOW_SECS);
    assert_eq!(check_of(&refreshed()), Ok(()));
    // The audience in another order is the same audience.
    let mut c = refreshed();
    c.aud.reverse();
    assert_eq!(check_of(&c), Ok(()));
    // A nonce SHOULD NOT be there; if it is, it is the original one.
    c.nonce = Some("n-1".into());
    assert_eq!(check_of(&c), Ok(()));
    c.nonce = Some("n-2".into());
    assert_eq!(check_of(&c), Err(OAuthError::NonceMismatch));
    let mut c = refreshed();
    c.sub = Some("user-2".into());
    assert_eq!(check_of(&c), Err(OAuthError::IdTokenSubjectMismatch));
    let mut c = refreshed();
    c.aud = vec!["spa".into(), "other".into()];
    assert_eq!(check_of(&c), Err(OAuthError::IdTokenAudienceMismatch));
    let mut c = refreshed();
    c.aud = vec!["spa".into()];
    c.azp = None;
    assert_eq!(check_of(&c), Err(OAuthError::IdTokenAudienceMismatch));
    let mut c = refreshed();
    c.auth_time = Some(NOW_SECS - 10);
    assert_eq!(
        check_of(&c).unwrap_err().code(),
        "ERR_OAUTH_INVALID_TOKEN_RESPONSE"
    );
    // `auth_time` absent from the new token: nothing to compare.
    c.auth_time = None;
    assert_eq!(check_of(&c), Ok(()));
    // The login's checks still apply: issuer, expiry.
    let mut c = refreshed();
    c.iss = Some("https://other.example".into());
    assert_eq!(check_of(&c), Err(OAuthError::IdTokenIssuerMismatch));
    let mut c = refreshed();
    c.exp = Some(NOW_SECS - 120);
    assert_eq!(check_of(&c), Err(OAuthError::IdTokenExpired));
    // The session's issuer is checked too (a session from another issuer cannot continue).
    let mut other = original.clone();
    other.iss = Some("https://old.example".into());
    let check = IdTokenCheck::for_refresh(&metadata(), "spa", Some(other));
    assert_eq!(
        check.validate_refresh(&refreshed(), NOW_SECS),
        Err(OAuthError::IdTokenIssuerMismatch)
    );
}

#[test]
fn a_refresh_answer_with_an_id_token_is_checked_against_the_sessions_id_token() {
    let body =
        |id: &str| format!(r#"{{"access_token":"at","token_type":"Bearer","id_token":"{id}"}}"#);
    // header {"alg":"RS256"}, payload {"iss":"https://idp.example","sub":"user-1","aud":"spa"}
    let session = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwic3ViIjoidXNlci0xIiwiYXVkIjoic3BhIn0.c2ln";
    let with = parse_token_response(200, &body("a.b.c")).unwrap();
    let original = IdTokenClaims::of_token(session);
    let check = IdTokenCheck::of_refresh(&metadata(), "spa", original, &with).unwrap();
    let original = check.original.as_ref().unwrap();
    assert_eq!(original.sub.as_deref(), Some("user-1"));
    assert_eq!(original.aud, vec!["spa".to_owned()]);
    // No session ID token: the login's checks only.
    let check = IdTokenCheck::of_refresh(&metadata(), "spa", None, &with).unwrap();
    assert_eq!(check.original, None);
    let without =
        parse_token_response(200, r#"{"access_token":"at","token_type":"Bearer"}"#).unwrap();
    let original = IdTokenClaims::of_token(session);
    assert!(IdTokenCheck::of_refresh(&metadata(), "spa", original, &without).is_none());
    assert_eq!(IdTokenClaims::of_token("not a token"), None);
}

#[test]
fn end_session_url_carries_the_hint_and_return_address() {
    let hint = Secret::from("h.p.s");
    let url = end_session_url(
        &metadata(),
        "spa",
        Some(&hint),
        Some("https://app.example/"),
        Some("xyz"),
    )
    .unwrap();
    let params = query(&url);
    assert!(url.starts_with("https://idp.example/session/end?"));
    assert_eq!(params["id_token_hint"], "h.p.s");
    assert_eq!(params["client_id"], "spa");
    assert_eq!(params["post_logout_redirect_uri"], "https://app.example/");
    assert_eq!(params["state"], "xyz");
    assert_eq!(
        end_session_url(&metadata(), "spa", None, Some("http://app.example/"), None).unwrap_err(),
        OAuthError::InsecureEndpoint {
            member: "post_logout_redirect_uri"
        }
    );
    let mut without = metadata();
    without.end_session_endpoint = None;
    assert_eq!(
        end_session_url(&without, "spa", None, None, None)
            .unwrap_err()
            .code(),
        "ERR_OAUTH_ENDPOINT_NOT_OFFERED"
    );
}

#[test]
fn every_error_has_a_distinct_stable_code() {
    let errors = [
        OAuthError::InvalidConfig { reason: "x" },
        OAuthError::InvalidMetadata { reason: "x" },
        OAuthError::IssuerMismatch,
        OAuthError::InsecureEndpoint { member: "x" },
        OAuthError::PkceNotSupported,
        OAuthError::EndpointNotOffered { member: "x" },
        OAuthError::NoTransaction,
        OAuthError::InvalidTransaction { reason: "x" },
        OAuthError::TransactionExpired,
        OAuthError::InvalidCallback { reason: "x" },
        OAuthError::StateMismatch,
        OAuthError::IssMissing,
        OAuthError::IssMismatch,
        OAuthError::CodeMissing,
        OAuthError::Http {
            endpoint: Endpoint::Token,
            status: 500,
        },
        OAuthError::InvalidTokenResponse { reason: "x" },
        OAuthError::UnsupportedTokenType,
        OAuthError::IdTokenMissing,
        OAuthError::IdTokenClaimMissing { claim: "x" },
        OAuthError::IdTokenIssuerMismatch,
        OAuthError::IdTokenAudienceMismatch,
        OAuthError::IdTokenAzpMismatch,
        OAuthError::NonceMismatch,
        OAuthError::IdTokenSubjectMismatch,
        OAuthError::IdTokenExpired,
        OAuthError::IdTokenIatOutOfRange,
        OAuthError::AuthTimeTooOld,
    ];
    let codes: std::collections::HashSet<_> = errors.iter().map(OAuthError::code).collect();
    assert_eq!(codes.len(), errors.len());
    assert!(codes.iter().all(|c| c.starts_with("ERR_OAUTH_")));
    assert!(
        !codes.contains("ERR_OAUTH_INVALID_GRANT"),
        "provider codes are separate"
    );
}

#[test]
fn a_callback_decoded_by_the_platform_is_checked_from_its_pairs() {
    // The npm package hands the core the query as the browser's URLSearchParams decoded it:
    // the checks read those pairs (with the URL for the redirect URI and the fragment).
    let tx = start_login();
    let url = good_callback(&tx);
    let decoded = [
        ("code", "the-code"),
        ("state", tx.state.as_str()),
        ("iss", ISSUER),
    ];
    let exchange = tx
        .clone()
        .complete_decoded(&url, decoded, &metadata(), NOW_MS + 1000)
        .unwrap();
    assert_eq!(exchange.code.expose(), "the-code");
    let err = tx
        .clone()
        .complete_decoded(
            &url,
            [("state", "forged"), ("code", "c")],
            &metadata(),
            NOW_MS,
        )
        .unwrap_err();
    assert_eq!(err.error.code(), "ERR_OAUTH_STATE_MISMATCH");
    let state = tx.state.clone();
    let twice = [("state", state.as_str()), ("state", state.as_str())];
    let err = tx
        .complete_decoded(&url, twice, &metadata(), NOW_MS)
        .unwrap_err();
    assert_eq!(err.error.code(), "ERR_OAUTH_INVALID_CALLBACK");
    // The authorization response's own parameters (RFC 6749 §4.1.2, RFC 9207, OIDC session).
    let response = "code state iss error error_description error_uri session_state";
    for name in response.split(' ') {
        assert!(is_callback_response_param(name), "{name}");
    }
    assert!(!is_callback_response_param("tab"));
    assert!(!is_callback_response_param("Code"));
}

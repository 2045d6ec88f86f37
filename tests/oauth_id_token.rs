//! ID tokens end to end in the core, natively: the signature against the provider's JWKS (with
//! the algorithms its metadata allows) and then the OpenID claim checks, as the browser shell
//! runs them at the callback. Each refusal is a typed error with a stable code.
#![cfg(all(not(target_arch = "wasm32"), feature = "verify"))]

mod support;

use serde_json::{json, Value};
use support::{jwks, sign, NOW};
use tokenwarden::core::oauth::{
    id_token_algorithms, IdTokenCheck, IdTokenClaims, ProviderMetadata,
};
use tokenwarden::{Algorithm, Verifier};

const ISSUER: &str = "https://idp.example";
const CLIENT: &str = "spa";

fn metadata(algs: &str) -> ProviderMetadata {
    let doc = format!(
        r#"{{"issuer":"{ISSUER}","authorization_endpoint":"{ISSUER}/auth",
        "token_endpoint":"{ISSUER}/token","jwks_uri":"{ISSUER}/jwks",
        "id_token_signing_alg_values_supported":{algs}}}"#
    );
    ProviderMetadata::parse(&doc, ISSUER).unwrap()
}

fn id_claims() -> Value {
    json!({"iss": ISSUER, "sub": "alice", "aud": CLIENT, "nonce": "n-1",
           "iat": NOW - 5, "exp": NOW + 300})
}

fn check() -> IdTokenCheck {
    IdTokenCheck {
        issuer: ISSUER.into(),
        client_id: CLIENT.into(),
        nonce: Some("n-1".into()),
        max_age: None,
        original: None,
        leeway_secs: 60,
        max_iat_age_secs: 600,
    }
}

/// The callback's ID-token step: signature, then claims. Returns the error code, if any.
fn verify(token: &str, metadata: &ProviderMetadata, keys: &[&str]) -> Result<String, String> {
    let verifier = Verifier::builder()
        .algorithms(id_token_algorithms(metadata))
        .build();
    let verified = verifier
        .verify(token, &jwks(keys), NOW)
        .map_err(|e| e.code().to_string())?;
    let claims = IdTokenClaims::from_claims(&verified.claims);
    check()
        .validate(&claims, NOW)
        .map_err(|e| e.code().to_string())?;
    Ok(claims.sub.unwrap_or_default())
}

fn es256(payload: &Value) -> String {
    sign("es", r#"{"alg":"ES256","kid":"es"}"#, &payload.to_string())
}

#[test]
fn a_good_id_token_passes_signature_and_claims() {
    let token = es256(&id_claims());
    assert_eq!(
        verify(&token, &metadata(r#"["ES256"]"#), &["es"]),
        Ok("alice".into())
    );
    let rs = sign(
        "rsa",
        r#"{"alg":"RS256","kid":"rsa"}"#,
        &id_claims().to_string(),
    );
    assert_eq!(
        verify(&rs, &metadata(r#"["RS256"]"#), &["rsa"]),
        Ok("alice".into())
    );
}

#[test]
fn a_bad_signature_or_foreign_key_is_refused() {
    let token = es256(&id_claims());
    // One signature byte changed.
    let (head, sig) = token.rsplit_once('.').unwrap();
    let mut sig = support::b64(&tokenwarden::core::b64::decode(sig, "sig").unwrap());
    sig.replace_range(0..1, if sig.starts_with('A') { "B" } else { "A" });
    let forged = format!("{head}.{sig}");
    assert_eq!(
        verify(&forged, &metadata(r#"["ES256"]"#), &["es"]),
        Err("ERR_JWS_SIGNATURE_VERIFICATION_FAILED".into())
    );
    // Signed by a key that is not the provider's.
    let other = sign(
        "ed",
        r#"{"alg":"EdDSA","kid":"es"}"#,
        &id_claims().to_string(),
    );
    assert!(verify(&other, &metadata(r#"["ES256","EdDSA"]"#), &["es"]).is_err());
    // An algorithm the provider does not list.
    assert_eq!(
        verify(&token, &metadata(r#"["RS256"]"#), &["es"]),
        Err("ERR_JOSE_ALG_NOT_ALLOWED".into())
    );
}

#[test]
fn hmac_and_none_are_never_id_token_algorithms() {
    let algs = id_token_algorithms(&metadata(r#"["HS256","none","RS256","ES256"]"#));
    assert_eq!(algs, vec![Algorithm::Rs256, Algorithm::Es256]);
    let unsigned = format!(
        "{}.{}.",
        support::b64(br#"{"alg":"none"}"#),
        support::b64(id_claims().to_string().as_bytes())
    );
    assert!(verify(&unsigned, &metadata(r#"["none"]"#), &["es"]).is_err());
    // No list: the OpenID default.
    let doc = format!(
        r#"{{"issuer":"{ISSUER}","authorization_endpoint":"{ISSUER}/a","token_endpoint":"{ISSUER}/t"}}"#
    );
    let bare = ProviderMetadata::parse(&doc, ISSUER).unwrap();
    assert_eq!(id_token_algorithms(&bare), vec![Algorithm::Rs256]);
}

#[test]
fn well_signed_tokens_with_wrong_claims_are_refused_by_the_openid_checks() {
    let cases = [
        (
            "aud",
            json!("other-client"),
            "ERR_OAUTH_ID_TOKEN_AUDIENCE_MISMATCH",
        ),
        ("nonce", json!("n-2"), "ERR_OAUTH_NONCE_MISMATCH"),
        (
            "azp",
            json!("other-client"),
            "ERR_OAUTH_ID_TOKEN_AZP_MISMATCH",
        ),
        (
            "iss",
            json!("https://evil.example"),
            "ERR_OAUTH_ID_TOKEN_ISSUER_MISMATCH",
        ),
    ];
    for (claim, value, code) in cases {
        let mut claims = id_claims();
        claims[claim] = value;
        assert_eq!(
            verify(&es256(&claims), &metadata(r#"["ES256"]"#), &["es"]),
            Err(code.into()),
            "{claim}"
        );
    }
    // Several audiences need azp naming this client.
    let mut claims = id_claims();
    claims["aud"] = json!([CLIENT, "api"]);
    assert_eq!(
        verify(&es256(&claims), &metadata(r#"["ES256"]"#), &["es"]),
        Err("ERR_OAUTH_ID_TOKEN_AZP_MISMATCH".into())
    );
    claims["azp"] = json!(CLIENT);
    assert_eq!(
        verify(&es256(&claims), &metadata(r#"["ES256"]"#), &["es"]),
        Ok("alice".into())
    );
}

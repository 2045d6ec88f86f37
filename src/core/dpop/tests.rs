//! Every proof check, each refusal with its own code, and the RFC 9449 examples.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::*;
use crate::core::json::Value;
use crate::core::verify::Algorithm;

/// RFC 9449 Figure 2 (a proof for `POST https://server.example.com/token`, iat 1562262616).
const RFC_PROOF: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg";
/// RFC 9449 §6.1: the thumbprint of that proof's key.
#[cfg(not(target_arch = "wasm32"))]
const RFC_JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
const RFC_IAT: i64 = 1_562_262_616;

#[cfg(not(target_arch = "wasm32"))]
fn rfc_request() -> ProofRequest<'static> {
    ProofRequest {
        method: "POST",
        url: "https://server.example.com/token",
        ..ProofRequest::default()
    }
}

fn code(result: Result<impl fmt::Debug, DpopError>) -> &'static str {
    result.expect_err("refused").code()
}

#[test]
fn normalizes_htu() {
    for (url, htu) in [
        ("https://a.example/x?y=1#z", "https://a.example/x"),
        ("HTTPS://A.Example:443", "https://a.example/"),
        ("http://127.0.0.1:80/p", "http://127.0.0.1/p"),
        ("http://127.0.0.1:8080/p?", "http://127.0.0.1:8080/p"),
        ("https://[::1]:8443/p", "https://[::1]:8443/p"),
        ("https://[::1]/p", "https://[::1]/p"),
    ] {
        assert_eq!(normalize_htu(url).unwrap(), htu, "{url}");
    }
    for bad in [
        "ftp://a/x",
        "/relative",
        "https://user@a/x",
        "https:///x",
        "https://a:port/x",
        "https://a/x y",
    ] {
        assert_eq!(
            code(normalize_htu(bad)),
            "ERR_DPOP_INVALID_REQUEST",
            "{bad}"
        );
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn rfc_9449_ath_and_thumbprint() {
    assert_eq!(
        access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    );
    let pending = DpopVerifier::default().begin(RFC_PROOF, RFC_IAT).unwrap();
    assert_eq!(
        thumbprint(pending.keys().keys()[0].params()).unwrap(),
        RFC_JKT
    );
    assert_eq!(
        pending.thumbprint_input(),
        r#"{"crv":"P-256","kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"}"#
    );
    assert_eq!(pending.algorithm(), Algorithm::Es256);
}

#[test]
fn begin_refuses_structure_typ_alg_and_jwk() {
    let verifier = DpopVerifier::default();
    let forge = |header: &str, claims: &str, sig: &[u8]| {
        format!(
            "{}.{}.{}",
            b64::encode(header.as_bytes()),
            b64::encode(claims.as_bytes()),
            b64::encode(sig)
        )
    };
    let jwk = r#"{"kty":"EC","crv":"P-256","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"}"#;
    let sig = [1u8; 64];
    let claims =
        r#"{"jti":"j","htm":"POST","htu":"https://server.example.com/token","iat":1562262616}"#;
    let begin = |proof: &str| verifier.begin(proof, RFC_IAT).map(|_| ());
    assert_eq!(code(begin("a.b")), "ERR_DPOP_MALFORMED");
    assert_eq!(code(begin(&"a".repeat(5000))), "ERR_DPOP_MALFORMED");
    let typ = forge(
        &format!(r#"{{"typ":"JWT","alg":"ES256","jwk":{jwk}}}"#),
        claims,
        &sig,
    );
    assert_eq!(code(begin(&typ)), "ERR_DPOP_TYP");
    let no_typ = forge(&format!(r#"{{"alg":"ES256","jwk":{jwk}}}"#), claims, &sig);
    assert_eq!(code(begin(&no_typ)), "ERR_DPOP_TYP");
    for alg in ["none", "HS256", "ES384", "es256"] {
        let bad = forge(
            &format!(r#"{{"typ":"dpop+jwt","alg":"{alg}","jwk":{jwk}}}"#),
            claims,
            &sig,
        );
        assert_eq!(code(begin(&bad)), "ERR_DPOP_ALG_NOT_ALLOWED", "{alg}");
    }
    let no_jwk = forge(r#"{"typ":"dpop+jwt","alg":"ES256"}"#, claims, &sig);
    assert_eq!(code(begin(&no_jwk)), "ERR_DPOP_JWK_INVALID");
    let private = jwk.replace('}', r#","d":"AAAA"}"#);
    let private = forge(
        &format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{private}}}"#),
        claims,
        &sig,
    );
    assert_eq!(code(begin(&private)), "ERR_DPOP_JWK_PRIVATE");
    let secret = forge(
        r#"{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"oct","k":"AAAA"}}"#,
        claims,
        &sig,
    );
    assert_eq!(code(begin(&secret)), "ERR_DPOP_JWK_PRIVATE");
    // An EdDSA key presented for ES256: the key pins its algorithm.
    let ed = r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
    let mismatch = forge(
        &format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{ed}}}"#),
        claims,
        &sig,
    );
    assert_eq!(code(begin(&mismatch)), "ERR_DPOP_JWK_INVALID");
    let short_sig = forge(
        &format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{jwk}}}"#),
        claims,
        &[1; 10],
    );
    assert_eq!(code(begin(&short_sig)), "ERR_DPOP_MALFORMED");
    assert_eq!(
        code(verifier.begin(RFC_PROOF, -1).map(|_| ())),
        "ERR_DPOP_INVALID_REQUEST"
    );
    // Only asymmetric algorithms can be allowed.
    let hs_only = DpopVerifier::builder()
        .algorithms([Algorithm::Hs256])
        .build();
    assert_eq!(
        code(hs_only.begin(RFC_PROOF, RFC_IAT).map(|_| ())),
        "ERR_DPOP_ALG_NOT_ALLOWED"
    );
}

#[test]
fn client_signing_input_has_every_claim() {
    let input = ProofInput {
        method: "GET",
        url: "https://api.example/r?q=1#f",
        iat: 1_700_000_000,
        jti: "id-1",
        ath: Some("fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"),
        nonce: Some("n\"1"),
    };
    let x = "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs";
    let y = "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA";
    let signing_input = proof_signing_input(x, y, &input).unwrap();
    let (header, claims) = signing_input.split_once('.').unwrap();
    let header = crate::core::json::parse_object(&b64::decode(header, "h").unwrap(), "h").unwrap();
    let claims = crate::core::json::parse_object(&b64::decode(claims, "c").unwrap(), "c").unwrap();
    assert_eq!(header.get("typ").and_then(Value::as_str), Some("dpop+jwt"));
    assert_eq!(header.get("alg").and_then(Value::as_str), Some("ES256"));
    assert_eq!(
        claims.get("htu").and_then(Value::as_str),
        Some("https://api.example/r")
    );
    assert_eq!(claims.get("htm").and_then(Value::as_str), Some("GET"));
    assert_eq!(claims.get("jti").and_then(Value::as_str), Some("id-1"));
    assert_eq!(claims.get("nonce").and_then(Value::as_str), Some("n\"1"));
    assert!(claims.get("ath").is_some() && claims.get("iat").is_some());
    let bare = proof_signing_input(
        x,
        y,
        &ProofInput {
            ath: None,
            nonce: None,
            ..input
        },
    )
    .unwrap();
    let bare = b64::decode(bare.split_once('.').unwrap().1, "c").unwrap();
    assert!(!String::from_utf8(bare).unwrap().contains("nonce"));
    assert_eq!(
        code(proof_signing_input("AA", y, &input)),
        "ERR_DPOP_JWK_INVALID"
    );
    assert_eq!(
        code(proof_signing_input(
            x,
            y,
            &ProofInput {
                method: "G ET",
                ..input
            }
        )),
        "ERR_DPOP_INVALID_REQUEST"
    );
    assert_eq!(
        code(proof_signing_input(x, y, &ProofInput { jti: "", ..input })),
        "ERR_DPOP_INVALID_REQUEST"
    );
    assert_eq!(
        code(proof_signing_input(
            x,
            y,
            &ProofInput {
                url: "ftp://x/",
                ..input
            }
        )),
        "ERR_DPOP_INVALID_REQUEST"
    );
}

#[test]
fn memory_replay_cache_forgets_only_expired_entries() {
    use ProofRecord::*;
    const NO_QUOTA: u32 = u32::MAX;
    let mut cache = MemoryReplayCache::new(2);
    assert_eq!(cache.record("k", "a", 100, 0, NO_QUOTA), Fresh);
    assert_eq!(cache.record("k", "a", 100, 50, NO_QUOTA), Replayed);
    assert_eq!(
        cache.record("other", "a", 100, 50, NO_QUOTA),
        Fresh,
        "jti are per key"
    );
    assert_eq!(
        cache.record("k", "b", 100, 50, NO_QUOTA),
        OverQuota,
        "full of live entries: refuse"
    );
    assert_eq!(
        cache.record("k", "b", 300, 101, NO_QUOTA),
        Fresh,
        "expired entries make room"
    );
    assert_eq!(
        cache.record("k", "a", 300, 101, NO_QUOTA),
        Fresh,
        "an expired jti may come back"
    );
}

#[test]
fn one_key_over_its_quota_leaves_the_others_room() {
    use ProofRecord::*;
    let mut cache = MemoryReplayCache::new(100);
    for n in 0..3 {
        assert_eq!(cache.record("flood", &format!("{n}"), 100, 0, 3), Fresh);
    }
    assert_eq!(cache.record("flood", "3", 100, 0, 3), OverQuota);
    assert_eq!(
        cache.record("flood", "0", 100, 0, 3),
        Replayed,
        "a replay stays a replay"
    );
    assert_eq!(
        cache.record("user", "0", 100, 0, 3),
        Fresh,
        "another key is unaffected"
    );
    assert_eq!(
        cache.record("flood", "3", 200, 101, 3),
        Fresh,
        "room once the old ones expire"
    );
    // Over quota nothing is recorded: the refused jti is still fresh later.
    assert_eq!(cache.record("flood", "4", 200, 101, 3), Fresh);
    assert_eq!(cache.record("flood", "5", 200, 101, 3), Fresh);
    assert_eq!(cache.record("flood", "6", 200, 101, 3), OverQuota);
    assert_eq!(cache.record("flood", "6", 400, 201, 3), Fresh);
}

/// Proofs signed natively with a P-256 key (the signature primitive is native only here).
#[cfg(not(target_arch = "wasm32"))]
mod signed {
    use super::*;
    use crate::core::jwk::{JwkSet, KeyOptions};
    use jwt_compact::{alg::Es256, alg::SigningKey as _, Algorithm as _, AlgorithmSignature as _};

    pub(super) struct Client {
        key: <Es256 as jwt_compact::Algorithm>::SigningKey,
        x: String,
        y: String,
    }

    impl Client {
        pub(super) fn new(seed: u8) -> Self {
            let key =
                <Es256 as jwt_compact::Algorithm>::SigningKey::from_slice(&[seed; 32]).unwrap();
            let public = key.to_verifying_key();
            let jwk = jwt_compact::jwk::JsonWebKey::from(&public);
            let jwt_compact::jwk::JsonWebKey::EllipticCurve { x, y, .. } = jwk else {
                unreachable!()
            };
            Self {
                x: b64::encode(&x),
                y: b64::encode(&y),
                key,
            }
        }

        pub(super) fn proof(&self, input: &ProofInput<'_>) -> String {
            let signing_input = proof_signing_input(&self.x, &self.y, input).unwrap();
            let signature = Es256.sign(&self.key, signing_input.as_bytes());
            format!("{signing_input}.{}", b64::encode(&signature.as_bytes()))
        }

        pub(super) fn jkt(&self) -> String {
            let jwk = format!(
                r#"{{"kty":"EC","crv":"P-256","x":"{}","y":"{}"}}"#,
                self.x, self.y
            );
            let set = JwkSet::from_json(&jwk, &KeyOptions::default()).unwrap();
            thumbprint(set.keys()[0].params()).unwrap()
        }
    }

    const NOW: i64 = 1_700_000_000;
    const TOKEN: &str = "the-access-token";
    const URL: &str = "https://api.example/resource";

    fn input(jti: &str) -> ProofInput<'_> {
        ProofInput {
            method: "GET",
            url: URL,
            iat: NOW,
            jti,
            ath: None,
            nonce: None,
        }
    }

    fn verify(
        proof: &str,
        request: &ProofRequest<'_>,
        cache: &mut MemoryReplayCache,
    ) -> Result<VerifiedProof, DpopError> {
        DpopVerifier::default().verify(proof, request, NOW, cache)
    }

    #[test]
    fn rfc_9449_example_proof_verifies() {
        let mut cache = MemoryReplayCache::new(8);
        let verified = DpopVerifier::default()
            .verify(RFC_PROOF, &rfc_request(), RFC_IAT + 10, &mut cache)
            .unwrap();
        assert_eq!(verified.jkt, RFC_JKT);
        assert_eq!(verified.jti, "-BwC3ESc6acc2lTc");
        let replay =
            DpopVerifier::default().verify(RFC_PROOF, &rfc_request(), RFC_IAT + 11, &mut cache);
        assert_eq!(code(replay), "ERR_DPOP_REPLAY");
        // The RFC's proof is for POST /token: the same proof for GET or another path fails.
        let mut fresh = MemoryReplayCache::new(8);
        let get = ProofRequest {
            method: "GET",
            ..rfc_request()
        };
        assert_eq!(
            code(DpopVerifier::default().verify(RFC_PROOF, &get, RFC_IAT, &mut fresh)),
            "ERR_DPOP_HTM"
        );
        let other = ProofRequest {
            url: "https://server.example.com/other",
            ..rfc_request()
        };
        assert_eq!(
            code(DpopVerifier::default().verify(RFC_PROOF, &other, RFC_IAT, &mut fresh)),
            "ERR_DPOP_HTU"
        );
        // Query and fragment of the request URL are ignored; scheme and host case too.
        let query = ProofRequest {
            url: "HTTPS://Server.Example.com:443/token?x#y",
            ..rfc_request()
        };
        assert!(DpopVerifier::default()
            .verify(RFC_PROOF, &query, RFC_IAT, &mut fresh)
            .is_ok());
    }

    #[test]
    fn a_valid_proof_with_token_nonce_and_binding() {
        let client = Client::new(7);
        let ath = access_token_hash(TOKEN);
        let proof = client.proof(&ProofInput {
            ath: Some(&ath),
            nonce: Some("n1"),
            ..input("j1")
        });
        let jkt = client.jkt();
        let request = ProofRequest {
            method: "GET",
            url: URL,
            access_token: Some(TOKEN),
            nonces: &["n0", "n1"],
            jkt: Some(&jkt),
        };
        let verified = verify(&proof, &request, &mut MemoryReplayCache::new(8)).unwrap();
        assert_eq!(verified.jkt, jkt);
        assert_eq!(verified.iat, NOW);
    }

    #[test]
    fn every_failed_check_has_its_own_code() {
        let client = Client::new(7);
        let other_client = Client::new(9);
        let ath = access_token_hash(TOKEN);
        let jkt = client.jkt();
        let good = ProofInput {
            ath: Some(&ath),
            nonce: Some("n1"),
            ..input("j")
        };
        let request = ProofRequest {
            method: "GET",
            url: URL,
            access_token: Some(TOKEN),
            nonces: &["n1"],
            jkt: Some(&jkt),
        };
        let check = |proof: &str, request: &ProofRequest<'_>| {
            code(verify(proof, request, &mut MemoryReplayCache::new(8)))
        };
        let other_ath = access_token_hash("another-token");
        let cases: Vec<(&str, String, ProofRequest<'_>)> = vec![
            (
                "ERR_DPOP_HTM",
                client.proof(&ProofInput {
                    method: "POST",
                    ..good
                }),
                request,
            ),
            (
                "ERR_DPOP_HTU",
                client.proof(&ProofInput {
                    url: "https://api.example/other",
                    ..good
                }),
                request,
            ),
            (
                "ERR_DPOP_HTU",
                client.proof(&ProofInput {
                    url: "http://api.example/resource",
                    ..good
                }),
                request,
            ),
            (
                "ERR_DPOP_IAT",
                client.proof(&ProofInput {
                    iat: NOW - DEFAULT_MAX_AGE_SECS - DEFAULT_LEEWAY_SECS - 1,
                    ..good
                }),
                request,
            ),
            (
                "ERR_DPOP_IAT",
                client.proof(&ProofInput {
                    iat: NOW + DEFAULT_LEEWAY_SECS + 1,
                    ..good
                }),
                request,
            ),
            (
                "ERR_DPOP_ATH",
                client.proof(&ProofInput {
                    ath: Some(&other_ath),
                    ..good
                }),
                request,
            ),
            (
                "ERR_DPOP_CLAIM_MISSING",
                client.proof(&ProofInput { ath: None, ..good }),
                request,
            ),
            (
                "ERR_DPOP_NONCE_MISSING",
                client.proof(&ProofInput {
                    nonce: None,
                    ..good
                }),
                request,
            ),
            (
                "ERR_DPOP_NONCE_INVALID",
                client.proof(&ProofInput {
                    nonce: Some("stale"),
                    ..good
                }),
                request,
            ),
            ("ERR_DPOP_KEY_MISMATCH", other_client.proof(&good), request),
        ];
        for (expected, proof, request) in &cases {
            assert_eq!(check(proof, request), *expected);
        }
        // Edges of the window are accepted.
        for iat in [
            NOW - DEFAULT_MAX_AGE_SECS - DEFAULT_LEEWAY_SECS,
            NOW + DEFAULT_LEEWAY_SECS,
        ] {
            let proof = client.proof(&ProofInput { iat, ..good });
            assert!(
                verify(&proof, &request, &mut MemoryReplayCache::new(8)).is_ok(),
                "{iat}"
            );
        }
        // A signature over other bytes.
        let proof = client.proof(&good);
        let (signing_input, signature) = proof.rsplit_once('.').unwrap();
        let other = other_client.proof(&good);
        let foreign_sig = other.rsplit_once('.').unwrap().1;
        assert_ne!(signature, foreign_sig);
        assert_eq!(
            check(&format!("{signing_input}.{foreign_sig}"), &request),
            "ERR_DPOP_SIGNATURE"
        );
        // Missing and mistyped claims: hand-signed claim sets.
        for (claims, missing) in [
            (
                r#"{"htm":"GET","htu":"https://api.example/resource","iat":1700000000}"#,
                "jti",
            ),
            (
                r#"{"jti":"","htm":"GET","htu":"https://api.example/resource","iat":1700000000}"#,
                "jti",
            ),
            (
                r#"{"jti":"j","htu":"https://api.example/resource","iat":1700000000}"#,
                "htm",
            ),
            (r#"{"jti":"j","htm":"GET","iat":1700000000}"#, "htu"),
            (
                r#"{"jti":"j","htm":"GET","htu":"https://api.example/resource"}"#,
                "iat",
            ),
            (
                r#"{"jti":"j","htm":"GET","htu":"https://api.example/resource","iat":"1700000000"}"#,
                "iat",
            ),
            (
                r#"{"jti":7,"htm":"GET","htu":"https://api.example/resource","iat":1700000000}"#,
                "jti",
            ),
        ] {
            let header = format!(
                r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{{"kty":"EC","crv":"P-256","x":"{}","y":"{}"}}}}"#,
                client.x, client.y
            );
            let signing_input = format!(
                "{}.{}",
                b64::encode(header.as_bytes()),
                b64::encode(claims.as_bytes())
            );
            let sig = Es256.sign(&client.key, signing_input.as_bytes());
            let proof = format!("{signing_input}.{}", b64::encode(&sig.as_bytes()));
            let bare = ProofRequest {
                method: "GET",
                url: URL,
                ..ProofRequest::default()
            };
            let err = verify(&proof, &bare, &mut MemoryReplayCache::new(8)).unwrap_err();
            assert_eq!(err, DpopError::ClaimMissing { claim: missing }, "{claims}");
        }
    }

    #[test]
    fn a_jti_is_accepted_once_per_key_and_only_after_every_other_check() {
        let client = Client::new(7);
        let mut cache = MemoryReplayCache::new(8);
        let request = ProofRequest {
            method: "GET",
            url: URL,
            ..ProofRequest::default()
        };
        let proof = client.proof(&input("once"));
        // A refused proof does not burn its jti.
        let wrong = ProofRequest {
            method: "PUT",
            ..request
        };
        assert_eq!(code(verify(&proof, &wrong, &mut cache)), "ERR_DPOP_HTM");
        assert!(verify(&proof, &request, &mut cache).is_ok());
        assert_eq!(
            code(verify(&proof, &request, &mut cache)),
            "ERR_DPOP_REPLAY"
        );
        let again = client.proof(&input("once"));
        assert_eq!(
            code(verify(&again, &request, &mut cache)),
            "ERR_DPOP_REPLAY"
        );
        // An asynchronous store answers through `conclude`.
        let verifier = DpopVerifier::default();
        let pending = verifier.begin(&proof, NOW).unwrap();
        let jkt = client.jkt();
        let hashes = ProofHashes {
            jkt: &jkt,
            ath: None,
        };
        let unrecorded = verifier.finish(pending, true, &hashes, &request).unwrap();
        assert_eq!(unrecorded.jti(), "once");
        assert_eq!(
            unrecorded.expires_at(),
            NOW + DEFAULT_MAX_AGE_SECS + DEFAULT_LEEWAY_SECS
        );
        assert_eq!(unrecorded.quota(), DEFAULT_PROOFS_PER_KEY);
        assert_eq!(unrecorded.exempt_from_quota().quota(), u32::MAX);
        let unrecorded = verifier.finish(
            verifier.begin(&proof, NOW).unwrap(),
            true,
            &hashes,
            &request,
        );
        let unrecorded = unrecorded.unwrap();
        assert_eq!(code(unrecorded.conclude(false)), "ERR_DPOP_REPLAY");
        let unrecorded = verifier.begin(&proof, NOW).unwrap();
        let unrecorded = verifier
            .finish(unrecorded, true, &hashes, &request)
            .unwrap();
        assert_eq!(
            code(unrecorded.settle(ProofRecord::OverQuota)),
            "ERR_DPOP_QUOTA"
        );
        // With an access token to check, the caller must supply its hash.
        let with_token = ProofRequest {
            access_token: Some(TOKEN),
            ..request
        };
        let pending = verifier.begin(&proof, NOW).unwrap();
        let refused = verifier.finish(pending, true, &hashes, &with_token);
        assert_eq!(code(refused), "ERR_DPOP_INVALID_REQUEST");
    }

    #[test]
    fn oauth_errors_follow_rfc_9449() {
        assert_eq!(DpopError::NonceMissing.oauth_error(), "use_dpop_nonce");
        assert_eq!(DpopError::NonceInvalid.oauth_error(), "use_dpop_nonce");
        assert_eq!(DpopError::KeyMismatch.oauth_error(), "invalid_token");
        assert_eq!(DpopError::Replayed.oauth_error(), "invalid_dpop_proof");
        assert_eq!(DpopError::Missing.oauth_error(), "invalid_dpop_proof");
    }
}

#[test]
fn json_strings_round_trip_through_the_strict_reader() {
    for text in ["plain", "q\"b\\s", "ctl\u{1}\n\t\u{1f}", "ünï €", ""] {
        let json = format!("{{\"v\":{}}}", json_string(text));
        let map = crate::core::json::parse_object(json.as_bytes(), "t").unwrap();
        assert_eq!(map.get("v").and_then(Value::as_str), Some(text), "{json}");
    }
}

#[test]
fn the_nonce_of_a_url_is_its_origins_last_one() {
    let mut book = NonceBook::default();
    assert_eq!(book.nonce_for("https://api.example/a"), None);
    book.remember("https://API.example:443/a?x=1", "n1");
    // Same origin (case, default port, path, query and fragment do not matter).
    assert_eq!(book.nonce_for("https://api.example/other#f"), Some("n1"));
    // Another scheme, port or host is another origin.
    assert_eq!(book.nonce_for("http://api.example/a"), None);
    assert_eq!(book.nonce_for("https://api.example:8443/a"), None);
    assert_eq!(book.nonce_for("https://api.example.evil/a"), None);
    book.remember("https://api.example/b", "n2");
    assert_eq!(book.nonce_for("https://api.example/a"), Some("n2"));
    // Empty, oversized, and for a URL that is not http(s): ignored.
    book.remember("https://api.example/", "");
    book.remember("https://api.example/", &"n".repeat(MAX_NONCE_LEN + 1));
    book.remember("ftp://api.example/", "n3");
    assert_eq!(book.nonce_for("https://api.example/"), Some("n2"));
    assert_eq!(book.nonce_for("ftp://api.example/"), None);
    // At most MAX_NONCE_ORIGINS origins: the oldest goes first.
    for port in 0..MAX_NONCE_ORIGINS {
        book.remember(&format!("https://h.example:{}/", 1000 + port), "p");
    }
    assert_eq!(book.nonce_for("https://api.example/"), None);
    assert_eq!(book.nonce_for("https://h.example:1000/"), Some("p"));
    book.clear();
    assert_eq!(book.nonce_for("https://h.example:1000/"), None);
}

#[test]
fn which_responses_ask_for_a_nonce() {
    let challenge = Some(r#"DPoP error="use_dpop_nonce", error_description="x""#);
    assert!(response_asks_for_nonce(401, challenge, None));
    assert!(response_asks_for_nonce(
        401,
        Some("dpop error=use_dpop_nonce"),
        None
    ));
    assert!(response_asks_for_nonce(400, None, Some("use_dpop_nonce")));
    assert!(!response_asks_for_nonce(400, challenge, None));
    assert!(!response_asks_for_nonce(
        401,
        Some(r#"Bearer error="use_dpop_nonce""#),
        None
    ));
    assert!(!response_asks_for_nonce(
        401,
        Some(r#"DPoP error="invalid_token""#),
        None
    ));
    assert!(!response_asks_for_nonce(401, None, Some("use_dpop_nonce")));
    assert!(!response_asks_for_nonce(
        403,
        challenge,
        Some("use_dpop_nonce")
    ));
}

#[test]
fn an_es256_thumbprint_input_is_canonical_and_checks_its_coordinates() {
    let x = b64::encode(&[1; 32]);
    let y = b64::encode(&[2; 32]);
    assert_eq!(
        p256_thumbprint_input(&x, &y).unwrap(),
        format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#)
    );
    let short = b64::encode(&[1; 31]);
    assert_eq!(
        p256_thumbprint_input(&short, &y).unwrap_err().code(),
        "ERR_DPOP_JWK_INVALID"
    );
    assert!(p256_thumbprint_input(&x, "not base64!").is_err());
}

#[test]
fn proof_json_and_messages_are_written_without_fmt_as_before() {
    let x = "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs";
    let y = "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA";
    for (iat, text) in [(1_700_000_000, "1700000000"), (0, "0"), (-5, "-5")] {
        let input = ProofInput {
            method: "POST",
            url: "https://API.example:443/t",
            iat,
            jti: "j",
            ath: None,
            nonce: None,
        };
        let signing_input = proof_signing_input(x, y, &input).unwrap();
        let (header, claims) = signing_input.split_once('.').unwrap();
        assert_eq!(
            b64::decode(header, "h").unwrap(),
            format!(
                r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}"}}}}"#
            )
            .as_bytes()
        );
        assert_eq!(
            b64::decode(claims, "c").unwrap(),
            format!(r#"{{"jti":"j","htm":"POST","htu":"https://api.example/t","iat":{text}}}"#)
                .as_bytes()
        );
    }
    assert_eq!(
        p256_thumbprint_input(x, y).unwrap(),
        format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#)
    );
    assert_eq!(
        DpopError::Malformed(JwtError::SegmentCount { found: 2 }).to_string(),
        "malformed DPoP proof: a compact JWS has 3 segments, this has 2"
    );
    assert_eq!(
        DpopError::ClaimMissing { claim: "htu" }.message(),
        "the DPoP proof lacks a valid \"htu\" claim"
    );
    assert_eq!(
        DpopError::InvalidRequest { reason: "r" }.message(),
        "invalid DPoP check: r"
    );
}

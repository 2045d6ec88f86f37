//! Wycheproof against the native primitive (jwt-compact) behind the core's key import and
//! signature checks (see tests/wycheproof_vectors). Counts per family: `--nocapture`.
#![cfg(not(target_arch = "wasm32"))]

mod wycheproof_vectors;

use tokenwarden::{JwkSet, KeyOptions, Verifier};
use wycheproof_vectors::{families, Counts};

#[test]
fn every_valid_vector_verifies_and_every_invalid_one_fails() {
    for family in families() {
        let verifier = Verifier::builder().algorithms([family.alg]).build();
        let options = KeyOptions {
            allow_symmetric: family.symmetric,
        };
        let mut counts = Counts::default();
        for case in &family.cases {
            let outcome = JwkSet::from_json(&case.jwk, &options).and_then(|keys| {
                verifier.check_raw_signature(family.alg.name(), &keys, &case.msg, &case.sig)
            });
            counts.record(
                &family.name,
                case,
                outcome.map_err(|e| e.code().to_string()),
            );
        }
        println!("wycheproof native {}: {counts:?}", family.name);
        assert!(counts.valid > 0 && counts.invalid > 0, "{}", family.name);
    }
}

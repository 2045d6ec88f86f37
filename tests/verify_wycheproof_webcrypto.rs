//! Wycheproof against the WebCrypto primitive of the npm build, behind the same core checks as
//! natively (see tests/wycheproof_vectors): in Node, and in headless Chromium with
//! `WASM_BINDGEN_USE_BROWSER=1`. Counts per family go to the console.
#![cfg(all(target_arch = "wasm32", not(feature = "portable")))]

mod wycheproof_vectors;

use tokenwarden::{webcrypto::WebCryptoKeySet, JwkSet, KeyOptions, Verifier};
use wasm_bindgen_test::wasm_bindgen_test;
use wycheproof_vectors::{families, Counts};

#[wasm_bindgen_test]
async fn every_valid_vector_verifies_and_every_invalid_one_fails() {
    for family in families() {
        let verifier = Verifier::builder().algorithms([family.alg]).build();
        let options = KeyOptions {
            allow_symmetric: family.symmetric,
        };
        let mut counts = Counts::default();
        for case in &family.cases {
            let outcome =
                match JwkSet::from_json(&case.jwk, &options).and_then(WebCryptoKeySet::new) {
                    Ok(keys) => {
                        keys.check_raw_signature(&verifier, family.alg.name(), &case.msg, &case.sig)
                            .await
                    }
                    Err(e) => Err(e),
                };
            counts.record(
                &family.name,
                case,
                outcome.map_err(|e| e.code().to_string()),
            );
        }
        web_sys_log(&format!("wycheproof webcrypto {}: {counts:?}", family.name));
        assert!(counts.valid > 0 && counts.invalid > 0, "{}", family.name);
    }
}

fn web_sys_log(line: &str) {
    wasm_bindgen_test::console_log!("{line}");
}

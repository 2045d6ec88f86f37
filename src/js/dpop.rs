//! `verifyDpopProof` for JS servers (Node): the core's DPoP checks, the signature by WebCrypto
//! (or the pure-Rust primitive in the `portable` build), the replay check by the caller's cache.

use crate::prelude::*;

use js_sys::{Date, Function, Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::convert::{
    floor, get, invalid_options, js_error, opt_number, opt_string, opt_strings, options_object,
};
use crate::core::dpop::{
    DpopError, DpopVerifier, ProofHashes, ProofRequest, MAX_LEEWAY_SECS, MAX_MAX_AGE_SECS,
};
use crate::core::error::{cat, quoted};
use crate::core::verify::{Algorithm, Verifier};

fn dpop_error(err: &DpopError) -> JsValue {
    let error = js_error(err.code(), &err.message());
    // What a server answers with: `WWW-Authenticate: DPoP error="..."`.
    let _ = js_sys::Reflect::set(&error, &"error".into(), &err.oauth_error().into());
    error
}

const REQUEST_KEYS: &[&str] = &["method", "url", "accessToken", "nonce", "jkt"];
const OPTION_KEYS: &[&str] = &[
    "algorithms",
    "maxAge",
    "clockTolerance",
    "currentDate",
    "replayCache",
];

/// Verifies a DPoP proof (RFC 9449) against the request it came with. Resolves to
/// `{jkt, jti, iat, alg}`; rejects with an `Error` whose `code` is `ERR_DPOP_*` and whose
/// `error` is the OAuth error to answer with (`invalid_dpop_proof`, `use_dpop_nonce`,
/// `invalid_token`).
///
/// `request`: `{method, url, accessToken?, nonce? (a string or the accepted list), jkt?}`
/// (`jkt`: the token's `cnf.jkt`). `options`: `replayCache` (required: a function
/// `(jti, expiresAt, jkt) => boolean | Promise<boolean>` that records the `jti` and answers
/// whether it was new), `algorithms`, `maxAge` (s, default 300), `clockTolerance` (s, default
/// 5), `currentDate`.
#[wasm_bindgen(js_name = verifyDpopProof)]
pub async fn verify_dpop_proof(
    proof: JsValue,
    request: JsValue,
    options: JsValue,
) -> Result<JsValue, JsValue> {
    let proof = proof
        .as_string()
        .ok_or_else(|| dpop_error(&DpopError::Missing))?;
    let request = options_object(&request, REQUEST_KEYS, "verifyDpopProof request")?
        .ok_or_else(|| invalid_options("verifyDpopProof needs a request {method, url}"))?;
    let method = opt_string(&request, "method")?
        .ok_or_else(|| invalid_options("option \"method\" is required"))?;
    let url = opt_string(&request, "url")?
        .ok_or_else(|| invalid_options("option \"url\" is required"))?;
    let access_token = zeroize::Zeroizing::new(opt_string(&request, "accessToken")?);
    let nonces = opt_strings(&request, "nonce")?;
    let jkt = opt_string(&request, "jkt")?;
    let options = options_object(&options, OPTION_KEYS, "verifyDpopProof options")?
        .ok_or_else(|| invalid_options("verifyDpopProof needs options with a replayCache"))?;
    let replay: Function = get(&options, "replayCache")
        .dyn_into()
        .map_err(|_| invalid_options("option \"replayCache\" must be a function"))?;
    let mut builder = DpopVerifier::builder();
    if !get(&options, "algorithms").is_undefined() {
        let mut algorithms = Vec::new();
        for name in opt_strings(&options, "algorithms")? {
            algorithms.push(Algorithm::from_name(&name).ok_or_else(|| {
                invalid_options(&cat(&[
                    "unknown algorithm ",
                    &quoted(&name),
                    " in \"algorithms\"",
                ]))
            })?);
        }
        builder = builder.algorithms(algorithms);
    }
    if let Some(max_age) = opt_number(&options, "maxAge", 1.0, MAX_MAX_AGE_SECS as f64)? {
        builder = builder.max_age_secs(max_age as i64);
    }
    if let Some(leeway) = opt_number(&options, "clockTolerance", 0.0, MAX_LEEWAY_SECS as f64)? {
        builder = builder.leeway_secs(leeway as i64);
    }
    let current = get(&options, "currentDate");
    let now_ms = if current.is_undefined() {
        Date::now()
    } else if let Some(date) = current.dyn_ref::<Date>() {
        date.get_time()
    } else {
        return Err(invalid_options("option \"currentDate\" must be a Date"));
    };
    let verifier = builder.build();
    let now = crate::core::time::floor_secs(floor(now_ms));

    let pending = verifier.begin(&proof, now).map_err(|e| dpop_error(&e))?;
    let signature_check = Verifier::builder()
        .algorithms([pending.algorithm()])
        .build();
    #[cfg(not(feature = "portable"))]
    let valid = {
        let keys = crate::webcrypto::WebCryptoKeySet::new(pending.keys().clone())
            .map_err(|_| dpop_error(&DpopError::SignatureInvalid))?;
        keys.check_raw_signature(
            &signature_check,
            pending.algorithm().name(),
            pending.message(),
            pending.signature(),
        )
        .await
        .is_ok()
    };
    #[cfg(feature = "portable")]
    let valid = signature_check
        .check_raw_signature(
            pending.algorithm().name(),
            pending.keys(),
            pending.message(),
            pending.signature(),
        )
        .is_ok();
    // The digests: WebCrypto in the npm package (no hash crate linked), sha2 with `portable`.
    #[cfg(not(feature = "portable"))]
    let (jkt_hash, ath) = {
        let digest = |bytes: Vec<u8>| async move {
            crate::webcrypto::sha256(&bytes)
                .await
                .map(|hash| crate::core::b64::encode(&hash))
                .ok_or_else(|| dpop_error(&DpopError::SignatureInvalid))
        };
        let jkt = digest(pending.thumbprint_input().as_bytes().to_vec()).await?;
        let ath = match access_token.as_deref() {
            Some(token) => Some(digest(token.as_bytes().to_vec()).await?),
            None => None,
        };
        (jkt, ath)
    };
    #[cfg(feature = "portable")]
    let (jkt_hash, ath) = (
        crate::core::dpop::thumbprint(pending.keys().keys()[0].params())
            .map_err(|e| dpop_error(&e))?,
        access_token
            .as_deref()
            .map(crate::core::dpop::access_token_hash),
    );
    let hashes = ProofHashes {
        jkt: &jkt_hash,
        ath: ath.as_deref(),
    };
    let nonce_refs: Vec<&str> = nonces.iter().map(String::as_str).collect();
    let request = ProofRequest {
        method: &method,
        url: &url,
        access_token: access_token.as_deref(),
        nonces: &nonce_refs,
        jkt: jkt.as_deref(),
    };
    let unrecorded = verifier
        .finish(pending, valid, &hashes, &request)
        .map_err(|e| dpop_error(&e))?;
    let answer = replay.call3(
        &JsValue::NULL,
        &unrecorded.jti().into(),
        &JsValue::from_f64(unrecorded.expires_at() as f64),
        &unrecorded.jkt().into(),
    )?;
    let fresh = if answer.is_instance_of::<Promise>() {
        JsFuture::from(Promise::from(answer)).await?
    } else {
        answer
    };
    if fresh.as_bool().is_none() {
        return Err(invalid_options("replayCache must answer a boolean"));
    }
    let verified = unrecorded
        .conclude(fresh.is_truthy())
        .map_err(|e| dpop_error(&e))?;
    let result = Object::new();
    for (key, value) in [
        ("jkt", JsValue::from(verified.jkt.as_str())),
        ("jti", verified.jti.as_str().into()),
        ("iat", JsValue::from_f64(verified.iat as f64)),
        ("alg", verified.alg.name().into()),
    ] {
        let _ = js_sys::Reflect::set(&result, &key.into(), &value);
    }
    Ok(result.into())
}

//! `decodeJwt`, `verifyJwt` and `KeySet` for JS, with jose's option names.
// Without the `verify` feature only `decodeJwt` remains, and most imports go unused.
#![cfg_attr(not(feature = "verify"), allow(unused_imports))]

use crate::prelude::*;

use alloc::rc::Rc;

use js_sys::{Array, Date, Uint8Array, JSON};
use wasm_bindgen::prelude::*;

use crate::core::error::Quoted;

use super::convert::{
    floor, get, invalid_options, jwt_error, opt_bool, opt_number, opt_string, opt_strings,
    options_object, to_json_text,
};
use crate::core::decode::{decode_checked_json, DecodeOptions};
#[cfg(feature = "verify")]
use crate::core::{
    jwk::{JwkSet, KeyOptions},
    verify::{Algorithm, Verifier},
};

/// `{header, claims}` built by the engine's `JSON.parse` from the token's own JSON, after the
/// core checked it strictly (canonical base64url, UTF-8, no duplicate names, claim types).
/// One `JSON.parse` of `{"header":…,"claims":…}`: one string crosses into JS, and no property
/// is set from wasm.
fn decoded_object(header: &[u8], payload: &[u8]) -> Result<JsValue, JsValue> {
    let mut text = Vec::with_capacity(header.len() + payload.len() + 22);
    text.extend_from_slice(b"{\"header\":");
    text.extend_from_slice(header);
    text.extend_from_slice(b",\"claims\":");
    text.extend_from_slice(payload);
    text.push(b'}');
    // The core checked both are UTF-8; an error here cannot happen, and is not a panic.
    let text = String::from_utf8(text).map_err(|_| invalid_options("not UTF-8"))?;
    JSON::parse(&text)
}

/// Decodes a JWT **without verifying it**: `{header, claims}`. Throws a coded `Error` on
/// malformed input (8 KiB cap, strict base64url, duplicate names, bad claim types).
#[wasm_bindgen(js_name = decodeJwt)]
pub fn decode_jwt(token: &str) -> Result<JsValue, JsValue> {
    let (header, payload) =
        decode_checked_json(token, &DecodeOptions::default()).map_err(|e| jwt_error(&e))?;
    decoded_object(&header, &payload)
}

// An imported, reusable set of verification keys (like jose's `createLocalJWKSet`).
#[cfg(feature = "verify")]
#[wasm_bindgen]
pub struct KeySet {
    keys: Rc<Keys>,
}

/// The keys with their WebCrypto imports (the npm package), or as the core holds them for the
/// pure-Rust primitive (the `portable` build).
#[cfg(all(feature = "verify", not(feature = "portable")))]
type Keys = crate::webcrypto::WebCryptoKeySet;
#[cfg(feature = "portable")]
type Keys = JwkSet;

#[cfg(feature = "verify")]
fn prepare_keys(keys: JwkSet) -> Result<Rc<Keys>, JsValue> {
    #[cfg(not(feature = "portable"))]
    let keys = crate::webcrypto::WebCryptoKeySet::new(keys).map_err(|e| jwt_error(&e))?;
    Ok(Rc::new(keys))
}

/// The first half of `verifyJwt` and `KeySet#verify`, everything but the WebCrypto call, which
/// the package's JS layer makes and chains in one `Promise` (no Rust future, no state machine):
/// `[key, params, signature, message, result, failed]`. `key` is the `CryptoKey` or a
/// `Promise` of it (of `undefined` when WebCrypto refused it: `__verifyError(true)`), or `null`
/// when the signature is already checked (the `portable` build); after a valid signature
/// `result` is `{header, claims}`, or the coded `Error` to reject with when `failed`.
#[cfg(feature = "verify")]
fn begin(keys: &Keys, token: &str, parsed: &ParsedOptions) -> Result<Array, JsValue> {
    #[cfg(not(feature = "portable"))]
    let (outcome, json, head) = {
        let prepared = keys
            .prepare(&parsed.verifier, token, parsed.now)
            .map_err(|e| jwt_error(&e))?;
        let head: [JsValue; 4] = [
            prepared.key,
            prepared.params.into(),
            prepared.signature.into(),
            prepared.message.into(),
        ];
        (prepared.outcome, prepared.json, head)
    };
    #[cfg(feature = "portable")]
    let (outcome, json, head) = {
        let (outcome, json) = parsed.verifier.verify_keeping_json(token, keys, parsed.now);
        let head: [JsValue; 4] = [
            JsValue::NULL,
            JsValue::UNDEFINED,
            JsValue::UNDEFINED,
            JsValue::UNDEFINED,
        ];
        (outcome, json, head)
    };
    let (result, failed) = match outcome {
        // The core decoded and checked this JSON: no second decoding of the token.
        Ok(_) => (decoded_object(&json.0, &json.1)?, false),
        Err(e) => (jwt_error(&e), true),
    };
    let begun: Array = head.into_iter().collect();
    begun.push(&result);
    begun.push(&failed.into());
    Ok(begun)
}

// The coded `Error` of a signature WebCrypto found invalid, or (`refused`) of a key it refused.
#[cfg(feature = "verify")]
#[wasm_bindgen(js_name = __verifyError)]
pub fn verify_error(refused: bool) -> JsValue {
    jwt_error(&if refused {
        crate::core::error::JwtError::InvalidKey {
            reason: "WebCrypto refused the key",
        }
    } else {
        crate::core::error::JwtError::SignatureInvalid
    })
}

#[cfg(feature = "verify")]
const KEY_OPTIONS: &[&str] = &["allowSymmetricKeys"];

#[cfg(feature = "verify")]
fn import_keys(value: &JsValue, allow_symmetric: bool) -> Result<JwkSet, JsValue> {
    let options = KeyOptions { allow_symmetric };
    // A raw HMAC secret: a Uint8Array or a string (its UTF-8 bytes), as jose accepts.
    let secret = if let Some(text) = value.as_string() {
        Some(text.into_bytes())
    } else if value.is_instance_of::<Uint8Array>() {
        Some(Uint8Array::from(value.clone()).to_vec())
    } else {
        None
    };
    if let Some(secret) = secret {
        let secret = zeroize::Zeroizing::new(secret);
        return JwkSet::from_secret(&secret, &options).map_err(|e| jwt_error(&e));
    }
    if !value.is_object() {
        return Err(invalid_options(
            "keys must be a JWK, a JWK Set, a KeySet or (with allowSymmetricKeys) a secret",
        ));
    }
    let text = zeroize::Zeroizing::new(to_json_text(value, "keys")?);
    JwkSet::from_json(&text, &options).map_err(|e| jwt_error(&e))
}

#[cfg(feature = "verify")]
#[wasm_bindgen]
impl KeySet {
    // Imports a JWK or a JWK Set once, for many `verifyJwt` calls.
    // Options: `allowSymmetricKeys` (default `false`).
    #[wasm_bindgen(constructor)]
    pub fn new(keys: &JsValue, options: &JsValue) -> Result<KeySet, JsValue> {
        let object = options_object(options, KEY_OPTIONS, "KeySet options")?;
        let allow = match &object {
            Some(o) => opt_bool(o, "allowSymmetricKeys")?.unwrap_or(false),
            None => false,
        };
        Ok(KeySet {
            keys: prepare_keys(import_keys(keys, allow)?)?,
        })
    }

    // Number of usable verification keys.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> usize {
        #[cfg(not(feature = "portable"))]
        let keys = self.keys.keys();
        #[cfg(feature = "portable")]
        let keys = &self.keys;
        keys.keys().len()
    }
}

#[cfg(feature = "verify")]
const VERIFY_OPTIONS: &[&str] = &[
    "algorithms",
    "issuer",
    "audience",
    "subject",
    "typ",
    "clockTolerance",
    "requiredClaims",
    "currentDate",
    "maxTokenAge",
    "allowSymmetricKeys",
    "maxTokenLength",
    "requireExp",
];

#[cfg(feature = "verify")]
struct ParsedOptions {
    verifier: Verifier,
    now: i64,
    allow_symmetric: bool,
}

#[cfg(feature = "verify")]
fn parse_verify_options(options: &JsValue) -> Result<ParsedOptions, JsValue> {
    const TEN_YEARS: f64 = crate::core::verify::MAX_DURATION_SECS as f64;
    let mut verifier = Verifier::builder().build();
    let mut now_ms = Date::now();
    let mut allow_symmetric = false;
    if let Some(o) = options_object(options, VERIFY_OPTIONS, "verifyJwt options")? {
        if !get(&o, "algorithms").is_undefined() {
            verifier.algorithms = opt_strings(&o, "algorithms")?
                .iter()
                .map(|name| {
                    Algorithm::from_name(name).ok_or_else(|| {
                        invalid_options(&format!(
                            "unknown algorithm {} in \"algorithms\"",
                            Quoted(name)
                        ))
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        verifier.issuers = opt_strings(&o, "issuer")?;
        verifier.audiences = opt_strings(&o, "audience")?;
        verifier.subject = opt_string(&o, "subject")?;
        verifier.typ = opt_string(&o, "typ")?;
        // Bounded to the builder's clamps by `opt_number`.
        if let Some(leeway) = opt_number(&o, "clockTolerance", 0.0, TEN_YEARS)? {
            verifier.leeway_secs = floor(leeway);
        }
        verifier.required_claims = opt_strings(&o, "requiredClaims")?;
        if let Some(max_age) = opt_number(&o, "maxTokenAge", 0.0, TEN_YEARS)? {
            verifier.max_token_age_secs = Some(floor(max_age));
        }
        if let Some(max_len) = opt_number(&o, "maxTokenLength", 1.0, 1024.0 * 1024.0)? {
            verifier.decode.max_len = max_len as usize;
        }
        if let Some(require) = opt_bool(&o, "requireExp")? {
            verifier.require_exp = require;
        }
        allow_symmetric = opt_bool(&o, "allowSymmetricKeys")?.unwrap_or(false);
        if allow_symmetric && get(&o, "algorithms").is_undefined() {
            // HS* are never in the default list; a caller who allows secrets must say which.
            return Err(invalid_options(
                "allowSymmetricKeys requires an explicit \"algorithms\" list",
            ));
        }
        let current = get(&o, "currentDate");
        if !current.is_undefined() {
            now_ms = if let Some(date) = current.dyn_ref::<Date>() {
                date.get_time()
            } else {
                current.as_f64().unwrap_or(f64::NAN)
            };
            if !now_ms.is_finite() {
                return Err(invalid_options(
                    "option \"currentDate\" must be a valid Date",
                ));
            }
        }
    }
    // `as` saturates; the core's `Verifier::begin` refuses a `now` out of 1970..=9999.
    Ok(ParsedOptions {
        verifier,
        now: floor(now_ms / 1000.0),
        allow_symmetric,
    })
}

// `verifyJwt` with a JWK, a JWK Set or a secret, up to the WebCrypto call (see [`begin`];
// the package's JS layer exports `verifyJwt`, a `Promise` of `{header, claims}` rejected with
// an `Error` with a stable `code`).
//
// `keys`: a JWK, a JWK Set, or (with `allowSymmetricKeys`) an HMAC secret; they are imported
// for this call only (use a `KeySet` to import once). Options (jose's names): `algorithms`,
// `issuer`, `audience`, `subject`, `typ`, `clockTolerance` (s), `requiredClaims`,
// `currentDate`, `maxTokenAge` (s), `maxTokenLength`, `requireExp`, `allowSymmetricKeys`.
#[cfg(feature = "verify")]
#[wasm_bindgen(js_name = __verifyBegin)]
pub fn verify_begin(token: &str, keys: &JsValue, options: &JsValue) -> Result<Array, JsValue> {
    let parsed = parse_verify_options(options)?;
    let keys = prepare_keys(import_keys(keys, parsed.allow_symmetric)?)?;
    begin(&keys, token, &parsed)
}

#[cfg(feature = "verify")]
#[wasm_bindgen]
impl KeySet {
    // `KeySet#verify` up to the WebCrypto call (see [`begin`]); options as for `verifyJwt`.
    #[wasm_bindgen(js_name = __begin)]
    pub fn begin(&self, token: &str, options: &JsValue) -> Result<Array, JsValue> {
        begin(&self.keys, token, &parse_verify_options(options)?)
    }
}

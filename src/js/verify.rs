//! `decodeJwt`, `verifyJwt` and `KeySet` for JS, with jose's option names.
// Without the `jwt-api` feature (the manager entries: tokenwarden/oauth verifies its ID tokens
// through its own engine) only `decodeJwt` remains, and most imports go unused.
#![cfg_attr(not(feature = "jwt-api"), allow(unused_imports))]

use crate::prelude::*;

use alloc::rc::Rc;

use js_sys::{Array, Uint8Array, JSON};
use wasm_bindgen::prelude::*;

use crate::core::error::{cat, decimal, quoted};
use crate::core::time::floor_secs;

use super::convert::{invalid_options, jwt_error, to_json_text};
use crate::core::decode::{decode_checked_json, DecodeOptions};
#[cfg(feature = "jwt-api")]
use crate::core::{
    jwk::{JwkSet, KeyOptions},
    verify::{Algorithm, Verifier},
};

/// `{"header":…,"claims":…}`: the token's own JSON, after the core checked it strictly
/// (canonical base64url, UTF-8, no duplicate names, claim types), for the engine's `JSON.parse`
/// (one string crosses into JS, and no property is set from wasm).
fn decoded_text(header: &str, payload: &str) -> String {
    let mut text = String::with_capacity(header.len() + payload.len() + 22);
    text.push_str("{\"header\":");
    text.push_str(header);
    text.push_str(",\"claims\":");
    text.push_str(payload);
    text.push('}');
    text
}

/// Decodes a JWT **without verifying it**: `{header, claims}`. Throws a coded `Error` on
/// malformed input (8 KiB cap, strict base64url, duplicate names, bad claim types).
#[wasm_bindgen(js_name = decodeJwt)]
pub fn decode_jwt(token: &str) -> Result<JsValue, JsValue> {
    let (header, payload) =
        decode_checked_json(token, &DecodeOptions::default()).map_err(|e| jwt_error(&e))?;
    JSON::parse(&decoded_text(&header, &payload))
}

// An imported, reusable set of verification keys (like jose's `createLocalJWKSet`).
#[cfg(feature = "jwt-api")]
#[wasm_bindgen]
pub struct KeySet {
    keys: Rc<Keys>,
}

/// The keys with their WebCrypto imports (the npm package), or as the core holds them for the
/// pure-Rust primitive (the `portable` build).
#[cfg(all(feature = "jwt-api", not(feature = "portable")))]
type Keys = crate::webcrypto::WebCryptoKeySet;
#[cfg(all(feature = "jwt-api", feature = "portable"))]
type Keys = JwkSet;

#[cfg(feature = "jwt-api")]
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
/// `result` is the JSON text of `{header, claims}`, or the coded `Error` to reject with when
/// `failed`.
#[cfg(feature = "jwt-api")]
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
        // The core decoded and checked this JSON: no second decoding of the token, and the
        // JS layer's `JSON.parse` builds `{header, claims}` from it.
        Ok(_) => (JsValue::from(decoded_text(&json.0, &json.1)), false),
        Err(e) => (jwt_error(&e), true),
    };
    let [key, params, signature, message] = head;
    // One call builds the array (a push per element would be a crossing each).
    Ok(Array::of(&[
        key,
        params,
        signature,
        message,
        result,
        failed.into(),
    ]))
}

// The coded `Error` of a signature WebCrypto found invalid, or (`refused`) of a key it refused.
#[cfg(feature = "jwt-api")]
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

#[cfg(feature = "jwt-api")]
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
            "keys: a JWK, a JWK Set, a KeySet or (with allowSymmetricKeys) a secret",
        ));
    }
    let text = zeroize::Zeroizing::new(to_json_text(value, "keys")?);
    JwkSet::from_json(&text, &options).map_err(|e| jwt_error(&e))
}

#[cfg(feature = "jwt-api")]
#[wasm_bindgen]
impl KeySet {
    // Imports a JWK or a JWK Set once, for many `verifyJwt` calls. `allow_symmetric`: the
    // option `allowSymmetricKeys`, read by verify.js (whose `KeySet` extends this class).
    #[wasm_bindgen(constructor)]
    pub fn new(keys: &JsValue, allow_symmetric: bool) -> Result<KeySet, JsValue> {
        let allow = allow_symmetric;
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

#[cfg(feature = "jwt-api")]
struct ParsedOptions {
    verifier: Verifier,
    now: i64,
    allow_symmetric: bool,
}

/// The options of `verifyJwt` and `KeySet#verify` as the package's verify.js hands them over,
/// their names and types checked there with the messages of every other option (unknown
/// names, types, `allowSymmetricKeys` without `algorithms`, `currentDate`): one JSON object
/// read by the core's strict reader, so no JS option reader is linked into wasm. Members: `a`
/// algorithms (absent: the default list), `i` issuers, `u` audiences, `s` subject, `t` typ,
/// `l` leeway (s), `r` required claims, `m` max token age (s), `x` max token length, `e`
/// requireExp, `y` allowSymmetricKeys, `n` now (ms since the epoch). The ranges of `l`, `m`
/// and `x` are checked here only (the core's: ten years, 1 MiB); any other malformed member is
/// refused, never trusted.
#[cfg(feature = "jwt-api")]
fn parse_verify_options(text: &str) -> Result<ParsedOptions, JsValue> {
    use crate::core::json::{parse_object_text, Value};
    const TEN_YEARS: i64 = crate::core::time::MAX_DURATION_SECS;
    // The longest token `maxTokenLength` may allow.
    const MAX_TOKEN_LENGTH: i64 = 1024 * 1024;
    let bad = || invalid_options("invalid verifyJwt options");
    let map = parse_object_text(text, "verifyJwt options").map_err(|_| bad())?;
    // Each reader: `Err` for a member of the wrong type or out of range (never from verify.js).
    let strings = |key: &str| -> Result<Vec<String>, JsValue> {
        let mut list = Vec::new();
        match map.get(key) {
            None => {}
            Some(Value::Array(items)) => {
                for item in items {
                    list.push(item.as_str().ok_or_else(bad)?.to_owned());
                }
            }
            Some(_) => return Err(bad()),
        }
        Ok(list)
    };
    let string = |key: &str| match map.get(key) {
        None => Ok(None),
        Some(value) => value.as_str().map(|s| Some(s.to_owned())).ok_or_else(bad),
    };
    // A number option, floored, within the core's range: else refused with its name and range
    // (verify.js hands anything but a number over as `null`).
    let int = |key: &str, name: &str, min: i64, max: i64| match map.get(key) {
        None => Ok(None),
        Some(value) => match value {
            Value::Number(n) => n.floor_within(min, max),
            _ => None,
        }
        .map(Some)
        .ok_or_else(|| {
            invalid_options(&cat(&[
                "option \"",
                name,
                "\" must be a number from ",
                &decimal(min as u64),
                " to ",
                &decimal(max as u64),
            ]))
        }),
    };
    let flag = |key: &str| match map.get(key) {
        None => Ok(None),
        Some(value) => value.as_bool().map(Some).ok_or_else(bad),
    };
    let mut verifier = Verifier::builder().build();
    if map.contains_key("a") {
        verifier.algorithms.clear();
        for name in strings("a")? {
            let Some(alg) = Algorithm::from_name(&name) else {
                return Err(invalid_options(&cat(&[
                    "unknown algorithm ",
                    &quoted(&name),
                    " in \"algorithms\"",
                ])));
            };
            verifier.algorithms.push(alg);
        }
    }
    verifier.issuers = strings("i")?;
    verifier.audiences = strings("u")?;
    verifier.subject = string("s")?;
    verifier.typ = string("t")?;
    if let Some(leeway) = int("l", "clockTolerance", 0, TEN_YEARS)? {
        verifier.leeway_secs = leeway;
    }
    verifier.required_claims = strings("r")?;
    verifier.max_token_age_secs = int("m", "maxTokenAge", 0, TEN_YEARS)?;
    if let Some(max_len) = int("x", "maxTokenLength", 1, MAX_TOKEN_LENGTH)? {
        verifier.decode.max_len = max_len as usize;
    }
    if let Some(require) = flag("e")? {
        verifier.require_exp = require;
    }
    let allow_symmetric = flag("y")?.unwrap_or(false);
    // `n`: now in ms (the clock's, or `currentDate`), in whole seconds here. It may be negative
    // (a date before 1970) or far out: the core's `Verifier::begin` refuses a `now` out of
    // 1970..=9999 with its own error.
    let now = match map.get("n") {
        Some(Value::Number(n)) => n
            .floor_within(-i64::MAX, i64::MAX)
            .map_or(i64::MAX, floor_secs),
        _ => return Err(bad()),
    };
    Ok(ParsedOptions {
        verifier,
        now,
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
#[cfg(feature = "jwt-api")]
#[wasm_bindgen(js_name = __verifyBegin)]
pub fn verify_begin(token: &str, keys: &JsValue, options: &str) -> Result<Array, JsValue> {
    let parsed = parse_verify_options(options)?;
    let keys = prepare_keys(import_keys(keys, parsed.allow_symmetric)?)?;
    begin(&keys, token, &parsed)
}

#[cfg(feature = "jwt-api")]
#[wasm_bindgen]
impl KeySet {
    // `KeySet#verify` up to the WebCrypto call (see [`begin`]); options as for `verifyJwt`.
    #[wasm_bindgen(js_name = __begin)]
    pub fn begin(&self, token: &str, options: &str) -> Result<Array, JsValue> {
        begin(&self.keys, token, &parse_verify_options(options)?)
    }
}

//! Conversions between JS values and core types, and the mapping of errors to JS `Error`s.
// The JS option readers serve `verifyDpopProof` (dpop-verify); the package's other options are
// read in driver.js and verify.js.
#![cfg_attr(not(feature = "dpop-verify"), allow(dead_code))]

use crate::prelude::*;

use js_sys::{Array, Object, Reflect, JSON};
use wasm_bindgen::prelude::*;

use crate::core::error::{cat, decimal, quoted};

use crate::core::error::JwtError;

/// A JS `Error` with a stable `code` (and `claim`/`reason` for claim failures), like jose's.
pub(crate) fn js_error(code: &str, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    set(&error, "code", &JsValue::from_str(code));
    error.into()
}

pub(crate) fn jwt_error(err: &JwtError) -> JsValue {
    let error = js_error(err.code(), &err.message());
    if let Some(claim) = err.claim() {
        set(&error, "claim", &JsValue::from_str(claim));
    }
    if let Some(reason) = err.reason() {
        set(&error, "reason", &JsValue::from_str(reason));
    }
    error
}

pub(crate) fn invalid_options(message: &str) -> JsValue {
    js_error("ERR_INVALID_OPTIONS", message)
}

fn set(target: &JsValue, key: &str, value: &JsValue) {
    // Setting a property on a fresh Error or plain object cannot fail.
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

/// `JSON.stringify(value)` for values that must be plain JSON (JWKs, claims).
#[cfg_attr(not(feature = "verify"), allow(dead_code))]
pub(crate) fn to_json_text(value: &JsValue, what: &str) -> Result<String, JsValue> {
    JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| invalid_options(&cat(&[what, " must be a JSON-serializable object"])))
}

/// Reads an options object: `undefined`/`null` mean "no options"; any other non-object and
/// any property not in `known` is an error, so a misspelled option never goes unnoticed.
pub(crate) fn options_object(
    value: &JsValue,
    known: &[&str],
    what: &str,
) -> Result<Option<Object>, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    if !value.is_object() || Array::is_array(value) {
        return Err(invalid_options(&cat(&[what, " must be an object"])));
    }
    let object: Object = value.clone().unchecked_into();
    for key in Object::keys(&object).iter() {
        let key = key.as_string().unwrap_or_default();
        if !known.contains(&key.as_str()) {
            return Err(invalid_options(&cat(&[
                "unknown option ",
                &quoted(&key),
                " in ",
                what,
                "; known options: ",
                &known.join(", "),
            ])));
        }
    }
    Ok(Some(object))
}

/// `x.floor() as i64` (saturating, NaN as 0), which `no_std` has no `f64::floor` for.
pub(crate) fn floor(x: f64) -> i64 {
    let truncated = x as i64;
    if (truncated as f64) > x {
        truncated.saturating_sub(1)
    } else {
        truncated
    }
}

pub(crate) fn get(object: &Object, key: &str) -> JsValue {
    Reflect::get(object, &property_name(key)).unwrap_or(JsValue::UNDEFINED)
}

/// The JS string for a property name, made once: decoding it from wasm memory on every read
/// was a third of `verifyJwt`'s option parsing in Node (about 6 µs for three options). The
/// names are the options' own, a few dozen at most; past 64 nothing more is kept.
fn property_name(key: &str) -> JsValue {
    thread_local! {
        static NAMES: core::cell::RefCell<Vec<(String, JsValue)>> = const {
            core::cell::RefCell::new(Vec::new())
        };
    }
    NAMES.with(|names| {
        let mut names = names.borrow_mut();
        if let Some((_, value)) = names.iter().find(|(name, _)| name == key) {
            return value.clone();
        }
        let value = JsValue::from_str(key);
        if names.len() < 64 {
            names.push((key.to_owned(), value.clone()));
        }
        value
    })
}

/// Option `key` read with `read`: `None` when undefined, an error naming `kind` when `read`
/// refuses the value.
fn opt<T>(
    object: &Object,
    key: &str,
    kind: &str,
    read: impl FnOnce(&JsValue) -> Option<T>,
) -> Result<Option<T>, JsValue> {
    let value = get(object, key);
    if value.is_undefined() {
        return Ok(None);
    }
    read(&value)
        .map(Some)
        .ok_or_else(|| invalid_options(&cat(&["option ", &quoted(key), " must be ", kind])))
}

pub(crate) fn opt_string(object: &Object, key: &str) -> Result<Option<String>, JsValue> {
    opt(object, key, "a string", JsValue::as_string)
}

/// A string or an array of strings.
pub(crate) fn opt_strings(object: &Object, key: &str) -> Result<Vec<String>, JsValue> {
    let value = get(object, key);
    if value.is_undefined() {
        return Ok(Vec::new());
    }
    if let Some(one) = value.as_string() {
        return Ok(vec![one]);
    }
    let invalid = || {
        invalid_options(&cat(&[
            "option ",
            &quoted(key),
            " must be a string or an array of strings",
        ]))
    };
    if !Array::is_array(&value) {
        return Err(invalid());
    }
    Array::from(&value)
        .iter()
        .map(|item| item.as_string().ok_or_else(invalid))
        .collect()
}

/// A finite number within `min..=max`.
pub(crate) fn opt_number(
    object: &Object,
    key: &str,
    min: f64,
    max: f64,
) -> Result<Option<f64>, JsValue> {
    let value = get(object, key);
    if value.is_undefined() {
        return Ok(None);
    }
    match value.as_f64() {
        Some(n) if n.is_finite() && (min..=max).contains(&n) => Ok(Some(n)),
        // The bounds are whole non-negative numbers; writing them as integers keeps float
        // formatting (about 6 KB of wasm) out of the package.
        _ => Err(invalid_options(&cat(&[
            "option ",
            &quoted(key),
            " must be a number from ",
            &decimal(min as u64),
            " to ",
            &decimal(max as u64),
        ]))),
    }
}

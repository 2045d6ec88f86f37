//! The cross-tab channel's JS objects: one field read for the core's codec, one written.
//! Shared by the Rust shell (`web::tabs`) and the npm package's engine (`js::engine`); neither
//! shell imports the other.

use js_sys::{JsString, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::core::secret::Secret;
use crate::core::tabs::{Key, Out, Value};

pub(crate) fn set(target: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

pub(crate) fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// One field of a received object, as the codec wants it. Strings longer than the key allows
/// are not copied into wasm memory.
pub(crate) fn read(data: &JsValue, key: Key) -> Value {
    let value = get(data, key.name());
    if value.is_undefined() || value.is_null() {
        return Value::Absent;
    }
    if let Some(number) = value.as_f64() {
        return Value::Number(number);
    }
    match value.dyn_ref::<JsString>() {
        Some(text) if (text.length() as usize) <= key.max_text_len() => {
            Value::Text(Secret::new(text.into()))
        }
        _ => Value::Other,
    }
}

/// Writes one field of an outgoing object.
pub(crate) fn write(target: &Object) -> impl FnMut(Key, Out<'_>) + '_ {
    move |key, out| {
        let value = match out {
            Out::Number(n) => JsValue::from(n),
            Out::Text(text) => JsValue::from_str(text),
        };
        set(target, key.name(), &value);
    }
}

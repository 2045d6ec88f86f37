//! Strict JSON for JOSE: duplicate member names are an error at every depth.
//!
//! RFC 7515 §5.2 and RFC 7519 §4 let parsers either reject duplicate names or keep the last
//! one. Keeping the last one means two parsers can read different claims from one token
//! (the classic `{"sub":"alice","sub":"admin"}` confusion), so tokenwarden rejects them.

use core::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::core::error::JwtError;

/// Parses `bytes` as one JSON object, rejecting duplicate member names anywhere inside it.
///
/// `part` names the segment in the error (`"header"`, `"payload"`, `"jwk"`).
pub fn parse_object(bytes: &[u8], part: &'static str) -> Result<Map<String, Value>, JwtError> {
    let text = core::str::from_utf8(bytes).map_err(|_| JwtError::InvalidUtf8 { part })?;
    match serde_json::from_str::<StrictValue>(text) {
        Ok(StrictValue(Value::Object(map))) => Ok(map),
        Ok(_) => Err(JwtError::InvalidJson { part }),
        Err(err) if err.to_string().starts_with(DUPLICATE_MARKER) => {
            Err(JwtError::DuplicateMember { part })
        }
        Err(_) => Err(JwtError::InvalidJson { part }),
    }
}

const DUPLICATE_MARKER: &str = "tokenwarden: duplicate member";

/// A `serde_json::Value` whose objects were checked for duplicate names while parsing.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(DUPLICATE_MARKER));
            }
            let StrictValue(value) = access.next_value()?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn parses_objects() {
        let map = parse_object(br#"{"a":1,"b":[{"c":true}],"d":1.5}"#, "payload").unwrap();
        assert_eq!(map.len(), 3);
    }

    #[test]
    fn rejects_duplicates_at_any_depth() {
        for doc in [
            r#"{"sub":"alice","sub":"admin"}"#,
            r#"{"a":{"x":1,"x":2}}"#,
            r#"{"a":[{"x":1,"x":2}]}"#,
        ] {
            assert_eq!(
                parse_object(doc.as_bytes(), "payload"),
                Err(JwtError::DuplicateMember { part: "payload" }),
                "{doc}"
            );
        }
    }

    #[test]
    fn rejects_non_objects_bad_utf8_and_trailing_data() {
        assert_eq!(
            parse_object(b"[1]", "header"),
            Err(JwtError::InvalidJson { part: "header" })
        );
        assert_eq!(
            parse_object(b"{} {}", "header"),
            Err(JwtError::InvalidJson { part: "header" })
        );
        assert_eq!(
            parse_object(b"{\"a\":\"\xff\"}", "payload"),
            Err(JwtError::InvalidUtf8 { part: "payload" })
        );
        assert_eq!(
            parse_object(b"{\"exp\":1e400}", "payload"),
            Err(JwtError::InvalidJson { part: "payload" })
        );
    }
}

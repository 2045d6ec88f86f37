//! Reading members out of a JSON object (metadata, token responses, the stored transaction).
//!
//! The object is parsed by the core's strict JSON reader ([`crate::core::json`]), the same one
//! that reads tokens: a repeated member name is refused at every depth, so a provider response
//! cannot say two things at once, and the wasm build carries no second JSON parser. Members are
//! taken out one by one instead of through `#[derive(Deserialize)]` structs, which keeps the
//! wasm build small (the OAuth module measured 24.1 KB gzip with derived parsers and 20.7 KB
//! with a hand reader). Wrong types are refused.

use crate::prelude::*;

use crate::core::json::{parse_object_text, Map, Value};

/// A member had the wrong JSON type.
pub(crate) struct WrongType;

/// A parsed JSON object whose members are taken out one by one.
pub(crate) struct Object(Map);

impl Object {
    /// Parses `text` as one JSON object.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        parse_object_text(text, "oauth").ok().map(Self)
    }

    /// A string member; `null` counts as absent.
    pub(crate) fn string(&mut self, name: &str) -> Result<Option<String>, WrongType> {
        match self.0.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(WrongType),
        }
    }

    /// An array-of-strings member.
    pub(crate) fn strings(&mut self, name: &str) -> Result<Option<Vec<String>>, WrongType> {
        match self.0.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s),
                    _ => Err(WrongType),
                })
                .collect::<Result<_, _>>()
                .map(Some),
            Some(_) => Err(WrongType),
        }
    }

    /// A boolean member.
    pub(crate) fn boolean(&mut self, name: &str) -> Result<Option<bool>, WrongType> {
        match self.0.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(_) => Err(WrongType),
        }
    }

    /// A non-negative integer member.
    pub(crate) fn unsigned(&mut self, name: &str) -> Result<Option<u64>, WrongType> {
        match self.0.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n.as_u64().map(Some).ok_or(WrongType),
            Some(_) => Err(WrongType),
        }
    }

    /// Takes a member as it is.
    pub(crate) fn take(&mut self, name: &str) -> Option<Value> {
        self.0.remove(name)
    }

    /// Whether members remain that were not taken.
    pub(crate) fn has_other_members(&self) -> bool {
        !self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn repeated_members_are_refused_not_last_wins() {
        assert!(Object::parse(r#"{"access_token":"a","access_token":"b"}"#).is_none());
        assert!(Object::parse(r#"{"a":{"x":1,"x":2}}"#).is_none());
        let mut object = Object::parse(r#"{"access_token":"a","n":null}"#).expect("an object");
        assert_eq!(
            object.string("access_token").ok().flatten().as_deref(),
            Some("a")
        );
        assert!(matches!(object.string("n"), Ok(None)));
        assert!(!object.has_other_members());
    }
}

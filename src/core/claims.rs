//! Typed JOSE header and JWT claims, read from strictly parsed JSON.

use crate::prelude::*;

use serde::Serialize;

use crate::core::{
    error::JwtError,
    json::{Map, Value},
};

/// Latest accepted NumericDate: 9999-12-31T23:59:59Z. Anything larger (or negative) is refused
/// before any date arithmetic happens, so no later addition or conversion can overflow.
pub const MAX_NUMERIC_DATE: i64 = 253_402_300_799;

/// The JOSE header of a token. `alg` is what the token *claims*; the verifier never lets it
/// choose the key or the algorithm family.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Header {
    /// `alg`, as written in the token (untrusted).
    pub alg: String,
    /// `typ`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// `cty`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cty: Option<String>,
    /// `kid`: used only to pick among keys the caller supplied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Every other parameter, including `jku`, `x5u`, `jwk` and `x5c`, which are never used to
    /// find or build a key.
    #[serde(flatten)]
    pub extra: Map,
}

impl Header {
    /// Reads a header from a parsed JSON object, refusing `crit` and `b64: false`.
    pub fn from_map(mut map: Map) -> Result<Self, JwtError> {
        if map.contains_key("crit") {
            // No extension is implemented, so every critical extension is unknown (RFC 7515
            // §4.1.11 says reject). An empty list is itself invalid, so it is refused too.
            return Err(JwtError::CritUnsupported);
        }
        match map.get("b64") {
            None | Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => return Err(JwtError::UnencodedPayload),
            Some(_) => return Err(JwtError::InvalidHeader { member: "b64" }),
        }
        let alg = match map.remove("alg") {
            Some(Value::String(alg)) => alg,
            _ => return Err(JwtError::InvalidHeader { member: "alg" }),
        };
        Ok(Self {
            alg,
            typ: take_header_string(&mut map, "typ")?,
            cty: take_header_string(&mut map, "cty")?,
            kid: take_header_string(&mut map, "kid")?,
            extra: map,
        })
    }
}

fn take_header_string(map: &mut Map, member: &'static str) -> Result<Option<String>, JwtError> {
    match map.remove(member) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(JwtError::InvalidHeader { member }),
    }
}

/// The `aud` claim: one audience or several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Audience {
    /// `"aud": "api"`.
    One(String),
    /// `"aud": ["api", "web"]`.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `audience` is one of the token's audiences.
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Self::One(one) => one == audience,
            Self::Many(many) => many.iter().any(|a| a == audience),
        }
    }
}

/// The claims of a token: registered claims typed and range-checked, the rest in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claims {
    /// `iss`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// `sub`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// `aud`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// `exp`, seconds since the epoch, within `0..=MAX_NUMERIC_DATE` (fractions are floored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// `nbf`, as `exp`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// `iat`, as `exp`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// `jti`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Every other claim.
    #[serde(flatten)]
    pub extra: Map,
}

impl Claims {
    /// Reads claims from a parsed JSON object, checking the types and ranges of registered claims.
    pub fn from_map(mut map: Map) -> Result<Self, JwtError> {
        Ok(Self {
            iss: take_string(&mut map, "iss")?,
            sub: take_string(&mut map, "sub")?,
            aud: take_audience(&mut map)?,
            exp: take_numeric_date(&mut map, "exp")?,
            nbf: take_numeric_date(&mut map, "nbf")?,
            iat: take_numeric_date(&mut map, "iat")?,
            jti: take_string(&mut map, "jti")?,
            extra: map,
        })
    }

    /// Whether a claim (registered or custom) is present.
    pub fn contains(&self, claim: &str) -> bool {
        match claim {
            "iss" => self.iss.is_some(),
            "sub" => self.sub.is_some(),
            "aud" => self.aud.is_some(),
            "exp" => self.exp.is_some(),
            "nbf" => self.nbf.is_some(),
            "iat" => self.iat.is_some(),
            "jti" => self.jti.is_some(),
            other => self.extra.contains_key(other),
        }
    }

    /// Deserializes the custom claims into an application type (natively; in wasm read
    /// [`Claims::extra`], or let the engine's `JSON.parse` build the object).
    ///
    /// ```
    /// # use tokenwarden::decode_unverified;
    /// #[derive(serde::Deserialize)]
    /// struct Custom { scope: String }
    /// // header {"alg":"ES256"}, payload {"sub":"u1","scope":"read"}
    /// let token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1MSIsInNjb3BlIjoicmVhZCJ9.c2ln";
    /// let custom: Custom = decode_unverified(token)?.claims.custom()?;
    /// assert_eq!(custom.scope, "read");
    /// # Ok::<(), tokenwarden::JwtError>(())
    /// ```
    #[cfg(not(target_arch = "wasm32"))]
    pub fn custom<T: serde::de::DeserializeOwned>(&self) -> Result<T, JwtError> {
        serde_json::to_value(&self.extra)
            .and_then(T::deserialize)
            .map_err(|_| JwtError::ClaimType {
                claim: "custom claims".into(),
            })
    }
}

fn take_string(map: &mut Map, claim: &str) -> Result<Option<String>, JwtError> {
    match map.remove(claim) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(JwtError::ClaimType {
            claim: claim.into(),
        }),
    }
}

fn take_audience(map: &mut Map) -> Result<Option<Audience>, JwtError> {
    let invalid = || JwtError::ClaimType {
        claim: "aud".into(),
    };
    match map.remove("aud") {
        None => Ok(None),
        Some(Value::String(one)) => Ok(Some(Audience::One(one))),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Ok(s),
                _ => Err(invalid()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|many| Some(Audience::Many(many))),
        Some(_) => Err(invalid()),
    }
}

/// Reads a NumericDate, range-checked before it can take part in any arithmetic. Fractions
/// are floored exactly from the decimal text (no float is ever rounded into range).
fn take_numeric_date(map: &mut Map, claim: &str) -> Result<Option<i64>, JwtError> {
    let Some(value) = map.remove(claim) else {
        return Ok(None);
    };
    let Value::Number(number) = value else {
        return Err(JwtError::ClaimType {
            claim: claim.into(),
        });
    };
    number
        .floor_within(0, MAX_NUMERIC_DATE)
        .map(Some)
        .ok_or_else(|| JwtError::ClaimOutOfRange {
            claim: claim.into(),
        })
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::core::json::parse_object_text;

    fn claims(json: &str) -> Result<Claims, JwtError> {
        Claims::from_map(parse_object_text(json, "payload")?)
    }

    #[test]
    fn reads_registered_and_custom_claims() {
        let c = claims(r#"{"iss":"i","sub":"s","aud":["a","b"],"exp":10,"nbf":1.9,"iat":0,"jti":"j","scope":"x"}"#).unwrap();
        assert_eq!(c.iss.as_deref(), Some("i"));
        assert_eq!(c.aud, Some(Audience::Many(vec!["a".into(), "b".into()])));
        assert_eq!((c.exp, c.nbf, c.iat), (Some(10), Some(1), Some(0)));
        assert_eq!(c.extra.get("scope"), Some(&Value::String("x".into())));
        assert!(c.contains("scope") && c.contains("jti") && !c.contains("other"));
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn serializes_back_to_the_same_claims() {
        let c =
            claims(r#"{"aud":["a","b"],"exp":10,"scope":"x","n":1.5,"deep":{"k":[null,true]}}"#)
                .unwrap();
        let back = serde_json::to_value(&c).unwrap();
        assert_eq!(
            back,
            serde_json::json!({"aud":["a","b"],"exp":10,"scope":"x","n":1.5,"deep":{"k":[null,true]}})
        );
    }

    #[test]
    fn refuses_wrong_types_and_extreme_dates() {
        for (doc, claim, code_reason) in [
            (r#"{"exp":"1700000000"}"#, "exp", "invalid"),
            (r#"{"nbf":true}"#, "nbf", "invalid"),
            (r#"{"aud":[1]}"#, "aud", "invalid"),
            (r#"{"iss":5}"#, "iss", "invalid"),
            (r#"{"exp":-1}"#, "exp", "out_of_range"),
            (r#"{"nbf":1e300}"#, "nbf", "out_of_range"),
            (r#"{"nbf":-1e300}"#, "nbf", "out_of_range"),
            (r#"{"iat":18446744073709551615}"#, "iat", "out_of_range"),
            (r#"{"exp":9223372036854775807}"#, "exp", "out_of_range"),
            (r#"{"exp":253402300800}"#, "exp", "out_of_range"),
            (r#"{"exp":253402300800.5}"#, "exp", "out_of_range"),
        ] {
            let err = claims(doc).unwrap_err();
            assert_eq!(err.claim(), Some(claim), "{doc}");
            assert_eq!(err.reason(), Some(code_reason), "{doc}");
        }
        assert_eq!(
            claims(r#"{"exp":253402300799}"#).unwrap().exp,
            Some(MAX_NUMERIC_DATE)
        );
    }

    #[test]
    fn header_refuses_crit_and_unencoded_payloads() {
        let header = |json: &str| Header::from_map(parse_object_text(json, "header")?);
        assert_eq!(
            header(r#"{"alg":"ES256","crit":[]}"#),
            Err(JwtError::CritUnsupported)
        );
        assert_eq!(
            header(r#"{"alg":"ES256","crit":["exp"],"exp":1}"#),
            Err(JwtError::CritUnsupported)
        );
        assert_eq!(
            header(r#"{"alg":"ES256","b64":false}"#),
            Err(JwtError::UnencodedPayload)
        );
        assert_eq!(
            header(r#"{"typ":"JWT"}"#),
            Err(JwtError::InvalidHeader { member: "alg" })
        );
        assert_eq!(
            header(r#"{"alg":"ES256","kid":7}"#),
            Err(JwtError::InvalidHeader { member: "kid" })
        );
        let h = header(r#"{"alg":"ES256","kid":"k1","jku":"https://evil"}"#).unwrap();
        assert_eq!(h.kid.as_deref(), Some("k1"));
        assert!(h.extra.contains_key("jku"));
    }
}

//! Decoding a compact JWS into header and claims **without** checking its signature.
//!
//! The names say so: [`decode_unverified`] returns an [`UnverifiedToken`]. Use it to read
//! the expiry of a token you received over TLS from your own auth server (as the token
//! manager does), never to make an authorization decision; for that use
//! [`Verifier`](crate::Verifier).

use crate::prelude::*;

use crate::core::{
    b64,
    claims::{Claims, Header},
    error::JwtError,
    json,
};

/// Default cap on the length of a token, checked before any decoding.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;

/// Options for decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Tokens longer than this many bytes are refused before anything else is looked at.
    pub max_len: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            max_len: DEFAULT_MAX_TOKEN_LEN,
        }
    }
}

/// A token whose structure, header and claim types have been checked, but not its signature.
#[derive(Debug, Clone, PartialEq)]
pub struct UnverifiedToken {
    /// The JOSE header (untrusted).
    pub header: Header,
    /// The claims (untrusted).
    pub claims: Claims,
}

/// The pieces of a compact JWS that verification needs.
#[cfg_attr(not(feature = "verify"), allow(dead_code))]
pub(crate) struct Parts<'a> {
    pub token: UnverifiedToken,
    /// `BASE64URL(header) || '.' || BASE64URL(payload)`: the bytes the signature covers.
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
    /// The decoded header and payload JSON (checked as above), for another JSON parser.
    pub json: (String, String),
}

/// Decodes `token` with the default 8 KiB cap. The signature is **not** checked.
///
/// ```
/// // header {"alg":"ES256"}, payload {"sub":"u1","exp":1700000000}
/// let token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1MSIsImV4cCI6MTcwMDAwMDAwMH0.c2ln";
/// let decoded = tokenwarden::decode_unverified(token)?;
/// assert_eq!(decoded.header.alg, "ES256");
/// assert_eq!(decoded.claims.exp, Some(1_700_000_000));
/// # Ok::<(), tokenwarden::JwtError>(())
/// ```
pub fn decode_unverified(token: &str) -> Result<UnverifiedToken, JwtError> {
    decode_unverified_with(token, &DecodeOptions::default())
}

/// Decodes `token` with explicit options. The signature is **not** checked.
pub fn decode_unverified_with(
    token: &str,
    options: &DecodeOptions,
) -> Result<UnverifiedToken, JwtError> {
    split(token, options).map(|parts| parts.token)
}

/// Every check of [`decode_unverified_with`], returning the header's and the payload's decoded
/// JSON bytes (UTF-8, one object each, no duplicate names, valid claim types) so that a caller
/// can hand them to another JSON parser (the npm package's `decodeJwt` uses `JSON.parse`).
pub fn decode_checked_json(
    token: &str,
    options: &DecodeOptions,
) -> Result<(String, String), JwtError> {
    // The same steps as verification's, so that a build with both links them once.
    split(token, options).map(|parts| parts.json)
}

/// Structural checks, cheapest first: length, segment count, base64url, UTF-8, JSON, types.
pub(crate) fn split<'a>(token: &'a str, options: &DecodeOptions) -> Result<Parts<'a>, JwtError> {
    let jws = split_jws(token, options)?;
    let payload =
        String::from_utf8(jws.payload).map_err(|_| JwtError::InvalidUtf8 { part: "payload" })?;
    let claims = Claims::from_map(json::parse_object_text(&payload, "payload")?)?;
    Ok(Parts {
        token: UnverifiedToken {
            header: jws.header,
            claims,
        },
        signing_input: jws.signing_input,
        signature: jws.signature,
        json: (jws.header_json, payload),
    })
}

/// A compact JWS split into its parts, with the payload left as bytes.
pub(crate) struct JwsParts<'a> {
    pub header: Header,
    /// The header's JSON text (checked UTF-8).
    pub header_json: String,
    pub payload: Vec<u8>,
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
}

/// As [`split`], for a JWS whose payload need not be JSON.
pub(crate) fn split_jws<'a>(
    token: &'a str,
    options: &DecodeOptions,
) -> Result<JwsParts<'a>, JwtError> {
    if token.len() > options.max_len {
        return Err(JwtError::TooLarge {
            len: token.len(),
            max: options.max_len,
        });
    }
    // The dots found byte by byte ('.' is ASCII, so every cut is a char boundary): neither the
    // char searcher (it links an indexing panic into the wasm build) nor a char-by-char split
    // (UTF-8 decoding of every character: decodeJwt took 20.4 instead of 11.0 µs in Node).
    // One pass over the token; the number of segments is counted only for the error.
    let found = || token.bytes().filter(|&b| b == b'.').count() + 1;
    let mut dots = token
        .bytes()
        .enumerate()
        .filter(|&(_, b)| b == b'.')
        .map(|(at, _)| at);
    let (Some(first), Some(second), None) = (dots.next(), dots.next(), dots.next()) else {
        return Err(JwtError::SegmentCount { found: found() });
    };
    let (Some(header_b64), Some(payload_b64), Some(signature_b64)) = (
        token.get(..first),
        token.get(first + 1..second),
        token.get(second + 1..),
    ) else {
        return Err(JwtError::SegmentCount { found: found() });
    };
    let header_bytes = b64::decode(header_b64, "header")?;
    let payload = b64::decode(payload_b64, "payload")?;
    let signature = b64::decode(signature_b64, "signature")?;
    // Checked UTF-8 once here: the JSON reader and the callers handing the text on (the npm
    // package's `decodeJwt`, the manager's claims) need not check it again.
    let header_json =
        String::from_utf8(header_bytes).map_err(|_| JwtError::InvalidUtf8 { part: "header" })?;
    let header = Header::from_map(json::parse_object_text(&header_json, "header")?)?;
    Ok(JwsParts {
        header,
        header_json,
        payload,
        // `get`: the end is a segment boundary, and nothing reachable from JS may panic.
        signing_input: token
            .get(..header_b64.len() + 1 + payload_b64.len())
            .ok_or_else(|| JwtError::SegmentCount { found: found() })?,
        signature,
    })
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn token(header: &str, payload: &str) -> String {
        format!(
            "{}.{}.{}",
            b64::encode(header.as_bytes()),
            b64::encode(payload.as_bytes()),
            b64::encode(b"sig")
        )
    }

    #[test]
    fn decodes_header_and_claims() {
        let t = token(
            r#"{"alg":"ES256","kid":"k"}"#,
            r#"{"sub":"u","exp":5,"aud":"a"}"#,
        );
        let decoded = decode_unverified(&t).unwrap();
        assert_eq!(decoded.header.kid.as_deref(), Some("k"));
        assert_eq!(decoded.claims.sub.as_deref(), Some("u"));
        let parts = split(&t, &DecodeOptions::default()).unwrap();
        assert_eq!(parts.signature, b"sig");
        assert_eq!(parts.signing_input.matches('.').count(), 1);
        assert!(t.starts_with(parts.signing_input));
    }

    #[test]
    fn refuses_oversized_tokens_before_decoding() {
        // Not even valid base64: the size check must come first.
        let huge = "!".repeat(DEFAULT_MAX_TOKEN_LEN + 1);
        assert_eq!(
            decode_unverified(&huge),
            Err(JwtError::TooLarge {
                len: DEFAULT_MAX_TOKEN_LEN + 1,
                max: DEFAULT_MAX_TOKEN_LEN
            })
        );
        let t = token(r#"{"alg":"ES256"}"#, r#"{"sub":"u"}"#);
        let tight = DecodeOptions {
            max_len: t.len() - 1,
        };
        assert!(matches!(
            decode_unverified_with(&t, &tight),
            Err(JwtError::TooLarge { .. })
        ));
    }

    #[test]
    fn refuses_wrong_segment_counts() {
        for (bad, found) in [
            ("", 1),
            ("a.b", 2),
            ("a.b.c.d", 4),
            ("a.b.c.d.e", 5),
            ("..", 3),
        ] {
            let err = decode_unverified(bad).unwrap_err();
            if found == 3 {
                // Three empty segments: structure passes, the empty header is not JSON.
                assert_eq!(err, JwtError::InvalidJson { part: "header" });
            } else {
                assert_eq!(err, JwtError::SegmentCount { found }, "{bad:?}");
            }
        }
    }

    #[test]
    fn refuses_bad_segments() {
        let good = token(r#"{"alg":"ES256"}"#, r#"{"sub":"u"}"#);
        let (h, rest) = good.split_once('.').unwrap();
        assert_eq!(
            decode_unverified(&format!("{h}=.{rest}")),
            Err(JwtError::InvalidBase64 { part: "header" })
        );
        let bad_utf8 = format!("{h}.{}.c2ln", b64::encode(b"{\"sub\":\"\xc3\x28\"}"));
        assert_eq!(
            decode_unverified(&bad_utf8),
            Err(JwtError::InvalidUtf8 { part: "payload" })
        );
        let dup = token(r#"{"alg":"ES256"}"#, r#"{"sub":"a","sub":"b"}"#);
        assert_eq!(
            decode_unverified(&dup),
            Err(JwtError::DuplicateMember { part: "payload" })
        );
        let dup_header = token(r#"{"alg":"ES256","alg":"none"}"#, r#"{}"#);
        assert_eq!(
            decode_unverified(&dup_header),
            Err(JwtError::DuplicateMember { part: "header" })
        );
    }
}

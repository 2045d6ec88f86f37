//! Strict base64url (RFC 4648 §5, no padding), as JWS compact serialization requires.
//!
//! Strictness matters: a decoder that accepts several spellings of the same bytes (padding,
//! `+`/`/`, whitespace, non-zero trailing bits) lets an attacker change a token's text without
//! changing what it decodes to. That is not enough to give a signed token one spelling: an
//! ECDSA signature `(r, s)` also verifies as `(r, n - s)`, so caches and blocklists key on `jti`.

use base64ct::{Base64UrlUnpadded, Encoding};

use crate::core::error::JwtError;

/// Decodes canonical unpadded base64url, rejecting every non-canonical spelling.
///
/// `part` names the segment for the error (`"header"`, `"payload"`, `"signature"`, a JWK member).
pub fn decode(input: &str, part: &'static str) -> Result<Vec<u8>, JwtError> {
    // base64ct rejects `=`, `+`, `/`, whitespace and non-zero trailing bits; a length of
    // 1 mod 4 can never be canonical. The explicit alphabet scan keeps the error precise even
    // if the backing crate grows lenient.
    let canonical_alphabet = input
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !canonical_alphabet || input.len() % 4 == 1 {
        return Err(JwtError::InvalidBase64 { part });
    }
    let decoded =
        Base64UrlUnpadded::decode_vec(input).map_err(|_| JwtError::InvalidBase64 { part })?;
    // Belt and braces for the trailing-bits rule: re-encoding must give back the input.
    if Base64UrlUnpadded::encoded_len(&decoded) != input.len() {
        return Err(JwtError::InvalidBase64 { part });
    }
    Ok(decoded)
}

/// Encodes bytes as unpadded base64url.
pub fn encode(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn round_trips() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let text = encode(&bytes);
            assert_eq!(decode(&text, "payload").unwrap(), bytes);
        }
    }

    #[test]
    fn rejects_non_canonical_spellings() {
        // "YQ" is "a"; each variant decodes to "a" (or close) in a lenient decoder.
        for bad in [
            "YQ==", "YQ=", "YR", "Y Q", "YQ\n", "+/8", "Y", "YQ\t", "YQ%3D",
        ] {
            assert_eq!(
                decode(bad, "payload"),
                Err(JwtError::InvalidBase64 { part: "payload" }),
                "{bad:?} must be rejected"
            );
        }
        assert_eq!(decode("-_8", "payload").unwrap(), vec![0xfb, 0xff]);
    }
}

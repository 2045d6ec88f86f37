//! Strict base64url (RFC 4648 §5, no padding), as JWS compact serialization requires.
//!
//! Strictness matters: a decoder that accepts several spellings of the same bytes (padding,
//! `+`/`/`, whitespace, non-zero trailing bits) lets an attacker change a token's text without
//! changing what it decodes to. That is not enough to give a signed token one spelling: an
//! ECDSA signature `(r, s)` also verifies as `(r, n - s)`, so caches and blocklists key on `jti`.

use crate::prelude::*;

use base64ct::{Base64UrlUnpadded, Encoding};

use crate::core::error::JwtError;

/// The 6-bit value of each base64url character; `INVALID` for every other byte.
const INVALID: u8 = 0xff;
const DECODE: [u8; 256] = {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        table[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Decodes canonical unpadded base64url, rejecting every non-canonical spelling: `=`, `+`, `/`,
/// whitespace, a length of 1 mod 4 and non-zero trailing bits.
///
/// `part` names the segment for the error (`"header"`, `"payload"`, `"signature"`, a JWK member).
///
/// A lookup table rather than base64ct's constant-time decoder: token segments are not secret,
/// and in the npm build base64ct's `decode_6bits` was 43% of `decodeJwt`'s time (Node CPU
/// profile). Round trips and rejections are checked against base64ct in the tests.
pub fn decode(input: &str, part: &'static str) -> Result<Vec<u8>, JwtError> {
    let invalid = || JwtError::InvalidBase64 { part };
    let bytes = input.as_bytes();
    let tail = bytes.len() % 4;
    if tail == 1 {
        return Err(invalid());
    }
    let chunks = bytes.chunks_exact(4);
    let rest = chunks.remainder();
    let mut out = vec![0u8; bytes.len() / 4 * 3 + tail.saturating_sub(1)];
    // Written by index into a presized buffer: at opt-level "z" a push per byte is not inlined.
    for (chunk, dst) in chunks.zip(out.chunks_exact_mut(3)) {
        let n = quantum(chunk).ok_or_else(invalid)?;
        // Three stores, not `copy_from_slice`: at opt-level "z" that is a call per quantum
        // (6% of `decodeJwt` in a Node CPU profile).
        // A slice pattern, not indexing: no bounds-check panic in the wasm build.
        if let [first, second, third] = dst {
            *first = (n >> 16) as u8;
            *second = (n >> 8) as u8;
            *third = n as u8;
        }
    }
    if tail > 0 {
        let n = quantum(rest).ok_or_else(invalid)?;
        // Non-zero bits after the last whole byte (4 after two characters, 2 after three)
        // would make a second spelling of the same bytes.
        let spare = if tail == 2 { 0xffff } else { 0xff };
        if n & spare != 0 {
            return Err(invalid());
        }
        // The last one or two bytes of `out` (zip, not indexing: nothing here can panic).
        let last = [(n >> 16) as u8, (n >> 8) as u8];
        for (dst, byte) in out.iter_mut().skip(bytes.len() / 4 * 3).zip(last) {
            *dst = byte;
        }
    }
    Ok(out)
}

/// Up to four characters as a 24-bit quantum (missing ones count as zero bits); `None` if one
/// is not in the base64url alphabet.
#[inline(always)]
fn quantum(chars: &[u8]) -> Option<u32> {
    let mut n = 0u32;
    let mut any_invalid = 0u8;
    for (i, &c) in chars.iter().enumerate() {
        let v = DECODE[c as usize];
        any_invalid |= v;
        n |= u32::from(v & 0x3f) << (18 - 6 * i);
    }
    // INVALID has the top bits set, as no 6-bit value does.
    (any_invalid & 0xc0 == 0).then_some(n)
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

    /// The table decoder agrees with base64ct on every spelling of short inputs.
    #[test]
    fn agrees_with_base64ct() {
        const ALPHABET: &[u8] = b"AQgw_-9Z=+/ .";
        let mut inputs = vec![String::new()];
        for _ in 0..4 {
            let mut longer = Vec::new();
            for input in &inputs {
                for &c in ALPHABET {
                    longer.push(format!("{input}{}", c as char));
                }
            }
            inputs.extend(longer.clone());
            inputs.dedup();
            if inputs.len() > 40_000 {
                break;
            }
        }
        for input in inputs {
            let ours = decode(&input, "payload").ok();
            let theirs = Base64UrlUnpadded::decode_vec(&input)
                .ok()
                .filter(|d| Base64UrlUnpadded::encode_string(d) == input);
            assert_eq!(ours, theirs, "{input:?}");
        }
    }
}

//! Errors of decoding and verification: one variant per reason a token or key is refused.
//!
//! Every variant has a stable [`JwtError::code`] (jose's code where jose has one) and, for
//! claim failures, the [`claim`](JwtError::claim) and a [`reason`](JwtError::reason), as jose
//! reports them. Messages are lowercase and never contain the token or key material.

use crate::prelude::*;

use core::fmt;

/// Why a token or key was refused. Match on variants in Rust; use [`JwtError::code`] in JS.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwtError {
    /// The token is longer than the configured cap (checked before any decoding).
    TooLarge {
        /// Length of the input in bytes.
        len: usize,
        /// The configured cap.
        max: usize,
    },
    /// A compact JWS has exactly three dot-separated segments.
    SegmentCount {
        /// Number of segments found.
        found: usize,
    },
    /// A segment is not canonical unpadded base64url.
    InvalidBase64 {
        /// `header`, `payload`, `signature` or a JWK member.
        part: &'static str,
    },
    /// A segment decodes to bytes that are not UTF-8.
    InvalidUtf8 {
        /// The segment.
        part: &'static str,
    },
    /// A segment is not a JSON object.
    InvalidJson {
        /// The segment.
        part: &'static str,
    },
    /// A JSON object names the same member twice.
    DuplicateMember {
        /// The segment.
        part: &'static str,
    },
    /// A registered header parameter is missing or has the wrong type.
    InvalidHeader {
        /// The header parameter.
        member: &'static str,
    },
    /// The header has a `crit` parameter; no extension is understood, so any `crit` is refused.
    CritUnsupported,
    /// The header asks for an unencoded payload (`b64: false`, RFC 7797).
    UnencodedPayload,
    /// `alg` is `none` in any spelling.
    AlgNone,
    /// `alg` is unknown, not compiled in, or not in the allowed list.
    AlgNotAllowed {
        /// The `alg` of the token (truncated to 16 characters).
        alg: String,
    },
    /// The selected key is for another algorithm than the token's `alg`
    /// (e.g. an `HS256` token presented with an RSA or EC public key).
    KeyAlgMismatch {
        /// The key's algorithm family or `alg`.
        key: &'static str,
        /// The token's `alg`.
        token: String,
    },
    /// No key in the set matches the token's `kid`, `use`, `key_ops` and `alg`.
    NoMatchingKey,
    /// More than one key matches; add `kid`s to the keys and tokens.
    MultipleMatchingKeys,
    /// The signature has the wrong length or is not a valid encoding (e.g. ECDSA r = 0 or s = 0).
    MalformedSignature,
    /// The signature does not verify.
    SignatureInvalid,
    /// A claim has the wrong JSON type (e.g. `"exp": "1700000000"`).
    ClaimType {
        /// The claim.
        claim: String,
    },
    /// A date claim is outside 0..=253402300799 (years 1970..=9999).
    ClaimOutOfRange {
        /// The claim.
        claim: String,
    },
    /// A required claim is absent.
    MissingClaim {
        /// The claim.
        claim: String,
    },
    /// `now >= exp + leeway`.
    Expired,
    /// `now > iat + maxTokenAge + leeway`.
    TooOld,
    /// `now + leeway < nbf`.
    NotYetValid,
    /// `iss` is not the expected issuer.
    IssuerMismatch,
    /// `aud` does not contain an expected audience.
    AudienceMismatch,
    /// `sub` is not the expected subject.
    SubjectMismatch,
    /// The header `typ` is not the expected one.
    TypMismatch,
    /// A JWK or key set is malformed.
    InvalidKey {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A key is too weak to be used (HMAC under 32 bytes, RSA under 2048 bits,
    /// Ed25519 small-order point).
    WeakKey {
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A symmetric (`oct`) key was given without explicitly allowing symmetric keys.
    SymmetricKeyNotAllowed,
    /// A key type, curve or algorithm that this build does not support.
    UnsupportedKey {
        /// What is unsupported.
        reason: &'static str,
    },
    /// Options given to the verifier are invalid.
    InvalidOptions {
        /// What is wrong.
        reason: String,
    },
}

impl JwtError {
    /// A stable code for programs (and the `code` of the JS `Error`); jose's code where one exists.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "ERR_JWT_TOO_LARGE",
            Self::SegmentCount { .. } => "ERR_JWS_INVALID",
            Self::InvalidBase64 { .. } => "ERR_JWS_INVALID_BASE64",
            Self::InvalidUtf8 { .. } => "ERR_JWT_INVALID_UTF8",
            Self::InvalidJson { .. } => "ERR_JWT_INVALID",
            Self::DuplicateMember { .. } => "ERR_JWT_DUPLICATE_MEMBER",
            Self::InvalidHeader { .. } => "ERR_JWS_INVALID_HEADER",
            Self::CritUnsupported => "ERR_JOSE_NOT_SUPPORTED",
            Self::UnencodedPayload => "ERR_JWS_UNENCODED_PAYLOAD",
            Self::AlgNone | Self::AlgNotAllowed { .. } => "ERR_JOSE_ALG_NOT_ALLOWED",
            Self::KeyAlgMismatch { .. } => "ERR_JOSE_KEY_ALG_MISMATCH",
            Self::NoMatchingKey => "ERR_JWKS_NO_MATCHING_KEY",
            Self::MultipleMatchingKeys => "ERR_JWKS_MULTIPLE_MATCHING_KEYS",
            Self::MalformedSignature => "ERR_JWS_SIGNATURE_MALFORMED",
            Self::SignatureInvalid => "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
            Self::ClaimType { .. }
            | Self::ClaimOutOfRange { .. }
            | Self::MissingClaim { .. }
            | Self::NotYetValid
            | Self::IssuerMismatch
            | Self::AudienceMismatch
            | Self::SubjectMismatch
            | Self::TypMismatch => "ERR_JWT_CLAIM_VALIDATION_FAILED",
            Self::Expired | Self::TooOld => "ERR_JWT_EXPIRED",
            Self::InvalidKey { .. } => "ERR_JWK_INVALID",
            Self::WeakKey { .. } => "ERR_JWK_WEAK_KEY",
            Self::SymmetricKeyNotAllowed => "ERR_JWK_SYMMETRIC_NOT_ALLOWED",
            Self::UnsupportedKey { .. } => "ERR_JOSE_NOT_SUPPORTED",
            Self::InvalidOptions { .. } => "ERR_INVALID_OPTIONS",
        }
    }

    /// The claim a claim failure is about (`exp`, `nbf`, `iat`, `iss`, `aud`, or a required one).
    pub fn claim(&self) -> Option<&str> {
        match self {
            Self::ClaimType { claim }
            | Self::ClaimOutOfRange { claim }
            | Self::MissingClaim { claim } => Some(claim),
            Self::Expired => Some("exp"),
            Self::TooOld => Some("iat"),
            Self::NotYetValid => Some("nbf"),
            Self::IssuerMismatch => Some("iss"),
            Self::AudienceMismatch => Some("aud"),
            Self::SubjectMismatch => Some("sub"),
            Self::TypMismatch => Some("typ"),
            _ => None,
        }
    }

    /// For claim failures, jose's reason: `missing`, `invalid`, `out_of_range`, `check_failed`.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Self::MissingClaim { .. } => Some("missing"),
            Self::ClaimType { .. } => Some("invalid"),
            Self::ClaimOutOfRange { .. } => Some("out_of_range"),
            Self::Expired
            | Self::TooOld
            | Self::NotYetValid
            | Self::IssuerMismatch
            | Self::AudienceMismatch
            | Self::SubjectMismatch
            | Self::TypMismatch => Some("check_failed"),
            _ => None,
        }
    }
}

/// Displays a string in double quotes with control characters replaced, for messages that
/// include attacker-chosen text (an `alg`, a claim name). Unlike `{:?}` it does not pull
/// Unicode escape tables into the wasm build.
pub struct Quoted<'a>(pub &'a str);

/// The parts joined into one `String`: the messages' builder in place of `format!` (which links
/// `core::fmt`) and of `cat(&[..])` (whose generic join links its own panics, about 1 KB).
pub fn cat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|part| part.len()).sum());
    for part in parts {
        out.push_str(part);
    }
    out
}

/// Where `needle` first starts in `hay`, byte by byte: in place of `str::find(&str)`,
/// `split_once(&str)` and `contains(&str)`, whose two-way substring searcher is 1.6 KB of the
/// OAuth entry's wasm for the few short patterns of URLs and challenges.
pub fn find(hay: &str, needle: &str) -> Option<usize> {
    hay.as_bytes()
        .windows(needle.len())
        .position(|window| window == needle.as_bytes())
}

/// [`Quoted`] as a `String`, built without `core::fmt` (for messages of the wasm build).
pub fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    out.extend(
        text.chars()
            .map(|c| if c.is_control() { '\u{fffd}' } else { c }),
    );
    out.push('"');
    out
}

/// `n` in decimal, without `core::fmt` (whose integer formatting pulls padding and tables in).
pub fn decimal(mut n: u64) -> String {
    let mut reversed = Vec::with_capacity(20);
    loop {
        reversed.push(b'0' + (n % 10) as u8);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    reversed
        .iter()
        .rev()
        .map(|&digit| char::from(digit))
        .collect()
}

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&quoted(self.0))
    }
}

impl JwtError {
    /// The message of the error (its `Display`), built without `core::fmt` so that the npm
    /// package's wasm links no formatting machinery (`to_string()` would).
    pub fn message(&self) -> String {
        let text = match self {
            Self::TooLarge { len, max } => {
                return cat(&[
                    "token is ",
                    &decimal(*len as u64),
                    " bytes, over the ",
                    &decimal(*max as u64),
                    "-byte cap",
                ])
            }
            Self::SegmentCount { found } => {
                return cat(&[
                    "a compact JWS has 3 segments, this has ",
                    &decimal(*found as u64),
                ])
            }
            Self::InvalidBase64 { part } => return cat(&[part, " is not canonical base64url"]),
            Self::InvalidUtf8 { part } => return cat(&[part, " is not valid UTF-8"]),
            Self::InvalidJson { part } => return cat(&[part, " is not a JSON object"]),
            Self::DuplicateMember { part } => return cat(&[part, " has a duplicate member name"]),
            Self::InvalidHeader { member } => {
                return cat(&["header parameter ", &quoted(member), " is invalid"])
            }
            Self::CritUnsupported => "the \"crit\" header parameter is not supported",
            Self::UnencodedPayload => "unencoded payloads (b64: false) are refused",
            Self::AlgNone => "unsigned tokens (alg \"none\") are refused",
            Self::AlgNotAllowed { alg } => {
                return cat(&["algorithm ", &quoted(alg), " is not allowed"])
            }
            Self::KeyAlgMismatch { key, token } => {
                return cat(&["the key is for ", key, ", the token says ", &quoted(token)])
            }
            Self::NoMatchingKey => "no key matches the token",
            Self::MultipleMatchingKeys => "more than one key matches the token",
            Self::MalformedSignature => "the signature is malformed",
            Self::SignatureInvalid => "signature verification failed",
            Self::ClaimType { claim } => {
                return cat(&["claim ", &quoted(claim), " has the wrong type"])
            }
            Self::ClaimOutOfRange { claim } => {
                return cat(&["claim ", &quoted(claim), " is out of range"])
            }
            Self::MissingClaim { claim } => return cat(&["claim ", &quoted(claim), " is missing"]),
            Self::Expired => "the token has expired (\"exp\" check failed)",
            Self::TooOld => "the token is too old (\"iat\" check failed)",
            Self::NotYetValid => "the token is not yet valid (\"nbf\" check failed)",
            Self::IssuerMismatch => "unexpected \"iss\" claim value",
            Self::AudienceMismatch => "unexpected \"aud\" claim value",
            Self::SubjectMismatch => "unexpected \"sub\" claim value",
            Self::TypMismatch => "unexpected \"typ\" JWT header value",
            Self::InvalidKey { reason } => return cat(&["invalid key: ", reason]),
            Self::WeakKey { reason } => return cat(&["weak key: ", reason]),
            Self::SymmetricKeyNotAllowed => {
                "symmetric (oct) keys are refused unless explicitly allowed"
            }
            Self::UnsupportedKey { reason } => return cat(&["unsupported: ", reason]),
            Self::InvalidOptions { reason } => return cat(&["invalid options: ", reason]),
        };
        text.to_owned()
    }
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for JwtError {}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn messages_quote_and_neutralise_attacker_text() {
        let err = JwtError::AlgNotAllowed {
            alg: "HS256\n\u{1b}[2J".into(),
        };
        assert_eq!(
            err.to_string(),
            "algorithm \"HS256\u{fffd}\u{fffd}[2J\" is not allowed"
        );
        assert_eq!(
            JwtError::MissingClaim {
                claim: "exp".into()
            }
            .to_string(),
            "claim \"exp\" is missing"
        );
    }

    #[test]
    fn messages_without_fmt_match_the_formatted_numbers() {
        for n in [0u64, 7, 10, 8192, 65_535, u64::MAX] {
            assert_eq!(decimal(n), format!("{n}"));
        }
        let err = JwtError::TooLarge {
            len: 8193,
            max: 8192,
        };
        assert_eq!(err.message(), "token is 8193 bytes, over the 8192-byte cap");
        assert_eq!(err.to_string(), err.message());
        assert_eq!(
            JwtError::SegmentCount { found: 12 }.message(),
            "a compact JWS has 3 segments, this has 12"
        );
        assert_eq!(quoted("a\u{7}b"), "\"a\u{fffd}b\"");
        assert_eq!(Quoted("x").to_string(), "\"x\"");
    }
}

//! The one place that decides whether a token and its `expires_in` are acceptable, wherever
//! they come from (a login or refresh response, `setTokens`, the Rust API). Lengths are checked
//! before a token is copied into wasm memory, so callers ask [`token_length_ok`] with the length
//! alone.

use crate::core::decode::DEFAULT_MAX_TOKEN_LEN;

/// The longest access or refresh token accepted, in bytes (UTF-16 units for a JS string:
/// tokens are ASCII).
pub const MAX_TOKEN_LEN: usize = DEFAULT_MAX_TOKEN_LEN;

/// The largest `expires_in` accepted, in seconds.
pub const MAX_EXPIRES_IN: i64 = i32::MAX as i64;

/// Why a grant's field was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GrantError {
    /// A token is empty or longer than [`MAX_TOKEN_LEN`].
    TokenLength,
    /// `expires_in` is not an integer in `0..=MAX_EXPIRES_IN` (NaN, fractional, negative, huge).
    ExpiresIn,
}

impl GrantError {
    /// A message naming the field, for errors shown to developers.
    pub fn message(self) -> &'static str {
        match self {
            Self::TokenLength => "a token must be 1 to 8192 characters",
            Self::ExpiresIn => "expires_in must be an integer number of seconds from 0 to 2^31-1",
        }
    }
}

/// Whether a token of `len` bytes is acceptable.
pub fn token_length_ok(len: usize) -> bool {
    (1..=MAX_TOKEN_LEN).contains(&len)
}

/// `expires_in` as received (a JSON or JS number): an integer number of seconds in
/// `0..=MAX_EXPIRES_IN`. Zero is accepted (the token is then due for refresh at once; it carries
/// no usable expiry, see [`Session::expiry_source`](super::Session::expiry_source)).
pub fn expires_in(value: f64) -> Result<i64, GrantError> {
    if value % 1.0 == 0.0 && (0.0..=MAX_EXPIRES_IN as f64).contains(&value) {
        Ok(value as i64)
    } else {
        Err(GrantError::ExpiresIn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_in_is_an_integer_in_range() {
        assert_eq!(expires_in(0.0), Ok(0));
        assert_eq!(expires_in(300.0), Ok(300));
        assert_eq!(expires_in(2_147_483_647.0), Ok(i64::from(i32::MAX)));
        for bad in [
            -1.0,
            0.5,
            2_147_483_648.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            assert_eq!(expires_in(bad), Err(GrantError::ExpiresIn), "{bad}");
        }
    }

    #[test]
    fn token_lengths() {
        assert!(!token_length_ok(0));
        assert!(token_length_ok(1));
        assert!(token_length_ok(MAX_TOKEN_LEN));
        assert!(!token_length_ok(MAX_TOKEN_LEN + 1));
    }
}

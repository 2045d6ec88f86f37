//! The one place that decides whether a token and its `expires_in` are acceptable, wherever
//! they come from (a login or refresh response, `setTokens`, the Rust API). Lengths are checked
//! before a token is copied into wasm memory, so callers ask [`token_length_ok`] with the length
//! alone.

use super::RefreshFailure;
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

/// Whether a token response's `token_type` is acceptable (RFC 6749 §5.1, in any case): `Bearer`
/// or `DPoP`; with DPoP on only `DPoP` (RFC 9449 §5): a `Bearer` answer means the server did not
/// bind the token, and a bearer token must be neither sent as `DPoP` nor kept as if bound.
pub fn token_type_ok(token_type: &str, dpop: bool) -> bool {
    token_type.eq_ignore_ascii_case("dpop") || (!dpop && token_type.eq_ignore_ascii_case("bearer"))
}

/// What an answer of the refresh endpoint (the reference dialect's) means, from what the shell
/// read of it: the HTTP `status`, the body's `error` member, its `token_type` member, whether
/// DPoP is on, and `Retry-After` as a delay. `Ok(())`: a token response, whose tokens the shell
/// then checks with [`token_length_ok`] and [`expires_in`] (a refusal there is
/// [`RefreshFailure::Malformed`]). `Err`: the failure to hand to
/// [`Session::handle_refresh_err`](super::Session::handle_refresh_err).
///
/// - 2xx with an acceptable [`token_type_ok`]: tokens; any other 2xx: `Malformed` (transient).
/// - 401, and 400 `invalid_grant` / `invalid_client` / `unauthorized_client`: `InvalidGrant`,
///   the session is over (a server that sees two refresh cookies, tossed by a sibling
///   subdomain, answers `invalid_grant` too).
/// - 429: `TooManyRequests`; anything else (5xx, other 4xx such as `invalid_request`): `Server`,
///   transient, retried with backoff (honouring `Retry-After`).
pub fn refresh_answer(
    status: u16,
    error: Option<&str>,
    token_type: Option<&str>,
    dpop: bool,
    retry_after_ms: Option<u64>,
) -> Result<(), RefreshFailure> {
    match status {
        200..=299 if token_type.is_some_and(|t| token_type_ok(t, dpop)) => Ok(()),
        200..=299 => Err(RefreshFailure::Malformed),
        401 => Err(RefreshFailure::InvalidGrant),
        400 if error.is_some_and(|e| {
            ["invalid_grant", "invalid_client", "unauthorized_client"].contains(&e)
        }) =>
        {
            Err(RefreshFailure::InvalidGrant)
        }
        429 => Err(RefreshFailure::TooManyRequests { retry_after_ms }),
        status => Err(RefreshFailure::Server {
            status,
            retry_after_ms,
        }),
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

    #[test]
    fn token_types_in_any_case_and_only_dpop_when_dpop_is_on() {
        for t in ["Bearer", "bearer", "BEARER", "DPoP", "dpop"] {
            assert!(token_type_ok(t, false), "{t}");
        }
        assert!(token_type_ok("DPoP", true));
        assert!(token_type_ok("DPOP", true));
        for t in ["Bearer", "bearer"] {
            assert!(!token_type_ok(t, true), "{t} with DPoP on");
        }
        for t in ["", "mac", "Bearer ", "Basic", "dpop\0"] {
            assert!(!token_type_ok(t, false), "{t:?}");
        }
    }

    #[test]
    fn refresh_answers_are_classified() {
        use RefreshFailure::*;
        let answer = |status, error, token_type, dpop| {
            refresh_answer(status, error, token_type, dpop, Some(7_000))
        };
        assert_eq!(answer(200, None, Some("Bearer"), false), Ok(()));
        assert_eq!(answer(201, None, Some("DPoP"), true), Ok(()));
        // With DPoP on, a Bearer answer is refused (transient, not a new token).
        assert_eq!(answer(200, None, Some("Bearer"), true), Err(Malformed));
        assert_eq!(answer(200, None, None, false), Err(Malformed));
        assert_eq!(answer(204, None, Some("mac"), false), Err(Malformed));
        // The session is over.
        for error in [None, Some("invalid_token"), Some("invalid_grant")] {
            assert_eq!(answer(401, error, None, false), Err(InvalidGrant));
        }
        for error in ["invalid_grant", "invalid_client", "unauthorized_client"] {
            assert_eq!(
                answer(400, Some(error), None, true),
                Err(InvalidGrant),
                "{error}"
            );
        }
        // Transient: retried with backoff, Retry-After honoured.
        for error in [
            None,
            Some("invalid_request"),
            Some("INVALID_GRANT"),
            Some(""),
        ] {
            assert_eq!(
                answer(400, error, None, false),
                Err(Server {
                    status: 400,
                    retry_after_ms: Some(7_000)
                }),
                "{error:?}"
            );
        }
        assert_eq!(
            answer(429, Some("slow_down"), None, false),
            Err(TooManyRequests {
                retry_after_ms: Some(7_000)
            })
        );
        for status in [0, 100, 302, 403, 404, 500, 503, 599, 999] {
            assert_eq!(
                answer(status, Some("invalid_grant"), Some("Bearer"), false),
                Err(Server {
                    status,
                    retry_after_ms: Some(7_000)
                }),
                "{status}"
            );
        }
    }
}

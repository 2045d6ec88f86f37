//! When an access token expires on the local clock, and how far the server's clock is from ours.
//!
//! All arithmetic is done in `i128` on values that started as `i64`/`u64`, so nothing here can
//! overflow; results are checked for plausibility before they are used.

use super::TokenGrant;

/// Where the session's [`expires_at`](super::Session::expires_at) came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpirySource {
    /// The response's `expires_in`, counted from the local receipt time (preferred: it needs
    /// neither the token's contents nor agreement between the clocks).
    ExpiresIn,
    /// The token's `exp` claim, moved onto the local clock by the measured clock offset.
    ExpClaim,
}

/// Longest lifetime believed (one year). Longer `expires_in` values, or `exp` claims further
/// than this from the receipt time, are treated as absent rather than trusted.
pub(crate) const MAX_LIFETIME_MS: i128 = 365 * 24 * 3_600 * 1_000;

/// `Date` and `iat` have one-second resolution, so the measured offset can be up to a second too
/// small; an `exp`-based expiry is taken one second early so that the error never makes a token
/// look valid for longer than it is.
const SECOND_RESOLUTION_MS: i128 = 1_000;

/// The expiry estimate for one token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Expiry {
    /// Local-clock ms, or `None` when the grant carried no usable expiry.
    pub(crate) expires_at: Option<u64>,
    /// Where `expires_at` came from (`None` exactly when `expires_at` is `None`).
    pub(crate) source: Option<ExpirySource>,
    /// Server clock minus local clock in ms, when the grant allowed measuring it.
    pub(crate) clock_offset_ms: Option<i64>,
}

/// Estimates the expiry of `grant`, received at `received_at` (local-clock ms).
///
/// Rules, in order: a positive `expires_in` of at most a year wins. Otherwise `exp` is used,
/// shifted by the clock offset (measured from the `Date` header, else from a plausible `iat`,
/// else assumed 0) and taken one second early; it is ignored if that lands more than a year
/// from the receipt time. A token already past its expiry keeps that (past) expiry: it is
/// expired, not unknown. With neither, the expiry is unknown.
pub(crate) fn estimate(grant: &TokenGrant, received_at: u64) -> Expiry {
    let received = i128::from(received_at);
    let exp_ms = grant.exp.map(|exp| i128::from(exp) * 1_000);
    // An `iat` after `exp` or more than a year before it is not a clock reading to trust.
    let plausible_iat_ms =
        grant
            .iat
            .map(|iat| i128::from(iat) * 1_000)
            .filter(|iat_ms| match exp_ms {
                Some(exp_ms) => (0..=MAX_LIFETIME_MS).contains(&(exp_ms - iat_ms)),
                None => true,
            });
    let clock_offset_ms = grant
        .server_date_ms
        .map(i128::from)
        .or(plausible_iat_ms)
        .map(|server_ms| saturate_i64(server_ms - received));

    if let Some(expires_in) = grant.expires_in {
        let lifetime_ms = i128::from(expires_in) * 1_000;
        if lifetime_ms > 0 && lifetime_ms <= MAX_LIFETIME_MS {
            return Expiry {
                expires_at: Some(saturate_u64(received + lifetime_ms)),
                source: Some(ExpirySource::ExpiresIn),
                clock_offset_ms,
            };
        }
    }
    if let Some(exp_ms) = exp_ms {
        let offset = clock_offset_ms.map_or(0, i128::from);
        let local_expiry = exp_ms - offset - SECOND_RESOLUTION_MS;
        if (local_expiry - received).abs() <= MAX_LIFETIME_MS {
            return Expiry {
                expires_at: Some(saturate_u64(local_expiry)),
                source: Some(ExpirySource::ExpClaim),
                clock_offset_ms,
            };
        }
    }
    Expiry {
        expires_at: None,
        source: None,
        clock_offset_ms,
    }
}

fn saturate_i64(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

fn saturate_u64(value: i128) -> u64 {
    u64::try_from(value).unwrap_or(if value < 0 { 0 } else { u64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::secret::Secret;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const RECEIVED: u64 = 1_700_000_000_000;

    fn grant() -> TokenGrant {
        TokenGrant::new(Secret::from("at"))
    }

    #[test]
    fn expires_in_counts_from_receipt_and_wins_over_exp() {
        let mut g = grant();
        g.expires_in = Some(300);
        g.exp = Some(1);
        g.server_date_ms = Some(RECEIVED + 5_000);
        let e = estimate(&g, RECEIVED);
        assert_eq!(e.expires_at, Some(RECEIVED + 300_000));
        assert_eq!(e.source, Some(ExpirySource::ExpiresIn));
        assert_eq!(e.clock_offset_ms, Some(5_000));
    }

    #[test]
    fn exp_is_corrected_by_the_date_header_offset() {
        // Server 10 minutes ahead of us.
        let server_now = RECEIVED + 600_000;
        let mut g = grant();
        g.exp = Some((server_now / 1_000 + 300) as i64);
        g.iat = Some(0); // ignored: the Date header wins, and this one is implausible anyway
        g.server_date_ms = Some(server_now);
        let e = estimate(&g, RECEIVED);
        assert_eq!(e.clock_offset_ms, Some(600_000));
        assert_eq!(e.expires_at, Some(RECEIVED + 299_000));
        assert_eq!(e.source, Some(ExpirySource::ExpClaim));
    }

    #[test]
    fn exp_is_corrected_by_iat_without_a_date_header() {
        let server_now_s = (RECEIVED - 600_000) / 1_000; // server 10 minutes behind
        let mut g = grant();
        g.iat = Some(server_now_s as i64);
        g.exp = Some(server_now_s as i64 + 300);
        let e = estimate(&g, RECEIVED);
        assert_eq!(e.clock_offset_ms, Some(-600_000));
        assert_eq!(e.expires_at, Some(RECEIVED + 299_000));
    }

    #[test]
    fn exp_without_any_clock_reading_trusts_the_local_clock() {
        let mut g = grant();
        g.exp = Some((RECEIVED / 1_000 + 300) as i64);
        let e = estimate(&g, RECEIVED);
        assert_eq!(e.clock_offset_ms, None);
        assert_eq!(e.expires_at, Some(RECEIVED + 299_000));
    }

    #[test]
    fn an_already_expired_token_keeps_its_past_expiry() {
        let mut g = grant();
        g.exp = Some((RECEIVED / 1_000 - 60) as i64);
        let e = estimate(&g, RECEIVED);
        assert_eq!(e.expires_at, Some(RECEIVED - 61_000));
    }

    #[test]
    fn absurd_values_are_ignored_without_panicking() {
        for expires_in in [0, -1, i64::MIN, i64::MAX, 366 * 24 * 3_600] {
            for exp in [None, Some(i64::MIN), Some(i64::MAX), Some(-5), Some(0)] {
                for iat in [None, Some(i64::MIN), Some(i64::MAX)] {
                    for date in [None, Some(0), Some(u64::MAX)] {
                        for received in [0, RECEIVED, u64::MAX] {
                            let mut g = grant();
                            g.expires_in = Some(expires_in);
                            g.exp = exp;
                            g.iat = iat;
                            g.server_date_ms = date;
                            let e = estimate(&g, received);
                            assert_eq!(e.expires_at.is_some(), e.source.is_some());
                        }
                    }
                }
            }
        }
        let mut g = grant();
        g.expires_in = Some(-300);
        assert_eq!(estimate(&g, RECEIVED).expires_at, None);
        g.exp = Some(i64::MAX);
        assert_eq!(estimate(&g, RECEIVED).expires_at, None);
        g.exp = Some((RECEIVED / 1_000 + 60) as i64);
        assert_eq!(estimate(&g, RECEIVED).expires_at, Some(RECEIVED + 59_000));
        assert_eq!(
            estimate(&grant(), RECEIVED),
            Expiry {
                expires_at: None,
                source: None,
                clock_offset_ms: None
            }
        );
    }
}

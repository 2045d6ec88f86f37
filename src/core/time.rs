//! The bounds of every duration an application may set, and the few readings of time both
//! shells need: one place, so that the JS driver and the Rust shell hold no timing constant of
//! their own. The shells pass the platform's clock (`Date.now()`, ms) and its parsing of an HTTP
//! date; what those mean is decided here.

/// The longest duration any option takes (a leeway, a token age, a refresh lead or backoff, an
/// OIDC `max_age`): ten years of 366 days, in seconds. Keeps date arithmetic far from overflow;
/// a longer one is a mistake.
pub const MAX_DURATION_SECS: i64 = 10 * 366 * 24 * 3600;

/// [`MAX_DURATION_SECS`] in milliseconds.
pub const MAX_DURATION_MS: u64 = MAX_DURATION_SECS as u64 * 1_000;

/// The longest delay a browser timer takes: `setTimeout` holds a signed 32-bit count of ms and
/// fires at once for anything longer. It bounds the request timeout option, and every timer a
/// shell arms is cut to it (the manager arms again when the cut timer fires).
pub const MAX_TIMER_MS: u64 = i32::MAX as u64;

/// The lifetime of a token the test kit (`web::testing::TestToken`) mints unless told: five
/// minutes, a typical access token's.
pub const TEST_TOKEN_LIFETIME_SECS: i64 = 300;

/// The delay of the one timer armed for `deadline` at `now` (both ms): never negative, never
/// past [`MAX_TIMER_MS`].
pub fn timer_delay_ms(deadline: u64, now: u64) -> u32 {
    deadline.saturating_sub(now).min(MAX_TIMER_MS) as u32
}

/// Whole seconds since the epoch of a clock reading in ms (a JWT's `iat`, the `now` of a
/// claim check).
pub fn unix_secs(now_ms: u64) -> i64 {
    (now_ms / 1_000) as i64
}

/// Whole seconds since the epoch of a time in ms that may lie before 1970 (floored: -1 ms is
/// the second -1), e.g. a `currentDate` option.
pub fn floor_secs(ms: i64) -> i64 {
    ms.div_euclid(1_000)
}

/// Whole seconds from `now` until `at` (both ms), 0 once past: a token's `expires_in` from an
/// expiry seen elsewhere.
pub fn secs_until(at: u64, now: u64) -> u64 {
    at.saturating_sub(now) / 1_000
}

/// `Retry-After` (RFC 9110 §10.2.3: delay-seconds or an HTTP date) as a delay in ms from
/// `now`: `value` the header, `date_ms` the platform's parsing of it as a date (`Date.parse`;
/// NaN when it is none). A date in the past gives 0; anything else no delay (the session's
/// backoff alone, and the session caps what it honours).
pub fn retry_after_ms(value: &str, date_ms: f64, now: u64) -> Option<u64> {
    let mut digits = value.as_bytes();
    while let [b' ' | b'\t', rest @ ..] = digits {
        digits = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = digits {
        digits = rest;
    }
    if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
        // Counted in f64: a delay of 2^53 s or more is cut to `u64::MAX` ms by `as`, and the
        // session caps the delay anyway.
        let seconds = digits
            .iter()
            .fold(0.0, |n, d| n * 10.0 + f64::from(d - b'0'));
        return Some((seconds * 1_000.0) as u64);
    }
    (date_ms >= 0.0 && date_ms.is_finite()).then(|| (date_ms as u64).saturating_sub(now))
}

/// A duration option given as a number (an application's, from JS), in whole units within
/// `min..=max`: `None` for NaN, an infinity or a number out of range (the caller refuses the
/// option, naming these bounds). Fractions are cut off.
pub fn whole_within(value: f64, min: u64, max: u64) -> Option<u64> {
    (value >= min as f64 && value <= max as f64).then_some(value as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_are_cut_to_what_set_timeout_takes() {
        assert_eq!(timer_delay_ms(10_000, 4_000), 6_000);
        assert_eq!(timer_delay_ms(4_000, 10_000), 0);
        assert_eq!(timer_delay_ms(u64::MAX, 0), i32::MAX as u32);
        assert_eq!(timer_delay_ms(MAX_TIMER_MS + 1, 1), i32::MAX as u32);
        assert_eq!(timer_delay_ms(MAX_TIMER_MS + 2, 1), i32::MAX as u32);
    }

    #[test]
    fn retry_after_reads_seconds_or_a_date() {
        let now = 1_700_000_000_000;
        assert_eq!(retry_after_ms("120", f64::NAN, now), Some(120_000));
        // The platform parses "120" as a date too (the year 120): the seconds win.
        assert_eq!(
            retry_after_ms(" 120\t", -58_000_000_000_000.0, now),
            Some(120_000)
        );
        assert_eq!(retry_after_ms("0", f64::NAN, now), Some(0));
        assert_eq!(
            retry_after_ms("99999999999999999999999", f64::NAN, now),
            Some(u64::MAX)
        );
        // An HTTP date, parsed by the platform: the delay until then, 0 once past.
        assert_eq!(
            retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", (now + 5_000) as f64, now),
            Some(5_000)
        );
        assert_eq!(retry_after_ms("x", (now - 5_000) as f64, now), Some(0));
        // Neither: no delay of the server's.
        for value in ["", "-5", "1.5", "+5", "soon"] {
            assert_eq!(retry_after_ms(value, f64::NAN, now), None, "{value:?}");
        }
        assert_eq!(retry_after_ms("x", f64::INFINITY, now), None);
        assert_eq!(retry_after_ms("x", -1.0, now), None);
    }

    #[test]
    fn durations_are_bounded() {
        assert_eq!(MAX_DURATION_SECS, 316_224_000);
        assert_eq!(MAX_DURATION_MS, 316_224_000_000);
        assert_eq!(whole_within(1.9, 1, 5), Some(1));
        assert_eq!(whole_within(5.0, 1, 5), Some(5));
        for bad in [0.5, 5.5, f64::NAN, f64::INFINITY, -1.0] {
            assert_eq!(whole_within(bad, 1, 5), None, "{bad}");
        }
        assert_eq!(unix_secs(1_700_000_000_999), 1_700_000_000);
        assert_eq!(secs_until(10_999, 1_000), 9);
        assert_eq!(floor_secs(-1), -1);
        assert_eq!(floor_secs(1_999), 1);
        assert_eq!(floor_secs(i64::MIN), i64::MIN / 1_000 - 1);
        assert_eq!(secs_until(1_000, 10_999), 0);
    }
}

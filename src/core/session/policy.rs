//! The refresh timing policy as pure functions: when to refresh a token and how long to wait
//! after a failed refresh. Randomness (jitter) comes in as an argument, never from a source.

use crate::core::time::{MAX_DURATION_MS, MAX_TIMER_MS};

/// What [`Session::before_request`](super::Session::before_request) answers while the access
/// token is unusable (expired or rejected) and a refresh is pending or backing off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpiredRequests {
    /// Requests wait for the refresh outcome (the default).
    #[default]
    Wait,
    /// Requests fail fast with [`RequestFailure::Expired`](super::RequestFailure::Expired).
    Fail,
}

/// Refresh timing knobs. All durations are milliseconds.
///
/// Defaults: refresh 20% of the lifetime before expiry, that lead clamped to 5 s ..= 120 s and
/// shortened by up to 10% jitter (a 5-minute token refreshes 54-60 s before expiry, a 1-hour token
/// 108-120 s before); never refresh a token sooner than 10 s after it was received (so a lifetime
/// shorter than the lead cannot loop); after a transient failure retry after 1 s, 2 s, 4 s, ...
/// capped at 60 s, each shortened by up to 20% jitter, and never before `Retry-After`.
///
/// The functions never panic and never overflow: fractions outside `0.0..=1.0` are clamped (NaN
/// counts as 0), arithmetic saturates, and if `min_lead_ms > max_lead_ms` the maximum wins.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshPolicy {
    /// Lead before expiry as a fraction of the token lifetime (default 0.2).
    pub lead_fraction: f64,
    /// Lower clamp of the lead (default 5 000 ms).
    pub min_lead_ms: u64,
    /// Upper clamp of the lead (default 120 000 ms).
    pub max_lead_ms: u64,
    /// Up to this fraction of the lead is removed at random, so that tabs and clients
    /// holding tokens issued together do not refresh in the same instant (default 0.1).
    pub lead_jitter_fraction: f64,
    /// A token is not refreshed sooner than this after it was received, even when its lifetime
    /// is shorter than the lead (default 10 000 ms).
    pub min_refresh_interval_ms: u64,
    /// First retry delay after a transient refresh failure (default 1 000 ms); doubles per failure.
    pub backoff_initial_ms: u64,
    /// Cap of the retry delay (default 60 000 ms).
    pub backoff_max_ms: u64,
    /// Up to this fraction of each retry delay is removed at random (default 0.2).
    pub backoff_jitter_fraction: f64,
    /// Request gate behaviour while the token is unusable and a refresh is pending (default: wait).
    pub expired_requests: ExpiredRequests,
}

/// The longest `Retry-After` honoured: 24 hours.
pub const MAX_RETRY_AFTER_MS: u64 = 24 * 3_600 * 1_000;

/// The timeout of each auth call (login, refresh, logout, the provider's endpoints) when the
/// application sets none (the `requestTimeoutMs` option, `web::Config::request_timeout_ms`).
pub const DEFAULT_REQUEST_TIMEOUT_MS: u32 = 10_000;

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            lead_fraction: 0.2,
            min_lead_ms: 5_000,
            max_lead_ms: 120_000,
            lead_jitter_fraction: 0.1,
            min_refresh_interval_ms: 10_000,
            backoff_initial_ms: 1_000,
            backoff_max_ms: 60_000,
            backoff_jitter_fraction: 0.2,
            expired_requests: ExpiredRequests::Wait,
        }
    }
}

impl RefreshPolicy {
    /// The lead (before jitter) for a token valid for `lifetime_ms`: the lead fraction of the
    /// lifetime clamped to `min_lead_ms ..= max_lead_ms`. It can exceed the lifetime (a 0 ms
    /// lifetime gets `min_lead_ms`); [`Self::min_refresh_interval_ms`] then paces refreshes.
    pub fn lead_ms(&self, lifetime_ms: u64) -> u64 {
        fraction_of(lifetime_ms, self.lead_fraction)
            .max(self.min_lead_ms)
            .min(self.max_lead_ms)
    }

    /// [`Self::lead_ms`] minus a jitter in `0 .. lead * lead_jitter_fraction` chosen by
    /// `random` (a uniformly random word).
    pub fn jittered_lead_ms(&self, lifetime_ms: u64, random: u64) -> u64 {
        let lead = self.lead_ms(lifetime_ms);
        lead.saturating_sub(scale(fraction_of(lead, self.lead_jitter_fraction), random))
    }

    /// When to refresh a token received at `received_at` that expires at `expires_at` (both
    /// local-clock ms): `expires_at` minus the jittered lead. May lie before `received_at`.
    pub fn refresh_at(&self, received_at: u64, expires_at: u64, random: u64) -> u64 {
        let lifetime_ms = expires_at.saturating_sub(received_at);
        expires_at.saturating_sub(self.jittered_lead_ms(lifetime_ms, random))
    }

    /// Backoff after the `failures`-th consecutive transient failure (1-based; 0 is treated as
    /// 1): `backoff_initial_ms * 2^(failures-1)` capped at `backoff_max_ms`, minus a jitter in
    /// `0 .. delay * backoff_jitter_fraction` chosen by `random`.
    pub fn backoff_ms(&self, failures: u32, random: u64) -> u64 {
        let doublings = failures.saturating_sub(1);
        let factor = 1u64.checked_shl(doublings).unwrap_or(u64::MAX);
        let delay = self
            .backoff_initial_ms
            .saturating_mul(factor)
            .min(self.backoff_max_ms);
        delay.saturating_sub(scale(
            fraction_of(delay, self.backoff_jitter_fraction),
            random,
        ))
    }

    /// The delay before the next attempt: [`Self::backoff_ms`], but never shorter than the
    /// server's `Retry-After` (converted to ms by the caller), which counts for at most
    /// [`MAX_RETRY_AFTER_MS`] (a server asking for more does not stop refreshes for longer).
    pub fn retry_delay_ms(&self, failures: u32, retry_after_ms: Option<u64>, random: u64) -> u64 {
        self.backoff_ms(failures, random)
            .max(retry_after_ms.unwrap_or(0).min(MAX_RETRY_AFTER_MS))
    }

    /// The policy from an application's options given as numbers (the JS driver's), in the
    /// order of [`POLICY_OPTIONS`], those whose bit is clear in `given` left at their default
    /// (the last, the request timeout, is returned beside the policy): each within its
    /// [`policy_bounds`] (durations cut to whole ms), the minimum lead not above the maximum.
    pub fn from_numbers(
        mut numbers: [f64; 9],
        given: u32,
        expired_requests: ExpiredRequests,
    ) -> Result<(Self, u64), PolicyError> {
        for (index, number) in numbers.iter_mut().enumerate() {
            if given & 1 << index == 0 {
                *number = DEFAULT_NUMBERS[index];
            }
        }
        Self::of_numbers(numbers, expired_requests)
    }

    /// The policy's options as numbers, in the order of [`POLICY_OPTIONS`].
    fn numbers(&self, request_timeout_ms: u64) -> [f64; 9] {
        [
            self.lead_fraction,
            self.min_lead_ms as f64,
            self.max_lead_ms as f64,
            self.lead_jitter_fraction,
            self.min_refresh_interval_ms as f64,
            self.backoff_initial_ms as f64,
            self.backoff_max_ms as f64,
            self.backoff_jitter_fraction,
            request_timeout_ms as f64,
        ]
    }

    fn of_numbers(
        numbers: [f64; 9],
        expired_requests: ExpiredRequests,
    ) -> Result<(Self, u64), PolicyError> {
        for (index, &number) in numbers.iter().enumerate() {
            let (min, max) = policy_bounds(index);
            // NaN is in no range.
            if !(number >= min as f64 && number <= max as f64) {
                return Err(PolicyError::Range { index, min, max });
            }
        }
        // `as` cuts a duration to whole ms.
        let ms = |index: usize| numbers[index] as u64;
        let policy = Self {
            lead_fraction: numbers[0],
            min_lead_ms: ms(1),
            max_lead_ms: ms(2),
            lead_jitter_fraction: numbers[3],
            min_refresh_interval_ms: ms(4),
            backoff_initial_ms: ms(5),
            backoff_max_ms: ms(6),
            backoff_jitter_fraction: numbers[7],
            expired_requests,
        };
        if policy.min_lead_ms > policy.max_lead_ms {
            return Err(PolicyError::LeadOrder);
        }
        Ok((policy, ms(8)))
    }

    /// Whether the policy is one to run (the options' rule in both shells): every fraction
    /// within `0..=1`, every duration within [`MAX_DURATION_MS`], and the minimum lead not
    /// above the maximum.
    pub fn check(&self) -> Result<(), PolicyError> {
        let numbers = self.numbers(u64::from(DEFAULT_REQUEST_TIMEOUT_MS));
        Self::of_numbers(numbers, self.expired_requests).map(drop)
    }
}

/// The default policy and request timeout as numbers (see [`RefreshPolicy::default`]).
const DEFAULT_NUMBERS: [f64; 9] = [
    0.2,
    5_000.0,
    120_000.0,
    0.1,
    10_000.0,
    1_000.0,
    60_000.0,
    0.2,
    DEFAULT_REQUEST_TIMEOUT_MS as f64,
];

/// The refresh policy's options as the JS driver names them, in the order
/// [`RefreshPolicy::from_numbers`] takes them, the request timeout last.
pub const POLICY_OPTIONS: [&str; 9] = [
    "refreshLeadFraction",
    "minRefreshLeadMs",
    "maxRefreshLeadMs",
    "refreshJitterFraction",
    "minRefreshIntervalMs",
    "backoffInitialMs",
    "backoffMaxMs",
    "backoffJitterFraction",
    "requestTimeoutMs",
];

/// The range of policy option `index` ([`POLICY_OPTIONS`]): fractions `0..=1`, durations
/// `0..=`[`MAX_DURATION_MS`], the request timeout `1..=`[`MAX_TIMER_MS`] (one browser timer).
pub fn policy_bounds(index: usize) -> (u64, u64) {
    match index {
        0 | 3 | 7 => (0, 1),
        8 => (1, MAX_TIMER_MS),
        _ => (0, MAX_DURATION_MS),
    }
}

/// Whether a request timeout (ms) is one to run: within [`policy_bounds`] (index 8).
pub fn check_request_timeout(ms: u64) -> Result<(), PolicyError> {
    let (min, max) = policy_bounds(8);
    if (min..=max).contains(&ms) {
        Ok(())
    } else {
        Err(PolicyError::Range { index: 8, min, max })
    }
}

/// A refused refresh policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyError {
    /// An option is not a number within its bounds.
    Range {
        /// The option's index in [`POLICY_OPTIONS`].
        index: usize,
        /// Its smallest value.
        min: u64,
        /// Its largest value.
        max: u64,
    },
    /// The minimum lead exceeds the maximum.
    LeadOrder,
}

/// `fraction` of `ms`, with the fraction clamped to `0.0..=1.0` (NaN gives 0) and the result
/// never above `ms` (`u64 -> f64` rounding could otherwise push it past).
fn fraction_of(ms: u64, fraction: f64) -> u64 {
    // `as` from f64 saturates and maps NaN to 0: exactly the defensive behaviour wanted here.
    ((ms as f64 * fraction.clamp(0.0, 1.0)) as u64).min(ms)
}

/// Maps a uniformly random word onto `0 .. max` (0 when `max` is 0).
fn scale(max: u64, random: u64) -> u64 {
    ((u128::from(max) * u128::from(random)) >> 64) as u64
}

/// SplitMix64: a tiny deterministic generator, seeded by the shell. Jitter only needs spread,
/// not unpredictability, and an injected seed keeps tests reproducible.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const MAX_JITTER: u64 = u64::MAX;

    #[test]
    fn lead_is_a_fraction_of_the_lifetime_clamped() {
        let policy = RefreshPolicy::default();
        assert_eq!(policy.lead_ms(300_000), 60_000); // 20% of 5 min
        assert_eq!(policy.lead_ms(3_600_000), 120_000); // capped
        assert_eq!(policy.lead_ms(10_000), 5_000); // raised to the minimum
        assert_eq!(policy.lead_ms(1), 5_000);
        assert_eq!(policy.lead_ms(0), 5_000);
        assert_eq!(policy.lead_ms(u64::MAX), 120_000);
    }

    #[test]
    fn refresh_time_down_to_zero_lifetime_saturates() {
        let policy = RefreshPolicy::default();
        assert_eq!(policy.refresh_at(1_000, 301_000, 0), 241_000);
        // Zero lifetime: the lead reaches back before receipt; the session's minimum interval
        // paces it, the policy only must not underflow.
        assert_eq!(policy.refresh_at(1_000, 1_000, 0), 0);
        assert_eq!(policy.refresh_at(u64::MAX, 0, 0), 0);
        assert_eq!(
            policy.refresh_at(0, u64::MAX, MAX_JITTER),
            u64::MAX - 120_000 + 11_999
        );
    }

    #[test]
    fn lead_jitter_stays_within_its_fraction() {
        let policy = RefreshPolicy::default();
        assert_eq!(policy.jittered_lead_ms(300_000, 0), 60_000);
        assert_eq!(policy.jittered_lead_ms(300_000, MAX_JITTER), 54_001);
        let mut rng = SplitMix64::new(7);
        for _ in 0..10_000 {
            let lead = policy.jittered_lead_ms(300_000, rng.next_u64());
            assert!((54_001..=60_000).contains(&lead), "{lead}");
        }
    }

    #[test]
    fn backoff_doubles_then_caps() {
        let policy = RefreshPolicy::default();
        let delays: Vec<u64> = (1..=9).map(|n| policy.backoff_ms(n, 0)).collect();
        assert_eq!(
            delays,
            [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]
        );
        assert_eq!(policy.backoff_ms(0, 0), 1_000);
        assert_eq!(policy.backoff_ms(u32::MAX, 0), 60_000);
    }

    #[test]
    fn backoff_jitter_keeps_delays_growing() {
        let policy = RefreshPolicy::default();
        let mut rng = SplitMix64::new(42);
        for _ in 0..1_000 {
            let mut previous = 0;
            for failures in 1..=6 {
                let delay = policy.backoff_ms(failures, rng.next_u64());
                let nominal = 1_000u64 << (failures - 1);
                assert!(delay > nominal * 8 / 10 && delay <= nominal, "{delay}");
                assert!(delay > previous);
                previous = delay;
            }
        }
        assert_eq!(policy.backoff_ms(1, MAX_JITTER), 801);
    }

    #[test]
    fn retry_after_is_a_floor() {
        let policy = RefreshPolicy::default();
        assert_eq!(policy.retry_delay_ms(1, Some(7_000), 0), 7_000);
        assert_eq!(policy.retry_delay_ms(5, Some(7_000), 0), 16_000);
        assert_eq!(policy.retry_delay_ms(1, None, 0), 1_000);
        // A day at most, however long the server asks for.
        assert_eq!(
            policy.retry_delay_ms(1, Some(u64::MAX), 0),
            MAX_RETRY_AFTER_MS
        );
        assert_eq!(
            policy.retry_delay_ms(1, Some(MAX_RETRY_AFTER_MS + 1), 0),
            MAX_RETRY_AFTER_MS
        );
    }

    #[test]
    fn the_minimum_lead_may_not_exceed_the_maximum() {
        assert_eq!(RefreshPolicy::default().check(), Ok(()));
        let policy = RefreshPolicy {
            min_lead_ms: 200_000,
            ..RefreshPolicy::default()
        };
        assert_eq!(policy.check(), Err(PolicyError::LeadOrder));
    }

    #[test]
    fn the_default_numbers_are_the_default_policy() {
        let (policy, timeout) =
            RefreshPolicy::of_numbers(DEFAULT_NUMBERS, ExpiredRequests::Wait).unwrap();
        assert_eq!(policy, RefreshPolicy::default());
        assert_eq!(DEFAULT_NUMBERS, policy.numbers(timeout));
        assert_eq!(timeout, u64::from(DEFAULT_REQUEST_TIMEOUT_MS));
    }

    #[test]
    fn options_are_read_within_their_bounds() {
        let none = [f64::NAN; 9];
        let (policy, timeout) =
            RefreshPolicy::from_numbers(none, 0, ExpiredRequests::Fail).unwrap();
        assert_eq!(
            policy,
            RefreshPolicy {
                expired_requests: ExpiredRequests::Fail,
                ..RefreshPolicy::default()
            }
        );
        assert_eq!(timeout, u64::from(DEFAULT_REQUEST_TIMEOUT_MS));
        let mut given = none;
        given[0] = 0.5;
        given[1] = 1_000.9;
        given[3] = 1.0;
        given[6] = MAX_DURATION_MS as f64;
        given[8] = 2.5;
        let mask = 1 | 2 | 8 | 64 | 256;
        let (policy, timeout) =
            RefreshPolicy::from_numbers(given, mask, ExpiredRequests::Wait).unwrap();
        assert_eq!(policy.lead_fraction, 0.5);
        assert_eq!(policy.min_lead_ms, 1_000);
        assert_eq!(policy.lead_jitter_fraction, 1.0);
        assert_eq!(policy.backoff_max_ms, MAX_DURATION_MS);
        assert_eq!(timeout, 2);
        // Each option out of its range, NaN and the infinities: refused, naming it and its bounds.
        for index in 0..9 {
            let (min, max) = policy_bounds(index);
            for bad in [
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                min as f64 - 0.5,
                max as f64 + 1.0,
            ] {
                let mut given = none;
                given[index] = bad;
                assert_eq!(
                    RefreshPolicy::from_numbers(given, 1 << index, ExpiredRequests::Wait),
                    Err(PolicyError::Range { index, min, max }),
                    "{} = {bad}",
                    POLICY_OPTIONS[index]
                );
            }
        }
        assert_eq!(policy_bounds(8), (1, i32::MAX as u64));
        let mut given = none;
        given[1] = 200_000.0;
        assert_eq!(
            RefreshPolicy::from_numbers(given, 2, ExpiredRequests::Wait),
            Err(PolicyError::LeadOrder)
        );
        // The typed policy of the Rust shell: the same bounds.
        let policy = RefreshPolicy {
            backoff_initial_ms: MAX_DURATION_MS + 1,
            ..RefreshPolicy::default()
        };
        assert_eq!(
            policy.check(),
            Err(PolicyError::Range {
                index: 5,
                min: 0,
                max: MAX_DURATION_MS
            })
        );
        let policy = RefreshPolicy {
            backoff_jitter_fraction: f64::NAN,
            ..RefreshPolicy::default()
        };
        assert_eq!(
            policy.check(),
            Err(PolicyError::Range {
                index: 7,
                min: 0,
                max: 1
            })
        );
        assert_eq!(
            check_request_timeout(0),
            Err(PolicyError::Range {
                index: 8,
                min: 1,
                max: MAX_TIMER_MS
            })
        );
        assert_eq!(check_request_timeout(MAX_TIMER_MS), Ok(()));
        assert!(check_request_timeout(MAX_TIMER_MS + 1).is_err());
    }

    #[test]
    fn absurd_configuration_never_panics() {
        let policy = RefreshPolicy {
            lead_fraction: f64::NAN,
            min_lead_ms: u64::MAX,
            max_lead_ms: 0,
            lead_jitter_fraction: -3.0,
            backoff_initial_ms: u64::MAX,
            backoff_max_ms: u64::MAX,
            backoff_jitter_fraction: f64::INFINITY,
            ..RefreshPolicy::default()
        };
        assert_eq!(policy.lead_ms(300_000), 0); // max wins over min
        assert_eq!(policy.refresh_at(0, u64::MAX, MAX_JITTER), u64::MAX);
        assert_eq!(policy.backoff_ms(u32::MAX, 0), u64::MAX);
        assert_eq!(policy.backoff_ms(u32::MAX, MAX_JITTER), 1); // jitter fraction clamped to 1
        let generous = RefreshPolicy {
            lead_fraction: 5.0,
            ..RefreshPolicy::default()
        };
        assert_eq!(generous.lead_ms(60_000), 60_000);
    }

    #[test]
    fn splitmix_is_deterministic_per_seed() {
        let mut a = SplitMix64::new(1);
        let mut b = SplitMix64::new(1);
        let mut c = SplitMix64::new(2);
        let (x, y, z) = (a.next_u64(), b.next_u64(), c.next_u64());
        assert_eq!(x, y);
        assert_ne!(x, z);
    }
}

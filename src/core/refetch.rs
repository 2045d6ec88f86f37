//! When a server fetches a remote key set again (sans-IO, on simulated time): a token naming a
//! key the set does not hold may start one fetch, never two at once, never more often than the
//! cooldown after a success, and with exponential backoff after failures; a request waits for a
//! fetch in flight at most [`KeyRefetch::MISS_WAIT_MS`]. Tokens whose key is held never wait.
//! The caller performs the fetch and reports its outcome.

/// What to do with a token whose key the current set does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMiss {
    /// Start a fetch now (the machine counts it as in flight until
    /// [`KeyRefetch::fetched`]), then wait for it at most [`KeyRefetch::MISS_WAIT_MS`].
    Fetch,
    /// A fetch is in flight: wait for it at most [`KeyRefetch::MISS_WAIT_MS`].
    Join,
    /// No fetch now (cooldown or backoff): answer with the current set.
    Refuse,
}

/// The refetch policy of one remote key set.
#[derive(Debug, Clone, Default)]
pub struct KeyRefetch {
    in_flight: bool,
    /// When the last fetch succeeded (ms).
    fetched_at: Option<i64>,
    /// Consecutive failures, and no fetch before `retry_at` (ms).
    failures: u32,
    retry_at: i64,
}

impl KeyRefetch {
    /// After a successful fetch, no refetch for this long (ms), as jose's `cooldownDuration`.
    pub const COOLDOWN_MS: i64 = 30_000;
    /// The first wait after a failed fetch (ms); it doubles with each further failure.
    pub const BACKOFF_MS: i64 = 1_000;
    /// The longest wait after failures (ms).
    pub const MAX_BACKOFF_MS: i64 = 5 * 60_000;
    /// How long a request waits for a fetch in flight before it is answered with the keys at
    /// hand (ms): well inside any client's request timeout.
    pub const MISS_WAIT_MS: u64 = 2_000;
    /// How long one fetch may take (ms): past it, it counts as failed.
    pub const FETCH_TIMEOUT_MS: u64 = 10_000;

    /// A machine that has fetched nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A token at `now` (ms) names a key the set does not hold (or there is no set yet).
    pub fn miss(&mut self, now: i64) -> KeyMiss {
        if self.in_flight {
            return KeyMiss::Join;
        }
        let cooling = self
            .fetched_at
            .is_some_and(|at| now < at.saturating_add(Self::COOLDOWN_MS));
        if cooling || now < self.retry_at {
            return KeyMiss::Refuse;
        }
        self.in_flight = true;
        KeyMiss::Fetch
    }

    /// The fetch started by [`KeyMiss::Fetch`] ended at `now` (ms).
    pub fn fetched(&mut self, now: i64, ok: bool) {
        self.in_flight = false;
        if ok {
            self.fetched_at = Some(now);
            self.failures = 0;
            self.retry_at = 0;
        } else {
            self.failures = self.failures.saturating_add(1);
            let doublings = (self.failures - 1).min(20);
            let wait = Self::BACKOFF_MS
                .saturating_mul(1 << doublings)
                .min(Self::MAX_BACKOFF_MS);
            self.retry_at = now.saturating_add(wait);
        }
    }

    /// Whether a fetch is in flight.
    pub fn in_flight(&self) -> bool {
        self.in_flight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_fetch_at_a_time_then_a_cooldown() {
        let mut m = KeyRefetch::new();
        assert_eq!(m.miss(0), KeyMiss::Fetch);
        assert_eq!(m.miss(1), KeyMiss::Join, "one fetch in flight");
        assert_eq!(m.miss(5_000), KeyMiss::Join);
        m.fetched(6_000, true);
        assert!(!m.in_flight());
        assert_eq!(m.miss(6_001), KeyMiss::Refuse, "cooldown after a success");
        assert_eq!(m.miss(35_999), KeyMiss::Refuse);
        assert_eq!(m.miss(36_000), KeyMiss::Fetch);
    }

    #[test]
    fn failures_back_off_exponentially_up_to_a_cap() {
        let mut m = KeyRefetch::new();
        let mut now = 0;
        let mut waits = vec![];
        assert_eq!(m.miss(now), KeyMiss::Fetch);
        for _ in 0..12 {
            m.fetched(now, false);
            // The first miss that is not refused starts the next fetch.
            let mut wait = 0;
            while m.miss(now + wait) == KeyMiss::Refuse {
                wait += 500;
            }
            waits.push(wait);
            now += wait;
        }
        assert_eq!(&waits[..4], &[1_000, 2_000, 4_000, 8_000]);
        assert_eq!(*waits.last().unwrap(), KeyRefetch::MAX_BACKOFF_MS);
        // A success resets the backoff.
        m.fetched(now, true);
        assert_eq!(m.miss(now + KeyRefetch::COOLDOWN_MS), KeyMiss::Fetch);
        m.fetched(now + KeyRefetch::COOLDOWN_MS, false);
        assert_eq!(
            m.miss(now + KeyRefetch::COOLDOWN_MS + 1_000),
            KeyMiss::Fetch
        );
    }

    #[test]
    fn a_first_fetch_that_failed_is_retried_after_the_backoff() {
        let mut m = KeyRefetch::new();
        assert_eq!(m.miss(0), KeyMiss::Fetch);
        m.fetched(10_000, false);
        assert_eq!(m.miss(10_999), KeyMiss::Refuse);
        assert_eq!(m.miss(11_000), KeyMiss::Fetch);
    }
}

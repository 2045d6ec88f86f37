//! Stateless server nonces (RFC 9449 §8): a nonce is a MAC over a time window's number under a
//! key every instance of a server shares, so any instance accepts any instance's nonce and none
//! stores one. The schedule (how long a window lasts, which windows are accepted) is decided
//! here; the server computes the MAC with its key.

use crate::prelude::*;

use crate::core::b64;

/// Default length of a nonce window: a nonce handed out is accepted for 5 to 10 minutes.
pub const DEFAULT_NONCE_WINDOW_SECS: i64 = 300;

/// When nonces change and which ones are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonceSchedule {
    window_secs: i64,
}

impl Default for NonceSchedule {
    fn default() -> Self {
        Self::new(DEFAULT_NONCE_WINDOW_SECS)
    }
}

impl NonceSchedule {
    /// Windows of `window_secs` seconds (clamped to 1 s..1 day).
    pub fn new(window_secs: i64) -> Self {
        Self {
            window_secs: window_secs.clamp(1, 86_400),
        }
    }

    /// The windows whose nonces are accepted at `now` (seconds since the epoch): the current
    /// one, whose nonce is handed out, then the previous one, so that a nonce handed out just
    /// before a window ends still works on the next request, on whichever instance.
    pub fn accepted_windows(&self, now: i64) -> [i64; 2] {
        let current = now.div_euclid(self.window_secs);
        [current, current - 1]
    }

    /// The bytes the shared key MACs for `window`'s nonce (domain-separated, so the key's MACs
    /// serve nothing else).
    pub fn mac_input(window: i64) -> Vec<u8> {
        let mut input = b"tokenwarden dpop nonce v1 ".to_vec();
        input.extend_from_slice(&window.to_be_bytes());
        input
    }

    /// The nonce for a window's MAC: base64url of its first 16 bytes (128 bits).
    pub fn nonce(mac: &[u8]) -> String {
        b64::encode(&mac[..mac.len().min(16)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_accepted_in_its_window_and_the_next_only() {
        let schedule = NonceSchedule::new(60);
        assert_eq!(schedule.accepted_windows(0), [0, -1]);
        assert_eq!(schedule.accepted_windows(59), [0, -1]);
        assert_eq!(schedule.accepted_windows(60), [1, 0]);
        assert_eq!(schedule.accepted_windows(119), [1, 0]);
        assert_eq!(schedule.accepted_windows(120), [2, 1]);
        // Handed out at 59 (window 0): accepted until 119, whichever instance answers.
        let handed_out = schedule.accepted_windows(59)[0];
        let accepted_at = |now| schedule.accepted_windows(now).contains(&handed_out);
        assert!(accepted_at(60) && accepted_at(119) && !accepted_at(120));
        assert_eq!(NonceSchedule::new(0), NonceSchedule::new(1));
    }

    #[test]
    fn inputs_differ_per_window_and_nonces_are_128_bits() {
        assert_ne!(NonceSchedule::mac_input(1), NonceSchedule::mac_input(2));
        assert_eq!(NonceSchedule::nonce(&[7u8; 32]).len(), 22);
    }
}

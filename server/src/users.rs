//! Demo users: Argon2id hashes computed once at start-up, constant-time comparison, and a
//! per-user failure throttle.

use std::collections::HashMap;

use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use rand::RngCore;
use subtle::ConstantTimeEq;

use crate::config::{PasswordCost, UserSpec};

struct UserRecord {
    salt: [u8; 16],
    hash: [u8; 32],
    scope: String,
}

/// The user directory.
pub struct Users {
    argon: Argon2<'static>,
    users: HashMap<String, UserRecord>,
    /// Used for unknown user names so that they cost the same time as known ones.
    dummy: UserRecord,
}

impl Users {
    /// Hashes every password (the plain texts are dropped by the caller).
    pub fn new(specs: &[UserSpec], cost: PasswordCost) -> Result<Self, String> {
        let params = Params::new(cost.m_kib, cost.t, cost.p, Some(32))
            .map_err(|e| format!("invalid argon2 parameters: {e}"))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let make = |password: &[u8], scope: &str| -> Result<UserRecord, String> {
            let mut salt = [0u8; 16];
            OsRng.fill_bytes(&mut salt);
            let mut hash = [0u8; 32];
            argon
                .hash_password_into(password, &salt, &mut hash)
                .map_err(|e| format!("argon2 failed: {e}"))?;
            Ok(UserRecord {
                salt,
                hash,
                scope: scope.to_string(),
            })
        };
        let mut users = HashMap::new();
        for u in specs {
            if users.contains_key(&u.username) {
                return Err(format!("user {:?} is given twice", u.username));
            }
            users.insert(u.username.clone(), make(u.password.as_bytes(), &u.scope)?);
        }
        let dummy = make(b"not a password of anyone", "")?;
        Ok(Users {
            argon,
            users,
            dummy,
        })
    }

    /// Checks a password; returns the user's scope on success. Takes the same time for
    /// unknown users.
    pub fn verify(&self, username: &str, password: &str) -> Option<String> {
        let (rec, known) = match self.users.get(username) {
            Some(r) => (r, true),
            None => (&self.dummy, false),
        };
        let mut out = [0u8; 32];
        if self
            .argon
            .hash_password_into(password.as_bytes(), &rec.salt, &mut out)
            .is_err()
        {
            return None;
        }
        let ok: bool = out.ct_eq(&rec.hash).into();
        (ok && known).then(|| rec.scope.clone())
    }
}

struct FailState {
    failures: u32,
    locked_until_ms: i64,
}

/// Per-user failure counter: after `max_failures` consecutive failures, each further failure
/// locks the user out for 1, 2, 4, ... (capped at 60) seconds; a success resets it.
#[derive(Default)]
pub struct Throttle {
    users: HashMap<String, FailState>,
}

/// Bound on the number of tracked names (unknown names are tracked too).
const MAX_TRACKED: usize = 10_000;

impl Throttle {
    /// `Some(retry_after_secs)` if the user is currently locked out.
    pub fn check(&self, username: &str, now_ms: i64) -> Option<u64> {
        let s = self.users.get(username)?;
        (s.locked_until_ms > now_ms).then(|| ((s.locked_until_ms - now_ms + 999) / 1000) as u64)
    }

    /// Records a failure.
    pub fn failure(&mut self, username: &str, now_ms: i64, max_failures: u32) {
        if self.users.len() >= MAX_TRACKED && !self.users.contains_key(username) {
            self.users.retain(|_, s| s.locked_until_ms > now_ms);
            if self.users.len() >= MAX_TRACKED {
                self.users.clear();
            }
        }
        let s = self.users.entry(username.to_string()).or_insert(FailState {
            failures: 0,
            locked_until_ms: 0,
        });
        s.failures = s.failures.saturating_add(1);
        if s.failures >= max_failures {
            let over = (s.failures - max_failures).min(6);
            let secs = (1i64 << over).min(60);
            s.locked_until_ms = now_ms + secs * 1000;
        }
    }

    /// Records a success.
    pub fn success(&mut self, username: &str) {
        self.users.remove(username);
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.users.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_passwords() {
        let specs = vec![UserSpec::parse("alice:s3cret:with:colons").unwrap()];
        let users = Users::new(&specs, PasswordCost::cheap_for_tests()).unwrap();
        assert_eq!(
            users.verify("alice", "s3cret:with:colons").as_deref(),
            Some("read write")
        );
        assert!(users.verify("alice", "s3cret").is_none());
        assert!(users.verify("bob", "s3cret:with:colons").is_none());
    }

    #[test]
    fn throttle_locks_after_max_failures() {
        let mut t = Throttle::default();
        for _ in 0..4 {
            t.failure("u", 0, 5);
            assert_eq!(t.check("u", 0), None);
        }
        t.failure("u", 0, 5);
        assert_eq!(t.check("u", 0), Some(1));
        assert_eq!(t.check("u", 1_000), None);
        t.failure("u", 1_000, 5);
        assert_eq!(t.check("u", 1_000), Some(2));
        t.success("u");
        assert_eq!(t.check("u", 1_000), None);
    }
}

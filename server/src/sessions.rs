//! Refresh-token families with rotation and reuse detection.
//!
//! Tokens are opaque (256 random bits, base64url) and only their SHA-256 hashes are stored.
//! Each login starts a family; each refresh marks the presented token used and issues a
//! successor in the same family. Presenting an already-used token (outside the optional grace
//! window) is treated as theft: the whole family is revoked.

use std::collections::HashMap;

use crate::util::{random_b64, sha256};

type Hash = [u8; 32];

struct TokenEntry {
    family: u64,
    /// When the token was rotated (ms, server clock); `None` while it is the live one.
    used_at_ms: Option<i64>,
}

struct Family {
    sub: String,
    scope: String,
    created_ms: i64,
    last_used_ms: i64,
    tokens: Vec<Hash>,
}

/// Lifetimes applied by [`Store::rotate`].
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// Absolute lifetime of a family, from login.
    pub absolute_ms: i64,
    /// Idle lifetime: maximum time between two uses.
    pub idle_ms: i64,
    /// Re-presenting a token rotated less than this long ago is not treated as reuse.
    pub grace_ms: i64,
}

/// A freshly issued refresh token and whom it belongs to.
#[derive(Debug)]
pub struct Issued {
    /// The opaque token (only ever sent to the client).
    pub token: String,
    /// Subject.
    pub sub: String,
    /// Granted scope.
    pub scope: String,
}

/// Why a refresh was refused (all map to `400 invalid_grant`).
#[derive(Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Unknown, revoked or never-issued token.
    Unknown,
    /// The family's absolute or idle lifetime is over.
    Expired,
    /// An already-rotated token was presented: the family has been revoked.
    ReuseDetected,
}

/// All refresh-token state.
#[derive(Default)]
pub struct Store {
    tokens: HashMap<Hash, TokenEntry>,
    families: HashMap<u64, Family>,
    next_family: u64,
}

impl Store {
    /// Starts a family for a fresh login.
    pub fn login(&mut self, sub: &str, scope: &str, now_ms: i64, lt: Lifetimes) -> Issued {
        self.prune(now_ms, lt);
        self.next_family += 1;
        let id = self.next_family;
        self.families.insert(
            id,
            Family {
                sub: sub.to_string(),
                scope: scope.to_string(),
                created_ms: now_ms,
                last_used_ms: now_ms,
                tokens: Vec::new(),
            },
        );
        self.issue(id)
    }

    fn issue(&mut self, family: u64) -> Issued {
        let token = random_b64(32);
        let hash = sha256(token.as_bytes());
        self.tokens.insert(
            hash,
            TokenEntry {
                family,
                used_at_ms: None,
            },
        );
        let f = self.families.get_mut(&family).expect("family exists");
        f.tokens.push(hash);
        Issued {
            token,
            sub: f.sub.clone(),
            scope: f.scope.clone(),
        }
    }

    /// Rotates `presented`, or refuses it (revoking its family on reuse).
    pub fn rotate(
        &mut self,
        presented: &str,
        now_ms: i64,
        lt: Lifetimes,
    ) -> Result<Issued, Rejection> {
        let hash = sha256(presented.as_bytes());
        let Some(entry) = self.tokens.get(&hash) else {
            return Err(Rejection::Unknown);
        };
        let family_id = entry.family;
        let used_at = entry.used_at_ms;
        let Some(family) = self.families.get(&family_id) else {
            self.tokens.remove(&hash);
            return Err(Rejection::Unknown);
        };
        if now_ms >= family.created_ms.saturating_add(lt.absolute_ms)
            || now_ms >= family.last_used_ms.saturating_add(lt.idle_ms)
        {
            self.revoke_family(family_id);
            return Err(Rejection::Expired);
        }
        if let Some(used_at) = used_at {
            let within_grace = lt.grace_ms > 0 && now_ms.saturating_sub(used_at) <= lt.grace_ms;
            if !within_grace {
                self.revoke_family(family_id);
                return Err(Rejection::ReuseDetected);
            }
            // Benign race: issue another successor, the presented token stays used.
        } else if let Some(e) = self.tokens.get_mut(&hash) {
            e.used_at_ms = Some(now_ms);
        }
        if let Some(f) = self.families.get_mut(&family_id) {
            f.last_used_ms = now_ms;
        }
        Ok(self.issue(family_id))
    }

    /// Revokes the family that `presented` belongs to; true if there was one.
    pub fn revoke_by_token(&mut self, presented: &str) -> bool {
        let hash = sha256(presented.as_bytes());
        match self.tokens.get(&hash).map(|e| e.family) {
            Some(family) => self.revoke_family(family),
            None => false,
        }
    }

    fn revoke_family(&mut self, id: u64) -> bool {
        match self.families.remove(&id) {
            Some(f) => {
                for t in f.tokens {
                    self.tokens.remove(&t);
                }
                true
            }
            None => false,
        }
    }

    /// Revokes every family; returns how many there were.
    pub fn revoke_all(&mut self) -> usize {
        let n = self.families.len();
        self.families.clear();
        self.tokens.clear();
        n
    }

    /// Families still usable at `now_ms`.
    pub fn active_families(&self, now_ms: i64, lt: Lifetimes) -> usize {
        self.families
            .values()
            .filter(|f| {
                now_ms < f.created_ms.saturating_add(lt.absolute_ms)
                    && now_ms < f.last_used_ms.saturating_add(lt.idle_ms)
            })
            .count()
    }

    fn prune(&mut self, now_ms: i64, lt: Lifetimes) {
        let dead: Vec<u64> = self
            .families
            .iter()
            .filter(|(_, f)| {
                now_ms >= f.created_ms.saturating_add(lt.absolute_ms)
                    || now_ms >= f.last_used_ms.saturating_add(lt.idle_ms)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in dead {
            self.revoke_family(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LT: Lifetimes = Lifetimes {
        absolute_ms: 10_000,
        idle_ms: 5_000,
        grace_ms: 0,
    };

    #[test]
    fn rotation_and_reuse() {
        let mut s = Store::default();
        let a = s.login("u", "read", 0, LT);
        assert!(a.token.len() >= 43);
        let b = s.rotate(&a.token, 1, LT).unwrap();
        assert_eq!(b.sub, "u");
        assert_eq!(
            s.rotate(&a.token, 2, LT).unwrap_err(),
            Rejection::ReuseDetected
        );
        assert_eq!(s.rotate(&b.token, 3, LT).unwrap_err(), Rejection::Unknown);
        assert_eq!(s.active_families(3, LT), 0);
    }

    #[test]
    fn grace_window_allows_a_second_use() {
        let mut s = Store::default();
        let lt = Lifetimes {
            grace_ms: 100,
            ..LT
        };
        let a = s.login("u", "read", 0, lt);
        let b = s.rotate(&a.token, 10, lt).unwrap();
        let c = s.rotate(&a.token, 50, lt).unwrap();
        assert_ne!(b.token, c.token);
        assert_eq!(
            s.rotate(&a.token, 500, lt).unwrap_err(),
            Rejection::ReuseDetected
        );
    }

    #[test]
    fn lifetimes() {
        let mut s = Store::default();
        let a = s.login("u", "read", 0, LT);
        assert_eq!(
            s.rotate(&a.token, 6_000, LT).unwrap_err(),
            Rejection::Expired
        );
        let a = s.login("u", "read", 0, LT);
        let b = s.rotate(&a.token, 4_000, LT).unwrap();
        let c = s.rotate(&b.token, 8_000, LT).unwrap();
        assert_eq!(
            s.rotate(&c.token, 10_000, LT).unwrap_err(),
            Rejection::Expired
        );
    }

    #[test]
    fn revoke() {
        let mut s = Store::default();
        let a = s.login("u", "read", 0, LT);
        assert!(s.revoke_by_token(&a.token));
        assert!(!s.revoke_by_token(&a.token));
        assert_eq!(s.rotate(&a.token, 1, LT).unwrap_err(), Rejection::Unknown);
    }
}

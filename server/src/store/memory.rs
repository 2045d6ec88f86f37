//! The in-process store (`--store memory`): everything behind one mutex, lost at exit.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use tokenwarden::core::dpop::{MemoryReplayCache, ReplayCache};

use super::{
    throttle_wait_ms, Lifetimes, ProofRecord, Rejection, Rotation, Sealed, Store, StoreResult,
    ThrottleKey, TokenHash, THROTTLE_WINDOW_MS,
};
use crate::util::random_b64;

struct TokenRecord {
    family: String,
    /// When the token was rotated, and the successor it got then (sealed; only while the
    /// grace window lasts).
    used: Option<(i64, Option<Sealed>)>,
}

struct Family {
    sub: String,
    scope: String,
    created_ms: i64,
    last_used_ms: i64,
    tokens: Vec<TokenHash>,
}

#[derive(Default)]
struct State {
    tokens: HashMap<TokenHash, TokenRecord>,
    families: HashMap<String, Family>,
    blocklist: HashMap<String, i64>,
    throttle: HashMap<String, (u32, i64)>,
    /// Tokens holding a sealed successor, oldest rotation first (what `forget_seals` visits).
    seals: VecDeque<(i64, TokenHash)>,
    /// DPoP proofs (made on first use).
    proofs: Option<MemoryReplayCache>,
}

/// How many live DPoP `jti`s the memory store holds in all (each key holds at most its
/// quota); about 100 MB at most.
const PROOF_CAPACITY: usize = 1_000_000;

impl State {
    fn revoke(&mut self, family: &str) -> bool {
        match self.families.remove(family) {
            Some(f) => {
                for t in f.tokens {
                    self.tokens.remove(&t);
                }
                true
            }
            None => false,
        }
    }

    fn prune(&mut self, now_ms: i64, lt: Lifetimes) {
        let dead: Vec<String> = self
            .families
            .iter()
            .filter(|(_, f)| now_ms >= lt.deadline(f.created_ms, f.last_used_ms))
            .map(|(id, _)| id.clone())
            .collect();
        for id in dead {
            self.revoke(&id);
        }
    }
}

/// Refresh families, blocklist and throttle in process memory.
#[derive(Default)]
pub struct MemoryStore(Mutex<State>);

impl MemoryStore {
    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store for MemoryStore {
    async fn create_family(
        &self,
        token: TokenHash,
        sub: &str,
        scope: &str,
        now_ms: i64,
        lt: Lifetimes,
    ) -> StoreResult<()> {
        let mut s = self.state();
        s.prune(now_ms, lt);
        let id = random_b64(16);
        s.tokens.insert(
            token,
            TokenRecord {
                family: id.clone(),
                used: None,
            },
        );
        s.families.insert(
            id,
            Family {
                sub: sub.into(),
                scope: scope.into(),
                created_ms: now_ms,
                last_used_ms: now_ms,
                tokens: vec![token],
            },
        );
        Ok(())
    }

    async fn rotate(
        &self,
        presented: TokenHash,
        successor: TokenHash,
        sealed: Option<Sealed>,
        now_ms: i64,
        lt: Lifetimes,
    ) -> StoreResult<Result<Rotation, Rejection>> {
        let mut s = self.state();
        let Some(rec) = s.tokens.get(&presented) else {
            return Ok(Err(Rejection::Unknown));
        };
        let (family_id, used) = (rec.family.clone(), rec.used);
        let Some(f) = s.families.get(&family_id) else {
            s.tokens.remove(&presented);
            return Ok(Err(Rejection::Unknown));
        };
        if now_ms >= lt.deadline(f.created_ms, f.last_used_ms) {
            s.revoke(&family_id);
            return Ok(Err(Rejection::Expired));
        }
        let (sub, scope) = (f.sub.clone(), f.scope.clone());
        if let Some((used_at, sealed_successor)) = used {
            let in_window = lt.grace_ms > 0 && now_ms.saturating_sub(used_at) <= lt.grace_ms;
            if let Some(sealed_successor) = sealed_successor.filter(|_| in_window) {
                return Ok(Ok(Rotation::Replayed {
                    sub,
                    scope,
                    sealed_successor,
                }));
            }
            s.revoke(&family_id);
            return Ok(Err(Rejection::ReuseDetected));
        }
        if let Some(rec) = s.tokens.get_mut(&presented) {
            rec.used = Some((now_ms, sealed.filter(|_| lt.grace_ms > 0)));
        }
        if lt.grace_ms > 0 && sealed.is_some() {
            s.seals.push_back((now_ms, presented));
        }
        s.tokens.insert(
            successor,
            TokenRecord {
                family: family_id.clone(),
                used: None,
            },
        );
        if let Some(f) = s.families.get_mut(&family_id) {
            f.last_used_ms = now_ms;
            f.tokens.push(successor);
        }
        Ok(Ok(Rotation::Rotated { sub, scope }))
    }

    async fn forget_seals(&self, now_ms: i64, lt: Lifetimes) -> StoreResult<u64> {
        let mut s = self.state();
        let mut erased = 0;
        while let Some(&(used_at, token)) = s.seals.front() {
            if now_ms.saturating_sub(used_at) <= lt.grace_ms {
                break;
            }
            s.seals.pop_front();
            if let Some(TokenRecord {
                used: Some((_, sealed @ Some(_))),
                ..
            }) = s.tokens.get_mut(&token)
            {
                *sealed = None;
                erased += 1;
            }
        }
        Ok(erased)
    }

    async fn revoke_family_of(&self, token: TokenHash) -> StoreResult<bool> {
        let mut s = self.state();
        let family = s.tokens.get(&token).map(|r| r.family.clone());
        Ok(family.is_some_and(|f| s.revoke(&f)))
    }

    async fn revoke_all(&self) -> StoreResult<u64> {
        let mut s = self.state();
        let n = s.families.len() as u64;
        s.families.clear();
        s.tokens.clear();
        s.seals.clear();
        Ok(n)
    }

    async fn active_families(&self, now_ms: i64, lt: Lifetimes) -> StoreResult<u64> {
        let s = self.state();
        let n = s
            .families
            .values()
            .filter(|f| now_ms < lt.deadline(f.created_ms, f.last_used_ms))
            .count();
        Ok(n as u64)
    }

    async fn block_jti(&self, jti: &str, exp_secs: i64, now_secs: i64) -> StoreResult<()> {
        let mut s = self.state();
        s.blocklist.retain(|_, exp| *exp > now_secs);
        if exp_secs > now_secs {
            s.blocklist.insert(jti.to_string(), exp_secs);
        }
        Ok(())
    }

    async fn is_blocked(&self, jti: &str, now_secs: i64) -> StoreResult<bool> {
        Ok(self
            .state()
            .blocklist
            .get(jti)
            .is_some_and(|exp| *exp > now_secs))
    }

    async fn throttle_attempt(
        &self,
        keys: &[ThrottleKey],
        now_ms: i64,
    ) -> StoreResult<Result<(), i64>> {
        let mut s = self.state();
        if s.throttle.len() > 100_000 {
            s.throttle
                .retain(|_, (_, last)| now_ms.saturating_sub(*last) < THROTTLE_WINDOW_MS);
        }
        let wait = keys
            .iter()
            .filter_map(|k| {
                let (count, last) = s.throttle.get(&k.key).copied()?;
                throttle_wait_ms(count, last, k.max, now_ms)
            })
            .max();
        if let Some(wait) = wait {
            return Ok(Err(wait));
        }
        for k in keys {
            let e = s.throttle.entry(k.key.clone()).or_insert((0, now_ms));
            if now_ms.saturating_sub(e.1) >= THROTTLE_WINDOW_MS {
                e.0 = 0;
            }
            e.0 = e.0.saturating_add(1);
            e.1 = now_ms;
        }
        Ok(Ok(()))
    }

    async fn throttle_success(&self, forget: &str, refund: &str) -> StoreResult<()> {
        let mut s = self.state();
        s.throttle.remove(forget);
        if let Some(e) = s.throttle.get_mut(refund) {
            e.0 = e.0.saturating_sub(1);
        }
        Ok(())
    }

    async fn record_proof(
        &self,
        jkt: &str,
        jti: &str,
        expires_at_secs: i64,
        now_secs: i64,
        quota: u32,
    ) -> StoreResult<ProofRecord> {
        let mut s = self.state();
        let cache = s
            .proofs
            .get_or_insert_with(|| MemoryReplayCache::new(PROOF_CAPACITY));
        Ok(cache.record(jkt, jti, expires_at_secs, now_secs, quota))
    }

    async fn throttle_clear(&self) -> StoreResult<()> {
        self.state().throttle.clear();
        Ok(())
    }
}

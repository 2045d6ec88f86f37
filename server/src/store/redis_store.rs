//! The shared store (`--store redis://HOST:PORT`, or `--store redis-cluster://HOST:PORT,...` for
//! a Redis Cluster): several instances behind one issuer.
//!
//! Keys (all under the prefix, `tokenwarden` by default). `{TAG}` is a family's tag (hex, see
//! [`crate::sessions`]): as a Redis Cluster hash tag it puts every key of one family in one slot,
//! so each script touches one slot and declares every key it touches in `KEYS`.
//! - `P:fam:{TAG}` hash `sub scope created last abs`, expiring at the family's deadline;
//! - `P:rt:{TAG}:HEX` hash `fam [used]` per token hash, expiring at the family's absolute
//!   deadline (so a rotated token is still recognised, and its reuse punished, while the family
//!   can live);
//! - `P:seal:{TAG}:HEX` the successor sealed with that token, only with a grace window, expiring
//!   when the window ends (a copy of Redis taken later holds no seal);
//! - `P:jti:JTI` blocklist entries, expiring with the access token;
//! - `P:throttle:KEY` login throttle counters, expiring after the throttle window;
//! - `P:dpop:{JKT}` DPoP's replay cache for one client key: a sorted set of the key's proof
//!   `jti`s scored by when each may be forgotten (seconds), expiring with the last of them.
//!
//! Rotation, reuse detection and throttling are Lua scripts: Redis runs each atomically, so
//! two instances racing on one token cannot both rotate it. A login's throttle counters (the
//! user's, the address's) live in different slots: each is checked, then each is counted, by a
//! script of one key.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{AsyncCommands, Cmd, Pipeline, RedisFuture, Script, Value};

use super::{
    Lifetimes, ProofRecord, Rejection, Rotation, Sealed, Store, StoreError, StoreResult,
    ThrottleKey, TokenHash, THROTTLE_WINDOW_MS,
};
use crate::sessions::family_of;
use crate::util::hex;

const ROTATE: &str = r"
-- KEYS[1] presented token, KEYS[2] successor token, KEYS[3] the presented token's seal,
-- KEYS[4] their family (one hash tag: one slot)
-- ARGV: now, idle_ms, grace_ms, sealed (empty without a grace window), the family's tag
local now, idle, grace = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('HMGET', KEYS[1], 'fam', 'used')
if not t[1] or t[1] ~= ARGV[5] then return {'unknown'} end
local fkey = KEYS[4]
local f = redis.call('HMGET', fkey, 'sub', 'scope', 'last', 'abs')
if not f[1] then return {'unknown'} end
local last, abs = tonumber(f[3]), tonumber(f[4])
if now >= abs or now >= last + idle then
  redis.call('DEL', fkey)
  return {'expired'}
end
if t[2] then
  local sealed = redis.call('GET', KEYS[3])
  if grace > 0 and now - tonumber(t[2]) <= grace and sealed then
    return {'replayed', f[1], f[2], sealed}
  end
  redis.call('DEL', fkey)
  return {'reuse'}
end
redis.call('HSET', KEYS[1], 'used', now)
if grace > 0 and #ARGV[4] > 0 then
  redis.call('SET', KEYS[3], ARGV[4], 'PX', grace)
end
redis.call('HSET', KEYS[2], 'fam', t[1])
redis.call('PEXPIRE', KEYS[2], abs - now)
redis.call('HSET', fkey, 'last', now)
redis.call('PEXPIRE', fkey, math.min(abs, now + idle) - now)
return {'rotated', f[1], f[2]}
";

const THROTTLE: &str = r"
-- KEYS[1] one counter; ARGV: now, window ms, max, count (1: count this attempt if it may go)
-- Returns how long the attempt must wait (0: it may go).
local now, window, max = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local v = redis.call('HMGET', KEYS[1], 'count', 'last')
local count, last = tonumber(v[1]) or 0, tonumber(v[2]) or 0
if count >= max and now - last < window then
  local untl = last + math.min(2 ^ math.min(count - max, 6), 60) * 1000
  if untl > now then return untl - now end
end
if ARGV[4] == '1' then
  redis.call('HINCRBY', KEYS[1], 'count', 1)
  redis.call('HSET', KEYS[1], 'last', now)
  redis.call('PEXPIRE', KEYS[1], window)
end
return 0
";

const REFUND: &str = r"
if redis.call('HINCRBY', KEYS[1], 'count', -1) < 0 then redis.call('HSET', KEYS[1], 'count', 0) end
return 0
";

const RECORD_PROOF: &str = r"
-- KEYS[1] the client key's proofs (jti -> until, seconds)
-- ARGV: jti, until, now, quota
local now = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 'replayed' end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 'over_quota' end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('EXPIRE', KEYS[1], math.max(1, tonumber(last[2]) - now + 1))
return 'fresh'
";

/// A connection to one Redis (reconnecting) or to a Redis Cluster (routing each command to its
/// key's slot).
#[derive(Clone)]
enum Con {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Con {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Con::Single(c) => c.req_packed_command(cmd),
            Con::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Con::Single(c) => c.req_packed_commands(cmd, offset, count),
            Con::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Con::Single(c) => c.get_db(),
            Con::Cluster(c) => c.get_db(),
        }
    }
}

/// Refresh families, blocklist, throttle and DPoP's replay cache in Redis.
pub struct RedisStore {
    source: Source,
    prefix: String,
    rotate: Script,
    throttle: Script,
    refund: Script,
    record_proof: Script,
}

/// Where connections come from. A Redis Cluster connection is made on first use (and again
/// after a failed attempt), so the server starts while the cluster is down, as with one Redis.
enum Source {
    Single(ConnectionManager),
    Cluster {
        client: Box<redis::cluster::ClusterClient>,
        con: tokio::sync::OnceCell<ClusterConnection>,
    },
}

fn redis_err(e: redis::RedisError) -> StoreError {
    // Kind and category only: messages can quote arguments.
    StoreError::new(format!("redis: {:?}", e.kind()))
}

impl RedisStore {
    /// Prepares a lazily connecting, self-reconnecting connection (the server starts even if
    /// Redis is down, and answers `503` until it is reachable).
    pub fn open(url: &str, prefix: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|_| "invalid Redis URL".to_string())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let con = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| format!("cannot set up the Redis connection: {:?}", e.kind()))?;
        Ok(Self::with(Source::Single(con), prefix))
    }

    /// A Redis Cluster reached through any of `nodes` (`redis://HOST:PORT` each): the client
    /// learns the rest of the cluster from them.
    pub fn open_cluster(nodes: &[String], prefix: &str) -> Result<Self, String> {
        let client = redis::cluster::ClusterClientBuilder::new(nodes.to_vec())
            .connection_timeout(Duration::from_millis(500))
            .response_timeout(Duration::from_secs(1))
            .retries(1)
            .build()
            .map_err(|_| "invalid Redis Cluster node URL".to_string())?;
        let con = tokio::sync::OnceCell::new();
        Ok(Self::with(
            Source::Cluster {
                client: Box::new(client),
                con,
            },
            prefix,
        ))
    }

    fn with(source: Source, prefix: &str) -> Self {
        RedisStore {
            source,
            prefix: prefix.to_string(),
            rotate: Script::new(ROTATE),
            throttle: Script::new(THROTTLE),
            refund: Script::new(REFUND),
            record_proof: Script::new(RECORD_PROOF),
        }
    }

    async fn con(&self) -> StoreResult<Con> {
        match &self.source {
            Source::Single(con) => Ok(Con::Single(con.clone())),
            Source::Cluster { client, con } => con
                .get_or_try_init(|| client.get_async_connection())
                .await
                .map(|c| Con::Cluster(c.clone()))
                .map_err(redis_err),
        }
    }

    /// `{TAG}`, the hash tag of a token's family.
    fn tag(hash: &TokenHash) -> String {
        hex(family_of(hash))
    }

    fn token_key(&self, hash: &TokenHash) -> String {
        format!("{}:rt:{{{}}}:{}", self.prefix, Self::tag(hash), hex(hash))
    }

    fn seal_key(&self, hash: &TokenHash) -> String {
        format!("{}:seal:{{{}}}:{}", self.prefix, Self::tag(hash), hex(hash))
    }

    fn family_key(&self, hash: &TokenHash) -> String {
        format!("{}:fam:{{{}}}", self.prefix, Self::tag(hash))
    }

    fn throttle_key(&self, key: &str) -> String {
        format!("{}:throttle:{key}", self.prefix)
    }

    /// Every key matching `pattern`: SCAN on one Redis; on a cluster, KEYS on every primary
    /// (the client sends it to each and joins the answers). For the test hooks and statistics,
    /// not for requests.
    async fn keys(&self, pattern: String) -> StoreResult<Vec<String>> {
        let mut con = self.con().await?;
        if let Con::Cluster(_) = con {
            return redis::cmd("KEYS")
                .arg(pattern)
                .query_async(&mut con)
                .await
                .map_err(redis_err);
        }
        let mut iter = con
            .scan_match::<_, String>(pattern)
            .await
            .map_err(redis_err)?;
        let mut keys = Vec::new();
        while let Some(k) = iter.next_item().await {
            keys.push(k.map_err(redis_err)?);
        }
        Ok(keys)
    }

    /// Deletes `keys` one by one (on a cluster they live in different slots).
    async fn delete(&self, keys: Vec<String>) -> StoreResult<u64> {
        let mut con = self.con().await?;
        let mut n = 0;
        for key in keys {
            let deleted: u64 = con.del(key).await.map_err(redis_err)?;
            n += deleted;
        }
        Ok(n)
    }

    async fn family_keys(&self) -> StoreResult<Vec<String>> {
        self.keys(format!("{}:fam:*", self.prefix)).await
    }
}

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

impl Store for RedisStore {
    async fn create_family(
        &self,
        token: TokenHash,
        sub: &str,
        scope: &str,
        now_ms: i64,
        lt: Lifetimes,
    ) -> StoreResult<()> {
        let id = Self::tag(&token);
        let fkey = self.family_key(&token);
        let abs = now_ms.saturating_add(lt.absolute_ms);
        let mut con = self.con().await?;
        redis::pipe()
            .atomic()
            .hset_multiple(
                &fkey,
                &[
                    ("sub", sub.to_string()),
                    ("scope", scope.to_string()),
                    ("created", now_ms.to_string()),
                    ("last", now_ms.to_string()),
                    ("abs", abs.to_string()),
                ],
            )
            .pexpire(&fkey, lt.deadline(now_ms, now_ms) - now_ms)
            .hset(self.token_key(&token), "fam", &id)
            .pexpire(self.token_key(&token), lt.absolute_ms)
            .exec_async(&mut con)
            .await
            .map_err(redis_err)
    }

    async fn rotate(
        &self,
        presented: TokenHash,
        successor: TokenHash,
        sealed: Option<Sealed>,
        now_ms: i64,
        lt: Lifetimes,
    ) -> StoreResult<Result<Rotation, Rejection>> {
        let mut con = self.con().await?;
        let sealed = sealed.filter(|_| lt.grace_ms > 0);
        let reply: Vec<Vec<u8>> = self
            .rotate
            .key(self.token_key(&presented))
            .key(self.token_key(&successor))
            .key(self.seal_key(&presented))
            .key(self.family_key(&presented))
            .arg(now_ms)
            .arg(lt.idle_ms)
            .arg(lt.grace_ms)
            .arg(sealed.as_ref().map_or(&[][..], |s| &s[..]))
            .arg(Self::tag(&presented))
            .invoke_async(&mut con)
            .await
            .map_err(redis_err)?;
        let bad = || StoreError::new("redis: unexpected script reply");
        let verdict = reply.first().ok_or_else(bad)?.as_slice();
        Ok(match (verdict, reply.get(1), reply.get(2)) {
            (b"rotated", Some(sub), Some(scope)) => Ok(Rotation::Rotated {
                sub: text(sub),
                scope: text(scope),
            }),
            (b"replayed", Some(sub), Some(scope)) => {
                let sealed_successor = reply
                    .get(3)
                    .and_then(|s| <Sealed>::try_from(s.as_slice()).ok())
                    .ok_or_else(bad)?;
                Ok(Rotation::Replayed {
                    sub: text(sub),
                    scope: text(scope),
                    sealed_successor,
                })
            }
            (b"unknown", ..) => Err(Rejection::Unknown),
            (b"expired", ..) => Err(Rejection::Expired),
            (b"reuse", ..) => Err(Rejection::ReuseDetected),
            _ => return Err(bad()),
        })
    }

    async fn forget_seals(&self, _now_ms: i64, _lt: Lifetimes) -> StoreResult<u64> {
        // Each seal expires by itself when its window ends (`PX grace_ms`).
        Ok(0)
    }

    async fn revoke_family_of(&self, token: TokenHash) -> StoreResult<bool> {
        let mut con = self.con().await?;
        let family: Option<String> = con
            .hget(self.token_key(&token), "fam")
            .await
            .map_err(redis_err)?;
        if family.is_none() {
            return Ok(false);
        }
        let n: u64 = con.del(self.family_key(&token)).await.map_err(redis_err)?;
        Ok(n > 0)
    }

    async fn revoke_all(&self) -> StoreResult<u64> {
        let keys = self.family_keys().await?;
        self.delete(keys).await
    }

    async fn active_families(&self, now_ms: i64, lt: Lifetimes) -> StoreResult<u64> {
        let mut con = self.con().await?;
        let mut n = 0;
        for key in self.family_keys().await? {
            let (created, last): (Option<i64>, Option<i64>) = redis::cmd("HMGET")
                .arg(&key)
                .arg("created")
                .arg("last")
                .query_async(&mut con)
                .await
                .map_err(redis_err)?;
            if let (Some(created), Some(last)) = (created, last) {
                n += u64::from(now_ms < lt.deadline(created, last));
            }
        }
        Ok(n)
    }

    async fn block_jti(&self, jti: &str, exp_secs: i64, now_secs: i64) -> StoreResult<()> {
        let ttl = exp_secs.saturating_sub(now_secs);
        if ttl <= 0 {
            return Ok(());
        }
        let mut con = self.con().await?;
        con.set_ex(format!("{}:jti:{jti}", self.prefix), 1u8, ttl as u64)
            .await
            .map_err(redis_err)
    }

    async fn is_blocked(&self, jti: &str, _now_secs: i64) -> StoreResult<bool> {
        let mut con = self.con().await?;
        con.exists(format!("{}:jti:{jti}", self.prefix))
            .await
            .map_err(redis_err)
    }

    async fn throttle_attempt(
        &self,
        keys: &[ThrottleKey],
        now_ms: i64,
    ) -> StoreResult<Result<(), i64>> {
        // Each counter has its own slot: all are checked, then all are counted (each step
        // atomic; two logins racing between the steps can both be counted, never neither).
        let mut con = self.con().await?;
        let mut wait = 0;
        for count in [false, true] {
            for k in keys {
                let w: i64 = self
                    .throttle
                    .key(self.throttle_key(&k.key))
                    .arg(now_ms)
                    .arg(THROTTLE_WINDOW_MS)
                    .arg(k.max)
                    .arg(if count { "1" } else { "0" })
                    .invoke_async(&mut con)
                    .await
                    .map_err(redis_err)?;
                wait = wait.max(w);
            }
            if wait > 0 {
                return Ok(Err(wait));
            }
        }
        Ok(Ok(()))
    }

    async fn throttle_success(&self, forget: &str, refund: &str) -> StoreResult<()> {
        let mut con = self.con().await?;
        let _: u64 = con
            .del(self.throttle_key(forget))
            .await
            .map_err(redis_err)?;
        self.refund
            .key(self.throttle_key(refund))
            .invoke_async::<i64>(&mut con)
            .await
            .map(|_| ())
            .map_err(redis_err)
    }

    async fn record_proof(
        &self,
        jkt: &str,
        jti: &str,
        expires_at_secs: i64,
        now_secs: i64,
        quota: u32,
    ) -> StoreResult<ProofRecord> {
        let mut con = self.con().await?;
        // One key per client key, its hash tag the thumbprint (one Cluster slot).
        let answer: String = self
            .record_proof
            .key(format!("{}:dpop:{{{jkt}}}", self.prefix))
            .arg(jti)
            .arg(expires_at_secs)
            .arg(now_secs)
            .arg(quota)
            .invoke_async(&mut con)
            .await
            .map_err(redis_err)?;
        match answer.as_str() {
            "fresh" => Ok(ProofRecord::Fresh),
            "replayed" => Ok(ProofRecord::Replayed),
            "over_quota" => Ok(ProofRecord::OverQuota),
            _ => Err(StoreError::new("redis: unexpected answer")),
        }
    }

    async fn throttle_clear(&self) -> StoreResult<()> {
        let keys = self.keys(format!("{}:throttle:*", self.prefix)).await?;
        self.delete(keys).await.map(|_| ())
    }
}

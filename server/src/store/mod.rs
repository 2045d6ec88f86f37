//! Where refresh-token families, the `jti` blocklist, the login throttle and DPoP's replay
//! cache live.
//!
//! [`Store`] is the contract; [`MemoryStore`] (one process, the demo), [`SqliteStore`] (one
//! instance that survives restarts) and [`RedisStore`] (several instances behind one issuer)
//! implement it, and [`AnyStore`] picks one at start-up from `--store`. Every operation that
//! decides something (rotation, reuse detection, throttling) is atomic inside the store: a
//! mutex, an `IMMEDIATE` SQLite transaction, or a Lua script in Redis, never read-then-write
//! from the server.
//!
//! Refresh tokens never reach a store: only their SHA-256 ([`TokenHash`]), and, only while a
//! reuse-grace window is open (`--reuse-grace-ms` above 0), the successor sealed with the
//! presented token (see [`crate::sessions`]), which only the holder of the presented token can
//! open. Seals are erased when their window ends ([`Store::forget_seals`], or a Redis expiry),
//! so a copy of a store holds no sealed successor older than the window.

use std::fmt;
use std::future::Future;
use std::time::Duration;

mod memory;
mod redis_store;
mod sqlite;

pub use memory::MemoryStore;
pub use redis_store::RedisStore;
pub use sqlite::SqliteStore;
pub use tokenwarden::core::dpop::ProofRecord;

/// SHA-256 of a refresh token.
pub type TokenHash = [u8; 32];

/// A successor token sealed with the token it replaces.
pub type Sealed = [u8; 32];

/// Lifetimes of a refresh-token family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// Absolute lifetime of a family, from login.
    pub absolute_ms: i64,
    /// Idle lifetime: maximum time between two uses.
    pub idle_ms: i64,
    /// Re-presenting a token rotated at most this long ago returns the same successor.
    pub grace_ms: i64,
}

impl Lifetimes {
    /// When a family created at `created_ms` and last used at `last_used_ms` dies.
    pub fn deadline(&self, created_ms: i64, last_used_ms: i64) -> i64 {
        created_ms
            .saturating_add(self.absolute_ms)
            .min(last_used_ms.saturating_add(self.idle_ms))
    }
}

/// What a successful [`Store::rotate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The presented token was the live one; the successor given to `rotate` is now live.
    Rotated {
        /// Subject of the family.
        sub: String,
        /// Scope of the family.
        scope: String,
    },
    /// The presented token had been rotated inside the grace window: here is the successor it
    /// got then (sealed with the presented token); nothing changed.
    Replayed {
        /// Subject of the family.
        sub: String,
        /// Scope of the family.
        scope: String,
        /// The earlier successor, sealed.
        sealed_successor: Sealed,
    },
}

/// Why a refresh was refused (all answer `400 invalid_grant`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Unknown, revoked or never-issued token.
    Unknown,
    /// The family's absolute or idle lifetime is over (the family is gone now).
    Expired,
    /// An already-rotated token was presented outside the grace window: the family is revoked.
    ReuseDetected,
}

/// The store could not answer (Redis down, disk error, timeout). Handlers answer `503` with
/// `Retry-After`, never a verdict on the token.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreError(String);

impl StoreError {
    /// Wraps a description (must not contain tokens or keys).
    pub fn new(msg: impl Into<String>) -> Self {
        StoreError(msg.into())
    }
}

impl fmt::Debug for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreError({})", self.0)
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store unavailable: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// One counter of the login throttle and how many attempts it allows before backing off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleKey {
    /// E.g. `user:demo@127.0.0.1` or `ip:127.0.0.1`.
    pub key: String,
    /// Attempts allowed before each further one waits 1, 2, 4 ... 60 s.
    pub max: u32,
}

/// How long a throttle counter is remembered after its last attempt.
pub const THROTTLE_WINDOW_MS: i64 = 15 * 60 * 1000;

/// The throttle rule, shared by every store: `Some(ms to wait)` if a counter at `count`
/// attempts (the last at `last_ms`) refuses another attempt at `now_ms`.
pub fn throttle_wait_ms(count: u32, last_ms: i64, max: u32, now_ms: i64) -> Option<i64> {
    if count < max || now_ms.saturating_sub(last_ms) >= THROTTLE_WINDOW_MS {
        return None;
    }
    let backoff_secs = 1i64 << (count - max).min(6);
    let until = last_ms.saturating_add(backoff_secs.min(60) * 1000);
    (until > now_ms).then(|| until - now_ms)
}

/// The contract every store meets (the same suite, `tests/stores.rs`, runs against all three).
pub trait Store: Send + Sync {
    /// Starts a family whose first (live) token hashes to `token`.
    fn create_family(
        &self,
        token: TokenHash,
        sub: &str,
        scope: &str,
        now_ms: i64,
        lt: Lifetimes,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Atomically: if `presented` is live, marks it used, remembers `sealed` (given only when
    /// `lt.grace_ms > 0`, kept at most for the window) and makes `successor` live; if it was
    /// rotated inside the grace window, returns the earlier successor; if it was rotated
    /// before that (or its seal is gone), revokes the family. Expired families die.
    fn rotate(
        &self,
        presented: TokenHash,
        successor: TokenHash,
        sealed: Option<Sealed>,
        now_ms: i64,
        lt: Lifetimes,
    ) -> impl Future<Output = StoreResult<Result<Rotation, Rejection>>> + Send;

    /// Erases every sealed successor whose grace window ended before `now_ms`; returns how
    /// many. The server calls it periodically while `lt.grace_ms > 0` (Redis seals expire on
    /// their own, so it erases nothing there).
    fn forget_seals(
        &self,
        now_ms: i64,
        lt: Lifetimes,
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Revokes the family `token` belongs to; true if there was a live one.
    fn revoke_family_of(&self, token: TokenHash) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Revokes every family (test hook); returns how many there were.
    fn revoke_all(&self) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Families still usable at `now_ms`.
    fn active_families(
        &self,
        now_ms: i64,
        lt: Lifetimes,
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Blocklists an access token's `jti` until `exp` (seconds).
    fn block_jti(
        &self,
        jti: &str,
        exp_secs: i64,
        now_secs: i64,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Whether a `jti` is blocklisted at `now_secs`.
    fn is_blocked(
        &self,
        jti: &str,
        now_secs: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Counts a login attempt on every key at once, before the password is checked; refuses
    /// it (counting nothing) with the longest wait in ms if any key is backing off.
    fn throttle_attempt(
        &self,
        keys: &[ThrottleKey],
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<Result<(), i64>>> + Send;

    /// After a successful login: forgets `forget` and gives one attempt back to `refund`.
    fn throttle_success(
        &self,
        forget: &str,
        refund: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Forgets every throttle counter (test hook `reset`).
    fn throttle_clear(&self) -> impl Future<Output = StoreResult<()>> + Send;

    /// DPoP's replay cache, shared by every instance: atomically, unless `jti` is recorded
    /// for `jkt` and unexpired at `now_secs` ([`ProofRecord::Replayed`]) or `jkt` already has
    /// `quota` unexpired `jti`s ([`ProofRecord::OverQuota`]), records it until
    /// `expires_at_secs` ([`ProofRecord::Fresh`]). Expired entries go by themselves.
    fn record_proof(
        &self,
        jkt: &str,
        jti: &str,
        expires_at_secs: i64,
        now_secs: i64,
        quota: u32,
    ) -> impl Future<Output = StoreResult<ProofRecord>> + Send;
}

/// The store chosen by `--store`.
pub enum AnyStore {
    /// `memory`.
    Memory(MemoryStore),
    /// `sqlite:PATH`.
    Sqlite(SqliteStore),
    /// `redis://HOST:PORT`.
    Redis(RedisStore),
}

/// Parsed `--store` value.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum StoreSpec {
    /// In process memory (lost at exit).
    #[default]
    Memory,
    /// A SQLite database file (created if missing).
    Sqlite(std::path::PathBuf),
    /// A Redis server URL (or a Redis Cluster's nodes) and the prefix of every key.
    Redis {
        /// `redis://HOST:PORT[/DB]`, or `redis-cluster://HOST:PORT,HOST:PORT,...` (credentials,
        /// if any, once before the first host: they apply to every node).
        url: String,
        /// Key prefix (namespace), e.g. `tokenwarden`.
        prefix: String,
    },
}

impl fmt::Debug for StoreSpec {
    /// Never prints a Redis password (`redis://user:password@host`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreSpec::Memory => f.write_str("Memory"),
            StoreSpec::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            StoreSpec::Redis { url, prefix } => {
                let shown = match url
                    .split_once("://")
                    .and_then(|(_, rest)| rest.split_once('@'))
                {
                    Some((_, host)) => {
                        let scheme = url.split_once("://").map_or("redis", |(s, _)| s);
                        format!("{scheme}://<credentials>@{host}")
                    }
                    None => url.clone(),
                };
                f.debug_struct("Redis")
                    .field("url", &shown)
                    .field("prefix", prefix)
                    .finish()
            }
        }
    }
}

/// Default prefix of Redis keys.
pub const DEFAULT_REDIS_PREFIX: &str = "tokenwarden";

impl StoreSpec {
    /// Parses `memory`, `sqlite:PATH`, `redis://HOST:PORT[/DB]` or
    /// `redis-cluster://HOST:PORT,HOST:PORT,...`.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.starts_with("redis-cluster://") {
            cluster_nodes(s)?;
            return Ok(StoreSpec::Redis {
                url: s.to_string(),
                prefix: DEFAULT_REDIS_PREFIX.into(),
            });
        }
        if s == "memory" {
            return Ok(StoreSpec::Memory);
        }
        if let Some(path) = s.strip_prefix("sqlite:") {
            if path.is_empty() {
                return Err("--store sqlite:PATH needs a path".into());
            }
            return Ok(StoreSpec::Sqlite(path.into()));
        }
        if s.starts_with("redis://") {
            redis::Client::open(s).map_err(|_| format!("--store {s:?} is not a Redis URL"))?;
            return Ok(StoreSpec::Redis {
                url: s.to_string(),
                prefix: DEFAULT_REDIS_PREFIX.into(),
            });
        }
        Err(format!(
            "unknown store {s:?} (expected memory, sqlite:PATH, redis://HOST:PORT or \
             redis-cluster://HOST:PORT,HOST:PORT,...)"
        ))
    }
}

/// The node URLs (`redis://[CREDENTIALS@]HOST:PORT`) of a `redis-cluster://` store URL.
fn cluster_nodes(url: &str) -> Result<Vec<String>, String> {
    let refuse = || "--store redis-cluster:// needs HOST:PORT[,HOST:PORT...]".to_string();
    let rest = url.strip_prefix("redis-cluster://").ok_or_else(refuse)?;
    let (credentials, hosts) = match rest.rsplit_once('@') {
        Some((c, h)) => (format!("{c}@"), h),
        None => (String::new(), rest),
    };
    let nodes: Vec<String> = hosts
        .split(',')
        .map(|host| format!("redis://{credentials}{host}"))
        .collect();
    for (node, host) in nodes.iter().zip(hosts.split(',')) {
        if host.is_empty() || host.contains('/') || redis::Client::open(node.as_str()).is_err() {
            return Err(refuse());
        }
    }
    Ok(nodes)
}

/// Bound on every store operation: past it the request gets `503`.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(2);

impl AnyStore {
    /// Opens the store (SQLite: creates the schema; Redis: connects lazily, so a server whose
    /// Redis is down starts and answers `503` until it is back).
    pub fn open(spec: &StoreSpec) -> Result<Self, String> {
        Ok(match spec {
            StoreSpec::Memory => AnyStore::Memory(MemoryStore::default()),
            StoreSpec::Sqlite(path) => AnyStore::Sqlite(SqliteStore::open(path)?),
            StoreSpec::Redis { url, prefix } if url.starts_with("redis-cluster://") => {
                AnyStore::Redis(RedisStore::open_cluster(&cluster_nodes(url)?, prefix)?)
            }
            StoreSpec::Redis { url, prefix } => AnyStore::Redis(RedisStore::open(url, prefix)?),
        })
    }

    /// `memory`, `sqlite` or `redis`.
    pub fn kind(&self) -> &'static str {
        match self {
            AnyStore::Memory(_) => "memory",
            AnyStore::Sqlite(_) => "sqlite",
            AnyStore::Redis(_) => "redis",
        }
    }
}

/// Runs `$call` on whichever store this is, bounded by [`STORE_TIMEOUT`].
macro_rules! dispatch {
    ($self:ident, $s:ident => $call:expr) => {{
        let fut = async {
            match $self {
                AnyStore::Memory($s) => $call.await,
                AnyStore::Sqlite($s) => $call.await,
                AnyStore::Redis($s) => $call.await,
            }
        };
        match tokio::time::timeout(STORE_TIMEOUT, fut).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::new("timed out")),
        }
    }};
}

impl Store for AnyStore {
    async fn create_family(
        &self,
        token: TokenHash,
        sub: &str,
        scope: &str,
        now_ms: i64,
        lt: Lifetimes,
    ) -> StoreResult<()> {
        dispatch!(self, s => s.create_family(token, sub, scope, now_ms, lt))
    }

    async fn rotate(
        &self,
        presented: TokenHash,
        successor: TokenHash,
        sealed: Option<Sealed>,
        now_ms: i64,
        lt: Lifetimes,
    ) -> StoreResult<Result<Rotation, Rejection>> {
        dispatch!(self, s => s.rotate(presented, successor, sealed, now_ms, lt))
    }

    async fn forget_seals(&self, now_ms: i64, lt: Lifetimes) -> StoreResult<u64> {
        dispatch!(self, s => s.forget_seals(now_ms, lt))
    }

    async fn revoke_family_of(&self, token: TokenHash) -> StoreResult<bool> {
        dispatch!(self, s => s.revoke_family_of(token))
    }

    async fn revoke_all(&self) -> StoreResult<u64> {
        dispatch!(self, s => s.revoke_all())
    }

    async fn active_families(&self, now_ms: i64, lt: Lifetimes) -> StoreResult<u64> {
        dispatch!(self, s => s.active_families(now_ms, lt))
    }

    async fn block_jti(&self, jti: &str, exp_secs: i64, now_secs: i64) -> StoreResult<()> {
        dispatch!(self, s => s.block_jti(jti, exp_secs, now_secs))
    }

    async fn is_blocked(&self, jti: &str, now_secs: i64) -> StoreResult<bool> {
        dispatch!(self, s => s.is_blocked(jti, now_secs))
    }

    async fn throttle_attempt(
        &self,
        keys: &[ThrottleKey],
        now_ms: i64,
    ) -> StoreResult<Result<(), i64>> {
        dispatch!(self, s => s.throttle_attempt(keys, now_ms))
    }

    async fn throttle_success(&self, forget: &str, refund: &str) -> StoreResult<()> {
        dispatch!(self, s => s.throttle_success(forget, refund))
    }

    async fn throttle_clear(&self) -> StoreResult<()> {
        dispatch!(self, s => s.throttle_clear())
    }

    async fn record_proof(
        &self,
        jkt: &str,
        jti: &str,
        expires_at_secs: i64,
        now_secs: i64,
        quota: u32,
    ) -> StoreResult<ProofRecord> {
        dispatch!(self, s => s.record_proof(jkt, jti, expires_at_secs, now_secs, quota))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_rule() {
        assert_eq!(throttle_wait_ms(4, 0, 5, 0), None);
        assert_eq!(throttle_wait_ms(5, 0, 5, 0), Some(1000));
        assert_eq!(throttle_wait_ms(5, 0, 5, 1000), None);
        assert_eq!(throttle_wait_ms(6, 0, 5, 500), Some(1500));
        assert_eq!(throttle_wait_ms(60, 0, 5, 0), Some(60_000));
        assert_eq!(throttle_wait_ms(60, 0, 5, THROTTLE_WINDOW_MS), None);
    }

    #[test]
    fn store_specs() {
        assert_eq!(StoreSpec::parse("memory"), Ok(StoreSpec::Memory));
        assert_eq!(
            StoreSpec::parse("sqlite:/tmp/x.db"),
            Ok(StoreSpec::Sqlite("/tmp/x.db".into()))
        );
        assert!(matches!(
            StoreSpec::parse("redis://127.0.0.1:6379"),
            Ok(StoreSpec::Redis { .. })
        ));
        assert!(matches!(
            StoreSpec::parse("redis-cluster://127.0.0.1:7000,127.0.0.1:7001"),
            Ok(StoreSpec::Redis { .. })
        ));
        assert_eq!(
            cluster_nodes("redis-cluster://u:p@10.0.0.1:7000,10.0.0.2:7000").unwrap(),
            ["redis://u:p@10.0.0.1:7000", "redis://u:p@10.0.0.2:7000"]
        );
        let shown = format!(
            "{:?}",
            StoreSpec::parse("redis-cluster://u:hunter2@10.0.0.1:7000").unwrap()
        );
        assert!(
            !shown.contains("hunter2") && shown.contains("redis-cluster://"),
            "{shown}"
        );
        for bad in [
            "",
            "sqlite:",
            "postgres://x",
            "redis",
            "mem",
            "redis-cluster://",
            "redis-cluster://a:1,,b:2",
            "redis-cluster://a:1/0",
        ] {
            assert!(StoreSpec::parse(bad).is_err(), "{bad}");
        }
        let with_password = StoreSpec::parse("redis://user:hunter2@10.0.0.1:6379").unwrap();
        let shown = format!("{with_password:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("10.0.0.1:6379"),
            "{shown}"
        );
    }
}

//! Shared server state: configuration, keys, users, the store, test-hook knobs and counters.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokenwarden::{Algorithm, Verifier};

use crate::config::{Config, RefreshTransport, SigningAlg};
use crate::keys::KeyRing;
use crate::store::{AnyStore, Lifetimes, Store, StoreResult};
use crate::users::Users;

/// Fault injected into the next `remaining` refresh requests (`POST /__test/faults`).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct FaultPlan {
    /// How many more refresh requests are affected.
    pub remaining: u32,
    /// Answer with this status (JSON `{"error": ...}`).
    pub status: Option<u16>,
    /// `Retry-After` seconds on the injected answer.
    pub retry_after: Option<u64>,
    /// Wait this long before answering (or before processing normally).
    pub delay_ms: u64,
    /// Close the connection without any response.
    pub drop: bool,
    /// Answer `200` with a body that is not valid JSON.
    pub malformed: bool,
}

/// `GET /__test/stats` body; fields serialize in this order.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub logins: u64,
    pub refreshes: u64,
    pub rotations: u64,
    pub reuse_detected: u64,
    pub revocations: u64,
    pub api_requests: u64,
    pub api_unauthorized: u64,
    pub active_families: u64,
}

/// Counters reported by `GET /__test/stats`.
#[derive(Default)]
pub struct Stats {
    pub logins: AtomicU64,
    pub refreshes: AtomicU64,
    pub rotations: AtomicU64,
    pub reuse_detected: AtomicU64,
    pub revocations: AtomicU64,
    pub api_requests: AtomicU64,
    pub api_unauthorized: AtomicU64,
    /// Password hashes running now.
    pub password_hashes_now: AtomicU64,
    /// Most password hashes running at once since start (or the last reset).
    pub password_hashes_peak: AtomicU64,
}

impl Stats {
    /// Adds one.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn reset(&self) {
        for c in [
            &self.logins,
            &self.refreshes,
            &self.rotations,
            &self.reuse_detected,
            &self.revocations,
            &self.api_requests,
            &self.api_unauthorized,
            &self.password_hashes_peak,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// Everything the handlers share.
pub struct Inner {
    /// The configuration as given.
    pub config: Config,
    /// Resolved issuer.
    pub issuer: String,
    /// Whether the cookies carry `Secure` and the `__Host-` names ([`crate::auth::cookie_names`]).
    pub cookie_secure: bool,
    /// Signing keys and the published JWKS.
    pub keys: RwLock<KeyRing>,
    /// Bearer-token verifier (tokenwarden core), pinned to our algorithm, issuer, audience.
    pub verifier: Verifier,
    /// The external issuer whose access tokens are accepted too (`--trust-issuer`).
    pub trusted: Option<Arc<crate::trust::TrustedIssuer>>,
    /// Demo users.
    pub users: Users,
    /// Refresh-token families, the `jti` blocklist and the login throttle.
    pub store: AnyStore,
    /// Bounds how many Argon2 hashes (19 MiB each by default) run at once.
    pub hashing: tokio::sync::Semaphore,
    /// Host headers this server answers to (`host[:port]`, lower case).
    pub allowed_hosts: Vec<String>,
    /// Injected refresh faults.
    pub faults: Mutex<FaultPlan>,
    /// Test clock offset, seconds.
    pub clock_offset_secs: AtomicI64,
    /// Counters.
    pub stats: Stats,
    /// DPoP proofs, nonce and counters (`--dpop`).
    pub dpop: Option<crate::dpop::Dpop>,
}

/// Cheaply clonable handle on the state.
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl AppState {
    /// Builds the state for a server bound at `local_addr`: generates the signing key and
    /// hashes the demo passwords (blocking; call it from a blocking context if that matters).
    pub fn new(config: Config, local_addr: SocketAddr) -> Result<Self, String> {
        if config.access_ttl_secs == 0
            || config.refresh_ttl_secs == 0
            || config.refresh_idle_secs == 0
        {
            return Err("lifetimes must be at least 1 second".into());
        }
        let issuer = match &config.issuer {
            Some(i) => i.clone(),
            None => {
                let ip = local_addr.ip();
                let host = if ip.is_unspecified() {
                    "127.0.0.1".to_string()
                } else if ip.is_ipv6() {
                    format!("[{ip}]")
                } else {
                    ip.to_string()
                };
                format!("http://{host}:{}", local_addr.port())
            }
        };
        // Browsers accept `Secure` (and `__Host-`) cookies from http://localhost and
        // http://127.0.0.1 (potentially trustworthy origins), so automatic means always.
        let cookie_secure = config.cookie_secure.unwrap_or(true);
        let keys = match &config.signing_key {
            Some(path) => KeyRing::from_file(path)?,
            None => KeyRing::new(config.alg)?,
        };
        let store = AnyStore::open(&config.store)?;
        let allowed_hosts = allowed_hosts(&config, &issuer, local_addr);
        let alg = match keys.alg() {
            SigningAlg::Es256 => Algorithm::Es256,
            SigningAlg::EdDsa => Algorithm::EdDsa,
            SigningAlg::Rs256 => Algorithm::Rs256,
        };
        let verifier = Verifier::builder()
            .algorithms([alg])
            .issuer(issuer.as_str())
            .audience(config.audience.as_str())
            .leeway_secs(0)
            .build();
        let trusted = config
            .trust_issuer
            .as_ref()
            .map(|(issuer, audience)| {
                crate::trust::TrustedIssuer::new(
                    issuer.clone(),
                    audience,
                    config.trust_ca.as_deref(),
                )
            })
            .transpose()?
            .map(Arc::new);
        let users = Users::new(&config.users, config.password_cost)?;
        let mut config = config;
        // The plain-text passwords are not needed any more.
        for u in &mut config.users {
            u.password.clear();
        }
        let dpop = match (config.dpop, config.dpop_nonce) {
            (false, _) => None,
            (true, false) => Some(crate::dpop::Dpop::new(None, config.dpop_quota)),
            (true, true) => {
                let key = crate::dpop::nonce_key(
                    config.dpop_nonce_key.as_deref(),
                    config.signing_key.as_deref(),
                )?;
                Some(crate::dpop::Dpop::new(Some(key), config.dpop_quota))
            }
        };
        Ok(AppState(Arc::new(Inner {
            config,
            issuer,
            cookie_secure,
            keys: RwLock::new(keys),
            verifier,
            trusted,
            users,
            store,
            hashing: tokio::sync::Semaphore::new(hashing_permits()),
            allowed_hosts,
            faults: Mutex::new(FaultPlan::default()),
            clock_offset_secs: AtomicI64::new(0),
            stats: Stats::default(),
            dpop,
        })))
    }

    /// Server clock (wall clock plus the test offset), ms since the epoch.
    pub fn now_ms(&self) -> i64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        real + self.clock_offset_secs.load(Ordering::Relaxed) * 1000
    }

    /// Server clock, seconds since the epoch.
    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Server clock as a `SystemTime` (for the `Date` header).
    pub fn now_system_time(&self) -> SystemTime {
        let ms = self.now_ms();
        if ms >= 0 {
            UNIX_EPOCH + Duration::from_millis(ms as u64)
        } else {
            UNIX_EPOCH
        }
    }

    /// Refresh-token lifetimes from the configuration.
    pub fn lifetimes(&self) -> Lifetimes {
        let c = &self.config;
        Lifetimes {
            absolute_ms: (c.refresh_ttl_secs as i64).saturating_mul(1000),
            idle_ms: (c.refresh_idle_secs as i64).saturating_mul(1000),
            grace_ms: c.reuse_grace_ms as i64,
        }
    }

    /// Whether refresh tokens travel in cookies.
    pub fn cookie_mode(&self) -> bool {
        self.config.refresh_transport == RefreshTransport::Cookie
    }

    /// Locks the fault plan.
    pub fn faults(&self) -> MutexGuard<'_, FaultPlan> {
        lock(&self.faults)
    }

    /// Reads the key ring.
    pub fn keys(&self) -> RwLockReadGuard<'_, KeyRing> {
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the key ring.
    pub fn keys_mut(&self) -> RwLockWriteGuard<'_, KeyRing> {
        self.keys.write().unwrap_or_else(|e| e.into_inner())
    }

    /// `POST /__test/reset`: faults, counters, clock and login throttle.
    pub async fn reset(&self) -> StoreResult<()> {
        *self.faults() = FaultPlan::default();
        self.stats.reset();
        self.clock_offset_secs.store(0, Ordering::Relaxed);
        self.store.throttle_clear().await
    }

    /// Takes one refresh fault, if any is pending.
    pub fn take_fault(&self) -> Option<FaultPlan> {
        let mut f = self.faults();
        if f.remaining == 0 {
            return None;
        }
        f.remaining -= 1;
        let one = FaultPlan {
            remaining: 1,
            ..f.clone()
        };
        if f.remaining == 0 {
            *f = FaultPlan::default();
        }
        Some(one)
    }

    /// The `GET /__test/stats` body.
    pub async fn stats_snapshot(&self) -> StoreResult<StatsSnapshot> {
        let active_families = self
            .store
            .active_families(self.now_ms(), self.lifetimes())
            .await?;
        let s = &self.stats;
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Ok(StatsSnapshot {
            logins: g(&s.logins),
            refreshes: g(&s.refreshes),
            rotations: g(&s.rotations),
            reuse_detected: g(&s.reuse_detected),
            revocations: g(&s.revocations),
            api_requests: g(&s.api_requests),
            api_unauthorized: g(&s.api_unauthorized),
            active_families,
        })
    }
}

/// How many password hashes may run at once: one per core (at least two).
pub fn hashing_permits() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2)
}

/// The `Host` values this server answers to: the issuer's authority, the bound address, the
/// loopback names when bound to loopback, and `--allow-host` (lower case). Anything else is a
/// misdirected request, e.g. DNS rebinding.
fn allowed_hosts(config: &Config, issuer: &str, local_addr: SocketAddr) -> Vec<String> {
    let port = local_addr.port();
    let mut hosts = vec![];
    if let Some(authority) = issuer
        .split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or(""))
        .filter(|a| !a.is_empty())
    {
        hosts.push(authority.to_ascii_lowercase());
        // The default port may be left out of `Host`.
        for (scheme, default) in [("http://", ":80"), ("https://", ":443")] {
            if let Some(bare) = issuer
                .starts_with(scheme)
                .then(|| authority.strip_suffix(default))
                .flatten()
            {
                hosts.push(bare.to_ascii_lowercase());
            }
        }
    }
    let ip = local_addr.ip();
    if ip.is_ipv6() {
        hosts.push(format!("[{ip}]:{port}"));
    } else {
        hosts.push(format!("{ip}:{port}"));
    }
    if ip.is_loopback() || ip.is_unspecified() {
        hosts.extend([
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
        ]);
    }
    hosts.extend(config.allow_hosts.iter().map(|h| h.to_ascii_lowercase()));
    hosts.sort();
    hosts.dedup();
    hosts
}

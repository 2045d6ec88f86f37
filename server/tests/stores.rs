//! The store contract: the same suite against the memory, SQLite and Redis stores (Redis: a
//! `redis-server` of the test's own on a loopback port, and a Redis Cluster of three primaries).

mod common;

use std::sync::Arc;

use common::{scratch_path, RedisCluster, RedisServer};
use tokenwarden_server::sessions::{hash, unseal, RefreshToken};
use tokenwarden_server::store::{
    Lifetimes, MemoryStore, RedisStore, Rejection, Rotation, SqliteStore, Store, ThrottleKey,
};

const LT: Lifetimes = Lifetimes {
    absolute_ms: 10_000,
    idle_ms: 5_000,
    grace_ms: 0,
};
const GRACE: Lifetimes = Lifetimes {
    grace_ms: 100,
    ..LT
};

/// Logs in at `now`; returns the first token.
async fn login<S: Store>(s: &S, now: i64, lt: Lifetimes) -> RefreshToken {
    let t = RefreshToken::generate();
    s.create_family(t.hash, "alice", "read write", now, lt)
        .await
        .unwrap();
    t
}

/// Rotates `presented` at `now`; returns the store's verdict and the successor offered.
async fn rotate<S: Store>(
    s: &S,
    presented: &RefreshToken,
    now: i64,
    lt: Lifetimes,
) -> (Result<Rotation, Rejection>, RefreshToken) {
    let next = RefreshToken::successor_of(&presented.token);
    let verdict = s
        .rotate(
            presented.hash,
            next.hash,
            Some(next.sealed_with(&presented.token)),
            now,
            lt,
        )
        .await
        .unwrap();
    (verdict, next)
}

async fn rotation_and_reuse<S: Store>(s: &S) {
    let a = login(s, 0, LT).await;
    let (v, b) = rotate(s, &a, 1, LT).await;
    assert_eq!(
        v,
        Ok(Rotation::Rotated {
            sub: "alice".into(),
            scope: "read write".into()
        })
    );
    let (v, _) = rotate(s, &b, 2, LT).await;
    assert!(matches!(v, Ok(Rotation::Rotated { .. })), "{v:?}");
    // `a` again: reuse, the family is revoked; its newest token is dead too.
    assert_eq!(rotate(s, &a, 3, LT).await.0, Err(Rejection::ReuseDetected));
    assert_eq!(rotate(s, &b, 4, LT).await.0, Err(Rejection::Unknown));
    assert_eq!(s.active_families(5, LT).await.unwrap(), 0);
    // Never issued.
    let stranger = RefreshToken::generate();
    assert_eq!(rotate(s, &stranger, 5, LT).await.0, Err(Rejection::Unknown));
}

async fn grace_returns_the_same_successor<S: Store>(s: &S) {
    let a = login(s, 0, GRACE).await;
    let (v, b) = rotate(s, &a, 10, GRACE).await;
    assert!(matches!(v, Ok(Rotation::Rotated { .. })));
    // Replay inside the window: the successor handed out before, not a new one.
    let (v, unused) = rotate(s, &a, 60, GRACE).await;
    let Ok(Rotation::Replayed {
        sealed_successor, ..
    }) = v
    else {
        panic!("{v:?}")
    };
    assert_eq!(unseal(sealed_successor, &a.token), b.token);
    assert_eq!(
        rotate(s, &unused, 61, GRACE).await.0,
        Err(Rejection::Unknown)
    );
    // The one chain goes on.
    let (v, c) = rotate(s, &b, 70, GRACE).await;
    assert!(matches!(v, Ok(Rotation::Rotated { .. })));
    // Outside the window: reuse, and the whole family (c included) dies.
    assert_eq!(
        rotate(s, &a, 500, GRACE).await.0,
        Err(Rejection::ReuseDetected)
    );
    assert_eq!(rotate(s, &c, 501, GRACE).await.0, Err(Rejection::Unknown));
}

async fn lifetimes<S: Store>(s: &S) {
    let a = login(s, 0, LT).await;
    assert_eq!(
        rotate(s, &a, 5_000, LT).await.0,
        Err(Rejection::Expired),
        "idle"
    );
    assert_eq!(rotate(s, &a, 5_001, LT).await.0, Err(Rejection::Unknown));
    let a = login(s, 0, LT).await;
    let (_, b) = rotate(s, &a, 4_000, LT).await;
    let (_, c) = rotate(s, &b, 8_000, LT).await;
    assert_eq!(s.active_families(9_999, LT).await.unwrap(), 1);
    assert_eq!(
        rotate(s, &c, 10_000, LT).await.0,
        Err(Rejection::Expired),
        "absolute"
    );
    assert_eq!(s.active_families(10_000, LT).await.unwrap(), 0);
}

async fn revocation<S: Store>(s: &S) {
    let a = login(s, 0, LT).await;
    let b = login(s, 0, LT).await;
    let c = login(s, 0, LT).await;
    assert!(s.revoke_family_of(a.hash).await.unwrap());
    assert!(!s.revoke_family_of(a.hash).await.unwrap());
    assert!(!s.revoke_family_of(hash("never issued")).await.unwrap());
    assert_eq!(rotate(s, &a, 1, LT).await.0, Err(Rejection::Unknown));
    assert_eq!(s.active_families(1, LT).await.unwrap(), 2);
    assert_eq!(s.revoke_all().await.unwrap(), 2);
    for t in [&b, &c] {
        assert_eq!(rotate(s, t, 2, LT).await.0, Err(Rejection::Unknown));
    }
}

async fn blocklist<S: Store>(s: &S) {
    s.block_jti("j1", 100, 50).await.unwrap();
    s.block_jti("expired", 40, 50).await.unwrap();
    assert!(s.is_blocked("j1", 50).await.unwrap());
    assert!(!s.is_blocked("j2", 50).await.unwrap());
    assert!(!s.is_blocked("expired", 50).await.unwrap());
}

async fn throttle<S: Store>(s: &S) {
    let keys = [
        ThrottleKey {
            key: "user:bob@10.0.0.1".into(),
            max: 3,
        },
        ThrottleKey {
            key: "ip:10.0.0.1".into(),
            max: 5,
        },
    ];
    for _ in 0..3 {
        assert_eq!(s.throttle_attempt(&keys, 0).await.unwrap(), Ok(()));
    }
    assert_eq!(s.throttle_attempt(&keys, 0).await.unwrap(), Err(1000));
    assert_eq!(s.throttle_attempt(&keys, 400).await.unwrap(), Err(600));
    assert_eq!(s.throttle_attempt(&keys, 1000).await.unwrap(), Ok(()));
    assert_eq!(s.throttle_attempt(&keys, 1000).await.unwrap(), Err(2000));
    // Another user from the same address counts against the address only.
    let other = [
        ThrottleKey {
            key: "user:carol@10.0.0.1".into(),
            max: 3,
        },
        keys[1].clone(),
    ];
    assert_eq!(s.throttle_attempt(&other, 1000).await.unwrap(), Ok(()));
    assert_eq!(
        s.throttle_attempt(&other, 1000).await.unwrap(),
        Err(1000),
        "address limit"
    );
    // A success forgets the user counter and refunds one address attempt.
    s.throttle_success(&keys[0].key, &keys[1].key)
        .await
        .unwrap();
    assert_eq!(s.throttle_attempt(&other, 2000).await.unwrap(), Ok(()));
    s.throttle_clear().await.unwrap();
    assert_eq!(s.throttle_attempt(&keys, 2000).await.unwrap(), Ok(()));
}

/// Twenty concurrent rotations of one token: exactly one wins, the family is then revoked.
async fn concurrent_rotation<S: Store + 'static>(s: Arc<S>) {
    let a = Arc::new(login(&*s, 0, LT).await);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (s, a) = (s.clone(), a.clone());
            tokio::spawn(async move { rotate(&*s, &a, 1, LT).await })
        })
        .collect();
    let mut winners = Vec::new();
    let mut reuse = 0;
    for t in tasks {
        match t.await.unwrap() {
            (Ok(Rotation::Rotated { .. }), next) => winners.push(next),
            (Err(Rejection::ReuseDetected), _) => reuse += 1,
            (Err(Rejection::Unknown), _) => {}
            other => panic!("{:?}", other.0),
        }
    }
    assert_eq!(winners.len(), 1);
    assert!(reuse >= 1);
    assert_eq!(
        rotate(&*s, &winners[0], 2, LT).await.0,
        Err(Rejection::Unknown)
    );
}

async fn contract<S: Store + 'static>(s: Arc<S>) {
    rotation_and_reuse(&*s).await;
    grace_returns_the_same_successor(&*s).await;
    lifetimes(&*s).await;
    revocation(&*s).await;
    blocklist(&*s).await;
    throttle(&*s).await;
    concurrent_rotation(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_meets_the_contract() {
    contract(Arc::new(MemoryStore::default())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_meets_the_contract() {
    let path = scratch_path("contract.db");
    contract(Arc::new(SqliteStore::open(&path).unwrap())).await;
    // WAL mode, and refresh tokens stored only hashed.
    let db = rusqlite::Connection::open(&path).unwrap();
    let mode: String = db
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let t = RefreshToken::generate();
    let s = SqliteStore::open(&path).unwrap();
    s.create_family(t.hash, "u", "read", 0, LT).await.unwrap();
    let raw = std::fs::read(&path).unwrap();
    let wal = std::fs::read(path.with_extension("db-wal")).unwrap_or_default();
    for bytes in [raw, wal] {
        assert!(!bytes
            .windows(t.token.len())
            .any(|w| w == t.token.as_bytes()));
    }
    drop(s);
    drop(db);
    for ext in ["db", "db-wal", "db-shm"] {
        let _ = std::fs::remove_file(path.with_extension(ext));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_store_meets_the_contract() {
    let redis = RedisServer::start();
    contract(Arc::new(
        RedisStore::open(&redis.url(), "contract").unwrap(),
    ))
    .await;
    // Keys are namespaced, blocklist entries expire, tokens are stored hashed.
    let store = RedisStore::open(&redis.url(), "ns1").unwrap();
    let t = RefreshToken::generate();
    store
        .create_family(t.hash, "u", "read", 0, LT)
        .await
        .unwrap();
    store.block_jti("jti-x", 1_000, 900).await.unwrap();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("ns1:*")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys.iter().all(|k| !k.contains(&t.token)));
    let ttl: i64 = redis::cmd("TTL")
        .arg("ns1:jti:jti-x")
        .query_async(&mut con)
        .await
        .unwrap();
    assert!((90..=100).contains(&ttl), "{ttl}");
    // Another namespace on the same Redis sees nothing of it.
    let other = RedisStore::open(&redis.url(), "ns2").unwrap();
    assert!(!other.is_blocked("jti-x", 900).await.unwrap());
    assert_eq!(other.active_families(1, LT).await.unwrap(), 0);
}

/// The same contract on a Redis Cluster of three primaries: every script touches one slot (a
/// script declaring keys of two slots is refused with `CROSSSLOT`), and the keys spread over
/// the nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_cluster_store_meets_the_contract() {
    let cluster = RedisCluster::start();
    let store = Arc::new(RedisStore::open_cluster(&cluster.node_urls(), "contract").unwrap());
    contract(store.clone()).await;
    for _ in 0..30 {
        let t = login(&*store, 0, LT).await;
        let (v, _) = rotate(&*store, &t, 1, LT).await;
        assert!(matches!(v, Ok(Rotation::Rotated { .. })), "{v:?}");
    }
    let spread = cluster.keys_per_node();
    assert!(spread.iter().all(|&n| n > 0), "{spread:?}");
    assert_eq!(store.active_families(2, LT).await.unwrap(), 30);
    assert_eq!(store.revoke_all().await.unwrap(), 30);
    assert_eq!(store.active_families(2, LT).await.unwrap(), 0);
}

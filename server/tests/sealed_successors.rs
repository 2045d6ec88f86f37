//! A copy of the store (the SQLite file, every Redis key) together with old refresh tokens
//! leads to no live token: without a reuse-grace window no sealed successor is ever stored,
//! and with one each seal is erased when its window ends. On the server before this, every
//! rotation kept its seal for the family's whole life, so the first refresh token and a copy
//! unsealed the chain up to the live token.

mod common;

use std::time::Duration;

use common::{client, login_request, scratch_path, test_config, RedisServer};
use reqwest::Client;
use serde_json::Value;
use tokenwarden_server::sessions::RefreshToken;
use tokenwarden_server::sessions::{hash, sealed_text, unseal};
use tokenwarden_server::store::{
    Lifetimes, MemoryStore, Rejection, Rotation, Sealed, SqliteStore, Store,
};
use tokenwarden_server::{spawn, Config, RefreshTransport, StoreSpec};

fn config(store: StoreSpec, grace_ms: u64) -> Config {
    Config {
        store,
        reuse_grace_ms: grace_ms,
        refresh_transport: RefreshTransport::Body,
        ..test_config()
    }
}

/// Logs in and refreshes three times: the four refresh tokens, oldest first.
async fn chain(c: &Client, base: &str) -> Vec<String> {
    let res = login_request(c, base, "demo", "demo-password")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let mut tokens = vec![body["refresh_token"].as_str().unwrap().to_string()];
    for _ in 0..3 {
        let res = refresh(c, base, tokens.last().unwrap()).await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        tokens.push(body["refresh_token"].as_str().unwrap().to_string());
    }
    tokens
}

async fn refresh(c: &Client, base: &str, token: &str) -> reqwest::Response {
    c.post(format!("{base}/auth/refresh"))
        .json(&serde_json::json!({ "refresh_token": token }))
        .send()
        .await
        .unwrap()
}

/// The attack: starting from the first token, open every seal in the copy with the token in
/// hand and follow the chain as long as an opened successor's hash is in the copy.
fn unseal_chain(first: &str, hashes: &[Vec<u8>], seals: &[Sealed]) -> Vec<String> {
    let mut found = Vec::new();
    let mut current = first.to_string();
    'next: loop {
        for sealed in seals {
            let candidate = unseal(*sealed, &current);
            if hashes.iter().any(|h| h[..] == hash(&candidate)[..]) && !found.contains(&candidate) {
                found.push(candidate.clone());
                current = candidate;
                continue 'next;
            }
        }
        return found;
    }
}

/// The seals the server would have stored for the chain's three rotations.
fn chain_seals(tokens: &[String]) -> Vec<Sealed> {
    tokens
        .windows(2)
        .map(|w| sealed_text(&w[1], &w[0]).unwrap())
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Copies the database (file and write-ahead log, as a backup or a thief would) and reads its
/// token hashes and non-empty seals; also returns the copied bytes.
fn copy_sqlite(path: &std::path::Path) -> (Vec<Vec<u8>>, Vec<Sealed>, Vec<u8>) {
    let copy = scratch_path("copy.db");
    let mut raw = std::fs::read(path).unwrap();
    std::fs::write(&copy, &raw).unwrap();
    if let Ok(wal) = std::fs::read(path.with_extension("db-wal")) {
        std::fs::write(copy.with_extension("db-wal"), &wal).unwrap();
        raw.extend(wal);
    }
    let db = rusqlite::Connection::open(&copy).unwrap();
    let mut stmt = db
        .prepare("SELECT hash, sealed FROM refresh_tokens")
        .unwrap();
    let rows: Vec<(Vec<u8>, Option<Vec<u8>>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let hashes = rows.iter().map(|(h, _)| h.clone()).collect();
    let seals = rows
        .iter()
        .filter_map(|(_, s)| s.as_deref().and_then(|s| Sealed::try_from(s).ok()))
        .collect();
    drop(stmt);
    drop(db);
    for ext in ["db", "db-wal", "db-shm"] {
        let _ = std::fs::remove_file(copy.with_extension(ext));
    }
    (hashes, seals, raw)
}

/// Every value under the prefix, as `(token hashes, 32-byte values, all bytes)`.
async fn copy_redis(url: &str) -> (Vec<Vec<u8>>, Vec<Sealed>, Vec<u8>) {
    let client = redis::Client::open(url).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("tokenwarden:*")
        .query_async(&mut con)
        .await
        .unwrap();
    let (mut hashes, mut values, mut raw) = (Vec::new(), Vec::new(), Vec::new());
    for key in keys {
        // `tokenwarden:rt:{FAMILY TAG}:HASH`
        let token = key.strip_prefix("tokenwarden:rt:");
        if let Some((_, hex)) = token.and_then(|k| k.split_once("}:")) {
            hashes.push(
                (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                    .collect(),
            );
        }
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut con)
            .await
            .unwrap();
        let items: Vec<Vec<u8>> = match kind.as_str() {
            "hash" => redis::cmd("HGETALL")
                .arg(&key)
                .query_async(&mut con)
                .await
                .unwrap(),
            "string" => vec![redis::cmd("GET")
                .arg(&key)
                .query_async(&mut con)
                .await
                .unwrap()],
            _ => Vec::new(),
        };
        for item in items {
            values.extend(Sealed::try_from(item.as_slice()).ok());
            raw.extend(item);
        }
    }
    (hashes, values, raw)
}

/// What a copy reveals, checked three ways: no seal of the chain anywhere in its bytes, the
/// attack finds nothing, and the live token is not among what it finds.
fn assert_copy_reveals_nothing(tokens: &[String], copy: (Vec<Vec<u8>>, Vec<Sealed>, Vec<u8>)) {
    let (hashes, seals, raw) = copy;
    for (i, sealed) in chain_seals(tokens).iter().enumerate() {
        assert!(
            !contains(&raw, sealed),
            "seal of rotation {i} is in the copy"
        );
    }
    assert_eq!(
        unseal_chain(&tokens[0], &hashes, &seals),
        Vec::<String>::new()
    );
}

async fn database_copy_without_grace(
    store: StoreSpec,
    copy: impl AsyncFnOnce() -> (Vec<Vec<u8>>, Vec<Sealed>, Vec<u8>),
) {
    let server = spawn(config(store, 0)).await.unwrap();
    let base = server.base_url();
    let c = client();
    let tokens = chain(&c, &base).await;
    assert_copy_reveals_nothing(&tokens, copy().await);
    // The live token is still the user's, and the first one is reuse.
    assert_eq!(refresh(&c, &base, &tokens[0]).await.status(), 400);
}

async fn database_copy_after_the_window(
    store: StoreSpec,
    copy: impl AsyncFn() -> (Vec<Vec<u8>>, Vec<Sealed>, Vec<u8>),
) {
    let grace_ms = 1_500;
    let server = spawn(config(store, grace_ms)).await.unwrap();
    let base = server.base_url();
    let c = client();
    let tokens = chain(&c, &base).await;
    // Inside the window the seals are there (what the grace window needs) ...
    let (hashes, seals, _) = copy().await;
    assert_eq!(
        unseal_chain(&tokens[0], &hashes, &seals),
        tokens[1..].to_vec()
    );
    // ... and once it has ended (plus one sweep), a copy holds none of them.
    tokio::time::sleep(Duration::from_millis(grace_ms + 1_000)).await;
    assert_copy_reveals_nothing(&tokens, copy().await);
    let res = refresh(&c, &base, tokens.last().unwrap()).await;
    assert_eq!(res.status(), 200, "the live token still refreshes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_copy_without_a_grace_window_holds_no_seal() {
    let path = scratch_path("no-grace.db");
    let p = path.clone();
    database_copy_without_grace(StoreSpec::Sqlite(path), async move || copy_sqlite(&p)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_copy_after_the_window_holds_no_seal() {
    let path = scratch_path("grace.db");
    let p = path.clone();
    database_copy_after_the_window(StoreSpec::Sqlite(path), async || copy_sqlite(&p)).await;
}

/// The sweep itself (memory and SQLite; Redis seals expire on their own): a seal is erased
/// once its window has ended and not before, after which a replay of its token is reuse.
async fn forgets_seals_when_the_window_ends<S: Store>(s: &S) {
    let lt = Lifetimes {
        absolute_ms: 10_000,
        idle_ms: 5_000,
        grace_ms: 100,
    };
    let first = RefreshToken::generate();
    s.create_family(first.hash, "u", "read", 0, lt)
        .await
        .unwrap();
    let second = RefreshToken::successor_of(&first.token);
    let sealed = Some(second.sealed_with(&first.token));
    let v = s
        .rotate(first.hash, second.hash, sealed, 10, lt)
        .await
        .unwrap();
    assert!(matches!(v, Ok(Rotation::Rotated { .. })), "{v:?}");
    assert_eq!(
        s.forget_seals(110, lt).await.unwrap(),
        0,
        "the window is still open"
    );
    assert_eq!(s.forget_seals(111, lt).await.unwrap(), 1);
    assert_eq!(s.forget_seals(112, lt).await.unwrap(), 0);
    // Without its seal a replay is reuse, even if the clock said the window were open.
    let third = RefreshToken::successor_of(&first.token);
    let v = s
        .rotate(first.hash, third.hash, None, 60, lt)
        .await
        .unwrap();
    assert_eq!(v, Err(Rejection::ReuseDetected));
}

#[tokio::test]
async fn memory_and_sqlite_stores_forget_seals_when_the_window_ends() {
    forgets_seals_when_the_window_ends(&MemoryStore::default()).await;
    let path = scratch_path("forget.db");
    forgets_seals_when_the_window_ends(&SqliteStore::open(&path).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_copy_without_a_grace_window_holds_no_seal() {
    let redis = RedisServer::start();
    let url = redis.url();
    let spec = StoreSpec::parse(&url).unwrap();
    database_copy_without_grace(spec, async || copy_redis(&url).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_copy_after_the_window_holds_no_seal() {
    let redis = RedisServer::start();
    let url = redis.url();
    let spec = StoreSpec::parse(&url).unwrap();
    database_copy_after_the_window(spec, async || copy_redis(&url).await).await;
}

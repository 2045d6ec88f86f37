//! Several instances behind one issuer (one Redis, one signing key), a SQLite-backed instance
//! that restarts, and a Redis that goes away and comes back.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{
    client, get_json, get_me, login_demo, logout_with, refresh_cookie, refresh_with, scratch_path,
    stats, test_config, write_signing_key, RedisServer,
};
use serde_json::Value;
use tokenwarden_server::{spawn, Config, Running, StoreSpec};

const ISSUER: &str = "https://auth.example";

fn shared_config(store: StoreSpec, key: &Path) -> Config {
    Config {
        store,
        signing_key: Some(key.to_path_buf()),
        issuer: Some(ISSUER.into()),
        ..test_config()
    }
}

fn redis_spec(redis: &RedisServer, prefix: &str) -> StoreSpec {
    StoreSpec::Redis {
        url: redis.url(),
        prefix: prefix.into(),
    }
}

async fn pair(config: Config) -> (Running, Running) {
    (
        spawn(config.clone()).await.unwrap(),
        spawn(config).await.unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_sessions_keys_and_the_blocklist() {
    let redis = RedisServer::start();
    let key = write_signing_key();
    let (a, b) = pair(shared_config(redis_spec(&redis, "two"), &key)).await;
    let (a, b) = (a.base_url(), b.base_url());
    let jwks = "/.well-known/jwks.json";
    assert_eq!(
        get_json(&a, jwks).await,
        get_json(&b, jwks).await,
        "one published key set"
    );
    let c = client();
    let (access, cookie) = login_demo(&c, &a).await;
    assert_eq!(get_me(&c, &b, &access).await.status(), 200, "API on B");
    let res = refresh_with(&c, &b, &cookie).await;
    assert_eq!(res.status(), 200, "refresh on B");
    let cookie2 = refresh_cookie(&res).unwrap();
    let res = logout_with(&c, &a, &access, &cookie2).await;
    assert_eq!(res.status(), 204, "logout on A");
    let res = get_me(&c, &b, &access).await;
    assert_eq!(res.status(), 401, "the old access token is refused on B");
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "ERR_JWT_REVOKED"
    );
    for base in [&a, &b] {
        assert_eq!(refresh_with(&c, base, &cookie2).await.status(), 400);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_token_raced_on_two_instances_wins_once() {
    let redis = RedisServer::start();
    let key = write_signing_key();
    let (a, b) = pair(shared_config(redis_spec(&redis, "race"), &key)).await;
    let (a, b) = (a.base_url(), b.base_url());
    let (ca, cb) = (client(), client());
    for round in 0..50 {
        let (_, cookie) = login_demo(&ca, &a).await;
        let (ra, rb) = tokio::join!(
            refresh_with(&ca, &a, &cookie),
            refresh_with(&cb, &b, &cookie)
        );
        let mut codes = [ra.status().as_u16(), rb.status().as_u16()];
        let winner = refresh_cookie(&ra).or(refresh_cookie(&rb));
        codes.sort_unstable();
        assert_eq!(codes, [200, 400], "round {round}");
        // The loser revoked the family as reuse: the winner's token is dead on both.
        let winner = winner.unwrap();
        assert_eq!(refresh_with(&ca, &a, &winner).await.status(), 400);
        assert_eq!(refresh_with(&cb, &b, &winner).await.status(), 400);
    }
    let reuse = stats(&a).await["reuse_detected"].as_u64().unwrap()
        + stats(&b).await["reuse_detected"].as_u64().unwrap();
    assert_eq!(reuse, 50);
}

#[tokio::test]
async fn sqlite_sessions_and_blocklist_survive_a_restart() {
    let db = scratch_path("restart.db");
    let key = write_signing_key();
    let config = shared_config(StoreSpec::Sqlite(db.clone()), &key);
    let c = client();
    let server = spawn(config.clone()).await.unwrap();
    let base = server.base_url();
    let (kept_access, kept_cookie) = login_demo(&c, &base).await;
    let (gone_access, gone_cookie) = login_demo(&c, &base).await;
    assert_eq!(
        logout_with(&c, &base, &gone_access, &gone_cookie)
            .await
            .status(),
        204
    );
    drop(server);
    let server = spawn(config).await.unwrap();
    let base = server.base_url();
    assert_eq!(
        get_me(&c, &base, &kept_access).await.status(),
        200,
        "same key after restart"
    );
    let res = get_me(&c, &base, &gone_access).await;
    assert_eq!(res.status(), 401, "still blocklisted");
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "ERR_JWT_REVOKED"
    );
    let res = refresh_with(&c, &base, &kept_cookie).await;
    assert_eq!(res.status(), 200, "the session survived");
    assert_eq!(refresh_with(&c, &base, &gone_cookie).await.status(), 400);
    drop(server);
    for ext in ["db", "db-wal", "db-shm"] {
        let _ = std::fs::remove_file(db.with_extension(ext));
    }
}

/// Asserts a `503` with `Retry-After` (a transient answer), never a verdict on the session.
async fn assert_unavailable(res: reqwest::Response, what: &str) {
    assert_eq!(res.status(), 503, "{what}");
    assert!(res.headers().get("retry-after").is_some(), "{what}");
    assert!(refresh_cookie(&res).is_none(), "{what}: no cookie change");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_going_away_gives_503_and_the_server_recovers() {
    let mut redis = RedisServer::start();
    let port = redis.port;
    let key = write_signing_key();
    let config = Config {
        // A refresh whose answer was lost to a timeout may have rotated: the grace window lets
        // the client's retry get the same successor.
        reuse_grace_ms: 10_000,
        ..shared_config(redis_spec(&redis, "down"), &key)
    };
    let server = spawn(config).await.unwrap();
    let base = server.base_url();
    let c = client();
    let (access, cookie) = login_demo(&c, &base).await;

    // A hung Redis: every store call times out.
    redis.signal("STOP");
    assert_unavailable(refresh_with(&c, &base, &cookie).await, "refresh, hung").await;
    let res = common::login_request(&c, &base, "demo", "demo-password")
        .send()
        .await
        .unwrap();
    assert_unavailable(res, "login, hung").await;
    assert_unavailable(get_me(&c, &base, &access).await, "API, hung").await;
    redis.signal("CONT");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let res = refresh_with(&c, &base, &cookie).await;
    assert_eq!(res.status(), 200, "the session survived the outage");
    let cookie = refresh_cookie(&res).unwrap();
    assert_eq!(get_me(&c, &base, &access).await.status(), 200);

    // Redis gone: connections refused.
    redis.kill();
    assert_unavailable(refresh_with(&c, &base, &cookie).await, "refresh, down").await;
    let res = common::login_request(&c, &base, "demo", "demo-password")
        .send()
        .await
        .unwrap();
    assert_unavailable(res, "login, down").await;
    // Back (empty: the test's Redis keeps nothing on disk): the server reconnects by itself.
    let _redis = RedisServer::start_on(port);
    let mut recovered = false;
    for _ in 0..50 {
        let res = common::login_request(&c, &base, "demo", "demo-password")
            .send()
            .await
            .unwrap();
        if res.status() == 200 {
            let cookie = refresh_cookie(&res).unwrap();
            assert_eq!(refresh_with(&c, &base, &cookie).await.status(), 200);
            recovered = true;
            break;
        }
        assert_eq!(res.status(), 503);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the server did not reconnect to Redis");
}

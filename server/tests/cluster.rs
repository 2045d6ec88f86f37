//! Several instances behind one issuer (one Redis, one signing key), a SQLite-backed instance
//! that restarts, and a Redis that goes away and comes back.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{
    client, get_json, get_me, login_demo, logout_with, refresh_cookie, refresh_with, scratch_path,
    stats, test_config, write_signing_key, DpopKey, RedisCluster, RedisServer,
};
use reqwest::Response;
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
    races(redis_spec(&redis, "race")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_token_raced_on_two_instances_of_a_redis_cluster_wins_once() {
    let cluster = RedisCluster::start();
    races(StoreSpec::parse(&cluster.url()).unwrap()).await;
}

/// 50 rounds: a fresh login's refresh token sent to A and B at once rotates once.
async fn races(store: StoreSpec) {
    let key = write_signing_key();
    let (a, b) = pair(shared_config(store, &key)).await;
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
async fn assert_unavailable(res: Response, what: &str) {
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

/// The public host both instances answer for (behind one load balancer): proofs name it.
const PUBLIC_HOST: &str = "auth.example";
/// Live proofs per client key in the DPoP fleet tests.
const QUOTA: u32 = 12;

fn dpop_config(store: StoreSpec, key: &Path) -> Config {
    Config {
        dpop: true,
        dpop_nonce: true,
        dpop_quota: QUOTA,
        ..shared_config(store, key)
    }
}

/// A DPoP client of the fleet: its key, the last nonce it was given and its tokens.
struct DpopClient {
    c: reqwest::Client,
    key: DpopKey,
    nonce: Option<String>,
    token: Option<String>,
    cookie: Option<String>,
}

impl DpopClient {
    fn new() -> Self {
        Self {
            c: client(),
            key: DpopKey::new(),
            nonce: None,
            token: None,
            cookie: None,
        }
    }

    /// A fresh proof for `method path` at the public URL, with the last nonce and the token.
    fn proof(&self, method: &str, path: &str) -> String {
        let token = self.token.as_deref().filter(|_| path.starts_with("/api/"));
        self.key.proof(
            method,
            &format!("{ISSUER}{path}"),
            token,
            self.nonce.as_deref(),
        )
    }

    /// Sends `method path` with `proof` to the instance at `base` as to the public host;
    /// remembers the nonce it answers with.
    async fn send(&mut self, base: &str, method: &str, path: &str, proof: &str) -> Response {
        let mut req = self
            .c
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .header(reqwest::header::HOST, PUBLIC_HOST)
            .header("DPoP", proof);
        match path {
            "/auth/login" => {
                req =
                    req.json(&serde_json::json!({"username": "demo", "password": "demo-password"}))
            }
            "/auth/refresh" => {
                let cookie = self.cookie.as_deref().unwrap_or_default();
                req = req.header(
                    reqwest::header::COOKIE,
                    format!("__Host-tw_refresh={cookie}"),
                );
            }
            _ => {
                let token = self.token.as_deref().unwrap_or_default();
                req = req.header(reqwest::header::AUTHORIZATION, format!("DPoP {token}"));
            }
        }
        let res = req.send().await.unwrap();
        if let Some(nonce) = res.headers().get("dpop-nonce") {
            self.nonce = Some(nonce.to_str().unwrap().to_owned());
        }
        res
    }

    /// Sends `method path` with a fresh proof.
    async fn call(&mut self, base: &str, method: &str, path: &str) -> Response {
        let proof = self.proof(method, path);
        self.send(base, method, path, &proof).await
    }

    /// Keeps the tokens of a successful login or refresh.
    async fn keep_tokens(&mut self, res: Response) {
        assert_eq!(res.status(), 200);
        self.cookie = Some(refresh_cookie(&res).unwrap());
        let body: Value = res.json().await.unwrap();
        self.token = Some(body["access_token"].as_str().unwrap().to_owned());
    }

    /// Logs in on `base`, first fetching a nonce if it has none.
    async fn login(&mut self, base: &str) {
        if self.nonce.is_none() {
            let res = self.call(base, "POST", "/auth/login").await;
            assert_eq!(res.status(), 400);
            assert_eq!(
                res.json::<Value>().await.unwrap()["error"],
                "use_dpop_nonce"
            );
        }
        let res = self.call(base, "POST", "/auth/login").await;
        self.keep_tokens(res).await;
    }
}

async fn code_of(res: Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (
        status,
        res.json::<Value>().await.unwrap_or_default()["code"].clone(),
    )
}

/// A proof accepted by one instance is a replay on the other, both ways, on the token
/// endpoint and on the API.
async fn proofs_are_spent_fleet_wide(a: &str, b: &str) {
    let mut client = DpopClient::new();
    client.login(a).await;
    let login = client.proof("POST", "/auth/login");
    let res = client.send(a, "POST", "/auth/login", &login).await;
    assert_eq!(res.status(), 200, "login on A");
    let (status, code) = code_of(client.send(b, "POST", "/auth/login", &login).await).await;
    assert_eq!(
        (status, code),
        (400, "ERR_DPOP_REPLAY".into()),
        "A's login proof on B"
    );
    for (first, second) in [(a, b), (b, a)] {
        let proof = client.proof("GET", "/api/me");
        let res = client.send(first, "GET", "/api/me", &proof).await;
        assert_eq!(res.status(), 200);
        let res = client.send(second, "GET", "/api/me", &proof).await;
        let (status, code) = code_of(res).await;
        assert_eq!(
            (status, code),
            (401, "ERR_DPOP_REPLAY".into()),
            "replayed elsewhere"
        );
    }
}

/// A client bounced between the instances on every request is asked for a nonce once.
async fn nonces_hold_on_every_instance(a: &str, b: &str) {
    let mut client = DpopClient::new();
    client.login(b).await;
    for hop in 0..8 {
        let base = if hop % 2 == 0 { a } else { b };
        let res = client.call(base, "GET", "/api/me").await;
        let challenge = res
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(res.status(), 200, "hop {hop}: {challenge:?}");
    }
    let res = client.call(a, "POST", "/auth/refresh").await;
    client.keep_tokens(res).await;
    assert_eq!(client.call(b, "GET", "/api/me").await.status(), 200);
}

/// One client over its quota of live proofs is refused (`429`, its own problem); another
/// client's login and API call succeed, and the flooding client may still refresh.
async fn a_flood_costs_only_the_flooder(a: &str, b: &str) {
    let mut flooder = DpopClient::new();
    flooder.login(a).await;
    for n in 1..QUOTA {
        let res = flooder.call(a, "GET", "/api/me").await;
        assert_eq!(res.status(), 200, "call {n}");
    }
    let res = flooder.call(b, "GET", "/api/me").await;
    assert!(res.headers().get("retry-after").is_some());
    let (status, code) = code_of(res).await;
    assert_eq!((status, code), (429, "ERR_DPOP_QUOTA".into()), "over quota");
    let mut other = DpopClient::new();
    other.login(b).await;
    assert_eq!(other.call(a, "GET", "/api/me").await.status(), 200);
    // The flooder's refresh token is spent by the rotation: its proof is not refused then.
    let res = flooder.call(b, "POST", "/auth/refresh").await;
    flooder.keep_tokens(res).await;
}

async fn dpop_fleet(a: &str, b: &str) {
    proofs_are_spent_fleet_wide(a, b).await;
    nonces_hold_on_every_instance(a, b).await;
    a_flood_costs_only_the_flooder(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dpop_state_is_shared_by_two_instances_on_redis() {
    let redis = RedisServer::start();
    let key = write_signing_key();
    let (a, b) = pair(dpop_config(redis_spec(&redis, "dpop"), &key)).await;
    dpop_fleet(&a.base_url(), &b.base_url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dpop_state_is_shared_by_two_instances_on_a_redis_cluster() {
    let cluster = RedisCluster::start();
    let key = write_signing_key();
    let spec = StoreSpec::parse(&cluster.url()).unwrap();
    let (a, b) = pair(dpop_config(spec, &key)).await;
    dpop_fleet(&a.base_url(), &b.base_url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dpop_state_is_shared_by_two_instances_on_one_sqlite_file() {
    let db = scratch_path("dpop.db");
    let key = write_signing_key();
    let (a, b) = pair(dpop_config(StoreSpec::Sqlite(db.clone()), &key)).await;
    dpop_fleet(&a.base_url(), &b.base_url()).await;
    drop((a, b));
    for ext in ["db", "db-wal", "db-shm"] {
        let _ = std::fs::remove_file(db.with_extension(ext));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dpop_state_in_memory_serves_one_instance() {
    let key = write_signing_key();
    let server = spawn(dpop_config(StoreSpec::Memory, &key)).await.unwrap();
    let base = server.base_url();
    dpop_fleet(&base, &base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_down_refuses_dpop_proofs_with_503_never_a_replay() {
    let mut redis = RedisServer::start();
    let key = write_signing_key();
    let (a, b) = pair(dpop_config(redis_spec(&redis, "dpop-down"), &key)).await;
    let (a, b) = (a.base_url(), b.base_url());
    let mut client = DpopClient::new();
    client.login(&a).await;
    let spent = client.proof("GET", "/api/me");
    assert_eq!(
        client.send(&a, "GET", "/api/me", &spent).await.status(),
        200
    );

    redis.signal("STOP");
    let res = client.send(&b, "GET", "/api/me", &spent).await;
    assert_unavailable(res, "a replay while Redis hangs").await;
    let res = client.call(&b, "GET", "/api/me").await;
    assert_unavailable(res, "a fresh proof while Redis hangs").await;
    redis.signal("CONT");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, code) = code_of(client.send(&b, "GET", "/api/me", &spent).await).await;
    assert_eq!(
        (status, code),
        (401, "ERR_DPOP_REPLAY".into()),
        "after the outage"
    );
    assert_eq!(client.call(&b, "GET", "/api/me").await.status(), 200);

    redis.kill();
    let res = client.send(&a, "GET", "/api/me", &spent).await;
    assert_unavailable(res, "a replay while Redis is down").await;
}

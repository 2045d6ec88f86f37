//! Helpers shared by the server's integration test files (each file uses a subset).
#![allow(dead_code)]

use std::net::IpAddr;

use base64ct::{Base64UrlUnpadded, Encoding};

use reqwest::{Client, RequestBuilder, Response};
use serde_json::{json, Value};
use tokenwarden_server::{Config, PasswordCost};

/// Cheap password hashing, test hooks on, no request log.
pub fn test_config() -> Config {
    Config {
        password_cost: PasswordCost::cheap_for_tests(),
        log_requests: false,
        test_hooks: true,
        ..Config::default()
    }
}

/// A client without a cookie jar.
pub fn client() -> Client {
    Client::builder().build().unwrap()
}

/// A client whose connections come from `ip` (any 127.0.0.0/8 address reaches a server bound
/// to 127.0.0.1), so that tests can play several peers.
pub fn client_from(ip: &str) -> Client {
    let ip: IpAddr = ip.parse().unwrap();
    Client::builder().local_address(ip).build().unwrap()
}

/// `POST /auth/login` with a JSON body.
pub fn login_request(c: &Client, base: &str, username: &str, password: &str) -> RequestBuilder {
    c.post(format!("{base}/auth/login"))
        .json(&json!({"username": username, "password": password}))
}

/// The `tw_refresh` value from a response's `Set-Cookie`, if it sets a non-empty one.
pub fn refresh_cookie(res: &Response) -> Option<String> {
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|l| l.strip_prefix("__Host-tw_refresh="))
        .filter_map(|r| r.split(';').next())
        .find(|v| !v.is_empty())
        .map(str::to_string)
}

/// Logs the demo user in on `base`; returns (access token, refresh cookie value).
pub async fn login_demo(c: &Client, base: &str) -> (String, String) {
    let res = login_request(c, base, "demo", "demo-password")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "login on {base}");
    let cookie = refresh_cookie(&res).expect("refresh cookie");
    let body: Value = res.json().await.unwrap();
    (body["access_token"].as_str().unwrap().to_string(), cookie)
}

/// `POST /auth/refresh` with `cookie` as the refresh cookie.
pub async fn refresh_with(c: &Client, base: &str, cookie: &str) -> Response {
    c.post(format!("{base}/auth/refresh"))
        .header(
            reqwest::header::COOKIE,
            format!("__Host-tw_refresh={cookie}"),
        )
        .send()
        .await
        .unwrap()
}

/// `POST /auth/logout` with the bearer token and the refresh cookie.
pub async fn logout_with(c: &Client, base: &str, access: &str, cookie: &str) -> Response {
    c.post(format!("{base}/auth/logout"))
        .header(
            reqwest::header::COOKIE,
            format!("__Host-tw_refresh={cookie}"),
        )
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
}

/// `GET /api/me` with the bearer token.
pub async fn get_me(c: &Client, base: &str, access: &str) -> Response {
    c.get(format!("{base}/api/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
}

/// The JSON body of `GET path`.
pub async fn get_json(base: &str, path: &str) -> Value {
    client()
        .get(format!("{base}{path}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `GET /__test/stats`.
pub async fn stats(base: &str) -> Value {
    get_json(base, "/__test/stats").await
}

/// A `redis-server` of our own on a free loopback port, without persistence; killed on drop.
/// Needs Debian's `redis-server` (scripts/setup.sh installs it).
pub struct RedisServer {
    child: std::process::Child,
    /// Its port.
    pub port: u16,
}

impl RedisServer {
    /// Starts one on a free port and waits until it accepts connections.
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_on(port)
    }

    /// Starts one on `port` (e.g. again after [`RedisServer::kill`]).
    pub fn start_on(port: u16) -> Self {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect(
                "redis-server not found: run scripts/setup.sh (it installs Debian's redis-server)",
            );
        wait_for_port(port);
        RedisServer { child, port }
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Sends a signal (`STOP`, `CONT`) to the server process.
    pub fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig}");
    }

    /// Stops the server now.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits (at most 10 s) until a `redis-server` accepts connections on loopback `port`.
fn wait_for_port(port: u16) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "redis-server did not start on {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A free loopback port whose cluster bus port (`port + 10000`) is free too.
fn free_cluster_port() -> u16 {
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if port < 55_000 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

/// A Redis Cluster of our own: three primaries (no replicas) on loopback ports, each slot range
/// on one of them (`redis-cli --cluster create`), without persistence; killed on drop.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
    dir: std::path::PathBuf,
}

impl RedisCluster {
    /// Starts the three nodes, joins them and waits until the cluster serves every slot
    /// (about a second).
    pub fn start() -> Self {
        let dir = scratch_path("redis-cluster");
        std::fs::create_dir_all(&dir).unwrap();
        let mut nodes = Vec::new();
        for _ in 0..3 {
            let port = free_cluster_port();
            let child = std::process::Command::new("redis-server")
                .current_dir(&dir)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes"])
                .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("redis-server not found: run scripts/setup.sh");
            wait_for_port(port);
            nodes.push(RedisServer { child, port });
        }
        let cluster = RedisCluster { nodes, dir };
        let addresses: Vec<String> = cluster
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let created = std::process::Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli not found: run scripts/setup.sh");
        assert!(
            created.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        for node in &cluster.nodes {
            loop {
                let info = std::process::Command::new("redis-cli")
                    .args(["-p", &node.port.to_string(), "cluster", "info"])
                    .output()
                    .unwrap();
                if String::from_utf8_lossy(&info.stdout).contains("cluster_state:ok") {
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "cluster not ok");
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        cluster
    }

    /// `redis://127.0.0.1:PORT` of each node.
    pub fn node_urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// `redis-cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3` (what `--store` takes).
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis-cluster://{}", hosts.join(","))
    }

    /// How many keys each node holds (the keys spread over the primaries).
    pub fn keys_per_node(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .map(|n| {
                let out = std::process::Command::new("redis-cli")
                    .args(["-p", &n.port.to_string(), "dbsize"])
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
            })
            .collect()
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A path for a scratch file, unique to this process and call, under the system temp dir.
pub fn scratch_path(name: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("tokenwarden-{}-{n}-{name}", std::process::id()))
}

/// Writes a fresh P-256 private key as PKCS#8 PEM (what `openssl genpkey` writes) and returns
/// its path.
pub fn write_signing_key() -> std::path::PathBuf {
    use p256::pkcs8::{EncodePrivateKey, LineEnding};
    let key = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap();
    let path = scratch_path("signing-key.pem");
    std::fs::write(&path, pem.as_bytes()).unwrap();
    path
}

/// A client's DPoP key pair (P-256), signing proofs as the browser client does.
pub struct DpopKey {
    signing: p256::ecdsa::SigningKey,
    x: String,
    y: String,
}

impl Default for DpopKey {
    fn default() -> Self {
        Self::new()
    }
}

impl DpopKey {
    /// A fresh key.
    pub fn new() -> Self {
        let signing = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
        let point = signing.verifying_key().to_encoded_point(false);
        Self {
            x: Base64UrlUnpadded::encode_string(point.x().unwrap()),
            y: Base64UrlUnpadded::encode_string(point.y().unwrap()),
            signing,
        }
    }

    /// A proof for `method url` now, with `ath` of `token` and `nonce` when given.
    pub fn proof(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
        nonce: Option<&str>,
    ) -> String {
        let ath = token.map(tokenwarden::core::dpop::access_token_hash);
        let jti = Base64UrlUnpadded::encode_string(&rand::random::<[u8; 16]>());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let input = tokenwarden::core::dpop::ProofInput {
            method,
            url,
            iat: now,
            jti: &jti,
            ath: ath.as_deref(),
            nonce,
        };
        let signing_input =
            tokenwarden::core::dpop::proof_signing_input(&self.x, &self.y, &input).unwrap();
        let signature: p256::ecdsa::Signature =
            p256::ecdsa::signature::Signer::sign(&self.signing, signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            Base64UrlUnpadded::encode_string(&signature.to_bytes())
        )
    }
}

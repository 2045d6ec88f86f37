//! Load generator for `make bench` (scripts/bench-stores.sh): `--concurrency` workers, each
//! with its own session (logged in one after another before the clock starts), send
//! `GET /api/me` or `POST /auth/refresh` (each worker following its own rotation chain) for
//! `--seconds`, spreading requests over every `--url` in turn. With `--dpop` (servers started
//! with `--dpop`), each worker holds its own P-256 key, logs in with a proof and sends every
//! `GET /api/me` as `Authorization: DPoP` with a fresh proof (`ath`; `htu` the request's URL),
//! so the server checks a signature and records a `jti` per request. Prints one
//! JSON line: `{"requests","errors","rps","p50_ms","p99_ms"}`.
//!
//! ```sh
//! cargo run --release -p tokenwarden-server --example load -- \
//!   --url http://127.0.0.1:8080 --url http://127.0.0.1:8081 --op refresh --concurrency 32 --seconds 5
//! ```

use std::time::{Duration, Instant};

use base64ct::{Base64UrlUnpadded, Encoding};
use reqwest::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use reqwest::Client;
use serde_json::{json, Value};

struct Args {
    urls: Vec<String>,
    refresh: bool,
    concurrency: usize,
    seconds: u64,
    /// `--dpop`: every worker proves its requests with a key of its own.
    dpop: bool,
}

/// A worker's DPoP key (RFC 9449 proofs signed with ES256).
struct DpopKey {
    signing: p256::ecdsa::SigningKey,
    x: String,
    y: String,
}

impl DpopKey {
    fn new() -> Self {
        let signing = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
        let point = signing.verifying_key().to_encoded_point(false);
        let (x, y) = (point.x(), point.y());
        let (x, y) = (x.expect("uncompressed"), y.expect("uncompressed"));
        DpopKey {
            x: Base64UrlUnpadded::encode_string(x),
            y: Base64UrlUnpadded::encode_string(y),
            signing,
        }
    }

    /// A proof for `method url` now (`ath` of `token` when given).
    fn proof(&self, method: &str, url: &str, token: Option<&str>) -> String {
        let ath = token.map(tokenwarden::core::dpop::access_token_hash);
        let jti = Base64UrlUnpadded::encode_string(&rand::random::<[u8; 16]>());
        let iat = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let input = tokenwarden::core::dpop::ProofInput {
            method,
            url,
            iat,
            jti: &jti,
            ath: ath.as_deref(),
            nonce: None,
        };
        let signing_input = tokenwarden::core::dpop::proof_signing_input(&self.x, &self.y, &input)
            .expect("a proof's signing input");
        let signature: p256::ecdsa::Signature =
            p256::ecdsa::signature::Signer::sign(&self.signing, signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            Base64UrlUnpadded::encode_string(&signature.to_bytes())
        )
    }
}

/// A worker's login: its access token, refresh cookie and DPoP key (with `--dpop`).
struct Session {
    access: String,
    cookie: String,
    key: Option<DpopKey>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        urls: Vec::new(),
        refresh: false,
        concurrency: 32,
        seconds: 5,
        dpop: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => args.urls.push(value()?),
            "--op" => {
                args.refresh = match value()?.as_str() {
                    "me" => false,
                    "refresh" => true,
                    other => return Err(format!("unknown op {other:?} (me or refresh)")),
                }
            }
            "--concurrency" => args.concurrency = value()?.parse().map_err(|_| "bad number")?,
            "--seconds" => args.seconds = value()?.parse().map_err(|_| "bad number")?,
            "--dpop" => args.dpop = true,
            other => return Err(format!("unknown flag {other:?}")),
        }
    }
    if args.urls.is_empty() {
        return Err("at least one --url".into());
    }
    Ok(args)
}

fn refresh_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok()?.strip_prefix("__Host-tw_refresh="))
        .filter_map(|r| r.split(';').next())
        .find(|v| !v.is_empty())
        .map(str::to_string)
}

async fn login(c: &Client, url: &str, dpop: bool) -> Result<Session, String> {
    let key = dpop.then(DpopKey::new);
    let mut req = c
        .post(format!("{url}/auth/login"))
        .json(&json!({"username": "demo", "password": "demo-password"}));
    if let Some(key) = &key {
        req = req.header(
            "dpop",
            key.proof("POST", &format!("{url}/auth/login"), None),
        );
    }
    let res = req.send().await.map_err(|e| e.to_string())?;
    if res.status() != 200 {
        return Err(format!("login answered {}", res.status()));
    }
    let cookie = refresh_cookie(&res).ok_or("no refresh cookie")?;
    let body: Value = res.json().await.map_err(|e| e.to_string())?;
    let access = body["access_token"].as_str().ok_or("no access token")?;
    Ok(Session {
        access: access.to_string(),
        cookie,
        key,
    })
}

async fn worker(
    c: Client,
    urls: Vec<String>,
    refresh: bool,
    dpop: bool,
    mut session: Session,
    start: usize,
    until: Instant,
) -> (Vec<Duration>, u64) {
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut i = start;
    while Instant::now() < until {
        let url = &urls[i % urls.len()];
        i += 1;
        let t0 = Instant::now();
        let ok = if refresh {
            let res = c
                .post(format!("{url}/auth/refresh"))
                .header(COOKIE, format!("__Host-tw_refresh={}", session.cookie))
                .send()
                .await;
            match res {
                Ok(r) if r.status() == 200 => match refresh_cookie(&r) {
                    Some(next) => {
                        session.cookie = next;
                        r.bytes().await.is_ok()
                    }
                    None => false,
                },
                _ => false,
            }
        } else {
            let req = c.get(format!("{url}/api/me"));
            let req = match &session.key {
                Some(key) => req
                    .header(AUTHORIZATION, format!("DPoP {}", session.access))
                    .header(
                        "dpop",
                        key.proof("GET", &format!("{url}/api/me"), Some(&session.access)),
                    ),
                None => req.bearer_auth(&session.access),
            };
            let res = req.send().await;
            match res {
                Ok(r) => r.status() == 200 && r.bytes().await.is_ok(),
                Err(_) => false,
            }
        };
        if ok {
            latencies.push(t0.elapsed());
        } else {
            errors += 1;
            if refresh {
                // The chain is broken: start a new session rather than count errors forever.
                match login(&c, url, dpop).await {
                    Ok(s) => session = s,
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        }
    }
    (latencies, errors)
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("load: {e}");
            std::process::exit(2);
        }
    };
    let c = Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()
        .unwrap();
    let mut sessions = Vec::new();
    for i in 0..args.concurrency {
        match login(&c, &args.urls[i % args.urls.len()], args.dpop).await {
            Ok(s) => sessions.push(s),
            Err(e) => {
                eprintln!("load: {e}");
                std::process::exit(1);
            }
        }
    }
    let start = Instant::now();
    let until = start + Duration::from_secs(args.seconds);
    let tasks: Vec<_> = sessions
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            tokio::spawn(worker(
                c.clone(),
                args.urls.clone(),
                args.refresh,
                args.dpop,
                s,
                i,
                until,
            ))
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        latencies.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{}",
        json!({
            "requests": latencies.len(),
            "errors": errors,
            "rps": (latencies.len() as f64 / elapsed).round(),
            "p50_ms": (pct(0.50) * 100.0).round() / 100.0,
            "p99_ms": (pct(0.99) * 100.0).round() / 100.0,
        })
    );
}

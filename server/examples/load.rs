//! Load generator for `make bench` (scripts/bench-stores.sh): `--concurrency` workers, each
//! with its own session (logged in one after another before the clock starts), send
//! `GET /api/me` or `POST /auth/refresh` (each worker following its own rotation chain) for
//! `--seconds`, spreading requests over every `--url` in turn. Prints one JSON line:
//! `{"requests","errors","rps","p50_ms","p99_ms"}`.
//!
//! ```sh
//! cargo run --release -p tokenwarden-server --example load -- \
//!   --url http://127.0.0.1:8080 --url http://127.0.0.1:8081 --op refresh --concurrency 32 --seconds 5
//! ```

use std::time::{Duration, Instant};

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::Client;
use serde_json::{json, Value};

struct Args {
    urls: Vec<String>,
    refresh: bool,
    concurrency: usize,
    seconds: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        urls: Vec::new(),
        refresh: false,
        concurrency: 32,
        seconds: 5,
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

async fn login(c: &Client, url: &str) -> Result<(String, String), String> {
    let res = c
        .post(format!("{url}/auth/login"))
        .json(&json!({"username": "demo", "password": "demo-password"}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if res.status() != 200 {
        return Err(format!("login answered {}", res.status()));
    }
    let cookie = refresh_cookie(&res).ok_or("no refresh cookie")?;
    let body: Value = res.json().await.map_err(|e| e.to_string())?;
    let access = body["access_token"].as_str().ok_or("no access token")?;
    Ok((access.to_string(), cookie))
}

async fn worker(
    c: Client,
    urls: Vec<String>,
    refresh: bool,
    mut session: (String, String),
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
                .header(COOKIE, format!("__Host-tw_refresh={}", session.1))
                .send()
                .await;
            match res {
                Ok(r) if r.status() == 200 => match refresh_cookie(&r) {
                    Some(next) => {
                        session.1 = next;
                        r.bytes().await.is_ok()
                    }
                    None => false,
                },
                _ => false,
            }
        } else {
            let res = c
                .get(format!("{url}/api/me"))
                .bearer_auth(&session.0)
                .send()
                .await;
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
                match login(&c, url).await {
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
        match login(&c, &args.urls[i % args.urls.len()]).await {
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

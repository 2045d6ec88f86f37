//! Findings of the server's security review, one test each (all failed on the server before
//! the fixes), plus the malformed-request sweep: bad input never gets a 5xx.

mod common;

use std::time::{Duration, Instant};

use common::{
    client, client_from, login_demo, login_request, refresh_cookie, refresh_with, stats,
    test_config,
};
use reqwest::header::{COOKIE, HOST};
use tokenwarden_server::{spawn, Config, PasswordCost};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Argon2 parameters that make each hash take milliseconds, so that parallel attempts overlap.
fn slow_hash_config() -> Config {
    Config {
        password_cost: PasswordCost {
            m_kib: 4096,
            t: 2,
            p: 1,
        },
        ..test_config()
    }
}

async fn statuses(reqs: Vec<reqwest::RequestBuilder>) -> Vec<u16> {
    let futures = reqs
        .into_iter()
        .map(|r| async move { r.send().await.unwrap().status().as_u16() });
    futures_join_all(futures).await
}

async fn futures_join_all<F: std::future::Future<Output = u16> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<u16> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_throttle_counts_attempts_before_hashing() {
    let server = spawn(slow_hash_config()).await.unwrap();
    let base = server.base_url();
    let c = client();
    let reqs = (0..40)
        .map(|_| login_request(&c, &base, "demo", "wrong"))
        .collect();
    let codes = statuses(reqs).await;
    let unauthorized = codes.iter().filter(|&&s| s == 401).count();
    let throttled = codes.iter().filter(|&&s| s == 429).count();
    assert_eq!(unauthorized + throttled, 40, "{codes:?}");
    assert!(
        unauthorized <= 5,
        "only 5 attempts may reach the hash: {codes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logins_from_one_address_are_limited_across_user_names() {
    let server = spawn(test_config()).await.unwrap();
    let base = server.base_url();
    let c = client_from("127.0.0.2");
    let reqs = (0..120)
        .map(|i| login_request(&c, &base, &format!("user{i}"), "wrong"))
        .collect();
    let codes = statuses(reqs).await;
    let throttled = codes.iter().filter(|&&s| s == 429).count();
    assert!(throttled >= 90, "per-address limit: {codes:?}");
    // Another address is not affected.
    let res = login_request(&client_from("127.0.0.3"), &base, "demo", "demo-password")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn password_hashing_concurrency_is_bounded() {
    let server = spawn(slow_hash_config()).await.unwrap();
    let base = server.base_url();
    // Different addresses and names, so that no throttle stands in the way.
    let reqs = (0..24)
        .map(|i| {
            login_request(
                &client_from(&format!("127.0.1.{}", i + 1)),
                &base,
                "demo",
                "demo-password",
            )
        })
        .collect();
    let codes = statuses(reqs).await;
    assert!(codes.iter().all(|&s| s == 200), "{codes:?}");
    // Counted by the server around each hash (not part of the documented stats).
    let peak = server
        .state
        .stats
        .password_hashes_peak
        .load(std::sync::atomic::Ordering::SeqCst);
    let bound = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2) as u64;
    assert!((1..=bound).contains(&peak), "peak {peak}, bound {bound}");
}

#[tokio::test]
async fn an_attacker_cannot_lock_a_user_out_from_elsewhere() {
    let server = spawn(test_config()).await.unwrap();
    let base = server.base_url();
    let attacker = client_from("127.0.0.4");
    let mut last = 0;
    for _ in 0..20 {
        last = login_request(&attacker, &base, "demo", "guess")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
    }
    assert_eq!(last, 429, "the attacker is throttled");
    let victim = client_from("127.0.0.5");
    let res = login_request(&victim, &base, "demo", "demo-password")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "the user still gets in from their own address"
    );
}

#[tokio::test]
async fn reuse_grace_returns_the_same_successor_and_one_chain() {
    let server = spawn(Config {
        reuse_grace_ms: 10_000,
        ..test_config()
    })
    .await
    .unwrap();
    let base = server.base_url();
    let c = client();
    let (_, a) = login_demo(&c, &base).await;
    let first = refresh_with(&c, &base, &a).await;
    assert_eq!(first.status(), 200);
    let b1 = refresh_cookie(&first).unwrap();
    let replay = refresh_with(&c, &base, &a).await;
    assert_eq!(replay.status(), 200);
    let b2 = refresh_cookie(&replay).unwrap();
    assert_eq!(b1, b2, "a replay inside the window gets the same successor");
    // The one chain goes on; the family has exactly one live token.
    let res = refresh_with(&c, &base, &b1).await;
    assert_eq!(res.status(), 200);
    assert_eq!(stats(&base).await["active_families"], 1);
}

#[tokio::test]
async fn two_refresh_cookies_are_refused() {
    let server = spawn(test_config()).await.unwrap();
    let base = server.base_url();
    let c = client();
    let (_, attacker) = login_demo(&c, &base).await;
    let (_, victim) = login_demo(&c, &base).await;
    for header in [
        format!("__Host-tw_refresh={attacker}; __Host-tw_refresh={victim}"),
        format!("__Host-tw_refresh={victim}; other=1; __Host-tw_refresh={attacker}"),
    ] {
        let res = c
            .post(format!("{base}/auth/refresh"))
            .header(COOKIE, header)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        assert!(refresh_cookie(&res).is_none(), "no session is handed out");
    }
    // Neither token was consumed.
    assert_eq!(refresh_with(&c, &base, &victim).await.status(), 200);
    assert_eq!(refresh_with(&c, &base, &attacker).await.status(), 200);
}

#[tokio::test]
async fn test_hooks_refuse_cross_site_requests() {
    let server = spawn(test_config()).await.unwrap();
    let base = server.base_url();
    let c = client();
    login_demo(&c, &base).await;
    let res = c
        .post(format!("{base}/__test/revoke"))
        .header("origin", "http://evil.example")
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        stats(&base).await["active_families"],
        1,
        "nothing was revoked"
    );
    // Same-origin and origin-less (curl, tests) calls still work.
    let res = c
        .post(format!("{base}/__test/reset"))
        .header("origin", base.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
}

#[tokio::test]
async fn unknown_host_headers_are_refused() {
    let server = spawn(test_config()).await.unwrap();
    let base = server.base_url();
    let port = server.addr.port();
    let c = client();
    let status = |method: reqwest::Method, path: &str, host: &str| {
        c.request(method, format!("{base}{path}"))
            .header(HOST, host)
            .send()
    };
    for host in [
        "evil.example".to_string(),
        format!("rebind.evil.example:{port}"),
    ] {
        for (method, path) in [
            (reqwest::Method::POST, "/__test/revoke"),
            (reqwest::Method::GET, "/api/me"),
        ] {
            let res = status(method, path, &host).await.unwrap();
            assert_eq!(res.status(), 421, "{host} {path}");
        }
    }
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        let res = status(reqwest::Method::GET, "/healthz", &host)
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{host}");
    }
}

/// Reads whatever the server sends until it closes or `limit` passes.
async fn read_until_close(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let closed = loop {
        match tokio::time::timeout(limit, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => break false,
        }
    };
    (String::from_utf8_lossy(&buf).into_owned(), closed)
}

#[tokio::test]
async fn a_body_held_mid_way_times_out() {
    let server = spawn(test_config()).await.unwrap();
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /auth/login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n{{\"username\":\"demo\",",
        server.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let start = Instant::now();
    let (answer, _) = read_until_close(&mut stream, Duration::from_secs(13)).await;
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(12),
        "held for {took:?}: {answer:?}"
    );
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
        "{answer:?}"
    );
}

#[tokio::test]
async fn connections_over_the_cap_get_503() {
    let server = spawn(test_config()).await.unwrap();
    let cap = Config::default().max_connections;
    let mut idle = Vec::new();
    for _ in 0..cap {
        idle.push(TcpStream::connect(server.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(server.addr).await.unwrap();
    let req = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr);
    extra.write_all(req.as_bytes()).await.unwrap();
    let (answer, closed) = read_until_close(&mut extra, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after:"),
        "{answer:?}"
    );
    assert!(closed);
    drop(idle);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let res = client()
        .get(format!("{}/healthz", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "served again once connections are released"
    );
}

#[tokio::test]
async fn malformed_requests_never_get_a_5xx() {
    // The real demo directories: the static file service must meet these paths.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let server = spawn(Config {
        www_dir: root.join("www"),
        pkg_dir: root.join("www"),
        ..test_config()
    })
    .await
    .unwrap();
    let base = server.base_url();
    let c = client();
    let long = "a".repeat(300);
    for path in [
        format!("/{long}"),
        format!("/pkg/{long}"),
        format!("/x/{long}/y"),
        "/%00".to_string(),
        "/%ff%fe".to_string(),
        "/..%2f..%2fetc%2fpasswd".to_string(),
        format!("/{}", "b/".repeat(2000)),
        "/api/me/extra".to_string(),
        "/__test/nope".to_string(),
    ] {
        let res = c.get(format!("{base}{path}")).send().await.unwrap();
        let s = res.status().as_u16();
        assert!(
            (400..500).contains(&s),
            "GET {} -> {s}",
            &path[..path.len().min(40)]
        );
    }
    let bad_bodies: [(&str, &str, &[u8]); 6] = [
        ("/auth/login", "application/json", b"{"),
        ("/auth/login", "application/json", b"[1,2]"),
        ("/auth/login", "application/x-www-form-urlencoded", b"%zz=%"),
        ("/auth/login", "application/json", &[0xff, 0xfe, 0x00]),
        (
            "/auth/refresh",
            "application/json",
            b"{\"refresh_token\": 5}",
        ),
        ("/__test/faults", "application/json", b"{\"count\": -1}"),
    ];
    for (path, ct, body) in bad_bodies {
        let res = c
            .post(format!("{base}{path}"))
            .header("content-type", ct)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let s = res.status().as_u16();
        assert!((400..500).contains(&s), "POST {path} {ct} -> {s}");
    }
    for (name, value) in [
        ("authorization", "Bearer ".to_string() + &"x".repeat(20_000)),
        ("authorization", "Basic Zm9vOmJhcg==".to_string()),
        (
            "cookie",
            "__Host-tw_refresh=".to_string() + &"y".repeat(4_000),
        ),
    ] {
        let res = c
            .get(format!("{base}/api/me"))
            .header(name, value.as_str())
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error(), "{name}: {}", res.status());
    }
    let res = c
        .post(format!("{base}/auth/refresh"))
        .header(COOKIE, format!("__Host-tw_refresh={}", "y".repeat(4_000)))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
}

/// Cookie tossing: a second `tw_refresh` (set by a sibling subdomain for the parent domain)
/// ends the session with the cookies cleared and `invalid_grant`, which clients treat as the
/// end of the session; before, `invalid_request` was an error clients retried for ever.
#[tokio::test]
async fn a_duplicated_refresh_cookie_ends_the_session_with_clearing_headers() {
    let server = spawn(test_config()).await.unwrap();
    let base = server.base_url();
    let c = client();
    let (_, cookie) = login_demo(&c, &base).await;
    let res = c
        .post(format!("{base}/auth/refresh"))
        .header(
            COOKIE,
            format!("__Host-tw_refresh=attacker-token; __Host-tw_refresh={cookie}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let cleared: Vec<String> = res
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(
        cleared
            .iter()
            .any(|l| l.starts_with("__Host-tw_refresh=;") && l.contains("Max-Age=0")),
        "{cleared:?}"
    );
    assert!(
        cleared
            .iter()
            .any(|l| l.starts_with("__Host-tw_session=;") && l.contains("Max-Age=0")),
        "{cleared:?}"
    );
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
}

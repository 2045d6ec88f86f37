//! The login throttle behind a reverse proxy: with `--trust-proxy` one attacker's guesses no
//! longer lock everyone behind the proxy out (before it, every request from the proxy counted
//! against one address), and without it a forged forwarding header cannot dodge the throttle.
//! The "proxy" is one loopback peer address that sends every request with the header a proxy
//! would append.

mod common;

use common::{client_from, login_request, test_config};
use tokenwarden_server::{spawn, Config, ForwardedHeader, TrustProxy};

/// Logs in through the proxy as `xff` would arrive (a client-written part, then what the proxy
/// appended); returns the status.
async fn login_via(base: &str, header: &str, value: &str, password: &str) -> u16 {
    login_request(&client_from("127.0.0.9"), base, "demo", password)
        .header(header, value)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn lock_out_attempt(config: Config, header: &str, attacker: &str, user: &str) -> u16 {
    let server = spawn(config).await.unwrap();
    let base = server.base_url();
    let mut last = 0;
    for i in 0..25 {
        // The attacker also writes addresses of its own in front: never believed.
        let value = format!("10.9.{i}.1, {attacker}");
        last = login_via(&base, header, &value, "wrong").await;
    }
    assert_eq!(last, 429, "the attacker is throttled");
    login_via(&base, header, user, "demo-password").await
}

#[tokio::test]
async fn behind_a_trusted_proxy_one_attacker_does_not_lock_everyone_out() {
    let config = Config {
        trust_proxy: Some(TrustProxy {
            header: ForwardedHeader::XForwardedFor,
            hops: 1,
        }),
        ..test_config()
    };
    let status = lock_out_attempt(config, "x-forwarded-for", "203.0.113.9", "198.51.100.7").await;
    assert_eq!(status, 200, "the real user behind the same proxy logs in");
}

#[tokio::test]
async fn the_rfc_7239_header_works_the_same() {
    let config = Config {
        trust_proxy: Some(TrustProxy {
            header: ForwardedHeader::Forwarded,
            hops: 1,
        }),
        ..test_config()
    };
    let status = lock_out_attempt(
        config,
        "forwarded",
        "for=203.0.113.9;proto=https",
        r#"for="[2001:db8::7]:4711""#,
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn without_trust_proxy_a_forged_header_does_not_dodge_the_throttle() {
    let server = spawn(test_config()).await.unwrap();
    let base = server.base_url();
    // A different forged address on every guess, across user names: one peer, one counter.
    let mut codes = Vec::new();
    for i in 0..30 {
        let res = login_request(
            &client_from("127.0.0.10"),
            &base,
            &format!("user{i}"),
            "wrong",
        )
        .header("x-forwarded-for", format!("10.8.{i}.1"))
        .header("forwarded", format!("for=10.7.{i}.1"))
        .send()
        .await
        .unwrap();
        codes.push(res.status().as_u16());
    }
    // 20 reach the password check (a slow machine may let one more through per back-off step).
    let checked = codes.iter().filter(|&&c| c == 401).count();
    assert!((20..=22).contains(&checked), "{codes:?}");
    assert_eq!(*codes.last().unwrap(), 429, "{codes:?}");
}

#[tokio::test]
async fn the_per_address_limit_is_configurable() {
    let server = spawn(Config {
        login_ip_max_failures: 3,
        ..test_config()
    })
    .await
    .unwrap();
    let base = server.base_url();
    let mut codes = Vec::new();
    for i in 0..5 {
        let res = login_request(&client_from("127.0.0.11"), &base, &format!("u{i}"), "wrong")
            .send()
            .await
            .unwrap();
        codes.push(res.status().as_u16());
    }
    assert_eq!(codes[..4], [401, 401, 401, 429], "{codes:?}");
}

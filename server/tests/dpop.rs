//! DPoP (RFC 9449) on the reference server: bound tokens, proofs on the API, login and refresh,
//! refusals by reason in `/__test/stats`, nonces (real HTTP against an in-process server).

use base64ct::{Base64UrlUnpadded, Encoding};
use reqwest::header::{AUTHORIZATION, COOKIE, WWW_AUTHENTICATE};
use reqwest::{Client, Response};
use serde_json::{json, Value};
use tokenwarden_server::{spawn, Config, PasswordCost, Running};

mod common;
use common::{get_json, refresh_cookie, DpopKey as Key};

fn config(nonce: bool) -> Config {
    Config {
        password_cost: PasswordCost::cheap_for_tests(),
        log_requests: false,
        test_hooks: true,
        dpop: true,
        dpop_nonce: nonce,
        allow_origins: vec!["http://app.example:5173".into()],
        ..Config::default()
    }
}

async fn start(nonce: bool) -> (Running, String) {
    let server = spawn(config(nonce)).await.expect("server starts");
    let base = server.base_url();
    (server, base)
}

async fn login(c: &Client, base: &str, proof: Option<String>) -> Response {
    let mut req = c
        .post(format!("{base}/auth/login"))
        .json(&json!({"username": "demo", "password": "demo-password"}));
    if let Some(proof) = proof {
        req = req.header("DPoP", proof);
    }
    req.send().await.unwrap()
}

async fn refresh(c: &Client, base: &str, cookie: &str, proof: Option<String>) -> Response {
    let mut req = c
        .post(format!("{base}/auth/refresh"))
        .header(COOKIE, format!("__Host-tw_refresh={cookie}"));
    if let Some(proof) = proof {
        req = req.header("DPoP", proof);
    }
    req.send().await.unwrap()
}

async fn api(c: &Client, method: &str, url: &str, auth: &str, proof: Option<&str>) -> Response {
    let mut req = c
        .request(method.parse().unwrap(), url)
        .header(AUTHORIZATION, auth);
    if let Some(proof) = proof {
        req = req.header("DPoP", proof);
    }
    req.send().await.unwrap()
}

async fn stats(_: &Client, base: &str) -> Value {
    get_json(base, "/__test/stats").await
}

fn challenge(res: &Response) -> String {
    res.headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn bound_tokens_and_every_refusal_counted_by_reason() {
    let (_server, base) = start(false).await;
    let c = Client::new();
    let key = Key::new();
    let other = Key::new();
    let login_url = format!("{base}/auth/login");
    let refresh_url = format!("{base}/auth/refresh");
    let me = format!("{base}/api/me");

    // Login needs a proof.
    let res = login(&c, &base, None).await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_dpop_proof");

    let res = login(&c, &base, Some(key.proof("POST", &login_url, None, None))).await;
    assert_eq!(res.status(), 200);
    let mut cookie = refresh_cookie(&res).unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    let token = body["access_token"].as_str().unwrap().to_string();
    let jkt = claims(&token)["cnf"]["jkt"].as_str().unwrap().to_string();
    assert_eq!(jkt.len(), 43);
    let auth = format!("DPoP {token}");

    // A proof for this request is accepted, once.
    let proof = key.proof("GET", &me, Some(&token), None);
    let res = api(&c, "GET", &me, &auth, Some(&proof)).await;
    assert_eq!(res.status(), 200);
    let refusals: [(&str, Response); 7] = [
        ("replay", api(&c, "GET", &me, &auth, Some(&proof)).await),
        ("missing", api(&c, "GET", &me, &auth, None).await),
        (
            "missing",
            api(&c, "GET", &me, &format!("Bearer {token}"), None).await,
        ),
        (
            "key_mismatch",
            api(
                &c,
                "GET",
                &me,
                &auth,
                Some(&other.proof("GET", &me, Some(&token), None)),
            )
            .await,
        ),
        (
            "htu",
            api(
                &c,
                "GET",
                &me,
                &auth,
                Some(&key.proof("GET", &format!("{base}/api/items"), Some(&token), None)),
            )
            .await,
        ),
        (
            "htm",
            api(
                &c,
                "GET",
                &me,
                &auth,
                Some(&key.proof("POST", &me, Some(&token), None)),
            )
            .await,
        ),
        (
            "ath",
            api(
                &c,
                "GET",
                &me,
                &auth,
                Some(&key.proof("GET", &me, Some("another"), None)),
            )
            .await,
        ),
    ];
    for (reason, res) in &refusals {
        assert_eq!(res.status(), 401, "{reason}");
        let expected = if *reason == "key_mismatch" {
            "invalid_token"
        } else {
            "invalid_dpop_proof"
        };
        assert!(
            challenge(res).starts_with(&format!("DPoP error=\"{expected}\"")),
            "{reason}: {}",
            challenge(res)
        );
    }
    // The query does not matter; a bare request without credentials is a DPoP challenge.
    let with_query = format!("{me}?x=1");
    let res = api(
        &c,
        "GET",
        &with_query,
        &auth,
        Some(&key.proof("GET", &me, Some(&token), None)),
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = c.get(&me).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(challenge(&res).starts_with("DPoP"), "{}", challenge(&res));

    // Refresh: without a proof nothing rotates; with one the new token keeps the binding.
    let res = refresh(&c, &base, &cookie, None).await;
    assert_eq!(res.status(), 400);
    let res = refresh(
        &c,
        &base,
        &cookie,
        Some(key.proof("POST", &refresh_url, None, None)),
    )
    .await;
    assert_eq!(
        res.status(),
        200,
        "the family survived the refresh without a proof"
    );
    cookie = refresh_cookie(&res).unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["cnf"]["jkt"],
        jkt.as_str()
    );

    // The refresh token with another key: refused, and the family is over.
    let res = refresh(
        &c,
        &base,
        &cookie,
        Some(other.proof("POST", &refresh_url, None, None)),
    )
    .await;
    assert_eq!(res.status(), 400);
    let res = refresh(
        &c,
        &base,
        &cookie,
        Some(key.proof("POST", &refresh_url, None, None)),
    )
    .await;
    assert_eq!(
        res.status(),
        400,
        "a refresh token used with another key ends its family"
    );

    let stats = stats(&c, &base).await;
    let dpop = &stats["dpop"];
    // login, me, me?x=1, refresh
    assert_eq!(dpop["accepted"], 4, "{dpop}");
    let refused = &dpop["refused"];
    assert_eq!(refused["missing"], 4, "{dpop}"); // login, no proof, Bearer, refresh
    for reason in ["replay", "htu", "htm", "ath"] {
        assert_eq!(refused[reason], 1, "{reason}: {dpop}");
    }
    assert_eq!(refused["key_mismatch"], 2, "{dpop}"); // the API and the refresh
    assert_eq!(stats["rotations"], 2, "{stats}");
}

#[tokio::test]
async fn nonces_are_required_and_a_new_one_costs_one_retry() {
    let (_server, base) = start(true).await;
    let c = Client::new();
    let key = Key::new();
    let login_url = format!("{base}/auth/login");
    let me = format!("{base}/api/me");

    let res = login(&c, &base, Some(key.proof("POST", &login_url, None, None))).await;
    assert_eq!(res.status(), 400);
    let nonce = res.headers()["dpop-nonce"].to_str().unwrap().to_string();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "use_dpop_nonce");
    let res = login(
        &c,
        &base,
        Some(key.proof("POST", &login_url, None, Some(&nonce))),
    )
    .await;
    assert_eq!(res.status(), 200);
    // Nonces are stateless: the answer carries the current window's (the same one unless a
    // window ended in between).
    let nonce = res.headers()["dpop-nonce"].to_str().unwrap().to_string();
    let body: Value = res.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap().to_string();
    let auth = format!("DPoP {token}");

    let res = api(
        &c,
        "GET",
        &me,
        &auth,
        Some(&key.proof("GET", &me, Some(&token), Some(&nonce))),
    )
    .await;
    assert_eq!(res.status(), 200);

    let rotated: Value = c
        .post(format!("{base}/__test/dpop-nonce"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fresh = rotated["nonce"].as_str().unwrap();
    let res = api(
        &c,
        "GET",
        &me,
        &auth,
        Some(&key.proof("GET", &me, Some(&token), Some(&nonce))),
    )
    .await;
    assert_eq!(res.status(), 401);
    assert!(challenge(&res).starts_with("DPoP error=\"use_dpop_nonce\""));
    assert_eq!(res.headers()["dpop-nonce"], fresh);
    let res = api(
        &c,
        "GET",
        &me,
        &auth,
        Some(&key.proof("GET", &me, Some(&token), Some(fresh))),
    )
    .await;
    assert_eq!(res.status(), 200);

    let stats = stats(&c, &base).await;
    assert_eq!(stats["dpop"]["refused"]["nonce_missing"], 1, "{stats}");
    assert_eq!(stats["dpop"]["refused"]["nonce_invalid"], 1, "{stats}");
    assert_eq!(stats["dpop"]["accepted"], 3, "{stats}");
}

#[tokio::test]
async fn cors_lets_pages_send_proofs_and_read_nonces() {
    let (_server, base) = start(true).await;
    let c = Client::new();
    let res = c
        .request(reqwest::Method::OPTIONS, format!("{base}/api/me"))
        .header("Origin", "http://app.example:5173")
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization, dpop")
        .send()
        .await
        .unwrap();
    let allowed = res.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("dpop"), "{allowed}");
    let res = c
        .get(format!("{base}/api/me"))
        .header("Origin", "http://app.example:5173")
        .send()
        .await
        .unwrap();
    let exposed = res.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("dpop-nonce"), "{exposed}");
}

#[tokio::test]
async fn a_proof_is_recorded_only_for_an_accepted_request() {
    let (_server, base) = start(false).await;
    let c = Client::new();
    let key = Key::new();
    let proof = key.proof("POST", &format!("{base}/auth/login"), None, None);
    let wrong = c
        .post(format!("{base}/auth/login"))
        .header("DPoP", &proof)
        .json(&json!({"username": "demo", "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    // The refused login left no trace in the replay cache: the same proof logs in once.
    assert_eq!(login(&c, &base, Some(proof.clone())).await.status(), 200);
    let replay = login(&c, &base, Some(proof)).await;
    assert_eq!(replay.status(), 400);
    let stats = stats(&c, &base).await;
    assert_eq!(stats["dpop"]["refused"]["replay"], 1, "{stats}");
    // A refresh proof without a live refresh token is not recorded either.
    let refresh_proof = key.proof("POST", &format!("{base}/auth/refresh"), None, None);
    assert_eq!(
        refresh(&c, &base, "no-such-token", Some(refresh_proof.clone()))
            .await
            .status(),
        400
    );
    let res = login(
        &c,
        &base,
        Some(key.proof("POST", &format!("{base}/auth/login"), None, None)),
    )
    .await;
    let cookie = refresh_cookie(&res).unwrap();
    assert_eq!(
        refresh(&c, &base, &cookie, Some(refresh_proof))
            .await
            .status(),
        200
    );
}

/// A DPoP-bound access token is blocklisted at logout only with a proof of its key: as a
/// `Bearer` token, or as `DPoP` without a proof or with another key's, the logout is refused and
/// the token keeps working (before, any copy of the token could have it blocklisted).
#[tokio::test]
async fn logout_needs_a_proof_for_a_bound_token() {
    let (_server, base) = start(false).await;
    let c = Client::new();
    let key = Key::new();
    let res = login(
        &c,
        &base,
        Some(key.proof("POST", &format!("{base}/auth/login"), None, None)),
    )
    .await;
    let body: Value = res.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap().to_string();
    let logout_url = format!("{base}/auth/logout");
    let me = format!("{base}/api/me");
    let works = |proof: String| {
        let (c, me, token) = (c.clone(), me.clone(), token.clone());
        async move {
            api(&c, "GET", &me, &format!("DPoP {token}"), Some(&proof))
                .await
                .status()
        }
    };
    let other = Key::new();
    for (auth, proof) in [
        (format!("Bearer {token}"), None),
        (format!("DPoP {token}"), None),
        (
            format!("DPoP {token}"),
            Some(other.proof("POST", &logout_url, Some(&token), None)),
        ),
        (
            format!("DPoP {token}"),
            Some(key.proof("POST", &format!("{base}/auth/refresh"), Some(&token), None)),
        ),
    ] {
        let res = api(&c, "POST", &logout_url, &auth, proof.as_deref()).await;
        assert_eq!(res.status(), 400, "{auth:.10} {proof:?}");
        let proof = key.proof("GET", &me, Some(&token), None);
        assert_eq!(works(proof).await, 200, "the token still works");
    }
    let proof = key.proof("POST", &logout_url, Some(&token), None);
    let res = api(
        &c,
        "POST",
        &logout_url,
        &format!("DPoP {token}"),
        Some(&proof),
    )
    .await;
    assert_eq!(res.status(), 204);
    let proof = key.proof("GET", &me, Some(&token), None);
    assert_eq!(works(proof).await, 401, "blocklisted");
}

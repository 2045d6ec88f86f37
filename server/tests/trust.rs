//! `--trust-issuer` against a provider that stalls: a token naming an unknown `kid` starts at
//! most one key refetch, outside the lock, and delays no request whose key is known; it is
//! itself answered within the wait bound (real HTTP to an in-process provider and server).

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use base64ct::{Base64UrlUnpadded, Encoding};
use p256::ecdsa::{signature::Signer, Signature, SigningKey};
use serde_json::{json, Value};
use tokenwarden_server::{spawn, Config};

const AUDIENCE: &str = "https://api.example";

/// A provider: discovery and a JWKS whose answer can be made to stall.
struct Provider {
    issuer: String,
    key: SigningKey,
    jwks_hits: AtomicU64,
    stall_ms: AtomicU64,
}

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

impl Provider {
    async fn start() -> Arc<Provider> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let provider = Arc::new(Provider {
            issuer,
            key: SigningKey::random(&mut rand::rngs::OsRng),
            jwks_hits: AtomicU64::new(0),
            stall_ms: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .with_state(provider.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        provider
    }

    /// An RFC 9068 access token for the API, signed by the provider's key but naming `kid`.
    fn token(&self, kid: &str) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": kid});
        let claims = json!({
            "iss": self.issuer, "aud": AUDIENCE, "sub": "alice", "client_id": "app",
            "iat": now, "exp": now + 3600, "jti": b64(&rand::random::<[u8; 12]>()),
            "scope": "read",
        });
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature: Signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", b64(&signature.to_bytes()))
    }
}

fn json_body(value: Value) -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], value.to_string())
}

async fn discovery(State(p): State<Arc<Provider>>) -> impl IntoResponse {
    json_body(json!({
        "issuer": p.issuer,
        "authorization_endpoint": format!("{}/auth", p.issuer),
        "token_endpoint": format!("{}/token", p.issuer),
        "jwks_uri": format!("{}/jwks", p.issuer),
    }))
}

async fn jwks(State(p): State<Arc<Provider>>) -> impl IntoResponse {
    p.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let stall = p.stall_ms.load(Ordering::SeqCst);
    if stall > 0 {
        tokio::time::sleep(Duration::from_millis(stall)).await;
    }
    let point = p.key.verifying_key().to_encoded_point(false);
    json_body(json!({"keys": [{
        "kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
        "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap()),
    }]}))
}

/// `GET /api/me` with `token`: the status and how long the answer took.
async fn timed_me(base: &str, token: &str) -> (u16, Duration) {
    let started = Instant::now();
    let res = common::client()
        .get(format!("{base}/api/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_forged_kid_does_not_stall_valid_tokens_while_the_provider_is_slow() {
    let provider = Provider::start().await;
    let server = spawn(Config {
        trust_issuer: Some((provider.issuer.clone(), AUDIENCE.into())),
        ..common::test_config()
    })
    .await
    .unwrap();
    let base = server.base_url();
    let valid = provider.token("k1");
    assert_eq!(timed_me(&base, &valid).await.0, 200, "the provider's token");
    assert_eq!(provider.jwks_hits.load(Ordering::SeqCst), 1);

    // Past the refetch cooldown, with a provider that takes 4 s to answer.
    let res = common::client()
        .post(format!("{base}/__test/clock"))
        .json(&json!({"offset_secs": 40}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    provider.stall_ms.store(4_000, Ordering::SeqCst);

    let forged = provider.token("forged");
    let first = tokio::spawn({
        let (base, forged) = (base.clone(), forged.clone());
        async move { timed_me(&base, &forged).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, took) = timed_me(&base, &valid).await;
    assert_eq!(status, 200, "a valid token during the refetch");
    assert!(
        took < Duration::from_secs(1),
        "a valid token waited {took:?}"
    );
    let (status, took) = timed_me(&base, &forged).await;
    assert_eq!(status, 401, "a second forged token");
    assert!(
        took < Duration::from_secs(3),
        "a forged token waited {took:?}"
    );
    let (status, took) = first.await.unwrap();
    assert_eq!(status, 401, "the forged token that started the refetch");
    assert!(
        took < Duration::from_secs(3),
        "a forged token waited {took:?}"
    );
    assert_eq!(
        provider.jwks_hits.load(Ordering::SeqCst),
        2,
        "one refetch in flight for all forged tokens"
    );
    // After the refetch, still no new fetch for a forged kid (cooldown), and valid tokens pass.
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let (status, took) = timed_me(&base, &forged).await;
    assert_eq!(status, 401);
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(provider.jwks_hits.load(Ordering::SeqCst), 2);
    assert_eq!(timed_me(&base, &valid).await.0, 200);
}

//! Criterion benchmarks of the pure core (run by `scripts/bench.sh`, or
//! `cargo bench -p tokenwarden --features hmac --bench core`):
//! - `verify/<ALG>`: `Verifier::verify` of a realistic access token (kid, issuer and audience
//!   checks) against a pre-imported `JwkSet` holding the asymmetric keys (HS256: the one `oct`
//!   key, which needs the `hmac` feature; without it that case is skipped);
//! - `jsonwebtoken/<ALG>`: the same token, keys and checks (issuer, audience, `exp`) with the
//!   `jsonwebtoken` crate (the Rust ecosystem's most used JWT crate, ring backend), its keys
//!   built once from the same JWKs (`DecodingKey::from_jwk`), for the ratio in the report;
//! - `decode/unverified`: `decode_unverified` of the same ES256 token;
//! - `session/before_request`: the request gate of a session holding a valid token;
//! - `session/refresh_cycle`: a timer-driven refresh start, its successful result and the
//!   drained actions (the work the shell asks of the core once per token lifetime).
//!
//! Signing keys come from `tests/support` (jwt-compact, fixed seeds).

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use tokenwarden::core::secret::Secret;
use tokenwarden::core::session::{Action, RefreshPolicy, RequestDecision, Session, TokenGrant};
use tokenwarden::{decode_unverified, Algorithm, JwkSet, KeyOptions, Verifier};

use support::{b64, ISSUER, NOW};

const AUDIENCE: &str = "https://api.example.com";
const HS_SECRET: [u8; 32] = [0x5a; 32];

/// The claims of a typical OIDC-style access token (about 400 bytes of JSON).
fn payload() -> String {
    json!({
        "iss": ISSUER,
        "sub": "auth0|5f7c8ec7c33c6c004bbafe82",
        "aud": [AUDIENCE, "https://auth.example.com/userinfo"],
        "iat": NOW - 60,
        "nbf": NOW - 60,
        "exp": NOW + 3540,
        "jti": "4f1g23a12aa-8b5c-4e9e-b1d0-7a2f3c9e0d11",
        "azp": "spa-client-7Hq3",
        "scope": "openid profile email read:items write:items",
        "email": "ada.lovelace@example.com",
        "email_verified": true,
        "name": "Ada Lovelace",
        "roles": ["user", "beta"],
        "org_id": "org_9c2f41"
    })
    .to_string()
}

fn token(alg: Algorithm) -> String {
    let (kid, name) = match alg {
        Algorithm::Hs256 => ("hs", "HS256"),
        Algorithm::Rs256 => ("rsa", "RS256"),
        Algorithm::Es256 => ("es", "ES256"),
        Algorithm::EdDsa => ("ed", "EdDSA"),
        other => panic!("not benchmarked: {other:?}"),
    };
    let header = format!(r#"{{"alg":"{name}","kid":"{kid}","typ":"JWT"}}"#);
    if alg == Algorithm::Hs256 {
        let input = format!("{}.{}", b64(header.as_bytes()), b64(payload().as_bytes()));
        let signature = support::hs256(&HS_SECRET, input.as_bytes());
        format!("{input}.{}", b64(&signature))
    } else {
        support::sign(kid, &header, &payload())
    }
}

fn asymmetric_keys() -> JwkSet {
    support::jwks(&["es", "ed", "rsa"])
}

fn verifier(alg: Algorithm) -> Verifier {
    Verifier::builder()
        .algorithms([alg])
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
}

fn bench_verify(c: &mut Criterion) {
    // With the `ring` feature the core verifies on ring's primitive: its own group, so that
    // `make bench` reports both primitives beside jsonwebtoken.
    let mut group = c.benchmark_group(if cfg!(feature = "ring") {
        "verify-ring"
    } else {
        "verify"
    });
    let asymmetric = asymmetric_keys();
    for alg in [
        Algorithm::Hs256,
        Algorithm::Rs256,
        Algorithm::Es256,
        Algorithm::EdDsa,
    ] {
        if !alg.is_compiled() {
            eprintln!("verify/{}: not compiled in (feature), skipped", alg.name());
            continue;
        }
        let keys = if alg == Algorithm::Hs256 {
            let jwk = json!({"keys": [{"kty": "oct", "kid": "hs", "alg": "HS256", "k": b64(&HS_SECRET)}]});
            JwkSet::from_json(
                &jwk.to_string(),
                &KeyOptions {
                    allow_symmetric: true,
                },
            )
            .expect("oct key")
        } else {
            asymmetric.clone()
        };
        let token = token(alg);
        let verifier = verifier(alg);
        verifier
            .verify(&token, &keys, NOW)
            .expect("the benchmark token verifies");
        group.bench_function(alg.name(), |b| {
            b.iter(|| verifier.verify(black_box(&token), &keys, black_box(NOW)))
        });
    }
    group.finish();
    let mut group = c.benchmark_group("jsonwebtoken");
    for alg in [
        Algorithm::Hs256,
        Algorithm::Rs256,
        Algorithm::Es256,
        Algorithm::EdDsa,
    ] {
        let (key, jwt_alg) = match alg {
            Algorithm::Hs256 => (
                jsonwebtoken::DecodingKey::from_secret(&HS_SECRET),
                jsonwebtoken::Algorithm::HS256,
            ),
            _ => {
                let (kid, jwt_alg) = match alg {
                    Algorithm::Rs256 => ("rsa", jsonwebtoken::Algorithm::RS256),
                    Algorithm::Es256 => ("es", jsonwebtoken::Algorithm::ES256),
                    _ => ("ed", jsonwebtoken::Algorithm::EdDSA),
                };
                let jwk: jsonwebtoken::jwk::Jwk =
                    serde_json::from_value(support::public_jwk(kid)).expect("a JWK");
                let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("jsonwebtoken key");
                (key, jwt_alg)
            }
        };
        let mut validation = jsonwebtoken::Validation::new(jwt_alg);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        // `exp` is checked against the system clock; the benchmark tokens expire at NOW + 3540.
        validation.validate_exp = NOW > now_secs();
        let token = token(alg);
        jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation)
            .expect("jsonwebtoken accepts the benchmark token");
        group.bench_function(alg.name(), |b| {
            b.iter(|| {
                jsonwebtoken::decode::<serde_json::Value>(black_box(&token), &key, &validation)
            })
        });
    }
    group.finish();
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn bench_decode(c: &mut Criterion) {
    let token = token(Algorithm::Es256);
    decode_unverified(&token).expect("decodes");
    c.bench_function("decode/unverified", |b| {
        b.iter(|| decode_unverified(black_box(&token)))
    });
}

fn grant(token: &str) -> TokenGrant {
    let mut grant = TokenGrant::new(Secret::from(token.to_owned()));
    grant.expires_in = Some(300);
    grant.exp = Some(NOW + 300);
    grant.iat = Some(NOW);
    grant.server_date_ms = Some(NOW as u64 * 1000);
    grant
}

fn drain(session: &mut Session) -> usize {
    let mut n = 0;
    while let Some(action) = session.poll_action() {
        black_box(&action);
        n += 1;
    }
    n
}

fn bench_session(c: &mut Criterion) {
    let access = token(Algorithm::Es256);
    let start_ms = NOW as u64 * 1000;

    let mut session = Session::new(RefreshPolicy::default(), 7);
    session.handle_tokens(grant(&access), start_ms);
    drain(&mut session);
    c.bench_function("session/before_request", |b| {
        b.iter(
            || match session.before_request(black_box(start_ms + 1_000)) {
                RequestDecision::Attach { token, .. } => token.len(),
                other => panic!("unexpected {other:?}"),
            },
        )
    });

    c.bench_function("session/refresh_cycle", |b| {
        let mut session = Session::new(RefreshPolicy::default(), 7);
        let mut now = start_ms;
        session.handle_tokens(grant(&access), now);
        drain(&mut session);
        b.iter(|| {
            // The timer fires at the deadline; the refresh starts, succeeds 50 ms later, and the
            // new token (a fresh copy: the old one is zeroized on drop) is installed.
            let deadline = session.poll_timeout().expect("a refresh is scheduled");
            now = deadline.max(now);
            session.handle_timeout(now);
            let generation = loop {
                match session.poll_action() {
                    Some(Action::StartRefresh { generation }) => break generation,
                    Some(other) => {
                        black_box(other);
                    }
                    None => panic!("no refresh started"),
                }
            };
            now += 50;
            let mut fresh = grant(&access);
            fresh.server_date_ms = Some(now);
            session.handle_refresh_ok(generation, fresh, now);
            drain(&mut session)
        })
    });
}

criterion_group!(benches, bench_verify, bench_decode, bench_session);
criterion_main!(benches);

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

#[path = "shared/fixtures.rs"]
mod fixtures;
#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use tokenwarden::core::secret::Secret;
use tokenwarden::core::session::{Action, RefreshPolicy, RequestDecision, Session, TokenGrant};
use tokenwarden::{decode_unverified, Algorithm};

use fixtures::{token, ALGORITHMS};
use support::NOW;

fn bench_verify(c: &mut Criterion) {
    // With the `ring` feature the core verifies on ring's primitive: its own group, so that
    // `make bench` reports both primitives beside jsonwebtoken.
    let mut group = c.benchmark_group(if cfg!(feature = "ring") {
        "verify-ring"
    } else {
        "verify"
    });
    for alg in ALGORITHMS {
        if !alg.is_compiled() {
            eprintln!("verify/{}: not compiled in (feature), skipped", alg.name());
            continue;
        }
        let keys = fixtures::keys(alg);
        let token = token(alg);
        let verifier = fixtures::verifier(alg);
        verifier
            .verify(&token, &keys, NOW)
            .expect("the benchmark token verifies");
        group.bench_function(alg.name(), |b| {
            b.iter(|| verifier.verify(black_box(&token), &keys, black_box(NOW)))
        });
    }
    group.finish();
    let mut group = c.benchmark_group("jsonwebtoken");
    for alg in ALGORITHMS {
        let (key, validation) = fixtures::jsonwebtoken_case(alg);
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

//! `make bench`: the core's `Verifier::verify` and `jsonwebtoken::decode` on the same token, keys
//! and checks (`benches/shared/fixtures.rs`), measured **interleaved**: each round times a batch of one
//! and then a batch of the other (the order alternating between rounds), so both see the same
//! machine at the same moment; the speed ratio of a round is jsonwebtoken's time ÷ ours, and the
//! report gives the median round with its quartiles. Criterion (`benches/core.rs`) measures one
//! benchmark after the other, where a shared 2-core machine's load drifts between the two by
//! more than the difference measured (ES256 on ring: 0.78× in one criterion run, 1.00× in the
//! next, the same binary on the same token).
//!
//! Run: `cargo bench -p tokenwarden --features hmac,ring --bench paired` (about 1 minute).
//! Env: `BENCH_QUICK=1` (3 short rounds), `TW_PAIRED_OUT=FILE.json` (the results as JSON).

#[path = "shared/fixtures.rs"]
mod fixtures;
#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use fixtures::{token, ALGORITHMS};
use support::NOW;

/// Seconds spent on one batch of each side, per round.
const BATCH: Duration = Duration::from_millis(25);

fn main() {
    let quick = std::env::var_os("BENCH_QUICK").is_some_and(|v| !v.is_empty());
    let rounds = if quick { 3 } else { 41 };
    let primitive = if cfg!(feature = "ring") {
        "ring"
    } else {
        "jwt-compact (pure Rust)"
    };
    println!("paired: Verifier::verify on {primitive} vs jsonwebtoken 9 (ring), {rounds} interleaved rounds of {} ms each", BATCH.as_millis());
    let mut rows = Vec::new();
    for alg in ALGORITHMS {
        if !alg.is_compiled() {
            println!("paired/{}: not compiled in (feature), skipped", alg.name());
            continue;
        }
        let keys = fixtures::keys(alg);
        let verifier = fixtures::verifier(alg);
        let (key, validation) = fixtures::jsonwebtoken_case(alg);
        let token = token(alg);
        let ours = || black_box(verifier.verify(black_box(&token), &keys, black_box(NOW))).is_ok();
        let theirs = || {
            black_box(jsonwebtoken::decode::<serde_json::Value>(
                black_box(&token),
                &key,
                &validation,
            ))
            .is_ok()
        };
        assert!(ours(), "the core accepts the benchmark token");
        assert!(theirs(), "jsonwebtoken accepts the benchmark token");
        // Batches of a fixed count, sized on a warm-up to last about BATCH.
        let ours_n = calibrate(&ours);
        let theirs_n = calibrate(&theirs);
        let mut ours_ns = Vec::with_capacity(rounds);
        let mut theirs_ns = Vec::with_capacity(rounds);
        let mut ratios = Vec::with_capacity(rounds);
        for round in 0..rounds {
            let (a, b) = if round % 2 == 0 {
                let a = per_call_ns(&ours, ours_n);
                (a, per_call_ns(&theirs, theirs_n))
            } else {
                let b = per_call_ns(&theirs, theirs_n);
                (per_call_ns(&ours, ours_n), b)
            };
            ours_ns.push(a);
            theirs_ns.push(b);
            ratios.push(b / a);
        }
        let (ratio, q1, q3) = (
            median(&ratios),
            quantile(&ratios, 0.25),
            quantile(&ratios, 0.75),
        );
        println!(
            "paired/{}: ours {:.2} µs, jsonwebtoken {:.2} µs (medians); speed ratio {ratio:.3}× (quartiles {q1:.3}–{q3:.3}; min {:.3}, max {:.3})",
            alg.name(),
            median(&ours_ns) / 1e3,
            median(&theirs_ns) / 1e3,
            quantile(&ratios, 0.0),
            quantile(&ratios, 1.0),
        );
        rows.push(format!(
            r#"{{"alg":"{}","oursNs":{:.1},"jsonwebtokenNs":{:.1},"ratio":{ratio:.4},"q1":{q1:.4},"q3":{q3:.4},"min":{:.4},"max":{:.4},"rounds":{rounds}}}"#,
            alg.name(),
            median(&ours_ns),
            median(&theirs_ns),
            quantile(&ratios, 0.0),
            quantile(&ratios, 1.0),
        ));
    }
    if let Some(path) = std::env::var_os("TW_PAIRED_OUT") {
        let json = format!(
            r#"{{"primitive":"{primitive}","batchMs":{},"rows":[{}]}}"#,
            BATCH.as_millis(),
            rows.join(",")
        );
        std::fs::write(&path, json).expect("write TW_PAIRED_OUT");
    }
}

/// How many calls of `f` last about [`BATCH`] (after a warm-up of the same length).
fn calibrate(f: &impl Fn() -> bool) -> u32 {
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < BATCH {
        f();
        n += 1;
    }
    n.max(1)
}

fn per_call_ns(f: &impl Fn() -> bool, n: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let position = q * (sorted.len() - 1) as f64;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
}

fn median(values: &[f64]) -> f64 {
    quantile(values, 0.5)
}

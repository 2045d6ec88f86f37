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

/// The time one batch of each side lasts, per round (about).
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
        let (ours_ns, theirs_ns) = (median(&ours_ns), median(&theirs_ns));
        let (ours_us, theirs_us) = (ours_ns / 1e3, theirs_ns / 1e3);
        let Quantiles {
            min,
            q1,
            median: ratio,
            q3,
            max,
        } = Quantiles::of(ratios);
        println!(
            "paired/{}: ours {ours_us:.2} µs, jsonwebtoken {theirs_us:.2} µs (medians); speed ratio {ratio:.3}× (quartiles {q1:.3}–{q3:.3}; min {min:.3}, max {max:.3})",
            alg.name(),
        );
        rows.push(format!(
            r#"{{"alg":"{}","oursNs":{ours_ns:.1},"jsonwebtokenNs":{theirs_ns:.1},"ratio":{ratio:.4},"q1":{q1:.4},"q3":{q3:.4},"min":{min:.4},"max":{max:.4},"rounds":{rounds}}}"#,
            alg.name(),
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

/// How many calls of `f` last about [`BATCH`] (this run of calls is also their warm-up).
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

/// The spread of one series, sorted once.
struct Quantiles {
    min: f64,
    q1: f64,
    median: f64,
    q3: f64,
    max: f64,
}

impl Quantiles {
    fn of(mut values: Vec<f64>) -> Self {
        values.sort_by(f64::total_cmp);
        Self {
            min: quantile(&values, 0.0),
            q1: quantile(&values, 0.25),
            median: quantile(&values, 0.5),
            q3: quantile(&values, 0.75),
            max: quantile(&values, 1.0),
        }
    }
}

/// The `q` quantile of `sorted` (ascending), interpolated between neighbours.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
}

fn median(values: &[f64]) -> f64 {
    Quantiles::of(values.to_vec()).median
}

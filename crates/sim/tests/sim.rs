//! Runs the simulator over seeds. A plain `cargo test` runs a bounded
//! number; `SOCKMUX_SIM_SEED=N` replays one seed (the line a failure
//! prints); `SOCKMUX_SIM_SEEDS=N` (or the ignored test, 2,000 seeds) runs
//! many.

use std::panic;
use std::time::Instant;

use sockmux_sim::{run_seed, Report};

/// Seeds a plain `cargo test` runs (about ten seconds in a debug build).
const CI_SEEDS: u64 = 96;
/// Seeds of the ignored long run.
const LONG_SEEDS: u64 = 2_000;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {v:?}"))
    })
}

/// Runs `seeds`, panicking at the first failure with its reproduction;
/// a panic inside the engine is reported with the seed the same way.
fn run(seeds: impl Iterator<Item = u64>) -> Report {
    let started = Instant::now();
    let mut total = Report::default();
    let mut count = 0;
    for seed in seeds {
        let result = panic::catch_unwind(|| run_seed(seed));
        match result {
            Ok(Ok(report)) => {
                total.steps += report.steps;
                total.peers += report.peers;
                total.refused += report.refused;
                total.requests += report.requests;
                total.bytes_in += report.bytes_in;
            }
            Ok(Err(failure)) => panic!("{failure}"),
            Err(_) => panic!(
                "sockmux-sim: panic -- reproduce: SOCKMUX_SIM_SEED={seed} cargo test -p sockmux-sim"
            ),
        }
        count += 1;
    }
    eprintln!(
        "sockmux-sim: {count} seeds, {} steps, {} peers ({} refused), {} requests, {} bytes in, {:.1?}",
        total.steps,
        total.peers,
        total.refused,
        total.requests,
        total.bytes_in,
        started.elapsed()
    );
    total
}

#[test]
fn seeded_worlds_keep_every_invariant() {
    let report = match (env_u64("SOCKMUX_SIM_SEED"), env_u64("SOCKMUX_SIM_SEEDS")) {
        (Some(seed), _) => run(seed..=seed),
        (None, Some(n)) => run(0..n),
        (None, None) => {
            let report = run(0..CI_SEEDS);
            // Admission limits bit somewhere among the CI seeds.
            assert!(report.refused > 0, "no seed reached max-connections");
            report
        }
    };
    // The worlds did something: a broken simulator that drives nothing
    // would pass every check.
    assert!(report.requests > 0 && report.bytes_in > 0);
}

#[test]
#[ignore = "long run: cargo test --release -p sockmux-sim -- --ignored"]
fn many_seeded_worlds_keep_every_invariant() {
    run(1_000_000..1_000_000 + LONG_SEEDS);
}

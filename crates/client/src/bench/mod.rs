//! The load generator (`sockmux bench`), in the manner of redis-benchmark,
//! memtier and wrk2.
//!
//! Owns the run: checking the configuration, splitting connections and the
//! request quota over threads (each thread one mio event loop, see
//! `worker`), progress snapshots and the throughput timeline, the
//! fail-fast "nothing could connect" check, and the final [`Report`]. What is sent and how a
//! response is verified is in the `echo` and `app` workloads.
//!
//! Every response is verified: a wrong byte is a mismatch and never counts
//! as throughput. With a `rate`, the load is open loop (each connection
//! sends on a fixed schedule whatever the server does) and latency counts
//! from when a request was due, so a stalled server shows up in the
//! percentiles instead of silently lowering the load (coordinated
//! omission).

mod alarm;
mod app;
pub(crate) mod books;
mod config;
mod counters;
pub(crate) mod echo;
mod link;
mod report;
mod schedule;
mod slot;
mod timeline;
pub(crate) mod worker;
pub(crate) mod workload;

use std::io;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::error::describe_io;
use books::Rules;
pub use config::{BenchConfig, BenchError, Limit, Target};
pub use counters::Counts;
use counters::{Live, Totals};
pub use report::{Latency, PlotError, Report};
use report::{Measured, Settings};
use schedule::Pace;
pub use timeline::Throughput;
use timeline::Timeline;
use worker::Plan;

/// How often the caller's stop flag and the connect check are looked at
/// while the threads run.
const CHECK_EVERY: Duration = Duration::from_millis(20);

/// A snapshot of a run in progress. Its counts read as fields of the
/// snapshot itself (`progress.requests`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Since the start, warm-up included.
    pub elapsed: Duration,
    /// Still in the warm-up (nothing is counted yet).
    pub warming_up: bool,
    /// The counts so far, all threads together.
    pub counts: Counts,
}

impl Progress {
    fn sum(lives: &[Arc<Live>], elapsed: Duration, warming_up: bool) -> Self {
        let mut counts = Counts::default();
        for live in lives {
            counts.add(&live.load());
        }
        Self {
            elapsed,
            warming_up,
            counts,
        }
    }
}

impl Deref for Progress {
    type Target = Counts;

    fn deref(&self) -> &Counts {
        &self.counts
    }
}

/// The workload of a run, shared by its threads.
#[derive(Clone)]
enum AnyWorkload {
    Echo(Arc<echo::EchoWorkload>),
    App(Arc<app::AppWorkload>),
}

/// Runs the load and returns what it measured.
///
/// `on_progress` is called on the calling thread about every `tick`.
/// Setting `stop` ends the run early (the report says so); the run also
/// sets it itself when nothing could connect, to stop its threads, and
/// still returns a report (whose `failure` says so).
pub fn run(
    config: &BenchConfig,
    stop: Arc<AtomicBool>,
    tick: Duration,
    on_progress: &mut dyn FnMut(&Progress),
) -> Result<Report, BenchError> {
    config.check()?;
    let threads = config.threads.clamp(1, config.conns);
    let one_shot = config.one_shot();
    let (workload, settings_request, keep_alive) = match config.target {
        Target::Echo { size } => (
            AnyWorkload::Echo(Arc::new(echo::EchoWorkload::new(size))),
            format!("{size}-byte messages"),
            false,
        ),
        Target::App { binary, keep_alive } => {
            let workload =
                app::AppWorkload::new(binary, keep_alive, config.max_response, &config.tables)?;
            let kind = if binary { "binary" } else { "search" };
            (
                AnyWorkload::App(Arc::new(workload)),
                kind.to_owned(),
                keep_alive,
            )
        }
    };

    let start = Instant::now();
    let (measure_start, end) = config.span(start)?;
    let pace = match config.rate {
        Some(rate) => {
            Some(Pace::new(rate, config.conns).map_err(|e| BenchError::Config(e.to_string()))?)
        }
        None => None,
    };
    let lives: Vec<Arc<Live>> = (0..threads).map(|_| Arc::default()).collect();
    let (tx, rx) = mpsc::channel();
    let mut handles = Vec::with_capacity(threads);
    let mut first_conn = 0;
    for (t, live) in lives.iter().enumerate() {
        let conns = share(config.conns as u64, threads, t) as usize;
        let rules = Rules {
            depth: if one_shot { 1 } else { config.depth },
            batch: config.batch,
            one_shot,
            single: false,
            timeout: config.timeout,
            measure_start,
            end,
            quota: match config.limit {
                Limit::Requests(k) => Some(share(k, threads, t)),
                Limit::Duration(_) => None,
            },
        };
        let plan = Plan {
            addr: config.addr,
            first_conn,
            conns,
            rules,
            pace,
            start,
            tls: config.tls.clone(),
        };
        first_conn += conns;
        let (workload, thread_stop, live, tx) = (
            workload.clone(),
            Arc::clone(&stop),
            Arc::clone(live),
            tx.clone(),
        );
        let spawned = thread::Builder::new()
            .name(format!("sockmux-bench-{t}"))
            .spawn(move || {
                let result = match workload {
                    AnyWorkload::Echo(w) => worker::run(w, plan, thread_stop, live),
                    AnyWorkload::App(w) => worker::run(w, plan, thread_stop, live),
                };
                let _ = tx.send((t, result));
            });
        match spawned {
            Ok(handle) => handles.push(handle),
            Err(e) => {
                stop.store(true, Ordering::Relaxed);
                for handle in handles {
                    let _ = handle.join();
                }
                return Err(BenchError::Setup(e));
            }
        }
    }
    drop(tx);

    let mut results: Vec<Option<io::Result<Totals>>> = (0..threads).map(|_| None).collect();
    let mut done = 0;
    let mut next_tick = start + tick;
    let mut nothing_connected = false;
    let mut interrupted = false;
    let mut timeline = Timeline::new(measure_start);
    while done < threads {
        let now = Instant::now();
        match rx.recv_timeout(next_tick.saturating_duration_since(now).min(CHECK_EVERY)) {
            Ok((t, result)) => {
                results[t] = Some(result);
                done += 1;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let now = Instant::now();
        let progress = Progress::sum(&lives, now - start, now < measure_start);
        timeline.sample(now, progress.requests);
        if !nothing_connected
            && progress.connections_opened == 0
            && progress.connect_errors >= config.conns as u64
        {
            // Every connection has failed once and none ever worked: the
            // server is not there. Say so now rather than after the run.
            nothing_connected = true;
            stop.store(true, Ordering::Relaxed);
        } else if !nothing_connected && stop.load(Ordering::Relaxed) {
            interrupted = true;
        }
        if now >= next_tick {
            on_progress(&progress);
            while next_tick <= now {
                next_tick += tick.max(CHECK_EVERY);
            }
        }
    }
    let finished = Instant::now();
    for handle in handles {
        let _ = handle.join();
    }

    let mut totals = Vec::with_capacity(threads);
    for result in results.into_iter().flatten() {
        totals.push(result.map_err(BenchError::Setup)?);
    }
    let first_connect_error = totals.iter_mut().find_map(|t| t.first_connect_error.take());
    if totals.is_empty() {
        return Err(BenchError::Setup(io::Error::other(
            "the load-generator threads ended without a result",
        )));
    }
    let measured_end = match config.limit {
        Limit::Duration(_) => end.map_or(finished, |end| end.min(finished)),
        Limit::Requests(_) => totals
            .iter()
            .filter_map(|t| t.last_completion)
            .max()
            .unwrap_or(measure_start),
    };
    let settings = Settings {
        target: match config.target {
            Target::Echo { .. } => "echo",
            Target::App { .. } => "app",
        },
        request: settings_request,
        addr: config.addr.to_string(),
        conns: config.conns,
        threads,
        depth: if one_shot { 1 } else { config.depth },
        batch: config.batch && !one_shot,
        keep_alive,
        one_shot,
        rate: config.rate,
        warmup: config.warmup,
        tls: config.tls.is_some(),
    };
    let requests = totals.iter().map(|t| t.counts.requests).sum();
    timeline.sample(finished, requests);
    let elapsed = measured_end.saturating_duration_since(measure_start);
    let measured = Measured {
        elapsed,
        throughput: timeline.finish(elapsed),
        first_connect_error: first_connect_error.map(|e| describe_io(&e)),
        interrupted,
    };
    Ok(Report::new(settings, &totals, measured))
}

/// Thread `t`'s share of `total` split over `threads`, the remainder going
/// to the first threads.
fn share(total: u64, threads: usize, t: usize) -> u64 {
    let threads = threads as u64;
    let t = t as u64;
    total / threads + u64::from(t < total % threads)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up() {
        for (total, threads) in [(50, 1), (50, 3), (7, 8), (1_000_001, 2)] {
            let sum: u64 = (0..threads).map(|t| share(total, threads, t)).sum();
            assert_eq!(sum, total);
        }
    }
}

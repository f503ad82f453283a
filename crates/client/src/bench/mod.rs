//! The load generator (`sockmux bench`), in the manner of redis-benchmark,
//! memtier and wrk2.
//!
//! Owns the run: checking the configuration, splitting connections and the
//! request quota over threads (each thread one mio event loop, see
//! `worker`), progress snapshots for the caller, the fail-fast "nothing
//! could connect" check, and the final [`Report`]. What is sent and how a
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
mod counters;
pub(crate) mod echo;
mod report;
mod schedule;
mod slot;
pub(crate) mod worker;
pub(crate) mod workload;

use std::io;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::error::describe_io;
use books::Rules;
pub use counters::Counts;
use counters::{Live, Totals};
use report::Settings;
pub use report::{Latency, Report};
use schedule::Pace;
use worker::Plan;

/// How often the caller's stop flag and the connect check are looked at
/// while the threads run.
const CHECK_EVERY: Duration = Duration::from_millis(20);

/// What the load generator sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Echo protocol: messages of `size` bytes, each one verified byte for
    /// byte when it comes back.
    Echo {
        /// Bytes per message.
        size: usize,
    },
    /// App protocol: requests rotating over the built-in table's keys and
    /// one missing key, each response checked against the search service.
    App {
        /// Binary requests (`bin` + key) instead of `search`.
        binary: bool,
        /// `keep-alive` requests over persistent connections; without it,
        /// one connection per request, like the reference client.
        keep_alive: bool,
    },
}

/// When a run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// After this long (not counting the warm-up).
    Duration(Duration),
    /// After this many requests have been answered or lost (not counting
    /// the warm-up).
    Requests(u64),
}

/// A load-generator run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// The server.
    pub addr: SocketAddr,
    /// What to send.
    pub target: Target,
    /// Connections (for one connection per request: concurrent requests).
    /// Default: 50.
    pub conns: usize,
    /// Event-loop threads, each with `conns / threads` connections.
    /// Default: 1.
    pub threads: usize,
    /// When to stop. Default: after 10 s.
    pub limit: Limit,
    /// Time run first and not counted. Default: none.
    pub warmup: Duration,
    /// Open loop at this many requests per second overall; `None` sends
    /// each request as soon as there is room (closed loop).
    pub rate: Option<f64>,
    /// Requests in flight per connection (pipelining). Default: 1.
    pub depth: usize,
    /// Pipelining in batches, as `redis-benchmark -P` does: send `depth`
    /// requests at once and wait for all their responses before the next
    /// batch. Otherwise each response makes room for the next request at
    /// once (a sliding window, as memtier does). Default: off.
    pub batch: bool,
    /// A connection attempt, or a connection waiting for a response, that
    /// makes no progress for this long fails. Default: 10 s.
    pub timeout: Duration,
}

impl BenchConfig {
    /// Default for [`BenchConfig::conns`].
    pub const DEFAULT_CONNS: usize = 50;
    /// Default for [`BenchConfig::limit`].
    pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);
    /// Default for [`BenchConfig::timeout`].
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default echo message size.
    pub const DEFAULT_SIZE: usize = 64;

    /// A run against `addr` with the defaults.
    pub fn new(addr: SocketAddr, target: Target) -> Self {
        Self {
            addr,
            target,
            conns: Self::DEFAULT_CONNS,
            threads: 1,
            limit: Limit::Duration(Self::DEFAULT_DURATION),
            warmup: Duration::ZERO,
            rate: None,
            depth: 1,
            batch: false,
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    fn one_shot(&self) -> bool {
        matches!(
            self.target,
            Target::App {
                keep_alive: false,
                ..
            }
        )
    }

    fn check(&self) -> Result<(), BenchError> {
        let bad = |text: &str| Err(BenchError::Config(text.to_owned()));
        if self.conns == 0 {
            return bad("the number of connections must be at least 1");
        }
        if self.depth == 0 {
            return bad("the depth must be at least 1");
        }
        if self.one_shot() && self.depth > 1 {
            return bad("pipelining (depth > 1) needs keep-alive: without it the server closes after one response");
        }
        if matches!(self.target, Target::Echo { size: 0 }) {
            return bad("the echo message size must be at least 1 byte");
        }
        if self.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
            return bad("the rate must be a positive number of requests per second");
        }
        if let Some(rate) = self.rate {
            if let Err(e) = Pace::new(rate, self.conns) {
                return Err(BenchError::Config(e.to_string()));
            }
        }
        match self.limit {
            Limit::Duration(d) if d.is_zero() => bad("the duration must be positive"),
            Limit::Requests(0) => bad("the number of requests must be at least 1"),
            _ if self.timeout.is_zero() => bad("the timeout must be positive"),
            _ => Ok(()),
        }
    }

    /// When counting starts and when the run ends (`None`: when the
    /// requests are done), from `start`.
    fn span(&self, start: Instant) -> Result<(Instant, Option<Instant>), BenchError> {
        let too_long = || BenchError::Config("the warm-up and duration are too long".to_owned());
        let measure_start = start.checked_add(self.warmup).ok_or_else(too_long)?;
        let end = match self.limit {
            Limit::Duration(d) => Some(measure_start.checked_add(d).ok_or_else(too_long)?),
            Limit::Requests(_) => None,
        };
        Ok((measure_start, end))
    }
}

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

/// Why a run could not happen at all.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BenchError {
    /// The configuration makes no sense.
    #[error("{0}")]
    Config(String),
    /// Every connection attempt failed; nothing was measured.
    #[error("cannot connect to {addr}: {}", describe_io(.source))]
    NothingConnected {
        /// The server.
        addr: SocketAddr,
        /// The first failure.
        #[source]
        source: io::Error,
    },
    /// A thread or an event loop could not be started.
    #[error("cannot start the load generator: {0}")]
    Setup(#[source] io::Error),
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
/// sets it itself when nothing could connect, to stop its threads.
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
            let workload = app::AppWorkload::new(binary, keep_alive)
                .map_err(|e| BenchError::Config(format!("cannot encode the requests: {e}")))?;
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
    let opened: u64 = totals.iter().map(|t| t.counts.connections_opened).sum();
    if nothing_connected || (opened == 0 && first_connect_error.is_some()) {
        return Err(BenchError::NothingConnected {
            addr: config.addr,
            source: first_connect_error
                .unwrap_or_else(|| io::Error::other("no connection was accepted")),
        });
    }
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
    };
    Ok(Report::new(
        settings,
        &totals,
        measured_end.saturating_duration_since(measure_start),
        first_connect_error.map(|e| describe_io(&e)),
        interrupted,
    ))
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

    #[test]
    fn refuses_pipelining_without_keep_alive() {
        let mut config = BenchConfig::new(
            SocketAddr::from(([127, 0, 0, 1], 1)),
            Target::App {
                binary: false,
                keep_alive: false,
            },
        );
        config.depth = 4;
        assert!(matches!(config.check(), Err(BenchError::Config(_))));
    }
}

//! `sockmux bench`: flags to [`BenchConfig`], the run with its progress
//! line, the report (text or JSON) and the exit status. The load generator
//! itself is `sockmux_client::bench`.

use std::fs;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use sockmux_client::bench::{self, BenchConfig, BenchError, Limit, Target};

use super::progress::{ProgressDisplay, Show};
use super::tls::TlsClientArgs;
use super::{broken_pipe_is_success, plain};
use crate::exit::{self, usage, Exit};
use crate::host::{self, Host};
use crate::parse::{self, Secs};
use crate::signals::{self, OnFirst};
use crate::table_file;

fn after_help() -> String {
    let exits = exit::help(
        &[
            (Exit::Success, "every response was verified right"),
            (
                Exit::Failure,
                "no response verified, requests left unanswered at the end, mismatches, \
                 protocol errors or timeouts (the report is still printed), nothing could \
                 connect, or a --hgrm/--plot file could not be written",
            ),
        ],
        "the run stops and the report of what ran is printed before it exits",
    );
    format!(
        "{exits}\n\n\
         Latency runs from the moment a request was due (with --rate) or sent, to the last byte \
         of its\nverified response; with one connection per request it includes connecting. \
         When the run ends,\nresponses still in flight are awaited for up to 1 s (or \
         --timeout, if shorter); requests sent\nin full that are still unanswered then are \
         counted as unanswered."
    )
}

/// What `bench` sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchTarget {
    /// Echo protocol: --size-byte messages, each verified byte for byte.
    Echo,
    /// App protocol: search (or --binary) requests, each verified against the built-in table
    /// (or --table).
    App,
}

/// `sockmux bench`.
#[derive(Debug, Args)]
#[command(after_help = after_help())]
pub struct BenchArgs {
    /// Protocol to load.
    target: BenchTarget,
    /// Server host name or IP address.
    #[arg(value_parser = host::parse)]
    host: Host,
    /// Server port (1 to 65535).
    #[arg(value_parser = parse::client_port)]
    port: u16,
    /// Connections (app without --keep-alive: requests in flight, each on its own connection;
    /// at most 1000000).
    #[arg(long, value_name = "N", value_parser = parse::connections,
          default_value_t = BenchConfig::DEFAULT_CONNS)]
    conns: usize,
    /// Seconds to measure, after the warm-up (at most one year) [default: 10 unless
    /// --requests]
    #[arg(long, value_name = "SECS", value_parser = parse::seconds, conflicts_with = "requests")]
    duration: Option<Secs>,
    /// Stop after this many requests (after the warm-up; at most 1000000000000).
    #[arg(long, value_name = "K", value_parser = parse::requests)]
    requests: Option<u64>,
    /// Echo message size in bytes (at most 1 GiB) [default: 64]
    #[arg(long, value_name = "BYTES", value_parser = parse::bytes)]
    size: Option<usize>,
    /// Open loop: send this many requests per second overall (0.001 to 1e9), whatever the
    /// server does; latency counts from when each request was due.
    #[arg(long, value_name = "R", value_parser = parse::rate)]
    rate: Option<f64>,
    /// Event-loop threads; the connections are split between them (at most 1024).
    #[arg(long, value_name = "T", value_parser = parse::threads, default_value_t = 1)]
    threads: usize,
    /// Seconds to run first without counting (at most one year).
    #[arg(long, value_name = "SECS", value_parser = parse::seconds_or_zero,
          default_value_t = Secs(Duration::ZERO))]
    warmup: Secs,
    /// app: keep-alive requests over persistent connections (default: one connection per
    /// request, like the reference client).
    #[arg(long)]
    keep_alive: bool,
    /// Requests in flight per connection (pipelining; app needs --keep-alive; at most
    /// 1000000).
    #[arg(long, value_name = "D", value_parser = parse::connections, default_value_t = 1)]
    depth: usize,
    /// With --depth: send each connection's D requests at once and wait for all D responses
    /// before the next batch (redis-benchmark -P), instead of refilling as each response comes.
    #[arg(long, requires = "depth")]
    batch: bool,
    /// app: binary requests instead of search.
    #[arg(long)]
    binary: bool,
    /// Seconds a connection attempt, or a connection awaiting a response, may go without
    /// progress (at most one year).
    #[arg(long, value_name = "SECS", value_parser = parse::seconds,
          default_value_t = Secs(BenchConfig::DEFAULT_TIMEOUT))]
    timeout: Secs,
    /// Print the report as one JSON object on stdout (also when the run fails).
    #[arg(long)]
    json: bool,
    /// Show the live progress line even when stderr is not a terminal, or with --json or -q
    /// (default: only on a terminal, and never with --json or -q).
    #[arg(long)]
    progress: bool,
    /// Write the latency distribution to FILE in HdrHistogram's percentile-distribution text
    /// format (.hgrm, as wrk2 prints it; values in microseconds).
    #[arg(long, value_name = "FILE")]
    hgrm: Option<PathBuf>,
    /// Write an SVG chart to FILE: latency by percentile (HdrHistogram's log 1/(1-p) axis) and
    /// throughput over time.
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// app: largest response content accepted, in bytes (at most 1 GiB); a response announcing
    /// more is a protocol error, its content never read [default: 64 KiB over the largest
    /// right answer]
    #[arg(long, value_name = "BYTES", value_parser = parse::bytes)]
    max_response: Option<usize>,
    /// app: search a sample of this table's keys (a JSON object of strings, as for app-server
    /// --table) and check answers against it instead of the built-in table. Repeatable: an
    /// answer from any of the tables is right (a server reloading between them).
    #[arg(long, value_name = "FILE")]
    table: Vec<PathBuf>,
    #[command(flatten)]
    tls: TlsClientArgs,
}

/// Runs `sockmux bench`; `quiet` is the global `-q`.
pub fn run(args: BenchArgs, quiet: bool) -> anyhow::Result<Exit> {
    let target = match args.target {
        BenchTarget::Echo => {
            if args.keep_alive || args.binary {
                return Err(usage(
                    "--keep-alive and --binary are for `bench app`; echo connections always stay open",
                ));
            }
            if args.max_response.is_some() {
                return Err(usage(
                    "--max-response is for `bench app`; echo bytes are checked as they arrive",
                ));
            }
            if !args.table.is_empty() {
                return Err(usage(
                    "--table is for `bench app`; echo bytes come back as sent",
                ));
            }
            Target::Echo {
                size: args.size.unwrap_or(BenchConfig::DEFAULT_SIZE),
            }
        }
        BenchTarget::App => {
            if args.size.is_some() {
                return Err(usage(
                    "--size is for `bench echo`; app requests are the table's search keys",
                ));
            }
            Target::App {
                binary: args.binary,
                keep_alive: args.keep_alive,
            }
        }
    };
    let timeout = args.timeout.0;
    let addr = host::resolve_one(&args.host, args.port, timeout).map_err(plain)?;
    let mut config = BenchConfig::new(addr, target);
    config.conns = args.conns;
    config.threads = args.threads;
    config.depth = args.depth;
    config.batch = args.batch;
    config.timeout = timeout;
    config.rate = args.rate;
    config.warmup = args.warmup.0;
    config.max_response = args.max_response;
    config.tls = args.tls.connector(&args.host, args.conns)?;
    config.tables = args
        .table
        .iter()
        .map(|path| table_file::load(path, parse::MAX_BYTES).map(Arc::new))
        .collect::<anyhow::Result<_>>()?;
    config.limit = match (args.requests, args.duration) {
        (Some(k), _) => Limit::Requests(k),
        (None, Some(secs)) => Limit::Duration(secs.0),
        (None, None) => Limit::Duration(BenchConfig::DEFAULT_DURATION),
    };

    // The first signal stops the run and prints what was measured.
    let stop = Arc::new(AtomicBool::new(false));
    let on_signal = Arc::clone(&stop);
    let caught = signals::install(OnFirst::Stop(Box::new(move || {
        on_signal.store(true, Ordering::SeqCst)
    })))?;
    let show = Show::choose(
        args.progress,
        args.json || quiet,
        io::stderr().is_terminal(),
    );
    let mut display = ProgressDisplay::new(show);
    let result = bench::run(&config, stop, display.tick(), &mut |p| display.show(p));
    display.finish();
    let report = result.map_err(|e| match e {
        BenchError::Config(text) => usage(text),
        other => plain(other),
    })?;

    // A run that never connected has nothing to show people but the
    // reason, which is the error line; machines get the whole object.
    let text = if args.json {
        Some(serde_json::to_string(&report).context("cannot write the report as JSON")?)
    } else {
        report.connected().then(|| report.to_string())
    };
    if let Some(text) = text {
        if let Err(e) = writeln!(io::stdout().lock(), "{text}") {
            return broken_pipe_is_success(e);
        }
    }
    if let Some(path) = &args.hgrm {
        write_file(path, "latency distribution", report.hgrm().as_bytes())?;
    }
    if let Some(path) = &args.plot {
        let svg = report.svg().map_err(plain)?;
        write_file(path, "chart", svg.as_bytes())?;
    }
    if let Some(failure) = &report.failure {
        bail!("{failure}");
    }
    if report.interrupted {
        return Ok(caught.exit().unwrap_or(Exit::Interrupted));
    }
    Ok(Exit::Success)
}

/// Writes `what` to `path`, naming both if it cannot.
fn write_file(path: &Path, what: &str, bytes: &[u8]) -> anyhow::Result<()> {
    fs::write(path, bytes).with_context(|| format!("cannot write the {what} to {}", path.display()))
}

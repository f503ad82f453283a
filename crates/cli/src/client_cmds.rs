//! `app-client`, `echo-client` and `bench`: flags to the client library's
//! config structs, and everything they print. No socket or protocol logic
//! lives here (see `sockmux-client`).

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use signal_hook::consts::{SIGINT, SIGTERM};
use sockmux_client::bench::{self, BenchConfig, BenchError, Limit, Progress, Target};
use sockmux_client::{
    describe_io, echo_client, AppClient, AppClientConfig, AppRequest, EchoClientConfig,
    EchoFailure, EchoPayload, Event, PyBytes, Response,
};

/// Exit status of a bench run stopped by Ctrl-C (after its report), as a
/// shell reports a process ended by SIGINT.
const EXIT_INTERRUPTED: u8 = 130;

/// Exit status when the server answered `Error: …` (the exchange itself
/// worked). 1 is a failed exchange and 2 a bad command line (clap).
const EXIT_SERVER_ERROR: u8 = 3;

const APP_CLIENT_EXIT: &str = "\
Exit status:
  0  every request got a response that is not an error
  1  an exchange failed: server unreachable, timeout, connection closed early, malformed response
  2  bad command line
  3  the server answered \"Error: ...\" to at least one request (printed like any result)";

const ECHO_CLIENT_EXIT: &str = "\
Exit status:
  0  every connection got every byte back, in order, and saw the server close
  1  a connection failed: cannot connect, wrong byte, early close, timeout
  2  bad command line";

const BENCH_EXIT: &str = "\
Exit status:
  0  every response was verified right
  1  mismatches, protocol errors or timeouts (the report is still printed), or nothing could connect
  2  bad command line
  130  stopped by Ctrl-C or SIGTERM (the report of what ran is printed; a second signal exits at once)

Latency runs from the moment a request was due (with --rate) or sent, to the last byte of its
verified response; with one connection per request it includes connecting.";

/// `sockmux app-client`.
#[derive(Debug, Args)]
#[command(after_help = APP_CLIENT_EXIT)]
pub struct AppClientArgs {
    /// Server host name or IP address.
    host: String,
    /// Server port.
    port: u16,
    /// `search` looks VALUE up (text/json); any other action sends the bytes of ACTION+VALUE (binary).
    action: String,
    /// One request per value, in order.
    #[arg(required = true)]
    values: Vec<String>,
    /// Ask the server to keep the connection open: the values go one after another over one
    /// connection (a new one whenever the server closes, as the reference server does).
    #[arg(long)]
    keep_alive: bool,
    /// Print each response as one JSON line: {"header": {...}, "content": ...}. JSON content
    /// is included as JSON; binary content as a string, or an array of bytes when not UTF-8.
    #[arg(long)]
    json: bool,
    /// Show the raw exchange on stderr, bytes shown as the reference client prints them.
    #[arg(long)]
    raw: bool,
    /// Seconds allowed to connect, to send a request, and for each whole response.
    #[arg(long, value_name = "SECS", default_value_t = AppClientConfig::DEFAULT_TIMEOUT.as_secs_f64())]
    timeout: f64,
}

/// `sockmux echo-client`.
#[derive(Debug, Args)]
#[command(after_help = ECHO_CLIENT_EXIT)]
pub struct EchoClientArgs {
    /// Server host name or IP address.
    host: String,
    /// Server port.
    port: u16,
    /// Connections to open at once, all on one event loop.
    num_connections: usize,
    /// A message each connection sends, in order (repeatable) [default: "Message 1 from
    /// client." and "Message 2 from client.", as the reference client]
    #[arg(long = "message", value_name = "TEXT", conflicts_with = "size")]
    messages: Vec<String>,
    /// Send generated payloads of this many bytes instead (pseudo-random, different per
    /// connection, reproducible).
    #[arg(long, value_name = "BYTES")]
    size: Option<usize>,
    /// How many payloads of --size each connection sends.
    #[arg(long, value_name = "K", requires = "size", default_value_t = 1)]
    count: usize,
    /// Seconds a connection may go without progress (connecting, sending, receiving).
    #[arg(long, value_name = "SECS", default_value_t = EchoClientConfig::DEFAULT_TIMEOUT.as_secs_f64())]
    timeout: f64,
}

/// What `bench` sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchTarget {
    /// Echo protocol: --size-byte messages, each verified byte for byte.
    Echo,
    /// App protocol: search (or --binary) requests, each verified against the built-in table.
    App,
}

/// `sockmux bench`.
#[derive(Debug, Args)]
#[command(after_help = BENCH_EXIT)]
pub struct BenchArgs {
    /// Protocol to load.
    target: BenchTarget,
    /// Server host name or IP address.
    host: String,
    /// Server port.
    port: u16,
    /// Connections (app without --keep-alive: requests in flight, each on its own connection).
    #[arg(long, value_name = "N", default_value_t = BenchConfig::DEFAULT_CONNS)]
    conns: usize,
    /// Seconds to measure, after the warm-up [default: 10 unless --requests]
    #[arg(long, value_name = "SECS", conflicts_with = "requests")]
    duration: Option<f64>,
    /// Stop after this many requests (after the warm-up).
    #[arg(long, value_name = "K")]
    requests: Option<u64>,
    /// Echo message size in bytes [default: 64]
    #[arg(long, value_name = "BYTES")]
    size: Option<usize>,
    /// Open loop: send this many requests per second overall, whatever the server does;
    /// latency counts from when each request was due.
    #[arg(long, value_name = "R")]
    rate: Option<f64>,
    /// Event-loop threads; the connections are split between them.
    #[arg(long, value_name = "T", default_value_t = 1)]
    threads: usize,
    /// Seconds to run first without counting.
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    warmup: f64,
    /// app: keep-alive requests over persistent connections (default: one connection per
    /// request, like the reference client).
    #[arg(long)]
    keep_alive: bool,
    /// Requests in flight per connection (pipelining; app needs --keep-alive).
    #[arg(long, value_name = "D", default_value_t = 1)]
    depth: usize,
    /// With --depth: send each connection's D requests at once and wait for all D responses
    /// before the next batch (redis-benchmark -P), instead of refilling as each response comes.
    #[arg(long, requires = "depth")]
    batch: bool,
    /// app: binary requests instead of search.
    #[arg(long)]
    binary: bool,
    /// Seconds a connection attempt, or a connection awaiting a response, may go without
    /// progress.
    #[arg(long, value_name = "SECS", default_value_t = BenchConfig::DEFAULT_TIMEOUT.as_secs_f64())]
    timeout: f64,
    /// Print the report as one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

/// Runs `sockmux app-client`.
pub fn app_client(args: AppClientArgs) -> anyhow::Result<ExitCode> {
    usage_exits_2(run_app_client(args))
}

fn run_app_client(args: AppClientArgs) -> anyhow::Result<ExitCode> {
    let addrs = sockmux_client::resolve(&args.host, args.port).map_err(plain)?;
    let mut config = AppClientConfig::new(addrs);
    config.timeout = seconds(args.timeout, "--timeout")?;
    config.keep_alive = args.keep_alive;
    let mut client = AppClient::new(config);
    let raw = args.raw;
    let mut transcript = |event: Event<'_>| {
        if raw {
            match event {
                Event::Connecting(addr) => eprintln!("starting connection to {addr}"),
                Event::Sending(addr, bytes) => eprintln!("sending {} to {addr}", PyBytes(bytes)),
                Event::Received(addr, bytes) => {
                    eprintln!("received {} from {addr}", PyBytes(bytes))
                }
                Event::Closing(addr) => eprintln!("closing connection to {addr}"),
            }
        }
    };
    let mut stdout = io::stdout().lock();
    let mut errors = 0;
    for value in &args.values {
        let request = AppRequest::new(args.action.as_str(), value.as_str());
        let response = match client.request(&request, &mut transcript) {
            Ok(response) => response,
            Err(e) => {
                client.close(&mut transcript);
                return Err(plain(e));
            }
        };
        if response.is_error() {
            errors += 1;
        }
        let line = if args.json {
            json_line(&response)?
        } else {
            text(&response)
        };
        if let Err(e) = writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
            return broken_pipe_is_success(e);
        }
    }
    client.close(&mut transcript);
    if errors > 0 {
        eprintln!(
            "sockmux: error: the server answered with an error to {errors} of {} request(s)",
            args.values.len()
        );
        return Ok(ExitCode::from(EXIT_SERVER_ERROR));
    }
    Ok(ExitCode::SUCCESS)
}

/// What a person wants to read of a response: the `result` string, else
/// the JSON content, else the binary content as text (or escaped, when it
/// is not UTF-8).
fn text(response: &Response) -> String {
    if let Some(result) = response.result() {
        return result.to_owned();
    }
    if let Some(json) = response.json() {
        return json.to_string();
    }
    match std::str::from_utf8(response.content()) {
        Ok(text) => text.to_owned(),
        Err(_) => PyBytes(response.content()).to_string(),
    }
}

/// `{"header": {...}, "content": ...}` on one line.
fn json_line(response: &Response) -> anyhow::Result<String> {
    let header: serde_json::Value = serde_json::from_slice(response.header_json())
        .context("the response header was valid a moment ago")?;
    let content = match response.json() {
        Some(json) => json.clone(),
        None => match std::str::from_utf8(response.content()) {
            Ok(text) => serde_json::Value::from(text),
            Err(_) => serde_json::Value::from(response.content().to_vec()),
        },
    };
    // Written by hand so that "header" comes first, as a person reads it.
    Ok(format!(r#"{{"header":{header},"content":{content}}}"#))
}

/// Runs `sockmux echo-client`.
pub fn echo_client(args: EchoClientArgs) -> anyhow::Result<ExitCode> {
    usage_exits_2(run_echo_client(args))
}

fn run_echo_client(args: EchoClientArgs) -> anyhow::Result<ExitCode> {
    let timeout = seconds(args.timeout, "--timeout")?;
    if args.num_connections == 0 {
        return Err(usage("NUM_CONNECTIONS must be at least 1"));
    }
    let payload = match args.size {
        Some(0) => return Err(usage("--size must be at least 1 byte")),
        Some(size) => EchoPayload::Generated {
            size,
            count: args.count,
        },
        None if args.messages.is_empty() => EchoPayload::reference(),
        None => EchoPayload::Messages(args.messages.into_iter().map(String::into_bytes).collect()),
    };
    let addr = sockmux_client::resolve_one(&args.host, args.port, timeout).map_err(plain)?;
    let config = EchoClientConfig {
        addr,
        connections: args.num_connections,
        payload,
        timeout,
    };
    let summary = echo_client::run(&config).context("cannot run the event loop")?;
    if let Some(reason) = nothing_connected(&summary) {
        bail!("cannot connect to {addr}: {reason}");
    }
    const SHOWN: usize = 10;
    for failure in summary.failures.iter().take(SHOWN) {
        eprintln!("{failure}");
    }
    if summary.failures.len() > SHOWN {
        eprintln!("... and {} more", summary.failures.len() - SHOWN);
    }
    let line = format!(
        "{} connection{} to {addr}: {} bytes sent, {} bytes received and verified, {}",
        summary.connections,
        if summary.connections == 1 { "" } else { "s" },
        summary.bytes_sent,
        summary.bytes_received,
        human_duration(summary.elapsed)
    );
    if let Err(e) = writeln!(io::stdout().lock(), "{line}") {
        return broken_pipe_is_success(e);
    }
    if !summary.is_ok() {
        bail!(
            "{} of {} connections failed",
            summary.failures.len(),
            summary.connections
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// When every connection failed to connect, the one reason (instead of a
/// line per connection).
fn nothing_connected(summary: &echo_client::EchoSummary) -> Option<String> {
    if summary.connections == 0 || summary.failures.len() < summary.connections {
        return None;
    }
    let mut reasons = summary.failures.iter().map(|f| match f {
        EchoFailure::Connect { source, .. } => Some(describe_io(source)),
        _ => None,
    });
    let first = reasons.next()??;
    reasons.all(|r| r.as_ref() == Some(&first)).then_some(first)
}

/// Runs `sockmux bench`.
pub fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    usage_exits_2(run_bench(args))
}

fn run_bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let target = match args.target {
        BenchTarget::Echo => {
            if args.keep_alive || args.binary {
                return Err(usage(
                    "--keep-alive and --binary are for `bench app`; echo connections always stay open",
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
    let timeout = seconds(args.timeout, "--timeout")?;
    let addr = sockmux_client::resolve_one(&args.host, args.port, timeout).map_err(plain)?;
    let mut config = BenchConfig::new(addr, target);
    config.conns = args.conns;
    config.threads = args.threads;
    config.depth = args.depth;
    config.batch = args.batch;
    config.timeout = timeout;
    config.rate = args.rate;
    config.warmup = if args.warmup == 0.0 {
        Duration::ZERO
    } else {
        seconds(args.warmup, "--warmup")?
    };
    config.limit = match (args.requests, args.duration) {
        (Some(k), _) => Limit::Requests(k),
        (None, Some(secs)) => Limit::Duration(seconds(secs, "--duration")?),
        (None, None) => Limit::Duration(BenchConfig::DEFAULT_DURATION),
    };

    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // A second signal ends the process at once; the first stops the
        // run and prints what was measured.
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&stop))
            .context("cannot install signal handlers")?;
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("cannot install signal handlers")?;
    }
    let mut display = ProgressDisplay::new(io::stderr().is_terminal());
    let result = bench::run(&config, stop, display.tick(), &mut |p| display.show(p));
    display.finish();
    let report = result.map_err(|e| match e {
        BenchError::Config(text) => usage(text),
        other => plain(other),
    })?;

    let text = if args.json {
        serde_json::to_string(&report).context("cannot write the report as JSON")?
    } else {
        report.to_string()
    };
    if let Err(e) = writeln!(io::stdout().lock(), "{text}") {
        return broken_pipe_is_success(e);
    }
    if let Some(failure) = report.failure() {
        bail!("{failure}");
    }
    if report.interrupted {
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    Ok(ExitCode::SUCCESS)
}

/// The live progress line: an indicatif spinner on a terminal, a plain
/// line every second otherwise (logs, CI).
struct ProgressDisplay {
    bar: Option<ProgressBar>,
    last: Progress,
}

impl ProgressDisplay {
    fn new(terminal: bool) -> Self {
        let bar = terminal.then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar
        });
        Self {
            bar,
            last: Progress::default(),
        }
    }

    fn tick(&self) -> Duration {
        if self.bar.is_some() {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(1)
        }
    }

    fn show(&mut self, p: &Progress) {
        let span = p.elapsed.saturating_sub(self.last.elapsed).as_secs_f64();
        let rate = if span > 0.0 && !p.warming_up {
            p.requests.saturating_sub(self.last.requests) as f64 / span
        } else {
            0.0
        };
        let phase = if p.warming_up { " (warm-up)" } else { "" };
        let line = format!(
            "{:.1} s{phase}: {} requests, {rate:.0}/s now, {} mismatches, {} errors, {} connect errors",
            p.elapsed.as_secs_f64(),
            p.requests,
            p.mismatches,
            p.protocol_errors + p.timeouts,
            p.connect_errors,
        );
        match &self.bar {
            Some(bar) => bar.set_message(line),
            None => eprintln!("bench: {line}"),
        }
        self.last = *p;
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A library error as one plain sentence: its message already names the
/// cause, so the `{:#}` chain would only repeat it.
fn plain(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("{e}")
}

/// Nobody is reading any more (`| head`): that is not a failure.
fn broken_pipe_is_success(e: io::Error) -> anyhow::Result<ExitCode> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(anyhow!("cannot write to stdout: {e}"))
    }
}

fn seconds(value: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            usage(format!(
                "{flag} must be a positive number of seconds, not {value}"
            ))
        })
}

/// A command line that parses but makes no sense.
#[derive(Debug)]
struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

fn usage(text: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(text.into()))
}

/// Reports a [`Usage`] error with exit status 2, as clap does for the
/// mistakes it catches itself.
fn usage_exits_2(result: anyhow::Result<ExitCode>) -> anyhow::Result<ExitCode> {
    match result {
        Err(e) if e.is::<Usage>() => {
            eprintln!("sockmux: error: {e}");
            Ok(ExitCode::from(2))
        }
        other => other,
    }
}

fn human_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

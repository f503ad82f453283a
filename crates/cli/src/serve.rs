//! `echo-server` and `app-server`: flags to [`ServerConfig`], signals to
//! [`Shutdown`], and the summary line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Context};
use clap::{Args, ValueEnum};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use sockmux_core::{AcceptMode, AppService, EchoService, Server, ServerConfig, Service, Shutdown};
use sockmux_proto::{Limits, SearchService, Table};

/// `--accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Accept {
    /// Every worker accepts on its own listener; the kernel spreads connections.
    Reuseport,
    /// One acceptor thread deals connections round-robin to the workers.
    Handoff,
}

/// Flags every server takes.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Address to bind: an IPv4 or IPv6 literal, or a host name.
    #[arg(default_value = "127.0.0.1")]
    host: String,
    /// Port to bind; 0 picks a free one (printed on the first line).
    #[arg(default_value_t = ServerConfig::DEFAULT_PORT)]
    port: u16,
    /// Worker threads, each with its own event loop [default: the number of cores]
    #[arg(long)]
    workers: Option<usize>,
    /// How connections reach the workers: each worker accepting on its own SO_REUSEPORT
    /// listener, or one acceptor thread handing them out.
    #[arg(long, value_enum, default_value_t = Accept::Reuseport)]
    accept: Accept,
    /// Connections open at once; the next is refused (with an error response on the app protocol).
    #[arg(long, default_value_t = ServerConfig::default().max_connections)]
    max_connections: usize,
    /// Seconds without progress after which a connection is closed.
    #[arg(long, default_value_t = ServerConfig::default().idle_timeout.as_secs_f64())]
    idle_timeout: f64,
    /// Seconds allowed at shutdown to finish owed responses.
    #[arg(long, default_value_t = ServerConfig::default().drain_timeout.as_secs_f64())]
    drain_timeout: f64,
    /// Outgoing bytes held per connection before reading from it pauses.
    #[arg(long, default_value_t = ServerConfig::default().max_output)]
    max_output: usize,
}

/// `sockmux echo-server`.
#[derive(Debug, Args)]
pub struct EchoServerArgs {
    #[command(flatten)]
    server: ServerArgs,
}

/// `sockmux app-server`.
#[derive(Debug, Args)]
pub struct AppServerArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Search table: a JSON object of string keys to string answers [default: the built-in 3 entries]
    #[arg(long, value_name = "FILE")]
    table: Option<PathBuf>,
    /// Largest request content accepted, in bytes.
    #[arg(long, default_value_t = Limits::DEFAULT_MAX_CONTENT)]
    max_content: usize,
    /// Largest JSON header accepted, in bytes (at most 65535).
    #[arg(long, default_value_t = Limits::DEFAULT_MAX_HEADER)]
    max_header: usize,
}

impl ServerArgs {
    fn config(&self) -> anyhow::Result<ServerConfig> {
        let defaults = ServerConfig::default();
        Ok(ServerConfig {
            // A server binds one address: the first the name resolves to.
            addr: sockmux_client::resolve(&self.host, self.port)?[0],
            workers: self.workers.unwrap_or(defaults.workers).max(1),
            accept: match self.accept {
                Accept::Reuseport => AcceptMode::ReusePort,
                Accept::Handoff => AcceptMode::Handoff,
            },
            max_connections: self.max_connections,
            idle_timeout: seconds(self.idle_timeout, "--idle-timeout")?,
            drain_timeout: seconds(self.drain_timeout, "--drain-timeout")?,
            max_output: self.max_output.max(1),
            ..defaults
        })
    }
}

fn seconds(value: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| anyhow!("{flag} must be a positive number of seconds, not {value}"))
}

/// Runs `sockmux echo-server`.
pub fn echo_server(args: EchoServerArgs) -> anyhow::Result<ExitCode> {
    run(args.server.config()?, EchoService)
}

/// Runs `sockmux app-server`.
pub fn app_server(args: AppServerArgs) -> anyhow::Result<ExitCode> {
    let mut config = args.server.config()?;
    if args.max_header == 0 || args.max_header > Limits::DEFAULT_MAX_HEADER {
        return Err(anyhow!(
            "--max-header must be between 1 and {}",
            Limits::DEFAULT_MAX_HEADER
        ));
    }
    config.limits = Limits {
        max_header: args.max_header,
        max_content: args.max_content,
    };
    let table = match &args.table {
        None => Table::builtin(),
        Some(path) => load_table(path)?,
    };
    let service = AppService::new(SearchService::new(table), config.limits);
    run(config, service)
}

fn load_table(path: &std::path::Path) -> anyhow::Result<Table> {
    let started = std::time::Instant::now();
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read table file {}", path.display()))?;
    let table =
        Table::from_json(&text).with_context(|| format!("bad table file {}", path.display()))?;
    tracing::info!(
        "loaded {} entries from {} in {:.2} s",
        table.len(),
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(table)
}

fn run<V: Service>(config: ServerConfig, service: V) -> anyhow::Result<ExitCode> {
    let server = Server::bind(config, service)?;
    let shutdown = Shutdown::new();
    let mut signals = Signals::new([SIGINT, SIGTERM]).context("cannot install signal handlers")?;
    let on_signal = shutdown.clone();
    std::thread::Builder::new()
        .name("sockmux-signals".into())
        .spawn(move || {
            let mut received = signals.forever();
            if let Some(signal) = received.next() {
                tracing::info!("signal {signal} received: shutting down gracefully");
                on_signal.trigger();
            }
            if received.next().is_some() {
                tracing::warn!("second signal: exiting at once");
                std::process::exit(130);
            }
        })?;

    // The first line on stdout is the contract scripts and tests rely on:
    // by the time it is printed, everything that can fail at start-up has.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", server.local_addr())?;
    stdout.flush()?;
    drop(stdout);

    let stats = server.run(shutdown)?;
    tracing::info!(
        "shut down: {} connections ({} refused), {} requests, {} errors, {} bytes in, {} bytes out",
        stats.connections,
        stats.refused,
        stats.requests,
        stats.errors,
        stats.bytes_in,
        stats.bytes_out
    );
    Ok(ExitCode::SUCCESS)
}

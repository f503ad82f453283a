//! What `echo-server` and `app-server` share: the flags every server takes,
//! their mapping onto [`ServerConfig`], and running a bound server until a
//! signal (listening line, graceful stop, summary, exit status). The
//! services themselves belong to the two command modules.

use std::io::Write;

use clap::{Args, ValueEnum};
use sockmux_core::{AcceptMode, Server, ServerConfig, Service, Shutdown};

use super::plain;
use crate::exit::Exit;
use crate::host::{self, Host};
use crate::parse::{self, Secs};
use crate::signals::{self, OnFirst};

/// The "Exit status" of a server's `--help`.
pub fn exit_help() -> String {
    crate::exit::help(
        &[(
            Exit::Failure,
            "cannot start: bad address, port in use, unreadable or bad table file",
        )],
        "the server stops accepting, answers what has arrived\n\
         (bounded by --drain-timeout) and logs a summary before it exits",
    )
}

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
    #[arg(default_value = "127.0.0.1", value_parser = host::parse)]
    host: Host,
    /// Port to bind; 0 picks a free one (printed on the first line).
    #[arg(value_parser = parse::server_port, default_value_t = ServerConfig::DEFAULT_PORT)]
    port: u16,
    /// Worker threads, each with its own event loop, at most 1024 [default: the number of
    /// cores]
    #[arg(long, value_parser = parse::threads)]
    workers: Option<usize>,
    /// How connections reach the workers: each worker accepting on its own SO_REUSEPORT
    /// listener, or one acceptor thread handing them out.
    #[arg(long, value_enum, default_value_t = Accept::Reuseport)]
    accept: Accept,
    /// Connections open at once, 1 to 1000000; the next is refused (with an error response on
    /// the app protocol).
    #[arg(long, value_name = "N", value_parser = parse::connections,
          default_value_t = ServerConfig::default().max_connections)]
    max_connections: usize,
    /// Seconds without progress after which a connection is closed (at most one year).
    #[arg(long, value_name = "SECS", value_parser = parse::seconds,
          default_value_t = Secs(ServerConfig::default().idle_timeout))]
    idle_timeout: Secs,
    /// Seconds allowed at shutdown to finish owed responses (at most one year).
    #[arg(long, value_name = "SECS", value_parser = parse::seconds,
          default_value_t = Secs(ServerConfig::default().drain_timeout))]
    drain_timeout: Secs,
    /// Outgoing bytes held per connection before reading from it pauses (at most 1 GiB).
    #[arg(long, value_name = "BYTES", value_parser = parse::bytes,
          default_value_t = ServerConfig::default().max_output)]
    max_output: usize,
    /// Bytes all connections together may hold in buffers beyond 64 KiB of input and 64 KiB of
    /// output each (suffixes KiB, MiB, GiB, TiB); past it, a large request is refused with an
    /// error and long answers slow down.
    #[arg(long, value_name = "BYTES", value_parser = parse::budget,
          default_value_t = ServerConfig::default().max_buffered)]
    max_buffered: usize,
    /// Reads one connection gets per loop turn before the others have theirs (fairness), 1 to
    /// 65536.
    #[arg(long, value_name = "N", value_parser = parse::per_turn,
          default_value_t = ServerConfig::default().read_budget)]
    read_budget: usize,
    /// Connections accepted per loop turn before the loop serves the ones it has, 1 to 65536.
    #[arg(long, value_name = "N", value_parser = parse::per_turn,
          default_value_t = ServerConfig::default().accept_batch)]
    accept_batch: usize,
}

impl ServerArgs {
    /// The server configuration these flags describe.
    pub fn config(&self) -> anyhow::Result<ServerConfig> {
        let defaults = ServerConfig::default();
        Ok(ServerConfig {
            // A server binds one address: the first the name resolves to.
            addr: host::resolve(&self.host, self.port).map_err(plain)?[0],
            workers: self.workers.unwrap_or(defaults.workers),
            accept: match self.accept {
                Accept::Reuseport => AcceptMode::ReusePort,
                Accept::Handoff => AcceptMode::Handoff,
            },
            max_connections: self.max_connections,
            idle_timeout: self.idle_timeout.0,
            drain_timeout: self.drain_timeout.0,
            max_output: self.max_output,
            max_buffered: self.max_buffered,
            read_budget: self.read_budget,
            accept_batch: self.accept_batch,
            ..defaults
        })
    }
}

/// Binds, prints `listening on ADDR`, serves until SIGINT or SIGTERM, drains
/// and logs the summary; exits 130 or 143 for the signal that stopped it.
pub fn run<V: Service>(config: ServerConfig, service: V) -> anyhow::Result<Exit> {
    let server = Server::bind(config, service)?;
    let shutdown = Shutdown::new();
    let on_signal = shutdown.clone();
    let caught = signals::install(OnFirst::Stop(Box::new(move || on_signal.trigger())))?;

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
    Ok(caught.exit().unwrap_or(Exit::Success))
}

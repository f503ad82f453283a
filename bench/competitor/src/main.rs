//! The tokio competitor. It exists only as the benchmark baseline for
//! sockmux (issue 5) and is not part of anything shipped.
//!
//! It is the echo server and the app server written the way a competent
//! tokio engineer would write them: a task per connection, a reused read
//! buffer for echo, a `tokio_util::codec` codec with pipelined answers and
//! one flush per batch for the app protocol, `TCP_NODELAY` on every
//! connection. It deliberately has no idle timeout or connection limit, so
//! it pays for none of sockmux's per-request timer bookkeeping: comparisons
//! against it are, if anything, tilted in its favour.
//!
//! ```text
//! competitor echo HOST PORT [--threads N]
//! competitor app  HOST PORT [--threads N]
//! ```
//!
//! `--threads 1` (the default) runs a current-thread runtime; more runs the
//! multi-thread runtime with N workers. The first stdout line is
//! `listening on HOST:PORT` with the bound port (so port 0 works); SIGTERM
//! or SIGINT exits.

mod app;

use std::io;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use sockmux_proto::{SearchService, Table};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};

/// Read buffer of one echo connection, allocated on its first data.
const ECHO_BUF: usize = 64 * 1024;
/// How long accepting pauses after a non-transient accept error (EMFILE).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Idiomatic tokio echo and app servers, the benchmark baseline for sockmux.
#[derive(Debug, Parser)]
#[command(name = "competitor")]
struct Cli {
    /// Runtime threads: 1 runs a current-thread runtime, more a multi-thread
    /// runtime with that many workers.
    #[arg(long, default_value_t = 1, global = true)]
    threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Echo every byte back.
    Echo(Addr),
    /// Serve the app protocol's search service, with keep-alive.
    App(Addr),
}

#[derive(Debug, clap::Args)]
struct Addr {
    host: String,
    port: u16,
}

/// What each accepted connection runs.
#[derive(Debug, Clone)]
enum Service {
    Echo,
    App(Arc<SearchService>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = if cli.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cli.threads)
            .enable_all()
            .build()
    };
    let result = runtime.and_then(|rt| rt.block_on(run(cli.command)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("competitor: error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> io::Result<()> {
    let (addr, service) = match command {
        Command::Echo(addr) => (addr, Service::Echo),
        Command::App(addr) => (
            addr,
            Service::App(Arc::new(SearchService::new(Table::builtin()))),
        ),
    };
    let host = addr.host.trim_start_matches('[').trim_end_matches(']');
    let listener = TcpListener::bind((host, addr.port)).await?;
    // Installed before the port is announced, so no signal is missed.
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    println!("listening on {}", listener.local_addr()?);
    tokio::select! {
        () = accept_loop(listener, service) => Ok(()),
        _ = term.recv() => Ok(()),
        _ = int.recv() => Ok(()),
    }
}

async fn accept_loop(listener: TcpListener, service: Service) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) if is_transient_accept_error(&e) => continue,
            Err(e) => {
                eprintln!("competitor: accept: {e}; backing off");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        // Small request/response exchanges must not wait for Nagle.
        let _ = stream.set_nodelay(true);
        match &service {
            Service::Echo => {
                tokio::spawn(echo(stream));
            }
            Service::App(search) => {
                tokio::spawn(app::serve(stream, Arc::clone(search)));
            }
        }
    }
}

/// Echoes until EOF. `write_all` finishes before the next read, so bytes
/// are never dropped and a peer that does not read is not read from
/// (backpressure); an error just ends the connection.
async fn echo(mut stream: TcpStream) -> io::Result<()> {
    // An idle connection holds no buffer: allocate once the first byte is
    // in. (`readable()` would not do: tokio assumes a fresh accept is
    // readable.) One extra syscall per connection, none per message.
    if stream.peek(&mut [0u8; 1]).await? == 0 {
        return Ok(());
    }
    let mut buf = vec![0u8; ECHO_BUF];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

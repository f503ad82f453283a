//! `sockmux echo-client`: many echo connections through the client library,
//! then the failures (the first few) and a one-line summary. No socket
//! logic lives here (see `sockmux_client::echo_client`).

use std::io::{self, Write};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use sockmux_client::echo_client::{self, EchoSummary};
use sockmux_client::{describe_io, EchoClientConfig, EchoFailure, EchoPayload};

use super::say;
use super::tls::TlsClientArgs;
use super::{broken_pipe_is_success, plain};
use crate::exit::{self, Exit};
use crate::host::{self, Host};
use crate::parse::{self, Secs};
use crate::signals::{self, OnFirst};

fn exit_help() -> String {
    exit::help(
        &[
            (
                Exit::Success,
                "every connection got every byte back, in order, and saw the server close",
            ),
            (
                Exit::Failure,
                "a connection failed: cannot connect, wrong byte, early close, timeout",
            ),
        ],
        "the client exits at once",
    )
}

/// `sockmux echo-client`.
#[derive(Debug, Args)]
#[command(after_help = exit_help())]
pub struct EchoClientArgs {
    /// Server host name or IP address.
    #[arg(value_parser = host::parse)]
    host: Host,
    /// Server port (1 to 65535).
    #[arg(value_parser = parse::client_port)]
    port: u16,
    /// Connections to open at once, all on one event loop (at most 1000000).
    #[arg(value_parser = parse::connections)]
    num_connections: usize,
    /// A message each connection sends, in order (repeatable) [default: "Message 1 from
    /// client." and "Message 2 from client.", as the reference client]
    #[arg(long = "message", value_name = "TEXT", conflicts_with = "size")]
    messages: Vec<String>,
    /// Send generated payloads of this many bytes instead (pseudo-random, different per
    /// connection, reproducible; at most 1 GiB).
    #[arg(long, value_name = "BYTES", value_parser = parse::bytes)]
    size: Option<usize>,
    /// How many payloads of --size each connection sends (at most 1000000000).
    #[arg(long, value_name = "K", value_parser = parse::payloads, requires = "size",
          default_value_t = 1)]
    count: usize,
    /// Seconds a connection may go without progress (connecting, sending, receiving; at most
    /// one year).
    #[arg(long, value_name = "SECS", value_parser = parse::seconds,
          default_value_t = Secs(EchoClientConfig::DEFAULT_TIMEOUT))]
    timeout: Secs,
    #[command(flatten)]
    tls: TlsClientArgs,
}

/// Runs `sockmux echo-client`.
pub fn run(args: EchoClientArgs) -> anyhow::Result<Exit> {
    signals::install(OnFirst::Exit)?;
    let timeout = args.timeout.0;
    let payload = match args.size {
        Some(size) => EchoPayload::Generated {
            size,
            count: args.count,
        },
        None if args.messages.is_empty() => EchoPayload::reference(),
        None => EchoPayload::Messages(args.messages.into_iter().map(String::into_bytes).collect()),
    };
    let addr = host::resolve_one(&args.host, args.port, timeout).map_err(plain)?;
    let config = EchoClientConfig {
        addr,
        connections: args.num_connections,
        payload,
        timeout,
        tls: args.tls.connector(&args.host, args.num_connections)?,
    };
    let summary = echo_client::run(&config).context("cannot run the event loop")?;
    if let Some(reason) = nothing_connected(&summary) {
        bail!("cannot connect to {addr}: {reason}");
    }
    const SHOWN: usize = 10;
    for failure in summary.failures.iter().take(SHOWN) {
        say!("{failure}");
    }
    if summary.failures.len() > SHOWN {
        say!("... and {} more", summary.failures.len() - SHOWN);
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
    Ok(Exit::Success)
}

/// When every connection failed to connect, the one reason (instead of a
/// line per connection).
fn nothing_connected(summary: &EchoSummary) -> Option<String> {
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

fn human_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

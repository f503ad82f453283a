//! The `sockmux` binary: parses the command line and dispatches to one
//! module per command (`cmd`). No protocol or socket logic lives here.

mod cmd;
mod exit;
mod host;
mod logging;
mod parse;
mod reload;
mod signals;
mod table_file;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::exit::Exit;

/// Multi-connection socket servers, clients and a load generator, wire-
/// compatible with the Python `selectors` echo and app examples.
#[derive(Debug, Parser)]
#[command(name = "sockmux", version, about, long_about = None)]
struct Cli {
    /// More log output (-v debug, -vv trace). Logs go to stderr.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Less log output (-q warnings only, -qq errors only).
    #[arg(short, long, action = clap::ArgAction::Count, global = true, conflicts_with = "verbose")]
    quiet: u8,
    /// Log line format: text for people, json (one object per line) for log collectors.
    #[arg(long, value_enum, global = true, default_value_t = logging::Format::Text)]
    log_format: logging::Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Echo every byte back (the reference multiconn-server.py, hardened).
    EchoServer(cmd::echo_server::EchoServerArgs),
    /// Serve the app protocol's search service (the reference app-server.py,
    /// hardened, with keep-alive and pipelining).
    AppServer(cmd::app_server::AppServerArgs),
    /// Send app-protocol requests and print the results (the reference app-client.py).
    AppClient(cmd::app_client::AppClientArgs),
    /// Open echo connections, send, and verify every byte that comes back (the reference
    /// multiconn-client.py).
    EchoClient(cmd::echo_client::EchoClientArgs),
    /// Load generator for the echo and app protocols: every response verified, latency
    /// percentiles, open or closed loop.
    Bench(cmd::bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.verbose, cli.quiet, cli.log_format);
    let result = match cli.command {
        Command::EchoServer(args) => cmd::echo_server::run(args),
        Command::AppServer(args) => cmd::app_server::run(args),
        Command::AppClient(args) => cmd::app_client::run(args),
        Command::EchoClient(args) => cmd::echo_client::run(args),
        Command::Bench(args) => cmd::bench::run(args, cli.quiet > 0),
    };
    logging::flush();
    match result {
        Ok(exit) => exit.into(),
        Err(e) => {
            let _ = writeln!(io::stderr(), "sockmux: error: {e:#}");
            Exit::of_error(&e).into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_usage_errors_share_the_usage_exit_status() {
        let err = Cli::try_parse_from(["sockmux", "no-such-command"]).expect_err("bad command");
        assert_eq!(err.exit_code(), Exit::Usage as i32);
    }
}

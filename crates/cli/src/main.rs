//! The `sockmux` binary: maps flags onto the libraries' config structs and
//! dispatches. No protocol or socket logic lives here.

mod client_cmds;
mod logging;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Echo every byte back (the reference multiconn-server.py, hardened).
    EchoServer(serve::EchoServerArgs),
    /// Serve the app protocol's search service (the reference app-server.py,
    /// hardened, with keep-alive and pipelining).
    AppServer(serve::AppServerArgs),
    /// Send app-protocol requests and print the results (the reference app-client.py).
    AppClient(client_cmds::AppClientArgs),
    /// Open echo connections, send, and verify every byte that comes back (the reference
    /// multiconn-client.py).
    EchoClient(client_cmds::EchoClientArgs),
    /// Load generator for the echo and app protocols: every response verified, latency
    /// percentiles, open or closed loop.
    Bench(client_cmds::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.verbose, cli.quiet);
    let result = match cli.command {
        Command::EchoServer(args) => serve::echo_server(args),
        Command::AppServer(args) => serve::app_server(args),
        Command::AppClient(args) => client_cmds::app_client(args),
        Command::EchoClient(args) => client_cmds::echo_client(args),
        Command::Bench(args) => client_cmds::bench(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sockmux: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

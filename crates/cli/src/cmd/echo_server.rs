//! `sockmux echo-server`: the server flags and the echo service.

use clap::Args;
use sockmux_core::EchoService;

use super::server::{self, ServerArgs};
use crate::exit::Exit;

/// `sockmux echo-server`.
#[derive(Debug, Args)]
#[command(after_help = server::exit_help())]
pub struct EchoServerArgs {
    #[command(flatten)]
    server: ServerArgs,
}

/// Runs `sockmux echo-server`.
pub fn run(args: EchoServerArgs) -> anyhow::Result<Exit> {
    server::run(&args.server, args.server.config()?, EchoService)
}

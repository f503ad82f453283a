//! One module per command: each maps its flags onto the libraries' config
//! structs, runs, prints, and returns its [`Exit`]. Shared here: what the
//! client commands do with library errors and with a closed stdout.

pub mod app_client;
pub mod app_server;
pub mod bench;
pub mod echo_client;
pub mod echo_server;
mod progress;
mod server;
mod tls;

use std::io;

use anyhow::anyhow;

/// `eprintln!` that never panics: `eprintln!` panics when stderr is closed
/// (`2>&-`, a reader that went away), and a line about a run must not end
/// the run. What cannot be written is dropped.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}
pub(crate) use say;

use crate::exit::Exit;

/// A library error as one plain sentence: its message already names the
/// cause, so the `{:#}` chain would only repeat it.
fn plain(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("{e}")
}

/// Nobody is reading any more (`| head`): that is not a failure.
fn broken_pipe_is_success(e: io::Error) -> anyhow::Result<Exit> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(Exit::Success)
    } else {
        Err(anyhow!("cannot write to stdout: {e}"))
    }
}

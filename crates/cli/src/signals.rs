//! SIGINT and SIGTERM, for every command: installed once, on one thread
//! (signal-hook, no unsafe code here). The first signal is recorded, so the
//! command can exit with 130 or 143, and starts the command's stop; a
//! second one exits at once. What "stop" means belongs to the command.
//! SIGHUP, for the commands that take it (`app-server` reloads its table),
//! has a thread of its own, so that what it starts never holds up a stop.

use std::io::{self, Write};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use anyhow::Context;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::exit::Exit;

/// What the first signal does.
pub enum OnFirst {
    /// Exit at once with the signal's status: the command has nothing to
    /// wind down.
    Exit,
    /// Start a graceful stop; the command exits when it has finished, with
    /// [`Caught::exit`].
    Stop(Box<dyn FnOnce() + Send>),
}

/// Which signal arrived, once one has.
#[derive(Debug, Clone)]
pub struct Caught(Arc<AtomicI32>);

impl Caught {
    /// 130 after SIGINT, 143 after SIGTERM; `None` before any signal.
    pub fn exit(&self) -> Option<Exit> {
        match self.0.load(Ordering::SeqCst) {
            0 => None,
            signal => Some(exit_for(signal)),
        }
    }
}

/// Installs the handlers and starts the thread that acts on them.
pub fn install(on_first: OnFirst) -> anyhow::Result<Caught> {
    let mut signals = Signals::new([SIGINT, SIGTERM]).context("cannot install signal handlers")?;
    let caught = Caught(Arc::new(AtomicI32::new(0)));
    let record = caught.clone();
    std::thread::Builder::new()
        .name("sockmux-signals".into())
        .spawn(move || {
            let mut received = signals.forever();
            let Some(first) = received.next() else {
                return;
            };
            record.0.store(first, Ordering::SeqCst);
            match on_first {
                OnFirst::Exit => exit_now(first),
                OnFirst::Stop(stop) => {
                    tracing::info!("signal {first} received: shutting down gracefully");
                    stop();
                }
            }
            if let Some(second) = received.next() {
                // Not eprintln!: stderr may be closed, and this thread must
                // still exit the process.
                let _ = writeln!(io::stderr(), "sockmux: second signal: exiting at once");
                exit_now(second);
            }
        })
        .context("cannot start the signal thread")?;
    Ok(caught)
}

/// One thing SIGHUP does (read a table again, reload certificates).
pub type OnHangup = Box<dyn FnMut() + Send>;

/// Runs every action for each SIGHUP, on a thread of its own; SIGHUPs that
/// arrive while they run make one more round, not one each. With no
/// action, SIGHUP logs that there is nothing to reload (and does not end
/// the process, as it would by default).
pub fn on_hangup(mut actions: Vec<OnHangup>) -> anyhow::Result<()> {
    let mut signals = Signals::new([SIGHUP]).context("cannot install the SIGHUP handler")?;
    std::thread::Builder::new()
        .name("sockmux-hangup".into())
        .spawn(move || {
            for _ in signals.forever() {
                if actions.is_empty() {
                    tracing::warn!("SIGHUP: nothing to reload (no --table file, no --tls-cert)");
                }
                for action in &mut actions {
                    action();
                }
            }
        })
        .context("cannot start the SIGHUP thread")?;
    Ok(())
}

fn exit_for(signal: i32) -> Exit {
    if signal == SIGINT {
        Exit::Interrupted
    } else {
        Exit::Terminated
    }
}

fn exit_now(signal: i32) -> ! {
    std::process::exit(exit_for(signal) as i32)
}

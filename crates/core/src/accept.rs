//! When a loop accepts: capped batches (so a deep accept queue cannot keep
//! a worker from the connections it has) and a pause after running out of
//! descriptors (so a listener that stays readable is not spun on). Used by
//! the workers' own listeners and by the hand-off acceptor thread alike.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use sockmux_net::{accept_batch, AcceptOutcome};

use crate::warn::{Limit, Warnings};

/// How long accepting pauses after running out of file descriptors.
const BACKOFF: Duration = Duration::from_millis(100);

/// One listener's accept state.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AcceptGate {
    batch: usize,
    /// Connections may be queued (an event came, or the last batch was
    /// capped or paused).
    pending: bool,
    paused_until: Option<Instant>,
}

impl AcceptGate {
    /// A gate accepting at most `batch` connections per turn.
    pub(crate) fn new(batch: usize) -> Self {
        Self {
            batch: batch.max(1),
            pending: false,
            paused_until: None,
        }
    }

    /// The listener reported readiness.
    pub(crate) fn on_readable(&mut self) {
        self.pending = true;
    }

    /// When the loop must wake up to accept again without an event: at
    /// once after a capped batch, or when a pause ends.
    pub(crate) fn wake_at(&self, now: Instant) -> Option<Instant> {
        self.pending.then(|| self.paused_until.unwrap_or(now))
    }

    /// Whether connections may be waiting and no pause is on.
    pub(crate) fn is_due(&self, now: Instant) -> bool {
        self.pending && self.paused_until.is_none_or(|until| now >= until)
    }

    /// Accepts one batch if it [`AcceptGate::is_due`]. Returns whether
    /// accepting failed for want of resources.
    pub(crate) fn accept(
        &mut self,
        listener: &TcpListener,
        now: Instant,
        warnings: &Warnings,
        admit: impl FnMut(TcpStream, SocketAddr),
    ) -> bool {
        if !self.is_due(now) {
            return false;
        }
        self.paused_until = None;
        match accept_batch(listener, self.batch, admit) {
            AcceptOutcome::Drained => self.pending = false,
            AcceptOutcome::Capped => {}
            AcceptOutcome::BackOff(e) => {
                warnings.note(
                    Limit::Accept,
                    format_args!(
                    "accept failed ({e}); pausing accepts for {} ms at a time until it recovers",
                        BACKOFF.as_millis()
                    ),
                );
                self.paused_until = Some(now + BACKOFF);
                return true;
            }
        }
        false
    }
}

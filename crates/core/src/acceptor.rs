//! The acceptor thread of `--accept handoff`: one listener, connections
//! dealt round-robin to the workers through channels, each hand-off
//! followed by a wake of the receiving worker's loop. Owns accepting and
//! dealing only; the workers own the connections.

use std::io;
use std::sync::{mpsc, Arc};
use std::time::Instant;

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::accept::AcceptGate;
use crate::intake::Handoff;
use crate::warn::Warnings;
use crate::Shutdown;

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);

/// A worker as the acceptor sees it: where to send a socket, and how to
/// wake the worker so that it looks.
pub(crate) struct Target {
    pub(crate) tx: mpsc::Sender<Handoff>,
    pub(crate) waker: Arc<Waker>,
}

/// The accepting loop.
pub(crate) struct Acceptor {
    poll: Poll,
    waker: Arc<Waker>,
    listener: TcpListener,
    gate: AcceptGate,
    targets: Vec<Target>,
    next: usize,
}

impl Acceptor {
    pub(crate) fn new(
        mut listener: TcpListener,
        targets: Vec<Target>,
        batch: usize,
    ) -> io::Result<Self> {
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        Ok(Self {
            poll,
            waker,
            listener,
            gate: AcceptGate::new(batch),
            targets,
            next: 0,
        })
    }

    /// Accepts until `shutdown` is triggered, then closes the listener.
    pub(crate) fn run(mut self, shutdown: Shutdown, warnings: &Warnings) -> io::Result<()> {
        shutdown.register(Arc::clone(&self.waker));
        let mut events = Events::with_capacity(8);
        loop {
            let now = Instant::now();
            let timeout = self
                .gate
                .wake_at(now)
                .map(|at| at.saturating_duration_since(now));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if shutdown.is_triggered() {
                return Ok(());
            }
            if events.iter().any(|e| e.token() == LISTENER) {
                self.gate.on_readable();
            }
            let (targets, next) = (&self.targets, &mut self.next);
            self.gate
                .accept(&self.listener, Instant::now(), warnings, |socket, peer| {
                    let target = &targets[*next % targets.len()];
                    *next = next.wrapping_add(1);
                    // A worker that is gone cannot take it: the socket drops.
                    if target.tx.send((socket, peer)).is_ok() {
                        let _ = target.waker.wake();
                    }
                });
        }
    }
}

//! The acceptor thread of `--accept handoff`: one listener, connections
//! dealt round-robin to the workers through channels, each hand-off
//! followed by a wake of the receiving worker's loop. Owns accepting and
//! dealing only; the workers own the connections.

use std::io;
use std::sync::{mpsc, Arc};
use std::time::Instant;

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Waker};

use crate::worker::{accept_all, AcceptOutcome, Handoff, Shared, ACCEPT_BACKOFF, LISTENER, WAKER};
use crate::Shutdown;

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
    targets: Vec<Target>,
    next: usize,
    shared: Arc<Shared>,
}

impl Acceptor {
    pub(crate) fn new(
        mut listener: TcpListener,
        targets: Vec<Target>,
        shared: Arc<Shared>,
    ) -> io::Result<Self> {
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        Ok(Self {
            poll,
            waker,
            listener,
            targets,
            next: 0,
            shared,
        })
    }

    /// Accepts until `shutdown` is triggered, then closes the listener.
    pub(crate) fn run(mut self, shutdown: Shutdown) -> io::Result<()> {
        shutdown.register(Arc::clone(&self.waker));
        let mut events = Events::with_capacity(8);
        let mut paused_until: Option<Instant> = None;
        loop {
            let timeout = paused_until.map(|until| until.saturating_duration_since(Instant::now()));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if shutdown.is_triggered() {
                return Ok(());
            }
            if paused_until.is_some_and(|until| Instant::now() < until) {
                continue;
            }
            let (targets, next) = (&self.targets, &mut self.next);
            let outcome = accept_all(&self.listener, &self.shared, |stream, peer| {
                let target = &targets[*next % targets.len()];
                *next = next.wrapping_add(1);
                // A worker that is gone cannot take it: the socket drops.
                if target.tx.send((stream, peer)).is_ok() {
                    let _ = target.waker.wake();
                }
            });
            paused_until =
                (outcome == AcceptOutcome::BackOff).then(|| Instant::now() + ACCEPT_BACKOFF);
        }
    }
}

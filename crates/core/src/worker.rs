//! One worker: a mio event loop that owns a listener (or a hand-off
//! channel) and the connections it accepts. It moves bytes between
//! sockets (through `sockmux-net`) and [`Connection`]s (from the sans-IO
//! engine), wakes up for readiness and deadlines, and never decides what
//! bytes mean or what happens to a connection: the engine does.

use std::io;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;
use sockmux_engine::{
    deadline, drive, AddressTicket, Connection, Layer, Layers, Outcome, ReadyQueue, Service, Stats,
    Sweep, Ticket, Timers,
};

use crate::accept::AcceptGate;
use crate::intake::{Handoff, Intake, Shared};
use crate::metrics::Published;
use crate::peer::Peer;
use crate::warn::Limit;
use crate::{ServerConfig, Shutdown};

mod admit;

pub(crate) const LISTENER: Token = Token(0);
pub(crate) const WAKER: Token = Token(1);
/// Connection tokens start here; the slab key is `token - FIRST_CONN`.
const FIRST_CONN: usize = 2;

struct Entry<V: Service, T: Layers> {
    peer: Peer,
    conn: Connection<V::Session, T::Layer>,
    /// The connection's place under `max_connections` (none when refused).
    _ticket: Option<Ticket>,
    /// Its place under `max_connections_per_ip`, when the socket's address
    /// is the client's (the PROXY layer counts named clients itself).
    _address: Option<AddressTicket>,
}

/// A worker's event loop, built by [`crate::Server`].
pub(crate) struct Worker<V: Service, T: Layers> {
    poll: Poll,
    waker: Arc<Waker>,
    listener: Option<TcpListener>,
    gate: AcceptGate,
    /// Sockets from the acceptor thread, when there is one.
    handoff: Option<mpsc::Receiver<Handoff>>,
    service: Arc<V>,
    layers: Arc<T>,
    config: ServerConfig,
    timers: Timers,
    shared: Arc<Shared>,
    shutdown: Shutdown,
    conns: Slab<Entry<V, T>>,
    /// Connections that used up their read budget with input left.
    ready: ReadyQueue,
    scratch: Vec<u8>,
    stats: Stats,
    /// Where the counters are published for scrapes.
    published: Arc<Published>,
    drain_deadline: Option<Instant>,
    next_sweep: Sweep,
    /// Handshaking connections this turn may still serve.
    handshakes_left: usize,
}

impl<V: Service, T: Layers> Worker<V, T> {
    /// Sets up the event loop. Everything that can fail at start-up fails
    /// here, before the server reports that it is listening.
    pub(crate) fn new(
        intake: Intake,
        service: Arc<V>,
        layers: Arc<T>,
        config: ServerConfig,
        shared: Arc<Shared>,
    ) -> io::Result<Self> {
        let poll = Poll::new()?;
        let (listener, handoff) = match intake {
            Intake::Listener(mut listener) => {
                poll.registry()
                    .register(&mut listener, LISTENER, Interest::READABLE)?;
                (Some(listener), None)
            }
            Intake::Handoff(rx) => (None, Some(rx)),
        };
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let published = shared.register();
        Ok(Self {
            published,
            handoff,
            waker,
            shutdown: Shutdown::new(),
            poll,
            listener,
            gate: AcceptGate::new(config.accept_batch),
            service,
            layers,
            scratch: vec![0; config.read_chunk.max(1)],
            timers: config.timers(),
            config,
            shared,
            conns: Slab::new(),
            ready: ReadyQueue::default(),
            stats: Stats::default(),
            drain_deadline: None,
            next_sweep: Sweep::new(Instant::now()),
            handshakes_left: 0,
        })
    }

    /// The waker that interrupts this worker's poll (for hand-offs).
    pub(crate) fn waker(&self) -> Arc<Waker> {
        Arc::clone(&self.waker)
    }

    /// Runs until `shutdown` is triggered and the drain completes; returns
    /// what this worker did.
    pub(crate) fn run(mut self, shutdown: Shutdown) -> io::Result<Stats> {
        shutdown.register(Arc::clone(&self.waker));
        self.shutdown = shutdown;
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.poll_timeout(Instant::now());
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            // One clock read per wake-up: timers have sweep granularity
            // anyway, and the hot path then reads no clock at all.
            let now = Instant::now();
            // Taken first: a connection its event requeues waits a turn.
            let mut turn = self.ready.turn();
            self.handshakes_left = self.config.handshake_budget;
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.gate.on_readable(),
                    WAKER => self.take_handoffs(),
                    Token(t) => self.on_event(t - FIRST_CONN, event, now),
                }
            }
            while let Some(key) = self.ready.next(&mut turn) {
                self.drive(key, None, now, self.config.read_budget);
            }
            if self.shutdown.is_triggered() && self.drain_deadline.is_none() {
                self.begin_drain(now);
            }
            self.accept(now);
            let scheduled = self.next_sweep.next();
            if self.next_sweep.due(now, &self.timers) {
                self.sweep(now);
                self.published
                    .publish(&self.stats, now.saturating_duration_since(scheduled));
            }
            if let Some(deadline) = self.drain_deadline {
                if self.conns.is_empty() {
                    self.published.publish(&self.stats, Duration::ZERO);
                    return Ok(self.stats);
                }
                if now >= deadline {
                    tracing::warn!(
                        "drain timeout: closing {} connections with work outstanding",
                        self.conns.len()
                    );
                    self.conns.clear();
                    return Ok(self.stats);
                }
            }
        }
    }

    fn poll_timeout(&self, now: Instant) -> Duration {
        if !self.ready.is_empty() {
            return Duration::ZERO;
        }
        let mut wake = self.next_sweep.next();
        if self.listener.is_some() {
            if let Some(at) = self.gate.wake_at(now) {
                wake = wake.min(at);
            }
        }
        if let Some(deadline) = self.drain_deadline {
            wake = wake.min(deadline);
        }
        wake.saturating_duration_since(now)
    }

    fn accept(&mut self, now: Instant) {
        // Checked first: this runs on every wake-up, and usually nothing
        // waits to be accepted.
        if !self.gate.is_due(now) {
            return;
        }
        // Taken out for the batch, so that admitting may borrow `self`.
        let Some(listener) = self.listener.take() else {
            return;
        };
        let shared = Arc::clone(&self.shared);
        let mut gate = self.gate;
        if gate.accept(&listener, now, &shared.warnings, |socket, peer| {
            self.admit(socket, peer);
        }) {
            self.stats.errors += 1;
        }
        self.gate = gate;
        self.listener = Some(listener);
    }

    /// Folds in a connection's readiness and serves it, unless it waits
    /// in the ready queue: its queued turn serves it then, so that it gets
    /// one read budget per turn however often it is reported ready.
    fn on_event(&mut self, key: usize, event: &Event, now: Instant) {
        if self.ready.is_queued(key) {
            if let Some(entry) = self.conns.get_mut(key) {
                entry.peer.stream.on_event(event);
            }
            return;
        }
        self.drive(key, Some(event), now, self.config.read_budget);
    }

    /// Does the I/O a connection's readiness allows, up to `budget` reads,
    /// after folding in its readiness `event` if it has one (one slab
    /// lookup for both: this is every message's path). A handshaking
    /// connection past the turn's handshake budget waits for the next turn
    /// in the ready queue.
    fn drive(&mut self, key: usize, event: Option<&Event>, now: Instant, budget: usize) {
        let Some(entry) = self.conns.get_mut(key) else {
            return;
        };
        if let Some(event) = event {
            entry.peer.stream.on_event(event);
        }
        if budget > 0 && entry.conn.layer().is_handshaking() {
            if self.handshakes_left == 0 {
                self.stats.handshakes_deferred += 1;
                self.ready.push(key);
                return;
            }
            self.handshakes_left -= 1;
        }
        let outcome = drive(
            &mut entry.conn,
            &mut entry.peer,
            &mut self.scratch,
            budget,
            now,
            &mut self.stats,
        );
        match outcome {
            Outcome::Idle => {}
            Outcome::Requeue => self.ready.push(key),
            Outcome::Done => self.close(key),
        }
    }

    /// Starts a graceful shutdown: no more accepts, sessions told to finish.
    fn begin_drain(&mut self, now: Instant) {
        self.drain_deadline = Some(deadline(now, self.config.drain_timeout));
        if let Some(mut listener) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            if let Some(entry) = self.conns.get_mut(key) {
                entry.conn.handle_shutdown(now, &mut self.stats);
            }
            self.drive(key, None, now, 0);
        }
    }

    /// Fires connection timers.
    fn sweep(&mut self, now: Instant) {
        let mut fired = Vec::new();
        for (key, entry) in &mut self.conns {
            if entry
                .conn
                .handle_timeout(now, &self.timers, &mut self.stats)
            {
                fired.push(key);
            }
        }
        if !fired.is_empty() {
            self.shared.warnings.note(
                Limit::IdleTimeout,
                format_args!(
                    "idle-timeout ({} ms) closed a connection that made no progress",
                    self.timers.idle.as_millis()
                ),
            );
        }
        for key in fired {
            self.drive(key, None, now, 0);
        }
        let refusals = self.shared.budget.refusals();
        let seen = self
            .shared
            .budget_refusals_seen
            .swap(refusals, std::sync::atomic::Ordering::Relaxed);
        if refusals > seen {
            self.shared.warnings.bite(
                Limit::Budget,
                refusals - seen,
                format_args!(
                    "max-buffered ({} bytes) reached: large requests refused, long answers slowed",
                    self.shared.budget.limit()
                ),
            );
        }
    }

    fn close(&mut self, key: usize) {
        let Some(mut entry) = self.conns.try_remove(key) else {
            return;
        };
        tracing::debug!("closing connection to {}", entry.peer.addr);
        // On Linux closing the descriptor (never duplicated here) removes
        // it from the epoll set, so deregistering would only add a syscall
        // to every connection. mio asks for it on other platforms.
        if !cfg!(target_os = "linux") {
            let _ = self
                .poll
                .registry()
                .deregister(entry.peer.stream.socket_mut());
        }
    }
}

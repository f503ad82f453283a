//! One worker: a mio event loop that owns a listener (or a hand-off
//! channel) and the connections it accepts. It moves bytes between
//! sockets (through `sockmux-net`) and [`Connection`]s (from the sans-IO
//! engine), wakes up for readiness and deadlines, and never decides what
//! bytes mean or what happens to a connection: the engine does.

use std::io;
use std::net::SocketAddr;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;
use sockmux_engine::{
    deadline, drive, AddressTicket, Connection, Layers, Lease, Outcome, PolicyError, ReadyQueue,
    Service, Stats, Sweep, Ticket, Timers,
};
use sockmux_net::Stream;

use crate::accept::AcceptGate;
use crate::intake::{Handoff, Intake, Shared};
use crate::metrics::Published;
use crate::peer::Peer;
use crate::warn::Limit;
use crate::{ServerConfig, Shutdown};

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
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.gate.on_readable(),
                    WAKER => self.take_handoffs(),
                    Token(t) => self.drive(t - FIRST_CONN, Some(event), now),
                }
            }
            let mut turn = self.ready.turn();
            while let Some(key) = self.ready.next(&mut turn) {
                self.drive(key, None, now);
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

    /// Admits the sockets the acceptor thread handed over.
    fn take_handoffs(&mut self) {
        while let Some(Ok((socket, peer))) = self.handoff.as_ref().map(|rx| rx.try_recv()) {
            self.admit(socket, peer);
        }
    }

    fn admit(&mut self, socket: TcpStream, peer: SocketAddr) {
        if !self.layers.admits(peer) {
            self.shared.warnings.note(
                Limit::Untrusted,
                format_args!("refusing a connection from {peer}: not in --allow or --proxy-from"),
            );
            self.stats.refused += 1;
            self.stats.refused_untrusted += 1;
            return;
        }
        let now = Instant::now();
        let session = self.service.session();
        let layer = self.layers.layer(peer);
        let address = match (&self.shared.per_address, self.layers.names_peer()) {
            (Some(limit), false) => Some(limit.try_admit(peer.ip())),
            _ => None,
        };
        let (address, admitted) = match address {
            Some(Err(reason)) => {
                self.shared.warnings.note(
                    Limit::PerAddress,
                    format_args!("max-connections-per-ip reached by {}: refusing", peer.ip()),
                );
                (None, Err(reason))
            }
            address => (
                address.and_then(Result::ok),
                self.shared.admission.try_admit(),
            ),
        };
        let (conn, ticket) = match admitted {
            Ok(ticket) => {
                tracing::debug!("accepted connection from {peer}");
                self.stats.connections += 1;
                let lease = Lease::new(&self.shared.budget);
                let conn =
                    Connection::new(session, layer, self.config.max_output, now).with_lease(lease);
                (conn, Some(ticket))
            }
            Err(reason @ PolicyError::TooManyFromAddress { .. }) => {
                self.stats.refused += 1;
                self.stats.refused_per_address += 1;
                let mut refusal = Vec::new();
                self.service.refusal(&reason, &mut refusal);
                (Connection::refused(session, layer, &refusal, now), None)
            }
            Err(reason) => {
                self.shared.warnings.note(
                    Limit::MaxConnections,
                    format_args!(
                        "max-connections ({}) reached: refusing new connections",
                        self.config.max_connections
                    ),
                );
                self.stats.refused += 1;
                let mut refusal = Vec::new();
                self.service.refusal(&reason, &mut refusal);
                (Connection::refused(session, layer, &refusal, now), None)
            }
        };
        let key = self.conns.insert(Entry {
            peer: Peer {
                stream: Stream::accepted(socket),
                addr: peer,
            },
            conn,
            _ticket: ticket,
            _address: address,
        });
        if self.drain_deadline.is_some() {
            if let Some(entry) = self.conns.get_mut(key) {
                entry.conn.handle_shutdown(now, &mut self.stats);
            }
        }
        // Most clients send their request with the handshake, so it is
        // usually waiting already: serve it before registering. A
        // one-request connection is then read, answered and closed with no
        // epoll or socket-option calls at all.
        self.drive(key, None, now);
        let Some(entry) = self.conns.get_mut(key) else {
            return;
        };
        // Responses on a connection that stays must not wait for Nagle.
        if let Err(e) = entry.peer.stream.socket().set_nodelay(true) {
            tracing::debug!("set TCP_NODELAY for {peer}: {e}");
        }
        // Edge-triggered registration reports readiness that is already
        // there, so nothing that arrived since the last read is missed.
        if let Err(e) = self.poll.registry().register(
            entry.peer.stream.socket_mut(),
            Token(key + FIRST_CONN),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            tracing::warn!("register connection from {peer}: {e}");
            self.close(key);
        }
    }

    /// Does the I/O a connection's readiness allows, up to its read budget
    /// for this turn, after folding in its readiness `event` if it has one
    /// (one slab lookup for both: this is every message's path).
    fn drive(&mut self, key: usize, event: Option<&Event>, now: Instant) {
        let Some(entry) = self.conns.get_mut(key) else {
            return;
        };
        if let Some(event) = event {
            entry.peer.stream.on_event(event);
        }
        let outcome = drive(
            &mut entry.conn,
            &mut entry.peer,
            &mut self.scratch,
            self.config.read_budget,
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
            self.drive(key, None, now);
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
            self.drive(key, None, now);
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

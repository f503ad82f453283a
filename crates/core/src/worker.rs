//! One worker: a mio event loop that owns a listener and the connections it
//! accepts. Owns readiness, socket reads and writes, accept back-off and
//! timers; it never parses a byte (that is the session's job).

use std::io;
use std::net::{Shutdown as HalfClose, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;

use crate::conn::Phase;
use crate::{Connection, ServerConfig, Service, Shutdown, Stats};

pub(crate) const LISTENER: Token = Token(0);
pub(crate) const WAKER: Token = Token(1);
/// Connection tokens start here; the slab key is `token - FIRST_CONN`.
const FIRST_CONN: usize = 2;
/// How long accepting pauses after running out of file descriptors.
pub(crate) const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Longest sleep between timer sweeps.
const MAX_SWEEP: Duration = Duration::from_secs(1);

/// State shared by all workers of one server.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Connections open across all workers.
    pub(crate) active: AtomicUsize,
    /// Limits that have already been logged, so each is logged once.
    pub(crate) warned_max_connections: AtomicBool,
    pub(crate) warned_accept: AtomicBool,
    pub(crate) warned_idle: AtomicBool,
}

/// Logs `message` at warn level the first time `flag` is seen unset.
fn warn_once(flag: &AtomicBool, message: std::fmt::Arguments<'_>) {
    if !flag.swap(true, Ordering::Relaxed) {
        tracing::warn!("{message} (logged once)");
    }
}

/// A socket accepted by the acceptor thread, on its way to a worker.
pub(crate) type Handoff = (TcpStream, SocketAddr);

/// Where a worker's connections come from.
#[derive(Debug)]
pub(crate) enum Intake {
    /// Its own listener, one of a SO_REUSEPORT group.
    Listener(TcpListener),
    /// The acceptor thread, through a channel and the worker's waker.
    Handoff(mpsc::Receiver<Handoff>),
}

struct Entry<S> {
    stream: TcpStream,
    conn: Connection<S>,
    peer: SocketAddr,
    /// Readiness not yet used up by a `WouldBlock` (edge-triggered).
    readable: bool,
    writable: bool,
    /// The peer hung up its side: read until EOF even after a short read.
    read_hup: bool,
    /// Counted in `Shared::active` (refused connections are not).
    counted: bool,
}

/// A worker's event loop, built by [`crate::Server`].
pub(crate) struct Worker<V: Service> {
    poll: Poll,
    waker: Arc<Waker>,
    listener: Option<TcpListener>,
    /// Sockets from the acceptor thread, when there is one.
    handoff: Option<mpsc::Receiver<Handoff>>,
    service: Arc<V>,
    config: ServerConfig,
    shared: Arc<Shared>,
    shutdown: Shutdown,
    conns: Slab<Entry<V::Session>>,
    scratch: Vec<u8>,
    stats: Stats,
    accept_paused_until: Option<Instant>,
    drain_deadline: Option<Instant>,
    next_sweep: Instant,
}

impl<V: Service> Worker<V> {
    /// Sets up the event loop. Everything that can fail at start-up fails
    /// here, before the server reports that it is listening.
    pub(crate) fn new(
        intake: Intake,
        service: Arc<V>,
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
        Ok(Self {
            handoff,
            waker,
            shutdown: Shutdown::new(),
            poll,
            listener,
            service,
            scratch: vec![0; config.read_chunk.max(1)],
            config,
            shared,
            conns: Slab::new(),
            stats: Stats::default(),
            accept_paused_until: None,
            drain_deadline: None,
            next_sweep: Instant::now(),
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
                    LISTENER => self.accept(),
                    WAKER => self.take_handoffs(),
                    Token(t) => {
                        let key = t - FIRST_CONN;
                        if let Some(entry) = self.conns.get_mut(key) {
                            entry.readable |= event.is_readable() || event.is_read_closed();
                            entry.writable |= event.is_writable() || event.is_write_closed();
                            entry.read_hup |= event.is_read_closed() || event.is_error();
                            self.drive(key, now);
                        }
                    }
                }
            }
            if self.shutdown.is_triggered() && self.drain_deadline.is_none() {
                self.begin_drain(now);
            }
            if self.accept_paused_until.is_some_and(|until| now >= until) {
                self.accept_paused_until = None;
                self.accept();
            }
            if now >= self.next_sweep {
                self.sweep(now);
            }
            if let Some(deadline) = self.drain_deadline {
                if self.conns.is_empty() {
                    return Ok(self.stats);
                }
                if now >= deadline {
                    tracing::warn!(
                        "drain timeout: closing {} connections with work outstanding",
                        self.conns.len()
                    );
                    for key in self.conns.iter().map(|(k, _)| k).collect::<Vec<_>>() {
                        self.close(key);
                    }
                    return Ok(self.stats);
                }
            }
        }
    }

    fn poll_timeout(&self, now: Instant) -> Duration {
        let mut wake = self.next_sweep;
        if let Some(until) = self.accept_paused_until {
            wake = wake.min(until);
        }
        if let Some(deadline) = self.drain_deadline {
            wake = wake.min(deadline);
        }
        wake.saturating_duration_since(now)
    }

    fn accept(&mut self) {
        if self.accept_paused_until.is_some() {
            return;
        }
        // Taken out for the loop, so that admitting may borrow `self`.
        let Some(listener) = self.listener.take() else {
            return;
        };
        let shared = Arc::clone(&self.shared);
        let outcome = accept_all(&listener, &shared, |stream, peer| {
            self.admit(stream, peer);
        });
        self.listener = Some(listener);
        if outcome == AcceptOutcome::BackOff {
            self.stats.errors += 1;
            self.accept_paused_until = Some(Instant::now() + ACCEPT_BACKOFF);
        }
    }

    /// Admits the sockets the acceptor thread handed over.
    fn take_handoffs(&mut self) {
        while let Some(Ok((stream, peer))) = self.handoff.as_ref().map(|rx| rx.try_recv()) {
            self.admit(stream, peer);
        }
    }

    fn admit(&mut self, stream: TcpStream, peer: SocketAddr) {
        let now = Instant::now();
        let active = self.shared.active.fetch_add(1, Ordering::Relaxed);
        let counted = active < self.config.max_connections;
        let conn = if counted {
            tracing::debug!("accepted connection from {peer}");
            self.stats.connections += 1;
            Connection::new(self.service.session(), self.config.max_output, now)
        } else {
            self.shared.active.fetch_sub(1, Ordering::Relaxed);
            warn_once(
                &self.shared.warned_max_connections,
                format_args!(
                    "max-connections ({}) reached: refusing new connections",
                    self.config.max_connections
                ),
            );
            self.stats.refused += 1;
            let mut refusal = Vec::new();
            self.service.refusal(&mut refusal);
            Connection::refused(self.service.session(), &refusal, now)
        };
        let key = self.conns.insert(Entry {
            stream,
            conn,
            peer,
            // Unknown until the first read: assume input may be queued.
            readable: true,
            // A new socket's send buffer is empty.
            writable: true,
            read_hup: false,
            counted,
        });
        if self.drain_deadline.is_some() {
            if let Some(entry) = self.conns.get_mut(key) {
                entry.conn.on_shutdown();
            }
        }
        // Most clients send their request with the handshake, so it is
        // usually waiting already: serve it before registering. A
        // one-request connection is then read, answered and closed with no
        // epoll or socket-option calls at all.
        self.drive(key, now);
        let Some(entry) = self.conns.get_mut(key) else {
            return;
        };
        // Responses on a connection that stays must not wait for Nagle.
        if let Err(e) = entry.stream.set_nodelay(true) {
            tracing::debug!("set TCP_NODELAY for {peer}: {e}");
        }
        // Edge-triggered registration reports readiness that is already
        // there, so nothing that arrived since the last read is missed.
        if let Err(e) = self.poll.registry().register(
            &mut entry.stream,
            Token(key + FIRST_CONN),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            tracing::warn!("register connection from {peer}: {e}");
            self.close(key);
        }
    }

    /// Does all the I/O a connection's readiness allows.
    fn drive(&mut self, key: usize, now: Instant) {
        let Some(entry) = self.conns.get_mut(key) else {
            return;
        };
        let stats = &mut self.stats;
        loop {
            flush(entry, stats, now);
            if entry.conn.start_linger(now) {
                if !entry.readable {
                    // The last read drained the socket: closing now sends a
                    // plain FIN, with no unread input to turn it into a reset.
                    entry.conn.abort();
                    break;
                }
                // Unread input may be queued. A FIN tells the peer we are
                // done while we read and discard it, so that closing does
                // not reset the connection and destroy the response.
                if let Err(e) = entry.stream.shutdown(HalfClose::Write) {
                    tracing::debug!("shutdown write to {}: {e}", entry.peer);
                    entry.conn.abort();
                }
            }
            if !(entry.readable && entry.conn.wants_read()) {
                break;
            }
            let lingering = entry.conn.phase() == Phase::Lingering;
            match recv(&entry.stream, &mut self.scratch) {
                Ok(0) => entry.conn.on_eof(now, stats),
                Ok(n) => {
                    if lingering {
                        stats.bytes_in += n as u64;
                    } else {
                        entry.conn.on_read(&self.scratch[..n], now, stats);
                    }
                    // A short read drained the socket: with edge-triggered
                    // readiness, more data brings a new event. Skip the
                    // read that would only say `WouldBlock`.
                    if n < self.scratch.len() && !entry.read_hup {
                        entry.readable = false;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => entry.readable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::debug!("read from {}: {e}", entry.peer);
                    entry.conn.abort();
                }
            }
        }
        if entry.conn.phase() == Phase::Done {
            self.close(key);
        }
    }

    /// Starts a graceful shutdown: no more accepts, sessions told to finish.
    fn begin_drain(&mut self, now: Instant) {
        self.drain_deadline = Some(now + self.config.drain_timeout);
        if let Some(mut listener) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            if let Some(entry) = self.conns.get_mut(key) {
                entry.conn.on_shutdown();
            }
            self.drive(key, now);
        }
    }

    /// Fires connection timers.
    fn sweep(&mut self, now: Instant) {
        let idle = self.config.idle_timeout;
        let mut fired = Vec::new();
        for (key, entry) in &mut self.conns {
            if entry.conn.on_timeout(now, idle, &mut self.stats) {
                fired.push(key);
            }
        }
        if !fired.is_empty() {
            warn_once(
                &self.shared.warned_idle,
                format_args!(
                    "idle-timeout ({} ms) closed a connection that made no progress",
                    idle.as_millis()
                ),
            );
        }
        for key in fired {
            self.drive(key, now);
        }
        let step = (idle / 8).clamp(Duration::from_millis(10), MAX_SWEEP);
        self.next_sweep = now + step;
    }

    fn close(&mut self, key: usize) {
        if !self.conns.contains(key) {
            return;
        }
        let mut entry = self.conns.remove(key);
        tracing::debug!("closing connection to {}", entry.peer);
        // On Linux closing the descriptor (never duplicated here) removes
        // it from the epoll set, so deregistering would only add a syscall
        // to every connection. mio asks for it on other platforms.
        if !cfg!(target_os = "linux") {
            let _ = self.poll.registry().deregister(&mut entry.stream);
        }
        if entry.counted {
            self.shared.active.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Writes pending output until it is all sent or the socket is full.
fn flush<S: crate::Session>(entry: &mut Entry<S>, stats: &mut Stats, now: Instant) {
    while entry.writable && !entry.conn.pending().is_empty() {
        match send(&entry.stream, entry.conn.pending()) {
            Ok(0) => entry.conn.abort(),
            Ok(n) => entry.conn.on_sent(n, now, stats),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => entry.writable = false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::debug!("write to {}: {e}", entry.peer);
                entry.conn.abort();
            }
        }
        if entry.conn.phase() == Phase::Done {
            return;
        }
    }
}

/// `recv(2)` straight to the kernel: the libc wrapper's thread-cancellation
/// bookkeeping around every call costs about 60 instructions a message,
/// more than our own code spends on a small echo.
fn recv(stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    Ok(rustix::net::recv(stream, buf, rustix::net::RecvFlags::empty())?.0)
}

/// `send(2)` straight to the kernel (see [`recv`]), with `MSG_NOSIGNAL` so a
/// peer that went away is an `EPIPE` error, never a `SIGPIPE`, even in a
/// host program that did not ignore the signal.
fn send(stream: &TcpStream, data: &[u8]) -> io::Result<usize> {
    Ok(rustix::net::send(
        stream,
        data,
        rustix::net::SendFlags::NOSIGNAL,
    )?)
}

/// How an accept loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AcceptOutcome {
    /// The listener has nothing more to accept.
    Drained,
    /// The process is out of descriptors or memory: stop accepting for
    /// [`ACCEPT_BACKOFF`], since the listener stays readable and retrying at
    /// once would spin.
    BackOff,
}

/// Accepts every pending connection on `listener`, passing each to `admit`.
pub(crate) fn accept_all(
    listener: &TcpListener,
    shared: &Shared,
    mut admit: impl FnMut(TcpStream, SocketAddr),
) -> AcceptOutcome {
    loop {
        match listener.accept() {
            Ok((stream, peer)) => admit(stream, peer),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return AcceptOutcome::Drained,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if is_transient_accept_error(&e) => {
                // ECONNABORTED and friends: that one connection is gone.
                tracing::debug!("accept: {e}");
            }
            Err(e) => {
                // EMFILE, ENFILE, ENOBUFS, ENOMEM.
                warn_once(
                    &shared.warned_accept,
                    format_args!(
                        "accept failed ({e}); pausing accepts for {} ms at a time until it recovers",
                        ACCEPT_BACKOFF.as_millis()
                    ),
                );
                return AcceptOutcome::BackOff;
            }
        }
    }
}

/// Accept errors that concern one connection only, not the listener.
fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::PermissionDenied
    )
}

//! One connection's life, sans-IO: its transport layers, its session, its
//! output, and every decision about its phase (answering, flushing,
//! lingering, done) and its timers. The driver moves bytes and reports
//! facts; this type decides what they mean for the connection, so the
//! whole lifecycle is tested on a fake clock with no sockets.
//!
//! The contract follows quinn-proto: inputs are handled (`handle_*`),
//! outputs are polled (`poll_*`), and time is always passed in.

use std::net::SocketAddr;
use std::time::Instant;

use crate::layer::{Layer, Plain};
use crate::policy::deadline;
use crate::{Lease, Output, Session, Stats, Step, Timers};

/// Output buffer capacity an idle connection may keep; more is freed.
const IDLE_KEEP: usize = 4 * 1024;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading and answering.
    Open,
    /// The session is done; sending what is owed, reading nothing.
    Flushing,
    /// Everything is sent and our side is shut; reading and discarding
    /// until the peer closes or the linger time runs out.
    Lingering,
    /// Nothing left to do: drop it.
    Done,
}

/// One connection's state.
///
/// ```
/// use std::time::Instant;
/// use sockmux_engine::{Connection, EchoSession, Plain, Stats};
///
/// let now = Instant::now();
/// let mut stats = Stats::default();
/// let mut conn = Connection::new(EchoSession, Plain, 1 << 20, now);
/// conn.handle_input(b"ping", now, &mut stats);
/// assert_eq!(conn.poll_transmit(), b"ping");
/// conn.handle_sent(4, now, &mut stats);
/// assert!(conn.poll_transmit().is_empty());
/// ```
#[derive(Debug)]
pub struct Connection<S, L = Plain> {
    session: S,
    layer: L,
    out: Output,
    phase: Phase,
    read_closed: bool,
    /// The server is shutting down: an open connection waits only the
    /// linger time for a request that may be on its way.
    draining: bool,
    last_progress: Instant,
}

impl<S: Session, L: Layer> Connection<S, L> {
    /// A new open connection whose output holds up to `max_output` bytes
    /// before reading stops.
    pub fn new(session: S, layer: L, max_output: usize, now: Instant) -> Self {
        Self {
            session,
            layer,
            out: Output::new(max_output),
            phase: Phase::Open,
            read_closed: false,
            draining: false,
            last_progress: now,
        }
    }

    /// The same connection, its buffers charged to `lease` past the
    /// allowance (see [`crate::Budget`]).
    pub fn with_lease(mut self, lease: Lease) -> Self {
        let cap = self.out.cap();
        self.out = Output::with_lease(cap, lease);
        self
    }

    /// A connection that only sends `bytes` and closes (a refusal).
    pub fn refused(session: S, layer: L, bytes: &[u8], now: Instant) -> Self {
        let mut conn = Self::new(session, layer, bytes.len().max(1), now);
        conn.out.buf_mut().extend_from_slice(bytes);
        conn.phase = Phase::Flushing;
        conn
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether the driver should drop the connection now.
    #[inline]
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The peer's address as a transport layer learned it, if one did.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.layer.peer()
    }

    /// Whether the driver should read from the socket now.
    #[inline]
    pub fn wants_read(&self) -> bool {
        match self.phase {
            Phase::Open => !self.read_closed && !self.out.is_full() && self.session.wants_input(),
            Phase::Lingering => !self.read_closed,
            Phase::Flushing | Phase::Done => false,
        }
    }

    /// Bytes arrived from the peer. Returns how many messages they
    /// completed.
    ///
    /// Progress, for the idle timeout, is starting a message or finishing
    /// one; bytes in the middle of a message are not.
    #[inline]
    pub fn handle_input(&mut self, input: &[u8], now: Instant, stats: &mut Stats) -> u32 {
        stats.bytes_in += input.len() as u64;
        if self.phase != Phase::Open {
            // Lingering: read only to keep the close clean.
            return 0;
        }
        let was_mid_message = self.is_mid_message();
        let (session, out) = (&mut self.session, &mut self.out);
        let mut completed = 0;
        let mut step = Step::Continue;
        let layered = self.layer.handle_input(input, |bytes| {
            if step == Step::Continue {
                let handled = session.handle_input(bytes, out);
                completed += handled.completed;
                step = handled.step;
            }
        });
        if let Err(e) = layered {
            tracing::debug!("transport layer: {e}");
            stats.errors += 1;
            stats.transport_errors += 1;
            self.phase = Phase::Done;
            return completed;
        }
        if !was_mid_message || completed > 0 {
            self.last_progress = now;
        }
        self.settle(completed, step, stats);
        completed
    }

    /// The peer half-closed.
    pub fn handle_eof(&mut self, now: Instant, stats: &mut Stats) {
        self.last_progress = now;
        self.read_closed = true;
        match self.phase {
            Phase::Open => {
                let step = self.session.handle_eof(&mut self.out);
                self.settle(0, step, stats);
            }
            Phase::Lingering => self.phase = Phase::Done,
            Phase::Flushing | Phase::Done => {}
        }
    }

    /// The bytes to write to the socket next (empty when nothing is owed).
    #[inline]
    pub fn poll_transmit(&mut self) -> &[u8] {
        self.layer.transmit(&mut self.out).pending()
    }

    /// `n` bytes of [`Connection::poll_transmit`] were written. Resumes a
    /// session paused by backpressure once the output has room again.
    #[inline]
    pub fn handle_sent(&mut self, n: usize, now: Instant, stats: &mut Stats) {
        self.last_progress = now;
        stats.bytes_out += n as u64;
        self.layer.transmit(&mut self.out).consume(n);
        if self.phase == Phase::Open && !self.out.is_full() && self.session.has_backlog() {
            let handled = self.session.resume(&mut self.out);
            self.settle(handled.completed, handled.step, stats);
        }
        if self.out.pending().is_empty() {
            self.out.release_idle(IDLE_KEEP);
            self.session.release_idle();
        }
        // Sending only frees; growth (a resumed session) settled above.
        if self.out.is_charged() {
            self.out.settle(self.session.held());
        }
    }

    /// Decides how the connection ends once everything owed is sent:
    /// returns `true` once when the driver must shut down the write side
    /// (a FIN) and keep reading, to discard input the peer may still send
    /// ([`Phase::Lingering`]). When the peer already closed, or the driver
    /// knows no input is queued (`input_may_be_queued` false), closing at
    /// once sends a plain FIN and the connection is done.
    #[inline]
    pub fn poll_shutdown(&mut self, now: Instant, input_may_be_queued: bool) -> bool {
        if self.phase != Phase::Flushing || !self.poll_transmit().is_empty() {
            return false;
        }
        if self.read_closed || !input_may_be_queued {
            self.phase = Phase::Done;
            return false;
        }
        self.phase = Phase::Lingering;
        self.last_progress = now;
        true
    }

    /// The socket failed (reset, broken pipe): drop the connection.
    pub fn abort(&mut self) {
        self.phase = Phase::Done;
    }

    /// The server is shutting down. A connection the session keeps open
    /// (to answer a request under way, or one a client may have sent just
    /// now) is closed once idle for the linger time.
    pub fn handle_shutdown(&mut self, now: Instant, stats: &mut Stats) {
        if self.phase == Phase::Open {
            let step = self.session.handle_shutdown(&mut self.out);
            self.settle(0, step, stats);
            self.draining = true;
            self.last_progress = now;
        }
    }

    /// When the connection's timer next fires.
    pub fn poll_timeout(&self, timers: &Timers) -> Instant {
        let limit = match self.phase {
            Phase::Lingering => timers.linger.min(timers.idle),
            // Draining, with nothing under way: wait only for a request
            // that may be on its way.
            Phase::Open if self.draining && !self.is_mid_message() => {
                timers.linger.min(timers.idle)
            }
            _ => timers.idle,
        };
        deadline(self.last_progress, limit)
    }

    /// Checks the timer. An open connection that made no progress for the
    /// idle timeout gets the session's last word and moves to flushing; a
    /// flushing or lingering one that is stuck is done. Returns whether the
    /// timer fired.
    pub fn handle_timeout(&mut self, now: Instant, timers: &Timers, stats: &mut Stats) -> bool {
        if now < self.poll_timeout(timers) {
            return false;
        }
        match self.phase {
            Phase::Open => {
                stats.idle_timeouts += 1;
                let step = self.session.handle_stall(timers.idle, &mut self.out);
                self.settle(0, step, stats);
                self.phase = Phase::Flushing;
                // One more idle period to deliver the last word.
                self.last_progress = now;
            }
            Phase::Flushing | Phase::Lingering => self.phase = Phase::Done,
            Phase::Done => {}
        }
        true
    }

    /// The session, to inspect (a simulator checks its buffers).
    pub fn session(&self) -> &S {
        &self.session
    }

    /// Bytes of heap this connection's output holds.
    pub fn buffer_capacity(&self) -> usize {
        self.out.capacity()
    }

    #[inline]
    fn is_mid_message(&self) -> bool {
        self.session.is_mid_message() || self.layer.is_mid_message()
    }

    #[inline]
    fn settle(&mut self, completed: u32, step: Step, stats: &mut Stats) {
        self.out.settle(self.session.held());
        stats.requests += u64::from(completed);
        if step == Step::Fail {
            stats.errors += 1;
        }
        if step != Step::Continue && self.phase == Phase::Open {
            self.phase = Phase::Flushing;
        }
    }
}

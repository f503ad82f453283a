//! One connection's lifecycle, sans-IO: a [`Session`], its [`Output`], and
//! the clock rules (idle timeout, lingering close). The worker moves bytes;
//! this type decides what they do to the connection's state, so it is
//! tested with a fake clock and no sockets.

use std::time::{Duration, Instant};

use crate::{Output, Session, Stats, Step};

/// How long a closing connection keeps reading (and discarding) after its
/// last response, so that closing with unread input does not reset the
/// connection and destroy the response in flight.
const LINGER: Duration = Duration::from_secs(2);

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
#[derive(Debug)]
pub struct Connection<S> {
    session: S,
    out: Output,
    phase: Phase,
    read_closed: bool,
    last_progress: Instant,
}

impl<S: Session> Connection<S> {
    /// A new open connection whose output holds up to `max_output` bytes
    /// before reading stops.
    pub fn new(session: S, max_output: usize, now: Instant) -> Self {
        Self {
            session,
            out: Output::new(max_output),
            phase: Phase::Open,
            read_closed: false,
            last_progress: now,
        }
    }

    /// A connection that only sends `bytes` and closes (a refusal).
    pub fn refused(session: S, bytes: &[u8], now: Instant) -> Self {
        let mut conn = Self::new(session, bytes.len().max(1), now);
        conn.out.buf().extend_from_slice(bytes);
        conn.phase = Phase::Flushing;
        conn
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether the loop should read from the socket now.
    pub fn wants_read(&self) -> bool {
        match self.phase {
            Phase::Open => !self.read_closed && !self.out.is_full(),
            Phase::Lingering => !self.read_closed,
            Phase::Flushing | Phase::Done => false,
        }
    }

    /// Bytes waiting to be written.
    pub fn pending(&self) -> &[u8] {
        self.out.pending()
    }

    /// Bytes arrived from the peer.
    ///
    /// Progress, for the idle timeout, is starting a message or finishing
    /// one; bytes in the middle of a message are not.
    pub fn on_read(&mut self, input: &[u8], now: Instant, stats: &mut Stats) {
        stats.bytes_in += input.len() as u64;
        if self.phase == Phase::Open {
            let was_mid_message = self.session.is_mid_message();
            let answered = stats.requests;
            let step = self.session.on_input(input, &mut self.out, stats);
            if !was_mid_message || stats.requests != answered {
                self.last_progress = now;
            }
            self.apply(step);
        }
    }

    /// The peer half-closed.
    pub fn on_eof(&mut self, now: Instant, stats: &mut Stats) {
        self.last_progress = now;
        self.read_closed = true;
        match self.phase {
            Phase::Open => {
                let step = self.session.on_eof(&mut self.out, stats);
                self.apply(step);
            }
            Phase::Lingering => self.phase = Phase::Done,
            Phase::Flushing | Phase::Done => {}
        }
    }

    /// `n` pending bytes were written. Resumes a session paused by
    /// backpressure once the output has room again.
    pub fn on_sent(&mut self, n: usize, now: Instant, stats: &mut Stats) {
        self.last_progress = now;
        stats.bytes_out += n as u64;
        self.out.consume(n);
        if self.phase == Phase::Open && !self.out.is_full() && self.session.has_backlog() {
            let step = self.session.on_input(&[], &mut self.out, stats);
            self.apply(step);
        }
        if self.out.pending().is_empty() {
            self.out.release_idle(IDLE_KEEP);
            self.session.release_idle();
        }
    }

    /// Whether everything owed is sent and the session is done, so the
    /// loop should shut down our side and start lingering. Returns `true`
    /// once, moving to [`Phase::Lingering`] (or straight to
    /// [`Phase::Done`] when the peer already closed).
    pub fn start_linger(&mut self, now: Instant) -> bool {
        if self.phase != Phase::Flushing || !self.out.pending().is_empty() {
            return false;
        }
        if self.read_closed {
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

    /// The server is shutting down.
    pub fn on_shutdown(&mut self) {
        if self.phase == Phase::Open {
            let step = self.session.on_shutdown(&mut self.out);
            self.apply(step);
        }
    }

    /// When the connection's timer next fires.
    pub fn deadline(&self, idle: Duration) -> Instant {
        let limit = match self.phase {
            Phase::Lingering => LINGER.min(idle),
            _ => idle,
        };
        self.last_progress + limit
    }

    /// Checks the timer. An open connection that made no progress (see
    /// [`Connection::on_read`]; bytes written count too) for
    /// `idle` gets the session's last word and moves to flushing; a
    /// flushing or lingering one that is stuck is done. Returns whether
    /// the timer fired.
    pub fn on_timeout(&mut self, now: Instant, idle: Duration, stats: &mut Stats) -> bool {
        if now < self.deadline(idle) {
            return false;
        }
        match self.phase {
            Phase::Open => {
                self.session.on_stall(idle, &mut self.out, stats);
                self.phase = Phase::Flushing;
                // One more idle period to deliver the last word.
                self.last_progress = now;
            }
            Phase::Flushing | Phase::Lingering => self.phase = Phase::Done,
            Phase::Done => {}
        }
        true
    }

    /// Bytes of heap this connection's buffers hold.
    pub fn buffer_capacity(&self) -> usize {
        self.out.capacity()
    }

    fn apply(&mut self, step: Step) {
        if step == Step::Close && self.phase == Phase::Open {
            self.phase = Phase::Flushing;
        }
    }
}

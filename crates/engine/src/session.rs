//! The seam between a connection and a protocol: a [`Session`] turns bytes
//! in into bytes out for one connection and never sees a socket or a clock;
//! a [`Service`] makes one session per connection.

use std::time::Duration;

use crate::{Output, PolicyError};

/// What a session wants after handling an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Keep the connection open.
    Continue,
    /// Send what is in the output, then close.
    Close,
    /// An error response was written: send it, then close. Counted as an
    /// error.
    Fail,
}

/// What handling some input did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handled {
    /// Messages completed and answered (the idle rules count these as
    /// progress; the server counts them as requests).
    pub completed: u32,
    /// What to do next.
    pub step: Step,
}

impl Handled {
    /// Nothing completed; keep going.
    pub const NOTHING: Self = Self {
        completed: 0,
        step: Step::Continue,
    };
}

/// One connection's protocol logic, sans-IO.
///
/// The connection calls [`Session::handle_input`] with each chunk of bytes
/// for it, [`Session::resume`] once output paused by backpressure has room
/// again, [`Session::handle_eof`] when the peer half-closes,
/// [`Session::handle_stall`] when the idle timeout expires and
/// [`Session::handle_shutdown`] when the server drains.
///
/// Most services are app-protocol services and need only a
/// [`crate::Handler`]; a session is for a protocol of your own. See
/// [`crate::EchoSession`] for the smallest one, and drive it through a
/// [`crate::Connection`]:
///
/// ```
/// use std::time::Instant;
/// use sockmux_engine::{Connection, EchoService, Plain, Service, Stats};
///
/// let (now, mut stats) = (Instant::now(), Stats::default());
/// let mut conn = Connection::new(EchoService.session(), Plain, 1024, now);
/// assert_eq!(conn.handle_input(b"abc", now, &mut stats), 1);
/// assert_eq!(conn.poll_transmit(), b"abc");
/// ```
pub trait Session: Send + 'static {
    /// Handles bytes from the peer, appending any response to `out`. A
    /// session that stops because `out` is full keeps the rest of `input`
    /// as its backlog (see [`Session::has_backlog`]).
    fn handle_input(&mut self, input: &[u8], out: &mut Output) -> Handled;

    /// Goes on with a backlog once `out` has room again.
    fn resume(&mut self, out: &mut Output) -> Handled;

    /// The peer will send nothing more.
    fn handle_eof(&mut self, out: &mut Output) -> Step;

    /// The idle timeout (`idle`) expired; the connection closes after this.
    /// A session in the middle of a message may append a last word and
    /// return [`Step::Fail`].
    fn handle_stall(&mut self, idle: Duration, out: &mut Output) -> Step;

    /// The server is shutting down: finish what is owed, accept no new
    /// work. Returns [`Step::Close`] to close now, or [`Step::Continue`]
    /// to answer what is under way or may be on its way (the connection
    /// then closes once idle for the linger time).
    fn handle_shutdown(&mut self, out: &mut Output) -> Step;

    /// Whether the session holds part of a message. Bytes that continue a
    /// message are not progress for the idle timeout, so a message must
    /// arrive whole within the timeout from its first byte.
    fn is_mid_message(&self) -> bool;

    /// Whether the session holds input it has not handled yet (paused by
    /// backpressure).
    fn has_backlog(&self) -> bool;

    /// Frees buffers an idle session does not need.
    fn release_idle(&mut self);

    /// Whether the connection should read more for it now. A session
    /// that is still writing the answer to a message it holds says no:
    /// what comes after waits in the socket, not in memory.
    fn wants_input(&self) -> bool {
        true
    }

    /// Bytes of heap the session's buffers hold (its input), charged to
    /// the memory budget past the allowance.
    fn held(&self) -> usize {
        0
    }
}

/// A service: makes a session per connection, and says what a connection
/// refused by server policy is told.
pub trait Service: Send + Sync + 'static {
    /// The per-connection session type.
    type Session: Session;

    /// A fresh session for a new connection.
    fn session(&self) -> Self::Session;

    /// Appends what a connection refused for `reason` is sent before it is
    /// closed (may be nothing).
    fn refusal(&self, reason: &PolicyError, out: &mut Vec<u8>);

    /// Name for logs (`echo`, `app`).
    fn name(&self) -> &'static str;
}

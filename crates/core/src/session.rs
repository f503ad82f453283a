//! The seam between the event loop and a service: a [`Session`] turns bytes
//! in into bytes out for one connection, and never sees a socket or a clock.

use std::time::Duration;

use crate::Stats;

/// What a session wants after handling an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Keep the connection open.
    Continue,
    /// Send what is in the output, then close.
    Close,
}

/// Outgoing bytes of one connection, with the backpressure cap.
///
/// Sessions append with [`Output::buf`] and stop producing once
/// [`Output::is_full`]; the loop stops reading until it drains.
#[derive(Debug)]
pub struct Output {
    buf: Vec<u8>,
    /// Bytes at the front of `buf` already written to the socket.
    sent: usize,
    cap: usize,
}

impl Output {
    /// An empty output that reports full at `cap` pending bytes.
    pub fn new(cap: usize) -> Self {
        Self {
            buf: Vec::new(),
            sent: 0,
            cap,
        }
    }

    /// The buffer to append to.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        // Reclaim the sent prefix once it outweighs what is pending, so the
        // buffer stays within twice the pending bytes and moves are cheap.
        if self.sent > 0 && self.sent >= self.buf.len() - self.sent {
            self.buf.drain(..self.sent);
            self.sent = 0;
        }
        &mut self.buf
    }

    /// Bytes not yet written.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.sent..]
    }

    /// Whether the pending bytes reached the cap.
    pub fn is_full(&self) -> bool {
        self.buf.len() - self.sent >= self.cap
    }

    /// Marks `n` pending bytes as written.
    pub fn consume(&mut self, n: usize) {
        self.sent = (self.sent + n).min(self.buf.len());
        if self.sent == self.buf.len() {
            self.buf.clear();
            self.sent = 0;
        }
    }

    /// Frees the buffer when it is empty and larger than `keep` bytes.
    pub fn release_idle(&mut self, keep: usize) {
        if self.buf.is_empty() && self.buf.capacity() > keep {
            self.buf = Vec::new();
        }
    }

    /// Bytes of heap held.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }
}

/// One connection's protocol logic, sans-IO.
///
/// The loop calls [`Session::on_input`] with each chunk read (and with an
/// empty chunk when the output has drained below its cap, to resume work
/// the session paused), [`Session::on_eof`] when the peer half-closes, and
/// [`Session::on_stall`] when the idle timeout expires.
pub trait Session: Send + 'static {
    /// Handles bytes from the peer, appending any response to `out`.
    fn on_input(&mut self, input: &[u8], out: &mut Output, stats: &mut Stats) -> Step;

    /// The peer will send nothing more.
    fn on_eof(&mut self, out: &mut Output, stats: &mut Stats) -> Step;

    /// The idle timeout expired; the connection closes after this. A
    /// session may append a last word (an error for a half-sent message).
    fn on_stall(&mut self, idle: Duration, out: &mut Output, stats: &mut Stats);

    /// The server is shutting down: finish what is owed, accept no new work.
    /// Returns `Close` when nothing is owed.
    fn on_shutdown(&mut self, out: &mut Output) -> Step;

    /// Whether the session holds part of a message. Bytes that continue a
    /// message do not count as progress for the idle timeout, so a message
    /// must arrive whole within the timeout from its first byte (a peer
    /// trickling a body a byte at a time is still cut off).
    fn is_mid_message(&self) -> bool;

    /// Whether the session holds input it has not handled yet (paused by
    /// backpressure), so the loop should resume it once output drains.
    fn has_backlog(&self) -> bool;

    /// Frees buffers an idle session does not need.
    fn release_idle(&mut self);
}

/// A service: makes a session per connection, and knows what to tell a
/// connection refused for being over the connection limit.
pub trait Service: Send + Sync + 'static {
    /// The per-connection session type.
    type Session: Session;

    /// A fresh session for a new connection.
    fn session(&self) -> Self::Session;

    /// Appends what a connection refused by `max_connections` is sent
    /// before it is closed (may be nothing).
    fn refusal(&self, out: &mut Vec<u8>);

    /// Name for logs (`echo`, `app`).
    fn name(&self) -> &'static str;
}

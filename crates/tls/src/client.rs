//! One client connection's TLS: a `rustls::ClientConnection` driven the
//! sans-IO way, for any I/O loop (the blocking app client and the mio
//! load generator drive the same type). Owns the encrypted output and the
//! connection's TLS state; sockets, deadlines and what the plaintext means
//! are the caller's.
//!
//! ```text
//! socket bytes ─> handle_input ─> plaintext up (a callback, no copy)
//! plaintext ─> send (≤ room left below the cap) ─> pending ─> socket
//!              handshake messages, close_notify, alerts ─> pending
//! ```
//!
//! The caller writes [`TlsClient::pending`] to its socket and reports
//! what went with [`TlsClient::consume`], after every call that may have
//! added to it (all of them but the queries).

use rustls::{ClientConnection, HandshakeKind};
use sockmux_engine::Output;

use crate::wire;

/// Encrypted-output capacity an idle connection may keep (the handshake's
/// flight goes, a small request's record stays).
const IDLE_KEEP: usize = 512;

/// One connection's client-side TLS (see the module docs).
#[derive(Debug)]
pub struct TlsClient {
    conn: ClientConnection,
    /// Records for the server, capped.
    out: Output,
    /// `close_notify` is queued: nothing more is sent.
    closed: bool,
    /// The server sent `close_notify`.
    peer_closed: bool,
}

impl TlsClient {
    pub(crate) fn new(conn: ClientConnection, max_output: usize) -> Self {
        let mut client = Self {
            conn,
            out: Output::new(max_output.max(1)),
            closed: false,
            peer_closed: false,
        };
        wire::records(&mut client.conn, &mut client.out);
        client
    }

    /// Takes bytes the server sent, handing the plaintext they carry to
    /// `up`. On an error (a certificate refused, an alert from the
    /// server, a bad record) the connection is over; the alert rustls
    /// queued for the server is in [`TlsClient::pending`].
    pub fn handle_input(
        &mut self,
        input: &[u8],
        mut up: impl FnMut(&[u8]),
    ) -> Result<(), rustls::Error> {
        if self.peer_closed {
            return Ok(());
        }
        let received = wire::receive(&mut self.conn, input, &mut up);
        wire::records(&mut self.conn, &mut self.out);
        self.peer_closed = received?;
        Ok(())
    }

    /// Encrypts as much of `plain` as the output has room for and returns
    /// how much that was (0 when the output is full, or after
    /// [`TlsClient::close`]). Before the handshake completes, rustls holds
    /// the plaintext and sends it right after.
    pub fn send(&mut self, plain: &[u8]) -> usize {
        if self.closed {
            return 0;
        }
        let taken = wire::encrypt(&mut self.conn, plain, &mut self.out);
        wire::records(&mut self.conn, &mut self.out);
        taken
    }

    /// Queues `close_notify`: the server reads the end of the stream
    /// after what was sent. Idempotent.
    pub fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            self.conn.send_close_notify();
            wire::records(&mut self.conn, &mut self.out);
        }
    }

    /// Records waiting for the socket.
    pub fn pending(&self) -> &[u8] {
        self.out.pending()
    }

    /// `n` bytes of [`TlsClient::pending`] were written.
    pub fn consume(&mut self, n: usize) {
        self.out.consume(n);
        self.out.release_idle(IDLE_KEEP);
    }

    /// Whether the output is at its cap: [`TlsClient::send`] takes
    /// nothing until some of it is written.
    pub fn is_full(&self) -> bool {
        self.out.pending().len() >= self.out.cap()
    }

    /// Whether the handshake is still under way.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// How the handshake went, once it is complete: full, full after a
    /// retry, or resumed from the session cache.
    pub fn handshake_kind(&self) -> Option<HandshakeKind> {
        if self.conn.is_handshaking() {
            return None;
        }
        self.conn.handshake_kind()
    }

    /// Whether the server sent `close_notify` (a clean end of its stream).
    pub fn is_peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// The rustls connection (protocol version, cipher suite, the
    /// server's certificates).
    pub fn connection(&self) -> &ClientConnection {
        &self.conn
    }
}

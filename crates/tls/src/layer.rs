//! One connection's TLS: a `rustls::ServerConnection` driven the sans-IO
//! way between the connection's bytes and its session. Owns the encrypted
//! output and the connection's TLS state; the shared configuration is
//! [`crate::TlsLayers`]'s, and what the plaintext means is the session's.
//!
//! ```text
//! input ─> read_tls (≤ 4 KiB a call) ─> process_new_packets ─> reader ─> up
//! above (session Output) ─> writer (≤ room left in out) ─> write_tls ─> out
//!                     handshake bytes, tickets, alerts ─> write_tls ─> out
//! ```
//!
//! Backpressure: plaintext is taken from the session's output only while
//! the layer's own output is under its cap, so a peer that does not read
//! fills the session's output, which stops reading from it; nothing
//! grows without bound. Before the handshake completes nothing is taken
//! at all (a refusal written by the engine for a connection over a limit
//! is never sent in the clear).
//!
//! Anything that is not TLS, or breaks it (garbage, plaintext, a refused
//! client certificate, a bad record), is a [`LayerError`]: the connection
//! sends the alert rustls queued for the peer, nothing of the session's,
//! and closes.

use std::net::SocketAddr;

use rustls::{HandshakeKind, ServerConnection};
use sockmux_engine::{Layer, LayerError, Output};

use crate::record::Records;
use crate::subject::subject;
use crate::wire;

/// Encrypted-output capacity an idle connection may keep. The handshake's
/// flight (about 1 KiB) is freed once sent; a buffer the size of a small
/// answer's record is kept, so keep-alive answers allocate nothing here.
const IDLE_KEEP: usize = 512;

/// One connection's TLS layer (see the module docs for the data path).
#[derive(Debug)]
pub struct TlsLayer {
    conn: ServerConnection,
    /// Records for the peer, capped.
    out: Output,
    /// Where the peer's bytes stand against record boundaries.
    records: Records,
    /// The socket's peer, for the log.
    peer: SocketAddr,
    /// The connection is closing: `close_notify` follows the session's
    /// last bytes.
    closing: bool,
    close_sent: bool,
    /// The peer sent `close_notify`.
    peer_closed: bool,
    /// The completed handshake has been logged.
    reported: bool,
}

impl TlsLayer {
    /// A layer over a fresh server connection, holding at most about
    /// `max_output` bytes of records.
    pub(crate) fn new(conn: ServerConnection, peer: SocketAddr, max_output: usize) -> Self {
        Self {
            conn,
            out: Output::new(max_output),
            records: Records::default(),
            peer,
            closing: false,
            close_sent: false,
            peer_closed: false,
            reported: false,
        }
    }

    /// The rustls connection (protocol version, cipher suite, whether the
    /// session was resumed, the client's certificates).
    pub fn connection(&self) -> &ServerConnection {
        &self.conn
    }

    /// The subject of the verified client certificate (mutual TLS), as
    /// `CN=alice, O=Example`; `None` without one.
    pub fn client_subject(&self) -> Option<String> {
        subject(self.conn.peer_certificates()?.first()?)
    }

    /// Bytes of heap held by the layer's own output (rustls's buffers
    /// not counted).
    pub fn buffer_capacity(&self) -> usize {
        self.out.capacity()
    }

    fn fail(&self, e: impl std::fmt::Display) -> LayerError {
        LayerError(format!("TLS from {}: {e}", self.peer))
    }

    /// Encrypts what the session wrote, as far as the output has room,
    /// then the closing alert once the session's output is through.
    fn encrypt(&mut self, above: &mut Output) {
        let taken = wire::encrypt(&mut self.conn, above.pending(), &mut self.out);
        above.consume(taken);
        if self.closing && !self.close_sent && above.pending().is_empty() {
            self.conn.send_close_notify();
            self.close_sent = true;
        }
    }

    /// Logs the completed handshake: version, suite, full or resumed, and
    /// the client certificate's subject under mutual TLS.
    fn report_handshake(&mut self) {
        self.reported = true;
        if !tracing::enabled!(tracing::Level::DEBUG) {
            return;
        }
        let conn = &self.conn;
        let client = match (self.client_subject(), conn.peer_certificates()) {
            (Some(name), _) => format!(", client {name}"),
            (None, Some(_)) => ", client certificate without a subject".to_owned(),
            (None, None) => String::new(),
        };
        let alpn = conn
            .alpn_protocol()
            .map(|p| format!(", ALPN {}", String::from_utf8_lossy(p).escape_debug()))
            .unwrap_or_default();
        let version = conn
            .protocol_version()
            .map_or_else(String::new, |v| format!("{v:?}"));
        let suite = conn
            .negotiated_cipher_suite()
            .map_or_else(String::new, |s| format!("{:?}", s.suite()));
        let kind = match conn.handshake_kind() {
            Some(HandshakeKind::Resumed) => "resumed",
            Some(HandshakeKind::FullWithHelloRetryRequest) => "full (after a retry)",
            _ => "full",
        };
        tracing::debug!(
            "TLS from {}: {version} {suite}, {kind}{client}{alpn}",
            self.peer
        );
    }
}

impl Layer for TlsLayer {
    fn handle_input(&mut self, input: &[u8], mut up: impl FnMut(&[u8])) -> Result<(), LayerError> {
        self.records.track(input);
        // Bytes after the peer's close_notify are ignored, as TLS says.
        if !self.peer_closed {
            self.peer_closed =
                wire::receive(&mut self.conn, input, &mut up).map_err(|e| self.fail(e))?;
        }
        if !self.reported && !self.conn.is_handshaking() {
            self.report_handshake();
        }
        Ok(())
    }

    fn transmit<'a>(&'a mut self, above: &'a mut Output) -> &'a mut Output {
        if self.out.pending().is_empty() {
            self.out.release_idle(IDLE_KEEP);
        }
        if !self.conn.is_handshaking() {
            self.encrypt(above);
        }
        // Handshake messages, tickets, alerts.
        wire::records(&mut self.conn, &mut self.out);
        &mut self.out
    }

    /// True from the first byte until the handshake completes (a stalled
    /// handshake makes no progress, so the idle timeout closes it), and
    /// while a record is only partly in.
    fn is_mid_message(&self) -> bool {
        self.conn.is_handshaking() || self.records.is_mid_record()
    }

    fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    fn handle_close(&mut self) {
        self.closing = true;
    }

    fn is_peer_closed(&self) -> bool {
        self.peer_closed
    }
}

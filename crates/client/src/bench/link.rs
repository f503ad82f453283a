//! One load-generator connection's transport: a `sockmux_net::Stream`,
//! with TLS over it when the run asks for it ([`sockmux_tls::TlsClient`],
//! driven here the mio way). The worker reads and writes plaintext
//! through it whichever it is; the slot never knows.
//!
//! With TLS, connecting includes the handshake: [`Link::poll_connect`]
//! completes only once it is done, so a certificate refused is a failed
//! connection, not a failed request, and the slot's connect timeout
//! covers it. Records the socket cannot take yet stay in the TLS
//! client's capped output; a full output blocks plaintext writes until
//! the socket drains, as a full socket would.

use std::io;
use std::net::SocketAddr;

use mio::event::Event;
use mio::net::TcpStream;
use sockmux_net::{Io, Stream};
use sockmux_tls::rustls::HandshakeKind;
use sockmux_tls::{TlsClient, TlsConnector};

use crate::tls::TlsFailure;

/// How a connection came up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Established {
    Plain,
    /// After a TLS handshake, resumed from the run's session cache or not.
    Tls {
        resumed: bool,
    },
}

/// A connection, plaintext or TLS.
#[derive(Debug)]
pub(crate) struct Link {
    stream: Stream,
    tls: Option<TlsClient>,
    /// Plaintext that came with the handshake's last flight, for the
    /// first read.
    early: Vec<u8>,
}

impl Link {
    /// Starts connecting to `addr`, with TLS if `tls` is given.
    pub(crate) fn connect(addr: SocketAddr, tls: Option<&TlsConnector>) -> io::Result<Self> {
        Ok(Self {
            stream: Stream::connect(addr)?,
            tls: tls.map(TlsConnector::connect),
            early: Vec::new(),
        })
    }

    /// The socket, to register with a `Poll`.
    pub(crate) fn socket_mut(&mut self) -> &mut TcpStream {
        self.stream.socket_mut()
    }

    /// Folds a readiness event into the stream's flags.
    pub(crate) fn on_event(&mut self, event: &Event) {
        self.stream.on_event(event);
    }

    /// Completes the connect and then the TLS handshake, reading into
    /// `scratch`: `None` while either is under way.
    pub(crate) fn poll_connect(&mut self, scratch: &mut [u8]) -> Option<io::Result<Established>> {
        if let Err(e) = self.stream.poll_connect()? {
            return Some(Err(e));
        }
        let Some(tls) = self.tls.as_mut() else {
            return Some(Ok(Established::Plain));
        };
        loop {
            if let Io::Failed(e) = flush(&mut self.stream, tls) {
                return Some(Err(e));
            }
            if let Some(kind) = tls.handshake_kind() {
                let resumed = kind == HandshakeKind::Resumed;
                return Some(Ok(Established::Tls { resumed }));
            }
            let early = &mut self.early;
            match self.stream.read(scratch) {
                Io::Data(n) => {
                    let input = &scratch[..n];
                    if let Err(e) = tls.handle_input(input, |plain| early.extend_from_slice(plain))
                    {
                        // The alert saying why, if the socket takes it.
                        let _ = flush(&mut self.stream, tls);
                        return Some(Err(TlsFailure::Handshake(e).into_io()));
                    }
                }
                Io::Eof => return Some(Err(TlsFailure::Closed.into_io())),
                Io::Blocked => return None,
                Io::Failed(e) => return Some(Err(e)),
            }
        }
    }

    /// One read into `scratch`, handing the plaintext it carries to `up`
    /// (with TLS, possibly none, or several pieces). `Io::Data` counts
    /// the bytes read from the socket; the server's `close_notify` reads
    /// as `Io::Eof` after the plaintext before it.
    pub(crate) fn read(&mut self, scratch: &mut [u8], mut up: impl FnMut(&[u8])) -> Io {
        if !self.early.is_empty() {
            up(&self.early);
            let n = self.early.len();
            self.early = Vec::new();
            return Io::Data(n);
        }
        let Some(tls) = self.tls.as_mut() else {
            let io = self.stream.read(scratch);
            if let Io::Data(n) = io {
                up(&scratch[..n]);
            }
            return io;
        };
        if tls.is_peer_closed() {
            return Io::Eof;
        }
        match self.stream.read(scratch) {
            Io::Data(n) => {
                if let Err(e) = tls.handle_input(&scratch[..n], up) {
                    let _ = flush(&mut self.stream, tls);
                    return Io::Failed(TlsFailure::Session(e).into_io());
                }
                // Anything TLS answers on its own (alerts, key updates).
                if let Io::Failed(e) = flush(&mut self.stream, tls) {
                    return Io::Failed(e);
                }
                if tls.is_peer_closed() {
                    return Io::Eof;
                }
                Io::Data(n)
            }
            other => other,
        }
    }

    /// Writes `plain`, or as much of it as the socket (with TLS: the
    /// encrypted output below its cap) takes; `Io::Data` counts plaintext
    /// bytes taken.
    pub(crate) fn write(&mut self, plain: &[u8]) -> Io {
        let Some(tls) = self.tls.as_mut() else {
            return self.stream.write(plain);
        };
        if let Io::Failed(e) = flush(&mut self.stream, tls) {
            return Io::Failed(e);
        }
        // Nothing taken: the output is full and the socket blocked.
        let taken = tls.send(plain);
        if taken == 0 {
            return Io::Blocked;
        }
        match flush(&mut self.stream, tls) {
            Io::Failed(e) => Io::Failed(e),
            _ => Io::Data(taken),
        }
    }

    /// Writes what TLS holds for the socket (nothing without TLS).
    pub(crate) fn flush(&mut self) -> Io {
        match self.tls.as_mut() {
            Some(tls) => flush(&mut self.stream, tls),
            None => Io::Data(0),
        }
    }

    /// Ends the write side: with TLS `close_notify` first, then the FIN.
    /// `Ok(false)`: not yet, the socket is full; ask again when writable.
    pub(crate) fn shutdown_write(&mut self) -> io::Result<bool> {
        if let Some(tls) = self.tls.as_mut() {
            tls.close();
            match flush(&mut self.stream, tls) {
                Io::Failed(e) => return Err(e),
                Io::Blocked => return Ok(false),
                Io::Data(_) | Io::Eof => {}
            }
        }
        self.stream.shutdown_write().map(|()| true)
    }
}

/// Writes the TLS client's records until none is left (`Io::Data` with
/// the bytes written) or the socket is full (`Io::Blocked`).
fn flush(stream: &mut Stream, tls: &mut TlsClient) -> Io {
    let mut written = 0;
    while !tls.pending().is_empty() {
        match stream.write(tls.pending()) {
            Io::Data(n) => {
                tls.consume(n);
                written += n;
            }
            Io::Eof => return Io::Failed(io::ErrorKind::WriteZero.into()),
            other => return other,
        }
    }
    Io::Data(written)
}

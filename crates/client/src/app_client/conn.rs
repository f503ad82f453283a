//! One app-client connection over a blocking socket, plaintext or TLS:
//! connecting (each address in turn, then the TLS handshake), sending a
//! whole request and reading what arrives, each by a deadline the caller
//! sets, which bytes trickling in or out do not extend. Owns the socket
//! and its [`TlsClient`]; what the bytes mean is [`super::AppClient`]'s.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use sockmux_tls::{TlsClient, TlsConnector};

use super::Event;
use crate::{ClientError, TlsFailure};

/// An open connection.
#[derive(Debug)]
pub(super) struct Conn {
    stream: TcpStream,
    pub(super) addr: SocketAddr,
    tls: Option<TlsClient>,
    /// Plaintext that came with the handshake's last flight, for the
    /// first read.
    early: Vec<u8>,
}

impl Conn {
    /// Connects to the first of `addrs` that accepts within `timeout`,
    /// then, with `tls`, completes the handshake within `timeout` more.
    pub(super) fn open(
        addrs: &[SocketAddr],
        timeout: Duration,
        tls: Option<&TlsConnector>,
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Result<Self, ClientError> {
        let mut last = None;
        for &addr in addrs {
            on_event(Event::Connecting(addr));
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(stream) => {
                    // Requests are small and latency is what a user waits on.
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::debug!("set TCP_NODELAY: {e}");
                    }
                    let mut conn = Self {
                        stream,
                        addr,
                        tls: tls.map(TlsConnector::connect),
                        early: Vec::new(),
                    };
                    return match conn.handshake(Instant::now() + timeout) {
                        Ok(()) => Ok(conn),
                        Err(e) => Err(lost(addr, e, "the TLS handshake", timeout)),
                    };
                }
                Err(source) => last = Some(ClientError::Connect { addr, source }),
            }
        }
        Err(last.unwrap_or_else(|| ClientError::NoAddress {
            host: String::from("(no address given)"),
        }))
    }

    fn handshake(&mut self, deadline: Instant) -> io::Result<()> {
        let Some(tls) = self.tls.as_mut() else {
            return Ok(());
        };
        let mut chunk = [0; 8 * 1024];
        loop {
            flush(&mut self.stream, tls, deadline)?;
            if !tls.is_handshaking() {
                return Ok(());
            }
            let n = read(&mut self.stream, &mut chunk, deadline)?;
            if n == 0 {
                return Err(TlsFailure::Closed.into_io());
            }
            let early = &mut self.early;
            if let Err(e) = tls.handle_input(&chunk[..n], |plain| early.extend_from_slice(plain)) {
                // The alert saying why, if the server still listens.
                let _ = flush(&mut self.stream, tls, deadline);
                return Err(TlsFailure::Handshake(e).into_io());
            }
        }
    }

    /// Writes all of `bytes` by `deadline`.
    pub(super) fn send(&mut self, mut bytes: &[u8], deadline: Instant) -> io::Result<()> {
        let Some(tls) = self.tls.as_mut() else {
            return write_all(&mut self.stream, bytes, deadline);
        };
        while !bytes.is_empty() {
            // The output was flushed, so only a closed TLS takes nothing.
            match tls.send(bytes) {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => bytes = &bytes[n..],
            }
            flush(&mut self.stream, tls, deadline)?;
        }
        Ok(())
    }

    /// Waits by `deadline` for the next bytes and appends their plaintext
    /// to `buf`; returns how many were appended, 0 at the end of the
    /// server's stream (its `close_notify`, or its FIN).
    pub(super) fn receive(
        &mut self,
        chunk: &mut [u8],
        buf: &mut Vec<u8>,
        deadline: Instant,
    ) -> io::Result<usize> {
        if !self.early.is_empty() {
            let n = self.early.len();
            buf.append(&mut self.early);
            return Ok(n);
        }
        let before = buf.len();
        loop {
            if self.tls.as_ref().is_some_and(TlsClient::is_peer_closed) {
                return Ok(0);
            }
            let n = read(&mut self.stream, chunk, deadline)?;
            let Some(tls) = self.tls.as_mut() else {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(n);
            };
            if n == 0 {
                return Ok(0);
            }
            let received = tls.handle_input(&chunk[..n], |plain| buf.extend_from_slice(plain));
            // Alerts and anything else TLS answers on its own.
            let flushed = flush(&mut self.stream, tls, deadline);
            received.map_err(|e| TlsFailure::Session(e).into_io())?;
            flushed?;
            if buf.len() > before || tls.is_peer_closed() {
                return Ok(buf.len() - before);
            }
        }
    }

    /// Closes the connection; with TLS, `close_notify` goes first if the
    /// socket takes it at once.
    pub(super) fn close(mut self) {
        if let Some(tls) = self.tls.as_mut() {
            tls.close();
            if self.stream.set_nonblocking(true).is_ok() {
                let _ = self.stream.write(tls.pending());
            }
        }
    }
}

/// `source`, which ended the wait for `what` from `addr`, as the client
/// error a user reads.
pub(super) fn lost(
    addr: SocketAddr,
    source: io::Error,
    what: &'static str,
    after: Duration,
) -> ClientError {
    match source.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            ClientError::Timeout { addr, what, after }
        }
        _ => match TlsFailure::take(source) {
            Ok(failure) => ClientError::Tls {
                addr,
                source: failure,
            },
            Err(source) => ClientError::Io { addr, source },
        },
    }
}

/// Writes what TLS holds for the socket.
fn flush(stream: &mut TcpStream, tls: &mut TlsClient, deadline: Instant) -> io::Result<()> {
    let n = tls.pending().len();
    write_all(stream, tls.pending(), deadline)?;
    tls.consume(n);
    Ok(())
}

/// Writes all of `bytes` by `deadline`, however slowly the server takes
/// them (a socket timeout alone would start again at every write).
fn write_all(stream: &mut TcpStream, mut bytes: &[u8], deadline: Instant) -> io::Result<()> {
    while !bytes.is_empty() {
        stream.set_write_timeout(Some(time_left(deadline)?))?;
        match stream.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One read by `deadline`, retrying `EINTR`.
fn read(stream: &mut TcpStream, chunk: &mut [u8], deadline: Instant) -> io::Result<usize> {
    loop {
        stream.set_read_timeout(Some(time_left(deadline)?))?;
        match stream.read(chunk) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// The time until `deadline`, for a socket timeout; `TimedOut` once it has
/// passed (a zero socket timeout would mean "wait for ever").
fn time_left(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(io::ErrorKind::TimedOut.into())
    } else {
        Ok(left)
    }
}

//! The echo client: many connections on one mio event loop, each sending
//! its stream, half-closing, and checking every byte that comes back.
//!
//! Owns the per-connection lifecycle (connect, write until `WouldBlock`,
//! shut down the write side once everything is sent, read until EOF) and
//! the verdict on each connection. Bytes to send are generated from
//! the `pattern` module, so nothing sent is kept for the comparison.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use thiserror::Error;

use crate::error::{describe_io, seconds};
use crate::pattern::Stream;
use crate::repr::PyBytes;

/// Bytes generated per write call, and read per read call.
const CHUNK: usize = 16 * 1024;

/// What each connection sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EchoPayload {
    /// These messages, back to back, on every connection.
    Messages(Vec<Vec<u8>>),
    /// `count` payloads of `size` deterministic pseudo-random bytes; each
    /// connection's bytes differ.
    Generated {
        /// Bytes per payload.
        size: usize,
        /// Payloads per connection.
        count: usize,
    },
}

impl EchoPayload {
    /// The reference client's two messages.
    pub fn reference() -> Self {
        Self::Messages(vec![
            b"Message 1 from client.".to_vec(),
            b"Message 2 from client.".to_vec(),
        ])
    }

    /// Bytes each connection sends.
    pub fn len(&self) -> u64 {
        match self {
            Self::Messages(messages) => messages.iter().map(|m| m.len() as u64).sum(),
            Self::Generated { size, count } => (*size as u64).saturating_mul(*count as u64),
        }
    }

    /// Whether a connection sends nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How an echo run goes.
#[derive(Debug, Clone)]
pub struct EchoClientConfig {
    /// The server.
    pub addr: SocketAddr,
    /// Connections opened at once.
    pub connections: usize,
    /// What each sends.
    pub payload: EchoPayload,
    /// A connection that makes no progress (connects, sends or receives
    /// nothing) for this long fails. Default: 10 s.
    pub timeout: Duration,
}

impl EchoClientConfig {
    /// Default for [`EchoClientConfig::timeout`].
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
}

/// Why one connection failed. Connections are numbered from 1, as the
/// reference client numbers them.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EchoFailure {
    /// The connection could not be made.
    #[error("connection {conn}: cannot connect to {addr}: {}", describe_io(.source))]
    Connect {
        /// Connection number.
        conn: usize,
        /// The server.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A byte came back different from the one sent at that position.
    #[error("connection {conn}: byte {offset} came back as 0x{got:02x}, sent 0x{expected:02x}")]
    Mismatch {
        /// Connection number.
        conn: usize,
        /// Position in the connection's stream.
        offset: u64,
        /// The byte sent there.
        expected: u8,
        /// The byte received there.
        got: u8,
    },
    /// More bytes came back than were sent.
    #[error("connection {conn}: received more than the {sent} bytes it sent")]
    TooMuch {
        /// Connection number.
        conn: usize,
        /// Bytes sent.
        sent: u64,
    },
    /// The server closed before echoing everything.
    #[error("connection {conn}: the server closed the connection after echoing {received} of {sent} bytes")]
    ClosedEarly {
        /// Connection number.
        conn: usize,
        /// Bytes echoed.
        received: u64,
        /// Bytes sent.
        sent: u64,
    },
    /// Nothing happened for too long.
    #[error("connection {conn}: no progress for {} (sent {sent} of {total} bytes, received {received})", seconds(*.after))]
    Timeout {
        /// Connection number.
        conn: usize,
        /// The timeout.
        after: Duration,
        /// Bytes sent.
        sent: u64,
        /// Bytes to send.
        total: u64,
        /// Bytes received.
        received: u64,
    },
    /// Reading or writing failed.
    #[error("connection {conn}: {} (after {received} of {sent} bytes came back)", describe_io(.source))]
    Io {
        /// Connection number.
        conn: usize,
        /// What the socket said.
        #[source]
        source: io::Error,
        /// Bytes echoed before.
        received: u64,
        /// Bytes sent before.
        sent: u64,
    },
}

/// What a run did.
#[derive(Debug)]
pub struct EchoSummary {
    /// Connections opened (or attempted).
    pub connections: usize,
    /// Bytes sent, all connections together.
    pub bytes_sent: u64,
    /// Bytes received and verified, all connections together.
    pub bytes_received: u64,
    /// From the first connect to the last connection's end.
    pub elapsed: Duration,
    /// One entry per failed connection, in the order they failed.
    pub failures: Vec<EchoFailure>,
}

impl EchoSummary {
    /// Whether every connection got all its bytes back, intact.
    pub fn is_ok(&self) -> bool {
        self.failures.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Connecting,
    Open,
    Done,
}

#[derive(Debug)]
struct Conn {
    number: usize,
    stream: TcpStream,
    source: Stream,
    state: State,
    sent: u64,
    received: u64,
    write_shut: bool,
    readable: bool,
    writable: bool,
    last_progress: Instant,
}

/// Runs the echo client to the end: every connection has either got all
/// its bytes back and seen the server close, or failed.
///
/// Errors only when the event loop itself cannot be set up; everything
/// that happens to a connection is in the summary.
pub fn run(config: &EchoClientConfig) -> io::Result<EchoSummary> {
    let started = Instant::now();
    let mut poll = Poll::new()?;
    let total = config.payload.len();
    let fixed: Option<Arc<[u8]>> = match &config.payload {
        EchoPayload::Messages(messages) => Some(messages.concat().into()),
        EchoPayload::Generated { .. } => None,
    };
    let mut failures = Vec::new();
    let mut conns: Vec<Conn> = Vec::with_capacity(config.connections);
    for index in 0..config.connections {
        let number = index + 1;
        let source = match &fixed {
            Some(bytes) => Stream::Bytes(Arc::clone(bytes)),
            None => Stream::Pattern {
                seed: number as u64,
            },
        };
        let mut stream = match TcpStream::connect(config.addr) {
            Ok(stream) => stream,
            Err(source) => {
                failures.push(EchoFailure::Connect {
                    conn: number,
                    addr: config.addr,
                    source,
                });
                continue;
            }
        };
        poll.registry().register(
            &mut stream,
            Token(conns.len()),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        tracing::debug!("starting connection {number} to {}", config.addr);
        conns.push(Conn {
            number,
            stream,
            source,
            state: State::Connecting,
            sent: 0,
            received: 0,
            write_shut: false,
            readable: false,
            writable: false,
            last_progress: Instant::now(),
        });
    }

    let mut events = Events::with_capacity(1024);
    let mut scratch = vec![0u8; CHUNK];
    let mut out = Vec::with_capacity(CHUNK);
    let mut active = conns.len();
    while active > 0 {
        let now = Instant::now();
        let next_deadline = conns
            .iter()
            .filter(|c| c.state != State::Done)
            .map(|c| c.last_progress + config.timeout)
            .min()
            .unwrap_or(now);
        match poll.poll(
            &mut events,
            Some(next_deadline.saturating_duration_since(now)),
        ) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for event in events.iter() {
            let Some(conn) = conns.get_mut(event.token().0) else {
                continue;
            };
            if conn.state == State::Done {
                continue;
            }
            conn.readable |= event.is_readable() || event.is_read_closed() || event.is_error();
            conn.writable |= event.is_writable() || event.is_write_closed() || event.is_error();
            let verdict = drive(conn, config, total, &mut scratch, &mut out);
            if let Some(result) = verdict {
                finish(conn, &poll, result, &mut failures, &mut active);
            }
        }
        let now = Instant::now();
        for conn in conns.iter_mut().filter(|c| c.state != State::Done) {
            if now.saturating_duration_since(conn.last_progress) >= config.timeout {
                let failure = EchoFailure::Timeout {
                    conn: conn.number,
                    after: config.timeout,
                    sent: conn.sent,
                    total,
                    received: conn.received,
                };
                finish(conn, &poll, Err(failure), &mut failures, &mut active);
            }
        }
    }
    Ok(EchoSummary {
        connections: config.connections,
        bytes_sent: conns.iter().map(|c| c.sent).sum(),
        bytes_received: conns.iter().map(|c| c.received).sum(),
        elapsed: started.elapsed(),
        failures,
    })
}

fn finish(
    conn: &mut Conn,
    poll: &Poll,
    result: Result<(), EchoFailure>,
    failures: &mut Vec<EchoFailure>,
    active: &mut usize,
) {
    conn.state = State::Done;
    *active -= 1;
    let _ = poll.registry().deregister(&mut conn.stream);
    // Dropping our end now would be a reset if bytes are still coming;
    // nothing more is read, so shut both ways explicitly.
    let _ = conn.stream.shutdown(Shutdown::Both);
    match result {
        Ok(()) => tracing::debug!(
            "closing connection {}: {} bytes echoed and verified",
            conn.number,
            conn.received
        ),
        Err(failure) => {
            tracing::debug!("{failure}");
            failures.push(failure);
        }
    }
}

/// Does all the I/O the connection's readiness allows; `Some` once the
/// connection is over.
fn drive(
    conn: &mut Conn,
    config: &EchoClientConfig,
    total: u64,
    scratch: &mut [u8],
    out: &mut Vec<u8>,
) -> Option<Result<(), EchoFailure>> {
    let number = conn.number;
    if conn.state == State::Connecting {
        if !conn.writable && !conn.readable {
            return None;
        }
        let error = match conn.stream.take_error() {
            Ok(Some(e)) | Err(e) => Some(e),
            Ok(None) => match conn.stream.peer_addr() {
                Ok(_) => None,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    conn.writable = false;
                    conn.readable = false;
                    return None;
                }
                Err(e) => Some(e),
            },
        };
        if let Some(source) = error {
            return Some(Err(EchoFailure::Connect {
                conn: number,
                addr: config.addr,
                source,
            }));
        }
        if let Err(e) = conn.stream.set_nodelay(true) {
            tracing::debug!("connection {number}: set TCP_NODELAY: {e}");
        }
        conn.state = State::Open;
        conn.last_progress = Instant::now();
    }

    while conn.writable && conn.sent < total {
        let len = (total - conn.sent).min(CHUNK as u64) as usize;
        let written = match &conn.source {
            Stream::Bytes(bytes) => {
                let start = conn.sent as usize;
                conn.stream.write(&bytes[start..start + len])
            }
            pattern @ Stream::Pattern { .. } => {
                out.clear();
                pattern.append(conn.sent, len, out);
                conn.stream.write(out)
            }
        };
        match written {
            Ok(n) => {
                if tracing::enabled!(tracing::Level::TRACE) {
                    let mut shown = Vec::new();
                    conn.source.append(conn.sent, n, &mut shown);
                    tracing::trace!("sending {} to connection {number}", PyBytes(&shown));
                }
                conn.sent += n as u64;
                conn.last_progress = Instant::now();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => conn.writable = false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => return Some(Err(io_failure(conn, source))),
        }
    }
    if conn.sent == total && !conn.write_shut {
        conn.write_shut = true;
        if let Err(source) = conn.stream.shutdown(Shutdown::Write) {
            return Some(Err(io_failure(conn, source)));
        }
    }

    while conn.readable {
        match conn.stream.read(scratch) {
            Ok(0) => {
                return Some(if conn.received == total {
                    Ok(())
                } else {
                    Err(EchoFailure::ClosedEarly {
                        conn: number,
                        received: conn.received,
                        sent: conn.sent,
                    })
                });
            }
            Ok(n) => {
                let got = &scratch[..n];
                tracing::trace!("received {} from connection {number}", PyBytes(got));
                if let Some(i) = conn.source.check(conn.received, got) {
                    let offset = conn.received + i as u64;
                    return Some(Err(match conn.source.byte_at(offset) {
                        Some(expected) if offset < total => EchoFailure::Mismatch {
                            conn: number,
                            offset,
                            expected,
                            got: got[i],
                        },
                        _ => EchoFailure::TooMuch {
                            conn: number,
                            sent: total,
                        },
                    }));
                }
                if conn.received + n as u64 > total {
                    return Some(Err(EchoFailure::TooMuch {
                        conn: number,
                        sent: total,
                    }));
                }
                conn.received += n as u64;
                conn.last_progress = Instant::now();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => conn.readable = false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => return Some(Err(io_failure(conn, source))),
        }
    }
    None
}

fn io_failure(conn: &Conn, source: io::Error) -> EchoFailure {
    EchoFailure::Io {
        conn: conn.number,
        source,
        received: conn.received,
        sent: conn.sent,
    }
}

//! The echo client: many connections at once, each sending its stream,
//! half-closing, and checking every byte that comes back.
//!
//! Owns the client's configuration, its failures (one per connection, in
//! the words a user reads) and its summary. The connections run as a load
//! generator workload on the load generator's event loop: each is one
//! request (the whole payload, generated in pieces from the `pattern`
//! module, so nothing sent is kept for the comparison) whose response is
//! the same bytes, followed by the server's close.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use sockmux_tls::TlsConnector;
use thiserror::Error;

use crate::bench::books::Rules;
use crate::bench::echo::{EchoState, EchoWorkload};
use crate::bench::worker::{self, Plan};
use crate::bench::workload::{Failure, Fault, Verdict, Workload};
use crate::error::{describe_io, seconds};
use crate::repr::PyBytes;

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
    /// TLS on every connection (the handshake is part of connecting;
    /// `close_notify` comes before the half-close). Default: plaintext.
    pub tls: Option<TlsConnector>,
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

/// The echo workload, reporting each connection's end in the client's
/// words.
#[derive(Debug)]
struct ClientWorkload {
    echo: EchoWorkload,
    addr: SocketAddr,
    total: u64,
    outcome: Mutex<Outcome>,
}

#[derive(Debug, Default)]
struct Outcome {
    /// Bytes received and verified, connections that ended.
    received: u64,
    failures: Vec<EchoFailure>,
}

impl ClientWorkload {
    fn outcome(&self) -> MutexGuard<'_, Outcome> {
        // A panic elsewhere while recording leaves the data usable.
        self.outcome.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Workload for ClientWorkload {
    type State = EchoState;

    fn state(&self, conn: usize) -> EchoState {
        tracing::debug!("starting connection {} to {}", conn + 1, self.addr);
        self.echo.state(conn)
    }

    fn reset(&self, state: &mut EchoState, clean: bool) {
        self.outcome().received += state.received();
        if clean {
            tracing::debug!(
                "closing a connection: {} bytes echoed and verified",
                state.received()
            );
        }
        self.echo.reset(state, clean);
    }

    fn request(&self, state: &mut EchoState, out: &mut Vec<u8>) {
        self.echo.request(state, out);
    }

    fn more(&self, state: &mut EchoState, out: &mut Vec<u8>) -> bool {
        self.echo.more(state, out)
    }

    fn input(
        &self,
        state: &mut EchoState,
        input: &[u8],
        detail: bool,
        verdict: &mut dyn FnMut(Verdict),
    ) -> Result<(), Fault> {
        tracing::trace!("received {}", PyBytes(input));
        self.echo.input(state, input, detail, verdict)
    }

    fn failed(&self, conn: usize, state: &mut EchoState, failure: Failure<'_>) {
        let (conn, received, sent) = (conn + 1, state.received(), self.total);
        let failure = match failure {
            Failure::Connect(e) => EchoFailure::Connect {
                conn,
                addr: self.addr,
                source: copy(e),
            },
            Failure::Timeout { after, written } => EchoFailure::Timeout {
                conn,
                after,
                sent: written,
                total: self.total,
                received,
            },
            // Nothing to echo: the server's close is the whole answer.
            Failure::Fault {
                fault: Fault::Closed(_),
                ..
            } if self.total == 0 => return,
            Failure::Fault { fault, written } => match fault {
                Fault::Corrupt {
                    offset,
                    expected,
                    got,
                } => EchoFailure::Mismatch {
                    conn,
                    offset: *offset,
                    expected: *expected,
                    got: *got,
                },
                Fault::Unsolicited => EchoFailure::TooMuch { conn, sent },
                Fault::Closed(_) => EchoFailure::ClosedEarly {
                    conn,
                    received,
                    sent: written,
                },
                Fault::Io(e) => EchoFailure::Io {
                    conn,
                    source: copy(e),
                    received,
                    sent: written,
                },
                other => EchoFailure::Io {
                    conn,
                    source: io::Error::other(other.to_string()),
                    received,
                    sent: written,
                },
            },
        };
        tracing::debug!("{failure}");
        self.outcome().failures.push(failure);
    }
}

/// An owned copy of `e` that reads the same.
fn copy(e: &io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(e.kind(), e.to_string()),
    }
}

/// Runs the echo client to the end: every connection has either got all
/// its bytes back and seen the server close, or failed.
///
/// Errors only when the event loop itself cannot be set up; everything
/// that happens to a connection is in the summary.
pub fn run(config: &EchoClientConfig) -> io::Result<EchoSummary> {
    let start = Instant::now();
    let total = config.payload.len();
    let fixed: Option<Arc<[u8]>> = match &config.payload {
        EchoPayload::Messages(messages) => Some(messages.concat().into()),
        EchoPayload::Generated { .. } => None,
    };
    let workload = Arc::new(ClientWorkload {
        echo: EchoWorkload::whole(total, fixed),
        addr: config.addr,
        total,
        outcome: Mutex::default(),
    });
    let plan = Plan {
        addr: config.addr,
        first_conn: 0,
        conns: config.connections,
        rules: Rules {
            depth: 1,
            batch: false,
            one_shot: true,
            single: true,
            timeout: config.timeout,
            measure_start: start,
            end: None,
            quota: None,
        },
        pace: None,
        start,
        tls: config.tls.clone(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let totals = worker::run(Arc::clone(&workload), plan, stop, Arc::default())?;
    let outcome = std::mem::take(&mut *workload.outcome());
    Ok(EchoSummary {
        connections: config.connections,
        bytes_sent: totals.counts.bytes_sent,
        bytes_received: outcome.received,
        elapsed: start.elapsed(),
        failures: outcome.failures,
    })
}

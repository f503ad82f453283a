//! What a load generator's connection sends and how it checks what comes
//! back, as a trait the slot state machine is generic over. Owns the
//! contract between [`super::slot`] (lifecycle, timing, counting) and the
//! workloads (bytes and verdicts): echo, app, and the echo client's.

use std::io;
use std::time::Duration;

use sockmux_proto::ProtoError;
use thiserror::Error;

use crate::error::describe_io;

/// The outcome of one whole response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Exactly what was expected.
    Ok,
    /// Well-framed, but not what was expected; a description when one was
    /// asked for.
    Mismatch(Option<String>),
}

/// Something that ends a connection: the stream cannot be trusted after it.
#[derive(Debug, Error)]
pub(crate) enum Fault {
    /// The response is not a valid message.
    #[error("malformed response: {0}")]
    Malformed(#[source] ProtoError),
    /// More bytes arrived than there were requests for.
    #[error("the server sent bytes that answer no request")]
    Unsolicited,
    /// A keep-alive request got an answer without keep-alive: the server
    /// closes after it. The slot reconnects; the answer was judged.
    #[error("the server answered a keep-alive request without keep-alive: it does not keep connections open")]
    KeepAliveIgnored,
    /// The server answered with an error result.
    #[error("the server answered {0:?}")]
    ServerError(String),
    /// The server closed while requests were unanswered.
    #[error("the server closed the connection with {0} request(s) unanswered")]
    Closed(usize),
    /// Reading or writing failed.
    #[error("lost the connection: {}", describe_io(.0))]
    Io(#[source] io::Error),
    /// A byte came back different, for workloads where that ends the
    /// connection rather than counting as a mismatch.
    #[error("byte {offset} came back as 0x{got:02x}, sent 0x{expected:02x}")]
    Corrupt {
        /// Position in the connection's stream.
        offset: u64,
        /// The byte sent there.
        expected: u8,
        /// The byte received there.
        got: u8,
    },
}

/// Why a connection ended before its work was done, as the slot tells the
/// workload (the load generator only counts these; the echo client reports
/// each one).
#[derive(Debug)]
pub(crate) enum Failure<'a> {
    /// The connection could not be made.
    Connect(&'a io::Error),
    /// The connection broke or the server misbehaved.
    Fault {
        /// What happened.
        fault: &'a Fault,
        /// Bytes written on the connection before.
        written: u64,
    },
    /// Nothing came for too long.
    Timeout {
        /// The timeout.
        after: Duration,
        /// Bytes written on the connection before.
        written: u64,
    },
}

/// A kind of request and the check of its response.
pub(crate) trait Workload: Send + Sync + 'static {
    /// Per-connection state.
    type State: Send;

    /// State for connection number `conn` (0-based, unique in the run).
    fn state(&self, conn: usize) -> Self::State;

    /// A new connection replaces the old one; requests in flight on the
    /// old one are gone. `clean` is false after a fault.
    fn reset(&self, state: &mut Self::State, clean: bool);

    /// Appends the next request to `out`, or its first part when it is too
    /// big to generate at once (see [`Workload::more`]).
    fn request(&self, state: &mut Self::State, out: &mut Vec<u8>);

    /// Appends the next part of the last request; false, appending
    /// nothing, once the request is whole. No new request is asked for
    /// while this says there is more.
    fn more(&self, _state: &mut Self::State, _out: &mut Vec<u8>) -> bool {
        false
    }

    /// Takes bytes received and calls `verdict` once per whole response, in
    /// order. `detail` asks for a description of a mismatch.
    fn input(
        &self,
        state: &mut Self::State,
        input: &[u8],
        detail: bool,
        verdict: &mut dyn FnMut(Verdict),
    ) -> Result<(), Fault>;

    /// Connection number `conn` failed; [`Workload::reset`] follows.
    fn failed(&self, _conn: usize, _state: &mut Self::State, _failure: Failure<'_>) {}
}

//! What can go wrong for a client talking to one server: reaching it,
//! waiting for it, and what it sends back. Owns the causes and the one-line
//! sentences a user reads; it does not decide exit codes (the CLI does).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use sockmux_proto::{ProtoError, ReplyError};
use thiserror::Error;

use crate::TlsFailure;

/// One cause of a failed exchange with a server.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The host name did not resolve.
    #[error("cannot resolve host {host:?}: {}", describe_io(.source))]
    Resolve {
        /// The name given.
        host: String,
        /// What the resolver said.
        #[source]
        source: io::Error,
    },
    /// The host name resolved to no address.
    #[error("host {host:?} has no address")]
    NoAddress {
        /// The name given.
        host: String,
    },
    /// No connection could be made.
    #[error("cannot connect to {addr}: {}", describe_io(.source))]
    Connect {
        /// The address tried (the last one, when several were).
        addr: SocketAddr,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// The server did not answer in time.
    #[error("timed out after {} waiting for {what} from {addr}", seconds(*.after))]
    Timeout {
        /// The server.
        addr: SocketAddr,
        /// What was awaited, as a phrase ("the response").
        what: &'static str,
        /// The time allowed.
        after: Duration,
    },
    /// The server closed the connection before its response was complete.
    #[error("{addr} closed the connection before the response was complete ({received} bytes of it had arrived)")]
    ClosedEarly {
        /// The server.
        addr: SocketAddr,
        /// Bytes of the response that had arrived.
        received: usize,
    },
    /// The response is not a valid message.
    #[error("malformed response from {addr}: {source}")]
    Malformed {
        /// The server.
        addr: SocketAddr,
        /// What is wrong with it.
        #[source]
        source: ProtoError,
    },
    /// The response is a valid message whose content holds no result a
    /// client can read.
    #[error("malformed response from {addr}: {source}")]
    BadReply {
        /// The server.
        addr: SocketAddr,
        /// What is wrong with it.
        #[source]
        source: ReplyError,
    },
    /// The server sent bytes nobody asked for.
    #[error("{addr} sent {extra} bytes after its response, which belong to no request")]
    Unsolicited {
        /// The server.
        addr: SocketAddr,
        /// How many.
        extra: usize,
    },
    /// TLS failed: the handshake (a certificate refused either way), or
    /// the connection after it.
    #[error("{addr}: {source}")]
    Tls {
        /// The server.
        addr: SocketAddr,
        /// What failed.
        #[source]
        source: TlsFailure,
    },
    /// The request could not be encoded.
    #[error("cannot encode the request: {0}")]
    Encode(#[source] ProtoError),
    /// Reading or writing failed (reset, broken pipe …).
    #[error("lost the connection to {addr}: {}", describe_io(.source))]
    Io {
        /// The server.
        addr: SocketAddr,
        /// What the socket said.
        #[source]
        source: io::Error,
    },
}

/// The cause of a socket error as a short lower-case phrase, without the
/// "(os error N)" suffix that means nothing to a user.
pub fn describe_io(e: &io::Error) -> String {
    use io::ErrorKind as K;
    let phrase = match e.kind() {
        K::ConnectionRefused => "connection refused",
        K::ConnectionReset => "connection reset by peer",
        K::ConnectionAborted => "connection aborted",
        K::BrokenPipe => "broken pipe (the peer closed the connection)",
        K::TimedOut | K::WouldBlock => "timed out",
        K::AddrInUse => "address in use",
        K::AddrNotAvailable => "address not available (out of local ports?)",
        K::HostUnreachable => "host unreachable",
        K::NetworkUnreachable => "network unreachable",
        K::NotConnected => "not connected",
        _ => {
            let text = e.to_string();
            return match text.find(" (os error") {
                Some(at) => lower_first(&text[..at]),
                None => text,
            };
        }
    };
    phrase.to_owned()
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `2 s`, `0.5 s`: a duration as a user typed it.
pub(crate) fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_error_reads_as_one_plain_sentence() {
        let err = ClientError::Connect {
            addr: SocketAddr::from(([127, 0, 0, 1], 9)),
            source: io::Error::from_raw_os_error(111),
        };
        assert_eq!(
            err.to_string(),
            "cannot connect to 127.0.0.1:9: connection refused"
        );
    }

    #[test]
    fn unknown_os_errors_lose_the_errno_suffix() {
        let e = io::Error::from_raw_os_error(24);
        assert_eq!(describe_io(&e), "too many open files");
    }
}

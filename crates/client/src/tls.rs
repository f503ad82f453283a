//! Why a client's TLS connection failed, in the words a user reads. The
//! connection paths carry it inside their `io::Error`s (the load
//! generator counts and reports those), so it is recovered from one with
//! [`TlsFailure::in_io`]. Driving TLS itself is `sockmux-tls`'s
//! ([`sockmux_tls::TlsClient`]), the same for every client.

use std::io;

use sockmux_tls::rustls::{self, AlertDescription};
use thiserror::Error;

/// What ended a TLS connection.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TlsFailure {
    /// The handshake failed: the server's certificate was refused (not
    /// from the CA given, not for the server name), or the server refused
    /// the client's, or the server does not speak TLS.
    #[error("TLS handshake failed: {}{}", .0, explain(.0))]
    Handshake(#[source] rustls::Error),
    /// The connection failed after the handshake (with TLS 1.3, a server
    /// refusing the client's certificate says so here, after the
    /// client's side of the handshake is done).
    #[error("TLS failed: {}{}", .0, explain(.0))]
    Session(#[source] rustls::Error),
    /// The server closed the connection before the handshake completed.
    #[error("TLS handshake failed: the server closed the connection")]
    Closed,
}

impl TlsFailure {
    /// The failure as the `io::Error` that ends the connection.
    pub(crate) fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }

    /// The failure `e` carries, or `e` itself when it carries none.
    pub(crate) fn take(e: io::Error) -> Result<Self, io::Error> {
        if Self::in_io(&e).is_none() {
            return Err(e);
        }
        let kind = e.kind();
        match e.into_inner().map(|inner| inner.downcast::<Self>()) {
            Some(Ok(failure)) => Ok(*failure),
            Some(Err(inner)) => Err(io::Error::new(kind, inner)),
            None => Err(kind.into()),
        }
    }

    /// The failure `e` carries, if it is one.
    pub fn in_io(e: &io::Error) -> Option<&TlsFailure> {
        e.get_ref()?.downcast_ref()
    }
}

/// What the alerts a server refuses a client certificate with mean.
fn explain(e: &rustls::Error) -> &'static str {
    match e {
        rustls::Error::AlertReceived(AlertDescription::CertificateRequired) => {
            " (the server requires a client certificate)"
        }
        rustls::Error::AlertReceived(
            AlertDescription::UnknownCA
            | AlertDescription::BadCertificate
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::AccessDenied,
        ) => " (the server refused the client certificate)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::describe_io;

    #[test]
    fn a_refusal_reads_as_one_sentence_through_the_socket_error() {
        let refused = rustls::Error::AlertReceived(AlertDescription::CertificateRequired);
        let e = TlsFailure::Session(refused).into_io();
        assert_eq!(
            describe_io(&e),
            "TLS failed: received fatal alert: CertificateRequired \
             (the server requires a client certificate)"
        );
        assert!(matches!(
            TlsFailure::in_io(&e),
            Some(TlsFailure::Session(_))
        ));
        assert!(TlsFailure::in_io(&io::Error::other("x")).is_none());
        assert!(matches!(TlsFailure::take(e), Ok(TlsFailure::Session(_))));
        assert!(TlsFailure::take(io::Error::other("x")).is_err());
    }
}

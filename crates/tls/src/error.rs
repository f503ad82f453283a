//! Why a TLS server or client cannot start: the operator's files, the
//! server name, and what rustls made of them. Errors of one connection
//! are not here: a server's close that connection as a
//! [`sockmux_engine::LayerError`], a client's are `rustls::Error`s.

use std::path::PathBuf;

use thiserror::Error;

/// Why the TLS configuration could not be built.
#[derive(Debug, Error)]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    #[error("{what} file {path}: {reason}")]
    Pem {
        /// Which file: certificate, private key, client CA or CA.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong, from the PEM reader.
        reason: String,
    },
    /// A PEM file held nothing of the kind expected.
    #[error("{what} file {path} holds no {wanted} (PEM)")]
    Empty {
        /// Which file: certificate, private key, client CA or CA.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What it should have held.
        wanted: &'static str,
    },
    /// A CA certificate was refused as a trust anchor.
    #[error("{what} file {path}: {reason}")]
    Ca {
        /// Which file: the server's client CA, or a client's CA.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why webpki refused it.
        reason: String,
    },
    /// rustls refused the certificate, the key or the pair of them (a key
    /// that does not match the certificate, an unsupported key type).
    #[error("certificate {cert} with key {key}: {reason}")]
    Identity {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// Why rustls refused them.
        reason: rustls::Error,
    },
    /// A client was given a server name that is neither a DNS name nor
    /// an IP address.
    #[error("{0:?} is not a server name a certificate can name (a DNS name or an IP address)")]
    ServerName(String),
    /// The rest of the configuration was refused (protocol versions,
    /// session tickets, fragment size).
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

//! Why a TLS server cannot start: the operator's files and what rustls
//! made of them. Errors of one connection are not here; they close that
//! connection as a [`sockmux_engine::LayerError`].

use std::path::PathBuf;

use thiserror::Error;

/// Why the TLS configuration could not be built.
#[derive(Debug, Error)]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    #[error("{what} file {path}: {reason}")]
    Pem {
        /// Which file: certificate, private key or client CA.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong, from the PEM reader.
        reason: String,
    },
    /// A PEM file held nothing of the kind expected.
    #[error("{what} file {path} holds no {wanted} (PEM)")]
    Empty {
        /// Which file: certificate, private key or client CA.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What it should have held.
        wanted: &'static str,
    },
    /// A client CA certificate was refused as a trust anchor.
    #[error("client CA file {path}: {reason}")]
    ClientCa {
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
    /// The rest of the configuration was refused (protocol versions,
    /// session tickets, fragment size).
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

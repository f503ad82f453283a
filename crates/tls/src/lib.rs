//! TLS for sockmux servers and clients: rustls driven sans-IO, as a
//! transport layer on the server and as a transport any client loop
//! drives.
//!
//! ```text
//! socket ──> [PROXY header] ──> TlsLayer ──> session
//!            records in: read_tls ─> process_new_packets ─> plaintext up
//!            records out: session output ─> writer ─> write_tls ─> own Output
//! ```
//!
//! - [`TlsSettings`]: the operator's PEM files (certificate chain, key,
//!   and for mutual TLS the client CA) and the resumption settings, made
//!   into one shared `rustls::ServerConfig` (TLS 1.3 and 1.2, stateless
//!   tickets and a session cache, ALPN optional).
//! - [`TlsLayers`] / [`TlsLayer`]: a [`sockmux_engine::Layer`] per
//!   connection around a `rustls::ServerConnection`. No plaintext
//!   fallback: anything that is not TLS closes the connection.
//! - [`TlsClientSettings`]: a client's CA bundle and, for mutual TLS, its
//!   certificate and key, made into one shared `rustls::ClientConfig`
//!   with one session cache.
//! - [`TlsConnector`] / [`TlsClient`]: one client connection's TLS over a
//!   `rustls::ClientConnection`, bytes in and out, no socket: the blocking
//!   app client and the mio load generator drive the same type.
//!
//! Both sides drive rustls through the same few steps (`wire`).
//!
//! The provider is aws-lc-rs (rustls's default), not ring: a full TLS 1.3
//! handshake costs the server about 12% less CPU with it (its X25519 is
//! assembly; ring's was a quarter of the handshake's profile), it offers
//! the post-quantum hybrid X25519MLKEM768 to clients that ask for it, and
//! the price, about 30 s more of a clean build, is paid once. BENCHMARKS.md
//! (TLS section) has both measurements.
#![deny(missing_docs)]

mod client;
mod config;
mod connector;
mod error;
mod layer;
mod pem;
mod provider;
mod record;
mod sessions;
mod subject;
mod wire;

pub use client::TlsClient;
pub use config::{TlsLayers, TlsSettings};
pub use connector::{TlsClientSettings, TlsConnector};
pub use error::TlsError;
pub use layer::TlsLayer;
/// The rustls this crate is built on, for its error and handshake types.
pub use rustls;

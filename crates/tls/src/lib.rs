//! TLS for sockmux servers: rustls driven sans-IO as a transport layer.
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
//!
//! The provider is aws-lc-rs (rustls's default), not ring: a full TLS 1.3
//! handshake costs the server about 12% less CPU with it (its X25519 is
//! assembly; ring's was a quarter of the handshake's profile), it offers
//! the post-quantum hybrid X25519MLKEM768 to clients that ask for it, and
//! the price, about 30 s more of a clean build, is paid once. BENCHMARKS.md
//! (TLS section) has both measurements.
#![deny(missing_docs)]

mod config;
mod error;
mod layer;
mod provider;
mod record;
mod subject;

pub use config::{TlsLayers, TlsSettings};
pub use error::TlsError;
pub use layer::TlsLayer;

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
//! The provider is ring: it builds in a fraction of aws-lc-rs's time and
//! met the handshake budget here (BENCHMARKS.md, TLS section, has both
//! measurements).
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

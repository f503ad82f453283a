//! The one place that names the cryptography provider, so that changing
//! it is a one-file change. ring: see the crate docs for why.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::ProducesTickets;

/// The provider every configuration is built with.
pub(crate) fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// Stateless session tickets, with keys that rotate.
pub(crate) fn ticketer() -> Result<Arc<dyn ProducesTickets>, rustls::Error> {
    rustls::crypto::ring::Ticketer::new()
}

//! The one place that names the cryptography provider, so that changing
//! it is a one-file change (aws-lc-rs: see the crate docs for why), and
//! the server's order of preference among its cipher suites.

use std::sync::Arc;

use rustls::crypto::hash::HashAlgorithm;
use rustls::crypto::CryptoProvider;
use rustls::server::ProducesTickets;
use rustls::{NamedGroup, SupportedCipherSuite};

/// The provider every configuration is built with: its suites, with the
/// SHA-256 ones first. The handshake hashes everything with the suite's
/// hash, and SHA-384 has no instructions of its own on x86 (SHA-256 has
/// SHA-NI): a TLS 1.3 handshake with AES-128-GCM/SHA-256 costs the server
/// about 40 µs (a sixth) less than one with AES-256-GCM/SHA-384, which
/// OpenSSL clients list first (BENCHMARKS.md).
pub(crate) fn provider() -> CryptoProvider {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    // A stable sort: otherwise the provider's order stands.
    provider.cipher_suites.sort_by_key(uses_sha384);
    provider
}

/// The same provider without the post-quantum key exchanges (the hybrid
/// X25519MLKEM768 is offered first otherwise): X25519 first, then the
/// NIST curves, as servers without post-quantum support choose anyway.
pub(crate) fn classical(mut provider: CryptoProvider) -> CryptoProvider {
    provider.kx_groups.retain(|group| {
        !matches!(
            group.name(),
            NamedGroup::X25519MLKEM768
                | NamedGroup::secp256r1MLKEM768
                | NamedGroup::MLKEM512
                | NamedGroup::MLKEM768
                | NamedGroup::MLKEM1024
        )
    });
    provider
}

fn uses_sha384(suite: &SupportedCipherSuite) -> bool {
    let common = match suite {
        SupportedCipherSuite::Tls12(suite) => &suite.common,
        SupportedCipherSuite::Tls13(suite) => &suite.common,
    };
    common.hash_provider.algorithm() == HashAlgorithm::SHA384
}

/// Stateless session tickets, with keys that rotate.
pub(crate) fn ticketer() -> Result<Arc<dyn ProducesTickets>, rustls::Error> {
    rustls::crypto::aws_lc_rs::Ticketer::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_classical_provider_offers_x25519_first_and_no_kem() {
        assert_eq!(provider().kx_groups[0].name(), NamedGroup::X25519MLKEM768);
        let groups = classical(provider()).kx_groups;
        assert_eq!(groups[0].name(), NamedGroup::X25519);
        assert_eq!(groups.len(), provider().kx_groups.len() - 1);
    }

    #[test]
    fn sha256_suites_come_first_and_none_is_lost() {
        let suites = provider().cipher_suites;
        assert_eq!(
            suites.len(),
            rustls::crypto::aws_lc_rs::default_provider()
                .cipher_suites
                .len()
        );
        let first_sha384 = suites
            .iter()
            .position(uses_sha384)
            .expect("some SHA-384 suite");
        assert!(suites[first_sha384..].iter().all(uses_sha384));
        assert_eq!(
            suites[0].suite(),
            rustls::CipherSuite::TLS13_AES_128_GCM_SHA256
        );
    }
}

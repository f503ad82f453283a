//! Heap allocations the server side makes per keep-alive request over
//! TLS, counted in the server's calls only (the rustls client in the same
//! process is left out). Plaintext makes none (`crates/core/tests/alloc.rs`);
//! rustls's buffered API allocates per record, so this pins the count to
//! what it is now, to notice when it grows.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, ClientConnection, RootCertStore};
use sockmux_engine::{AppService, Connection, Layers, Service, Stats};
use sockmux_proto::{Limits, SearchService, Table};
use sockmux_test_support::alloc::{allocations, Counting};
use sockmux_test_support::app::search;
use sockmux_test_support::tls::Pki;
use sockmux_tls::{TlsLayers, TlsSettings};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Per request now, both rustls's: one for the received record's
/// plaintext, one for the encrypted answer. The layer's output keeps a
/// small answer's room between requests.
const MAX_PER_REQUEST: u64 = 2;

#[test]
fn a_keep_alive_request_over_tls_allocates_a_bounded_few_times() {
    let pki = Pki::new();
    let settings = TlsSettings::new(pki.path("server.pem"), pki.path("server.key"));
    let layers = TlsLayers::from_settings(&settings).expect("configuration");
    let service = AppService::new(SearchService::new(Table::builtin()), Limits::default());
    let now = Instant::now();
    let peer: SocketAddr = "127.0.0.1:4242".parse().unwrap();
    let mut server = Connection::new(service.session(), layers.layer(peer), 1 << 20, now);
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(pki.path("ca.pem")).unwrap())
        .unwrap();
    let config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut client =
        ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap()).unwrap();
    let request = search("morpheus", true);
    let mut stats = Stats::default();
    let (mut wire, mut reply, mut plain) = (Vec::new(), Vec::new(), Vec::new());
    let mut server_allocations = 0;
    let rounds = 1_000;
    let warm_up = 100;
    for round in 0..warm_up + rounds {
        client.writer().write_all(&request).unwrap();
        // The handshake takes a few turns; each round runs until quiet.
        for _ in 0..8 {
            wire.clear();
            while client.wants_write() {
                client.write_tls(&mut wire).unwrap();
            }
            let before = allocations();
            if !wire.is_empty() {
                server.handle_input(&wire, now, &mut stats);
            }
            reply.clear();
            reply.extend_from_slice(server.poll_transmit());
            let n = reply.len();
            server.handle_sent(n, now, &mut stats);
            let during = allocations() - before;
            if round >= warm_up {
                server_allocations += during;
            }
            let mut rest = &reply[..];
            while !rest.is_empty() {
                client.read_tls(&mut rest).unwrap();
            }
            client.process_new_packets().unwrap();
            plain.clear();
            let _ = client.reader().read_to_end(&mut plain);
            if wire.is_empty() && n == 0 {
                break;
            }
        }
    }
    assert_eq!(stats.requests, (warm_up + rounds) as u64);
    let per_request = server_allocations as f64 / f64::from(rounds);
    eprintln!("server allocations per TLS keep-alive request: {per_request:.2}");
    assert!(
        per_request <= MAX_PER_REQUEST as f64,
        "{per_request} allocations per request, more than {MAX_PER_REQUEST}"
    );
}

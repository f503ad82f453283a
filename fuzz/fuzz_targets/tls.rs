//! Fuzzes a TLS server connection: the engine's `Connection` with the app
//! session over `TlsLayer`, fed arbitrary bytes in arbitrary reads.
//!
//! Input layout: the first byte picks the read size (1 to 256 bytes) and,
//! with its top bit, whether a real rustls client first completes a
//! TLS 1.3 handshake (and sends one request) so that the rest lands on an
//! established connection; the rest is the stream.
//!
//! Checked, beyond "no panic": the encrypted output never holds more than
//! its cap plus one full record, and a connection that failed reads no
//! more.
#![no_main]

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig};
use sockmux_engine::{AppService, Connection, Layers, Service, Stats};
use sockmux_proto::{encode, Limits, SearchService, Table};
use sockmux_tls::TlsLayers;

const CAP: usize = 16 * 1024;
/// A record's most ciphertext (16 KiB of payload plus its overhead).
const RECORD: usize = 16 * 1024 + 256 + 5;

struct World {
    layers: TlsLayers,
    client: Arc<ClientConfig>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let key = rcgen::KeyPair::generate().expect("key");
        let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
        let cert = params.self_signed(&key).expect("certificate");
        let der = CertificateDer::from(cert.der().to_vec());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let server = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![der.clone()], key)
            .expect("server configuration");
        let mut roots = RootCertStore::empty();
        roots.add(der).expect("root");
        let client = ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        World {
            layers: TlsLayers::new(Arc::new(server)).expect("layers").with_max_output(CAP),
            client: Arc::new(client),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let [control, stream @ ..] = data else {
        return;
    };
    let world = world();
    let now = Instant::now();
    let mut stats = Stats::default();
    let service = AppService::new(SearchService::new(Table::builtin()), Limits::default());
    let peer: SocketAddr = "127.0.0.1:4242".parse().expect("address");
    let mut conn = Connection::new(service.session(), world.layers.layer(peer), 1 << 20, now);
    if control & 0x80 != 0 {
        let name = "localhost".try_into().expect("name");
        let mut client = ClientConnection::new(Arc::clone(&world.client), name).expect("client");
        let mut request = Vec::new();
        encode::search_request("morpheus", true, &mut request).expect("encode");
        std::io::Write::write_all(&mut client.writer(), &request).expect("buffered");
        for _ in 0..8 {
            let mut wire = Vec::new();
            while client.wants_write() {
                client.write_tls(&mut wire).expect("to a Vec");
            }
            conn.handle_input(&wire, now, &mut stats);
            let reply = conn.poll_transmit().to_vec();
            conn.handle_sent(reply.len(), now, &mut stats);
            let mut rest = &reply[..];
            while !rest.is_empty() {
                client.read_tls(&mut rest).expect("from a slice");
            }
            client.process_new_packets().expect("a good server");
        }
    }
    let size = usize::from(control & 0x7f) * 2 + 1;
    for chunk in stream.chunks(size) {
        if !conn.wants_read() {
            break;
        }
        conn.handle_input(chunk, now, &mut stats);
        assert!(conn.poll_transmit().len() <= CAP + RECORD, "encrypted output past its cap");
    }
    let failed = stats.errors > 0;
    if failed {
        assert!(!conn.wants_read(), "a failed connection still reads");
    }
});

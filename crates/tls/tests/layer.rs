//! The TLS layer under a real engine connection and the app session,
//! against a rustls client, all in memory on a fake clock: handshakes
//! (TLS 1.3 and 1.2), resumption, mutual TLS, backpressure, closing with
//! `close_notify` both ways, and hostile input.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, ClientConnection, HandshakeKind, ProtocolVersion, RootCertStore};
use sockmux_engine::{
    AppService, AppSession, Connection, Layer, Layers, Phase, Service, Stats, Timers,
};
use sockmux_proto::{Limits, SearchService, Table};
use sockmux_test_support::app::{decode_responses, result, search};
use sockmux_test_support::tls::{Pki, CLIENT_SUBJECT};
use sockmux_tls::{TlsLayer, TlsLayers, TlsSettings};

type Server = Connection<AppSession<SearchService>, TlsLayer>;

const PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 4242);

fn layers(pki: &Pki, mutual: bool) -> TlsLayers {
    let mut settings = TlsSettings::new(pki.path("server.pem"), pki.path("server.key"));
    if mutual {
        settings = settings.requiring_clients_of(pki.path("ca.pem"));
    }
    TlsLayers::from_settings(&settings).expect("configuration")
}

fn server(layers: &TlsLayers, max_output: usize, now: Instant) -> Server {
    let service = AppService::new(SearchService::new(Table::builtin()), Limits::default());
    Connection::new(service.session(), layers.layer(PEER), max_output, now)
}

/// A client trusting the test CA, speaking only `version`, presenting
/// the certificate `NAME.pem` if `identity` names one.
fn client_config(pki: &Pki, version: ProtocolVersion, identity: Option<&str>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(pki.path("ca.pem")).unwrap())
        .unwrap();
    let versions: &[&rustls::SupportedProtocolVersion] = match version {
        ProtocolVersion::TLSv1_2 => &[&rustls::version::TLS12],
        _ => &[&rustls::version::TLS13],
    };
    let builder =
        ClientConfig::builder_with_protocol_versions(versions).with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some(name) => {
            let chain =
                vec![CertificateDer::from_pem_file(pki.path(&format!("{name}.pem"))).unwrap()];
            let key = PrivateKeyDer::from_pem_file(pki.path(&format!("{name}.key"))).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
    };
    Arc::new(config)
}

fn client(config: &Arc<ClientConfig>) -> ClientConnection {
    ClientConnection::new(Arc::clone(config), "localhost".try_into().unwrap()).unwrap()
}

/// Moves bytes both ways until neither side has any to move, reading
/// from the client only while the server wants input (as the driver
/// does). Returns the plaintext the client received.
fn pump(
    client: &mut ClientConnection,
    server: &mut Server,
    now: Instant,
    stats: &mut Stats,
) -> Vec<u8> {
    let mut plain = Vec::new();
    for _ in 0..10_000 {
        let mut moved = false;
        if server.wants_read() && client.wants_write() {
            let mut wire = Vec::new();
            client.write_tls(&mut wire).unwrap();
            server.handle_input(&wire, now, stats);
            moved = true;
        }
        let pending = server.poll_transmit().to_vec();
        if !pending.is_empty() {
            server.handle_sent(pending.len(), now, stats);
            let mut rest = &pending[..];
            while !rest.is_empty() {
                client.read_tls(&mut rest).unwrap();
                if client.process_new_packets().is_err() {
                    return plain;
                }
            }
            moved = true;
        }
        let _ = client.reader().read_to_end(&mut plain);
        if !moved || server.is_done() {
            return plain;
        }
    }
    panic!("no quiet point in 10000 rounds");
}

fn ask(
    client: &mut ClientConnection,
    server: &mut Server,
    keys: &[&str],
    last_closes: bool,
) -> Vec<u8> {
    for (i, key) in keys.iter().enumerate() {
        let keep_alive = !(last_closes && i + 1 == keys.len());
        client.writer().write_all(&search(key, keep_alive)).unwrap();
    }
    let now = Instant::now();
    pump(client, server, now, &mut Stats::default())
}

#[test]
fn answers_pipelined_requests_over_tls13_and_tls12() {
    let pki = Pki::new();
    let layers = layers(&pki, false);
    for version in [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2] {
        let now = Instant::now();
        let mut server = server(&layers, 1 << 20, now);
        let mut client = client(&client_config(&pki, version, None));
        let got = decode_responses(&ask(&mut client, &mut server, &["morpheus"; 20], false));
        assert_eq!(got.len(), 20, "{version:?}");
        assert!(got
            .iter()
            .all(|(_, c)| *c == result("Follow the white rabbit. \u{1f430}")));
        let tls = server_layer(&server);
        assert_eq!(tls.protocol_version(), Some(version));
        assert_eq!(tls.handshake_kind(), Some(HandshakeKind::Full));
        assert_eq!(server.phase(), Phase::Open);
    }
}

fn server_layer(server: &Server) -> &rustls::ServerConnection {
    server.layer().connection()
}

#[test]
fn a_second_connection_resumes_the_session() {
    let pki = Pki::new();
    let layers = layers(&pki, false);
    for version in [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2] {
        let config = client_config(&pki, version, None);
        let mut kinds = Vec::new();
        for _ in 0..2 {
            let mut server = server(&layers, 1 << 20, Instant::now());
            let mut client = client(&config);
            let got = ask(&mut client, &mut server, &["morpheus"], true);
            assert_eq!(decode_responses(&got).len(), 1);
            kinds.push(server_layer(&server).handshake_kind());
        }
        assert_eq!(
            kinds,
            [Some(HandshakeKind::Full), Some(HandshakeKind::Resumed)],
            "{version:?}"
        );
    }
}

#[test]
fn mutual_tls_names_a_good_client_and_refuses_none_or_a_stranger() {
    let pki = Pki::new();
    let layers = layers(&pki, true);
    let now = Instant::now();
    let mut server_ok = server(&layers, 1 << 20, now);
    let mut good = client(&client_config(
        &pki,
        ProtocolVersion::TLSv1_3,
        Some("client"),
    ));
    assert_eq!(
        decode_responses(&ask(&mut good, &mut server_ok, &["morpheus"], false)).len(),
        1
    );
    assert_eq!(
        server_ok.layer().client_subject().as_deref(),
        Some(CLIENT_SUBJECT)
    );

    for (who, identity) in [("no certificate", None), ("another CA's", Some("stranger"))] {
        for version in [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2] {
            let mut server = server(&layers, 1 << 20, now);
            let mut client = client(&client_config(&pki, version, identity));
            let got = ask(&mut client, &mut server, &["morpheus"], false);
            assert!(got.is_empty(), "{who} {version:?}: answered");
            assert!(
                closed_after_alert(&mut server),
                "{who} {version:?}: still open"
            );
            // The client heard why, in an alert.
            let told = client.process_new_packets().expect_err("refused");
            assert!(
                matches!(told, rustls::Error::AlertReceived(_)),
                "{who} {version:?}: {told}"
            );
        }
    }
}

#[test]
fn the_last_answer_is_followed_by_close_notify() {
    let pki = Pki::new();
    let layers = layers(&pki, false);
    let mut server = server(&layers, 1 << 20, Instant::now());
    let mut client = client(&client_config(&pki, ProtocolVersion::TLSv1_3, None));
    let got = ask(&mut client, &mut server, &["morpheus", "ring"], true);
    assert_eq!(decode_responses(&got).len(), 2);
    assert!(
        client.process_new_packets().unwrap().peer_has_closed(),
        "close_notify received"
    );
    assert!(!server.poll_shutdown(Instant::now(), false));
    assert!(server.is_done());
}

#[test]
fn a_client_close_notify_is_its_eof_after_its_requests_are_answered() {
    let pki = Pki::new();
    let layers = layers(&pki, false);
    let mut server = server(&layers, 1 << 20, Instant::now());
    let mut client = client(&client_config(&pki, ProtocolVersion::TLSv1_3, None));
    // Handshake first, then keep-alive requests and close_notify together.
    ask(&mut client, &mut server, &[], false);
    client
        .writer()
        .write_all(&search("morpheus", true))
        .unwrap();
    client.send_close_notify();
    let got = pump(
        &mut client,
        &mut server,
        Instant::now(),
        &mut Stats::default(),
    );
    assert_eq!(decode_responses(&got).len(), 1, "answered");
    assert!(
        client.process_new_packets().unwrap().peer_has_closed(),
        "closed back"
    );
    assert_ne!(server.phase(), Phase::Open);
}

#[test]
fn a_client_that_does_not_read_fills_bounded_buffers_and_then_is_served() {
    let pki = Pki::new();
    let layers = layers(&pki, false).with_max_output(16 * 1024);
    let now = Instant::now();
    let mut stats = Stats::default();
    let mut server = server(&layers, 64 * 1024, now);
    let mut client = client(&client_config(&pki, ProtocolVersion::TLSv1_3, None));
    ask(&mut client, &mut server, &[], false);
    let requests = 20_000;
    let mut wire = Vec::new();
    for _ in 0..requests {
        client
            .writer()
            .write_all(&search("morpheus", true))
            .unwrap();
        client.write_tls(&mut wire).unwrap();
    }
    // Feed while the server wants input; the client reads nothing.
    let mut fed = 0;
    while fed < wire.len() && server.wants_read() {
        let end = (fed + 4096).min(wire.len());
        server.handle_input(&wire[fed..end], now, &mut stats);
        fed = end;
        // The encrypted output never holds much more than its cap.
        assert!(server.poll_transmit().len() <= 16 * 1024 + 4096 + 64);
    }
    assert!(
        fed < wire.len(),
        "reading paused before all {} bytes",
        wire.len()
    );
    // The client reads now: every request is answered, in order.
    let mut plain = Vec::new();
    let mut rounds = 0;
    while rounds < 100_000 {
        rounds += 1;
        if fed < wire.len() && server.wants_read() {
            let end = (fed + 4096).min(wire.len());
            server.handle_input(&wire[fed..end], now, &mut stats);
            fed = end;
        }
        let pending = server.poll_transmit().to_vec();
        server.handle_sent(pending.len(), now, &mut stats);
        let mut rest = &pending[..];
        while !rest.is_empty() {
            client.read_tls(&mut rest).unwrap();
            client.process_new_packets().unwrap();
        }
        let _ = client.reader().read_to_end(&mut plain);
        if pending.is_empty() && fed == wire.len() {
            break;
        }
    }
    assert_eq!(decode_responses(&plain).len(), requests);
}

#[test]
fn garbage_plaintext_and_http_are_closed_with_at_most_an_alert() {
    let pki = Pki::new();
    let layers = layers(&pki, false);
    let cases: [(&str, Vec<u8>); 4] = [
        ("garbage", vec![0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3]),
        ("an app request in the clear", search("morpheus", false)),
        ("HTTP", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        ("an SSLv2-style hello", vec![0x80, 0x2e, 0x01, 0x00, 0x02]),
    ];
    for (what, bytes) in cases {
        let mut server = server(&layers, 1 << 20, Instant::now());
        let mut stats = Stats::default();
        server.handle_input(&bytes, Instant::now(), &mut stats);
        assert!(closed_after_alert(&mut server), "{what}: closed");
        assert_eq!(stats.errors, 1, "{what}: counted");
    }
    // Garbage before a real ClientHello: closed too.
    let mut server = server(&layers, 1 << 20, Instant::now());
    let mut client = client(&client_config(&pki, ProtocolVersion::TLSv1_3, None));
    let mut wire = b"hello?".to_vec();
    client.write_tls(&mut wire).unwrap();
    server.handle_input(&wire, Instant::now(), &mut Stats::default());
    assert!(closed_after_alert(&mut server));
}

/// Whether the server reads no more and sends at most one alert record
/// (in the clear or encrypted) before it is done.
fn closed_after_alert(server: &mut Server) -> bool {
    let now = Instant::now();
    if server.wants_read() {
        return false;
    }
    let sent = server.poll_transmit().to_vec();
    let alert = sent.is_empty() || (sent[0] == 21 || sent[0] == 23) && sent.len() <= 5 + 2 + 17;
    server.handle_sent(sent.len(), now, &mut Stats::default());
    !server.poll_shutdown(now, false) && server.is_done() && alert
}

#[test]
fn a_stalled_handshake_or_record_is_closed_by_the_idle_timeout() {
    let pki = Pki::new();
    let layers = layers(&pki, false);
    let timers = Timers::new(Duration::from_secs(10));
    let start = Instant::now();
    let mut stats = Stats::default();

    // A ClientHello trickled a byte every 3 s: no progress, so the
    // deadline stays 10 s after the start.
    let mut server = server(&layers, 1 << 20, start);
    let mut hello = Vec::new();
    client(&client_config(&pki, ProtocolVersion::TLSv1_3, None))
        .write_tls(&mut hello)
        .unwrap();
    for (i, byte) in hello.iter().take(4).enumerate() {
        server.handle_input(
            std::slice::from_ref(byte),
            start + Duration::from_secs(3 * i as u64),
            &mut stats,
        );
    }
    assert!(server.layer().is_mid_message());
    assert!(server.handle_timeout(start + Duration::from_secs(10), &timers, &mut stats));
    assert!(server.poll_transmit().is_empty(), "nothing in the clear");
    assert!(!server.poll_shutdown(start, false));
    assert!(server.is_done());

    // After the handshake, half a record is a message under way.
    let mut server = self::server(&layers, 1 << 20, start);
    let mut client = client(&client_config(&pki, ProtocolVersion::TLSv1_3, None));
    ask(&mut client, &mut server, &[], false);
    assert!(!server.layer().is_mid_message());
    client
        .writer()
        .write_all(&search("morpheus", true))
        .unwrap();
    let mut record = Vec::new();
    client.write_tls(&mut record).unwrap();
    server.handle_input(&record[..7], start, &mut stats);
    assert!(
        server.layer().is_mid_message(),
        "a truncated record is under way"
    );
    // The peer goes away mid-record: an EOF, closed without an answer.
    server.handle_eof(start, &mut stats);
    let close_notify = server.poll_transmit().len();
    assert!(close_notify < 64, "at most a close_notify");
    server.handle_sent(close_notify, start, &mut stats);
    assert!(!server.poll_shutdown(start, false));
    assert!(server.is_done());
}

#[test]
fn a_refusal_is_never_sent_in_the_clear() {
    let pki = Pki::new();
    let layers = layers(&pki, false);
    let service = AppService::new(SearchService::new(Table::builtin()), Limits::default());
    let mut conn = Connection::refused(
        service.session(),
        layers.layer(PEER),
        b"too many",
        Instant::now(),
    );
    assert!(conn.poll_transmit().is_empty());
    assert!(!conn.poll_shutdown(Instant::now(), false));
    assert!(conn.is_done());
}

//! The client side's sans-IO [`TlsClient`] against the server's
//! [`sockmux_tls::TlsLayer`] under a real engine connection and the app
//! session, all in memory: answers, resumption from the connector's one
//! session cache, `close_notify` both ways, the output's cap, and a
//! refused certificate failing the handshake with an alert queued.

use std::net::SocketAddr;
use std::time::Instant;

use sockmux_engine::{AppService, AppSession, Connection, Layers, Service, Stats};
use sockmux_proto::{Limits, SearchService, Table};
use sockmux_test_support::app::{decode_responses, result, search};
use sockmux_test_support::tls::Pki;
use sockmux_tls::rustls::{self, HandshakeKind, NamedGroup};
use sockmux_tls::{TlsClient, TlsClientSettings, TlsConnector, TlsLayer, TlsLayers, TlsSettings};

type Server = Connection<AppSession<SearchService>, TlsLayer>;

const PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 4242);
const ANSWER: &str = "Follow the white rabbit. \u{1f430}";

/// The server's shared configuration (its ticket keys among it).
fn layers(pki: &Pki) -> TlsLayers {
    let settings = TlsSettings::new(pki.path("server.pem"), pki.path("server.key"));
    TlsLayers::from_settings(&settings).expect("server configuration")
}

fn server(layers: &TlsLayers) -> Server {
    let service = AppService::new(SearchService::new(Table::builtin()), Limits::default());
    Connection::new(
        service.session(),
        layers.layer(PEER),
        1 << 20,
        Instant::now(),
    )
}

fn connector(pki: &Pki, ca: &str, name: &str) -> TlsConnector {
    TlsConnector::from_settings(&TlsClientSettings::new(pki.path(ca)), name)
        .expect("client configuration")
}

/// Moves bytes both ways until neither side has any to move; the
/// plaintext the client received, or the client's error.
fn pump(client: &mut TlsClient, server: &mut Server) -> Result<Vec<u8>, rustls::Error> {
    let (now, mut stats) = (Instant::now(), Stats::default());
    let mut plain = Vec::new();
    for _ in 0..10_000 {
        let mut moved = false;
        let wire = client.pending().to_vec();
        if !wire.is_empty() && server.wants_read() {
            client.consume(wire.len());
            server.handle_input(&wire, now, &mut stats);
            moved = true;
        }
        let answer = server.poll_transmit().to_vec();
        if !answer.is_empty() {
            server.handle_sent(answer.len(), now, &mut stats);
            client.handle_input(&answer, |p| plain.extend_from_slice(p))?;
            moved = true;
        }
        if !moved {
            return Ok(plain);
        }
    }
    panic!("no quiet point in 10000 rounds");
}

fn ask(client: &mut TlsClient, server: &mut Server, keep_alive: bool) -> Vec<u8> {
    let request = search("morpheus", keep_alive);
    assert_eq!(client.send(&request), request.len(), "taken whole");
    let got = pump(client, server).expect("no TLS error");
    let answers = decode_responses(&got);
    assert_eq!(answers.len(), 1, "one answer");
    answers.into_iter().next().unwrap().1
}

#[test]
fn answers_come_back_and_a_second_connection_resumes_from_the_connectors_cache() {
    let pki = Pki::new();
    let layers = layers(&pki);
    let connector = connector(&pki, "ca.pem", "localhost");
    let mut kinds = Vec::new();
    for _ in 0..3 {
        let mut client = connector.connect();
        assert!(client.is_handshaking());
        assert!(!client.pending().is_empty(), "the ClientHello is ready");
        // Taken before the handshake completes, sent right after it.
        let mut server = server(&layers);
        assert_eq!(ask(&mut client, &mut server, false), result(ANSWER));
        kinds.push(client.handshake_kind());
        // The server closes after an answer without keep-alive.
        assert!(client.is_peer_closed(), "close_notify received");
    }
    assert_eq!(
        kinds,
        [
            Some(HandshakeKind::Full),
            Some(HandshakeKind::Resumed),
            Some(HandshakeKind::Resumed)
        ]
    );
    // Clones share the cache.
    let mut client = connector.clone().connect();
    let mut server = server(&layers);
    ask(&mut client, &mut server, false);
    assert_eq!(client.handshake_kind(), Some(HandshakeKind::Resumed));
}

#[test]
fn the_cache_keeps_a_ticket_for_each_of_many_connections_to_one_server() {
    // Twenty connections at once, then twenty more: each of the second
    // twenty resumes with one of the first twenty's tickets (rustls's own
    // cache keeps 8 per server, so 12 would make full handshakes).
    let pki = Pki::new();
    let layers = layers(&pki);
    let connector = connector(&pki, "ca.pem", "localhost");
    let mut first: Vec<(TlsClient, Server)> = (0..20)
        .map(|_| (connector.connect(), server(&layers)))
        .collect();
    for (client, server) in &mut first {
        ask(client, server, false);
        assert_eq!(client.handshake_kind(), Some(HandshakeKind::Full));
    }
    // All twenty take their ticket before any of them gets a new one.
    let mut second: Vec<(TlsClient, Server)> = (0..20)
        .map(|_| (connector.connect(), server(&layers)))
        .collect();
    let mut resumed = 0;
    for (client, server) in &mut second {
        ask(client, server, false);
        resumed += usize::from(client.handshake_kind() == Some(HandshakeKind::Resumed));
    }
    assert_eq!(resumed, 20);
}

#[test]
fn settings_turn_resumption_and_the_post_quantum_exchange_off() {
    let pki = Pki::new();
    let layers = layers(&pki);
    let mut settings = TlsClientSettings::new(pki.path("ca.pem"));
    for (session_cache, post_quantum, kinds, group) in [
        (
            256,
            true,
            [HandshakeKind::Full, HandshakeKind::Resumed],
            NamedGroup::X25519MLKEM768,
        ),
        (
            0,
            true,
            [HandshakeKind::Full, HandshakeKind::Full],
            NamedGroup::X25519MLKEM768,
        ),
        (
            256,
            false,
            [HandshakeKind::Full, HandshakeKind::Resumed],
            NamedGroup::X25519,
        ),
    ] {
        settings.session_cache = session_cache;
        settings.post_quantum = post_quantum;
        let connector = TlsConnector::from_settings(&settings, "localhost").expect("configuration");
        let mut got = Vec::new();
        for _ in 0..2 {
            let mut client = connector.connect();
            let mut server = server(&layers);
            ask(&mut client, &mut server, false);
            got.push(client.handshake_kind().expect("done"));
            let conn = client.connection();
            let chosen = conn
                .negotiated_key_exchange_group()
                .expect("a group")
                .name();
            assert_eq!(
                chosen, group,
                "cache {session_cache}, post-quantum {post_quantum}"
            );
        }
        assert_eq!(
            got, kinds,
            "cache {session_cache}, post-quantum {post_quantum}"
        );
    }
}

#[test]
fn close_notify_ends_the_servers_stream_and_nothing_is_sent_after_it() {
    let pki = Pki::new();
    let layers = layers(&pki);
    let mut client = connector(&pki, "ca.pem", "127.0.0.1").connect();
    let mut server = server(&layers);
    assert_eq!(ask(&mut client, &mut server, true), result(ANSWER));
    assert!(!client.is_peer_closed(), "keep-alive: still open");
    client.close();
    client.close();
    assert_eq!(client.send(b"late"), 0, "nothing after close_notify");
    pump(&mut client, &mut server).expect("no TLS error");
    // The server took close_notify as the end of input, and answered
    // with its own before closing.
    assert!(client.is_peer_closed());
}

#[test]
fn the_output_takes_plaintext_up_to_its_cap_and_more_as_it_drains() {
    let pki = Pki::new();
    let layers = layers(&pki);
    let mut client = connector(&pki, "ca.pem", "localhost").connect();
    let mut server = server(&layers);
    ask(&mut client, &mut server, true);
    let big = vec![b'x'; 1 << 20];
    let first = client.send(&big);
    assert!(
        first > 0 && first <= TlsConnector::DEFAULT_MAX_OUTPUT,
        "{first}"
    );
    assert!(client.is_full());
    assert_eq!(client.send(&big[first..]), 0, "full: nothing more taken");
    let held = client.pending().len();
    client.consume(held);
    assert!(!client.is_full());
    assert!(client.send(&big[first..]) > 0, "drained: taking again");
}

#[test]
fn a_certificate_not_for_the_name_or_not_from_the_ca_fails_the_handshake() {
    let pki = Pki::new();
    let layers = layers(&pki);
    for (ca, name, says) in [
        ("ca.pem", "example.com", "not valid for name"),
        ("other-ca.pem", "localhost", "UnknownIssuer"),
    ] {
        let mut client = connector(&pki, ca, name).connect();
        let mut server = server(&layers);
        client.send(&search("morpheus", false));
        let error = pump(&mut client, &mut server).expect_err("refused");
        assert!(
            matches!(error, rustls::Error::InvalidCertificate(_)),
            "{error}"
        );
        assert!(error.to_string().contains(says), "{error}");
        assert!(client.is_handshaking());
        assert_eq!(client.handshake_kind(), None);
        assert!(
            !client.pending().is_empty(),
            "{name}: the alert is queued for the server"
        );
    }
}

#[test]
fn names_that_no_certificate_can_carry_are_refused_up_front() {
    let pki = Pki::new();
    let settings = TlsClientSettings::new(pki.path("ca.pem"));
    let error = TlsConnector::from_settings(&settings, "not a name").expect_err("refused");
    assert!(error.to_string().contains("\"not a name\""), "{error}");
    let missing = TlsClientSettings::new(pki.path("missing.pem"));
    let error = TlsConnector::from_settings(&missing, "localhost").expect_err("refused");
    assert!(error.to_string().starts_with("CA file"), "{error}");
    let key_of_another = settings.presenting(pki.path("client.pem"), pki.path("stranger.key"));
    let error = TlsConnector::from_settings(&key_of_another, "localhost").expect_err("refused");
    assert!(error.to_string().contains("with key"), "{error}");
}

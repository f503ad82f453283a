//! The PROXY protocol on a real server: v1 and v2 headers accepted from
//! trusted balancers (`--proxy-from`), refused from others and when off;
//! the client the header names reaches the log and the per-address limit.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use sockmux_test_support::app::search;
use sockmux_test_support::{Sockmux, WAIT};

const SOCKMUX: Sockmux = Sockmux::new(env!("CARGO_BIN_EXE_sockmux"));

const V1: &[u8] = b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n";

/// A v2 header: PROXY over TCP/IPv4, from 203.0.113.9:40000.
fn v2(command: u8) -> Vec<u8> {
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    header.push(0x20 | command);
    header.push(0x11);
    header.extend_from_slice(&12u16.to_be_bytes());
    header.extend_from_slice(&[203, 0, 113, 9, 198, 51, 100, 7]);
    header.extend_from_slice(&40000u16.to_be_bytes());
    header.extend_from_slice(&443u16.to_be_bytes());
    header
}

/// Sends `bytes` and returns everything the server sends until it closes.
fn exchange(addr: std::net::SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    // The server may close before reading it all (a refused peer).
    let _ = stream.write_all(bytes);
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    got
}

fn answered(got: &[u8]) -> bool {
    String::from_utf8_lossy(got).contains("Follow the white rabbit")
}

fn with_header(header: &[u8]) -> Vec<u8> {
    let mut wire = header.to_vec();
    wire.extend_from_slice(&search("morpheus", false));
    wire
}

#[test]
fn v1_v2_and_local_headers_from_a_trusted_balancer_are_served() {
    let mut server = SOCKMUX.start(&["-v", "app-server", "--proxy-protocol"]);
    for (what, header) in [("v1", V1.to_vec()), ("v2", v2(1)), ("v2 LOCAL", v2(0))] {
        assert!(
            answered(&exchange(server.addr, &with_header(&header))),
            "{what}"
        );
    }
    // The client the header names, not the balancer, is in the log.
    assert!(
        server.wait_for_log("is for client 192.0.2.1:56324"),
        "v1 client logged"
    );
    assert!(
        server.wait_for_log("is for client 203.0.113.9:40000"),
        "v2 client logged"
    );
}

#[test]
fn no_header_a_bad_one_or_an_untrusted_balancer_gets_nothing() {
    let server = SOCKMUX.start(&["app-server", "--proxy-protocol"]);
    // A request without the header, and a malformed header: closed with
    // not a byte of answer (never guess whether a header is there).
    assert_eq!(exchange(server.addr, &search("morpheus", false)), b"");
    assert_eq!(
        exchange(server.addr, &with_header(b"PROXY TCP4 1.2.3\r\n")),
        b""
    );

    let untrusted = SOCKMUX.start(&[
        "app-server",
        "--proxy-protocol",
        "--proxy-from",
        "10.0.0.0/8",
    ]);
    assert_eq!(
        exchange(untrusted.addr, &with_header(V1)),
        b"",
        "refused before reading"
    );
}

#[test]
fn a_header_sent_to_a_server_without_proxy_protocol_is_not_taken_for_one() {
    let server = SOCKMUX.start(&["app-server"]);
    let mut stream = TcpStream::connect(server.addr).expect("connects");
    stream.write_all(&with_header(V1)).expect("sends");
    // `PR` reads as a 20,562-byte JSON header: the server waits for it
    // (until the idle timeout) and never answers the request behind it.
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    assert!(!answered(&got), "{got:?}");
}

#[test]
fn the_per_address_limit_counts_the_client_the_header_names() {
    let server = SOCKMUX.start(&[
        "app-server",
        "--proxy-protocol",
        "--max-connections-per-ip",
        "1",
    ]);
    // A keep-alive connection for 192.0.2.1 holds its one place.
    let mut first = TcpStream::connect(server.addr).expect("connects");
    first.write_all(V1).expect("header");
    first.write_all(&search("morpheus", true)).expect("request");
    let mut reply = [0u8; 64];
    first.set_read_timeout(Some(WAIT)).expect("timeout");
    assert!(first.read(&mut reply).expect("an answer") > 0);
    // A second for the same client is closed; another client is served.
    assert_eq!(exchange(server.addr, &with_header(V1)), b"");
    assert!(answered(&exchange(server.addr, &with_header(&v2(1)))));
    drop(first);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        answered(&exchange(server.addr, &with_header(V1))),
        "the place is free again"
    );
}

#[test]
fn without_a_balancer_the_per_address_limit_counts_the_socket_address() {
    let server = SOCKMUX.start(&["app-server", "--max-connections-per-ip", "1"]);
    let _held = server.connect();
    std::thread::sleep(Duration::from_millis(100));
    let got = exchange(server.addr, &search("morpheus", false));
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.contains("Error: 127.0.0.1 has 1 connections open"),
        "{text}"
    );
}

#[test]
fn a_header_that_never_finishes_is_closed_by_the_idle_rules() {
    let server = SOCKMUX.start(&["app-server", "--proxy-protocol", "--idle-timeout", "1"]);
    let mut stream = TcpStream::connect(server.addr).expect("connects");
    stream
        .write_all(b"PROXY TCP4 192.0.2.1 ")
        .expect("half a header");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    let started = std::time::Instant::now();
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    assert!(got.is_empty(), "{got:?}");
    assert!(
        started.elapsed() < WAIT,
        "closed by the idle timeout, not the test's"
    );
}

#[test]
fn allow_lists_refuse_other_clients_before_a_byte_and_see_through_the_balancer() {
    // Without a balancer: the socket's address.
    let open = SOCKMUX.start(&["app-server", "--allow", "127.0.0.0/8"]);
    assert!(answered(&exchange(open.addr, &search("morpheus", false))));
    let closed = SOCKMUX.start(&["app-server", "--allow", "10.0.0.0/8,::1/128"]);
    assert_eq!(exchange(closed.addr, &search("morpheus", false)), b"");
    // Behind one: the client the header names.
    let proxied = SOCKMUX.start(&["app-server", "--proxy-protocol", "--allow", "192.0.2.0/24"]);
    assert!(
        answered(&exchange(proxied.addr, &with_header(V1))),
        "192.0.2.1 is allowed"
    );
    assert_eq!(
        exchange(proxied.addr, &with_header(&v2(1))),
        b"",
        "203.0.113.9 is not"
    );
}

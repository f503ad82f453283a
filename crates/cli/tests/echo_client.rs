//! `sockmux echo-client` end to end: against the reference
//! `multiconn-server.py`, `sockmux echo-server`, and broken doubles.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::ExitStatus;
use std::thread;

use sockmux_test_support::doubles::CorruptingEcho;
use sockmux_test_support::{free_port, Seed, Sockmux, WAIT};

const SOCKMUX: Sockmux = Sockmux::new(env!("CARGO_BIN_EXE_sockmux"));

fn echo_client(args: &[&str]) -> (ExitStatus, String, String) {
    SOCKMUX.run(["echo-client"].iter().chain(args))
}

/// Runs the client, insists on success, and checks the byte totals.
fn verified(port: u16, args: &[&str], bytes: u64) {
    let port = port.to_string();
    let mut all = vec!["127.0.0.1", port.as_str()];
    all.extend(args);
    let (status, stdout, stderr) = echo_client(&all);
    assert!(status.success(), "{all:?}: {stdout}{stderr}");
    let totals = format!("{bytes} bytes sent, {bytes} bytes received and verified");
    assert!(
        stdout.contains(&totals),
        "{all:?}: expected {totals:?} in {stdout}"
    );
}

/// The two reference messages are 22 bytes each.
const REFERENCE_BYTES: u64 = 44;

#[test]
fn verifies_the_reference_multiconn_server() {
    let Some(seed) = Seed::find() else { return };
    let server = seed.start("multiconn-server.py");
    verified(server.port(), &["1"], REFERENCE_BYTES);
    verified(server.port(), &["10"], 10 * REFERENCE_BYTES);
}

#[test]
fn verifies_sockmux_echo_server() {
    let server = SOCKMUX.start(&["echo-server"]);
    verified(server.port(), &["1"], REFERENCE_BYTES);
    verified(server.port(), &["10"], 10 * REFERENCE_BYTES);
    verified(
        server.port(),
        &["10", "--size", "100000", "--count", "3"],
        10 * 300_000,
    );
    verified(
        server.port(),
        &["2", "--message", "one", "--message", "two"],
        2 * 6,
    );
}

#[test]
fn a_wrong_byte_fails_and_names_its_position() {
    let server = CorruptingEcho::start(1000);
    let (status, _, stderr) = echo_client(&[
        "127.0.0.1",
        &server.port().to_string(),
        "2",
        "--size",
        "5000",
    ]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("connection 1: byte 999 came back as"),
        "{stderr}"
    );
    assert!(stderr.contains("2 of 2 connections failed"), "{stderr}");
}

#[test]
fn an_early_close_fails() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        // Read everything (so closing is a FIN, not a reset), echo only
        // the first 10 bytes, then close.
        let (mut stream, _) = listener.accept().expect("accept");
        stream.set_read_timeout(Some(WAIT)).expect("timeout");
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf).expect("read");
        stream.write_all(&buf[..10]).expect("write");
    });
    let (status, _, stderr) = echo_client(&["127.0.0.1", &port.to_string(), "1"]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the server closed the connection after echoing 10 of 44 bytes"),
        "{stderr}"
    );
}

#[test]
fn an_unreachable_server_is_one_line() {
    let port = free_port().to_string();
    let (status, _, stderr) = echo_client(&["127.0.0.1", &port, "5"]);
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        stderr.trim(),
        format!("sockmux: error: cannot connect to 127.0.0.1:{port}: connection refused")
    );
}

//! One peer cannot make the server hold more than its limits say: a
//! keep-alive peer that never reads and sends the largest search the
//! limits allow, with no match (so the answer quotes the whole value back),
//! costs the server its answer, not the request and its answer both (and
//! not the doubled buffers they were built in): within
//! `max-content + max-output` plus allocator slack.
//!
//! Regression for issue 10: such a peer held about 32 MiB at the default
//! 16 MiB `max-content`, and 16 of them grew the server by 516 MiB. Now
//! the answer is written in pieces as the peer reads (never, here), and
//! `--max-buffered` caps what all of them hold together.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use sockmux_test_support::app::search;
use sockmux_test_support::{Sockmux, WAIT};

const SOCKMUX: Sockmux = Sockmux::new(env!("CARGO_BIN_EXE_sockmux"));

const MAX_CONTENT: u64 = 16 << 20;
const MAX_OUTPUT: u64 = 1 << 20;
/// Allocator and stack slack on top of what the limits allow.
const SLACK_KIB: u64 = 8 << 10;

/// A peer with a tiny receive window, so answers stay in the server's
/// buffers instead of moving into the kernel's.
fn stingy_peer(addr: std::net::SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    stream
}

#[test]
fn a_never_reading_peer_with_a_huge_no_match_search_stays_within_the_limits() {
    let server = SOCKMUX.start(&[
        "app-server",
        "--workers",
        "1",
        "--max-content",
        &MAX_CONTENT.to_string(),
        "--max-output",
        &MAX_OUTPUT.to_string(),
    ]);
    sockmux_test_support::app::assert_still_answers(&server);
    let before = server.rss_kib();

    let value = "x".repeat(MAX_CONTENT as usize - 64);
    let wire = search(&value, true);
    let mut peer = stingy_peer(server.addr);
    peer.write_all(&wire).unwrap();
    // The answer is rendered whole before its first byte leaves, so once a
    // byte is waiting, the request has been handled.
    let until = Instant::now() + WAIT;
    peer.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    while !matches!(peer.peek(&mut byte), Ok(1)) {
        assert!(Instant::now() < until, "no answer within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    let grown = server.rss_kib().saturating_sub(before);
    let bound = (MAX_CONTENT + MAX_OUTPUT) / 1024 + SLACK_KIB;
    assert!(
        grown <= bound,
        "server RSS grew {grown} KiB for one peer; the limits allow {bound} KiB"
    );
    drop(peer);
    sockmux_test_support::app::assert_still_answers(&server);
}

/// Sends the largest no-match search from each of `n` never-reading peers
/// in turn; returns how far the server's RSS grew once every one of them
/// has its answer's head (or its refusal) waiting, and how many were
/// refused for want of budget.
fn crowd(extra: &[&str], n: usize) -> (u64, usize) {
    let mut args = vec![
        "app-server",
        "--workers",
        "1",
        "--max-content",
        "16MiB",
        "--max-output",
        "1MiB",
    ];
    args.extend_from_slice(extra);
    let server = SOCKMUX.start(&args);
    sockmux_test_support::app::assert_still_answers(&server);
    let before = server.rss_kib();
    let wire = search(&"x".repeat(MAX_CONTENT as usize - 64), true);
    let peers: Vec<TcpStream> = (0..n)
        .map(|_| {
            let mut peer = stingy_peer(server.addr);
            // A refused peer is reset part way: that is its answer.
            let _ = peer.write_all(&wire);
            peer
        })
        .collect();
    let until = Instant::now() + WAIT;
    let mut refused = 0;
    for peer in &peers {
        peer.set_nonblocking(true).unwrap();
        let mut head = [0u8; 4096];
        loop {
            match peer.peek(&mut head) {
                Ok(n) => {
                    let said = String::from_utf8_lossy(&head[..n]);
                    refused += usize::from(said.contains("no room"));
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
            assert!(Instant::now() < until, "no answer within {WAIT:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let grown = server.rss_kib().saturating_sub(before);
    drop(peers);
    sockmux_test_support::app::assert_still_answers(&server);
    (grown, refused)
}

#[test]
fn sixteen_such_peers_hold_their_limits_each_and_the_budget_all_together() {
    let (grown, refused) = crowd(&[], 16);
    let bound = 16 * (MAX_CONTENT + MAX_OUTPUT) / 1024 + SLACK_KIB;
    assert_eq!(refused, 0, "the default budget (1 GiB) holds them all");
    assert!(
        grown <= bound,
        "16 peers grew the server {grown} KiB; bound {bound} KiB"
    );

    let (grown, refused) = crowd(&["--max-buffered", "64MiB"], 16);
    let bound = (64 << 20) / 1024 + SLACK_KIB;
    assert!(
        refused >= 12,
        "only {refused} of 16 refused under a 64 MiB budget"
    );
    assert!(
        grown <= bound,
        "16 peers grew the server {grown} KiB under a 64 MiB budget; bound {bound} KiB"
    );
}

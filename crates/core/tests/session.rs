//! Deterministic tests of a connection's life with the app and echo
//! sessions: no sockets, a fake clock, bytes in and bytes out.

use std::time::{Duration, Instant};

use sockmux_core::{AppService, Connection, EchoService, Service, Stats};
use sockmux_proto::{encode, Limits, SearchService, Table};
use sockmux_test_support::app::{decode_responses, result};

const IDLE: Duration = Duration::from_secs(30);

fn app_conn(max_output: usize, now: Instant) -> Connection<sockmux_core::AppSession> {
    let service = AppService::new(SearchService::new(Table::builtin()), Limits::default(), 10);
    Connection::new(service.session(), max_output, now)
}

/// Takes everything pending, as a socket that accepts it all would.
fn drain(
    conn: &mut Connection<impl sockmux_core::Session>,
    now: Instant,
    stats: &mut Stats,
) -> Vec<u8> {
    let mut sent = Vec::new();
    loop {
        let pending = conn.pending().to_vec();
        if pending.is_empty() {
            return sent;
        }
        sent.extend_from_slice(&pending);
        conn.on_sent(pending.len(), now, stats);
    }
}

#[test]
fn answers_pipelined_keep_alive_requests_in_order() {
    let now = Instant::now();
    let mut stats = Stats::default();
    let mut conn = app_conn(1 << 20, now);
    let keys = ["morpheus", "ring", "nobody", "\u{1f436}"];
    let mut wire = Vec::new();
    for i in 0..100 {
        encode::search_request(keys[i % keys.len()], true, &mut wire).expect("encode");
    }
    // Fed in awkward pieces, as a socket might deliver them.
    for chunk in wire.chunks(7) {
        conn.on_read(chunk, now, &mut stats);
    }
    let got = decode_responses(&drain(&mut conn, now, &mut stats));
    assert_eq!(got.len(), 100);
    for (i, (keep_alive, content)) in got.iter().enumerate() {
        assert!(keep_alive);
        let key = keys[i % keys.len()];
        let expected = match Table::builtin().get(key) {
            Some(answer) => result(answer),
            None => result(&format!("No match for \"{key}\".")),
        };
        assert_eq!(content, &expected, "response {i}");
    }
    assert_eq!(stats.requests, 100);
    assert_eq!(conn.phase(), sockmux_core::conn::Phase::Open);
}

#[test]
fn closes_after_one_response_without_keep_alive() {
    let now = Instant::now();
    let mut stats = Stats::default();
    let mut conn = app_conn(1 << 20, now);
    let mut wire = Vec::new();
    encode::search_request("ring", false, &mut wire).expect("encode");
    encode::search_request("morpheus", false, &mut wire).expect("encode");
    conn.on_read(&wire, now, &mut stats);
    let got = decode_responses(&drain(&mut conn, now, &mut stats));
    assert_eq!(got.len(), 1, "only the first request is answered");
    assert!(!got[0].0);
    assert!(
        conn.start_linger(now),
        "the server side shuts after the response"
    );
}

#[test]
fn stalled_half_message_gets_an_error_after_the_idle_timeout() {
    let start = Instant::now();
    let mut stats = Stats::default();
    let mut conn = app_conn(1 << 20, start);
    let mut wire = Vec::new();
    encode::search_request("ring", true, &mut wire).expect("encode");
    conn.on_read(&wire[..wire.len() / 2], start, &mut stats);

    let almost = start + IDLE - Duration::from_millis(1);
    assert!(!conn.on_timeout(almost, IDLE, &mut stats), "not yet");
    assert!(conn.pending().is_empty());

    assert!(conn.on_timeout(start + IDLE, IDLE, &mut stats));
    let got = decode_responses(&drain(&mut conn, start + IDLE, &mut stats));
    assert_eq!(
        got,
        vec![(
            false,
            result("Error: no complete message within the idle timeout of 30 s.")
        )]
    );
    assert_eq!(stats.errors, 1);
}

#[test]
fn idle_connection_between_requests_closes_silently() {
    let start = Instant::now();
    let mut stats = Stats::default();
    let mut conn = app_conn(1 << 20, start);
    assert!(conn.on_timeout(start + IDLE, IDLE, &mut stats));
    assert!(conn.pending().is_empty(), "nothing owed, nothing said");
    assert_eq!(stats.errors, 0);
}

#[test]
fn progress_pushes_the_idle_deadline_back() {
    let start = Instant::now();
    let mut stats = Stats::default();
    let mut conn = app_conn(1 << 20, start);
    let later = start + Duration::from_secs(20);
    let mut wire = Vec::new();
    encode::search_request("ring", true, &mut wire).expect("encode");
    conn.on_read(&wire[..3], later, &mut stats);
    assert!(!conn.on_timeout(start + IDLE, IDLE, &mut stats));
    assert_eq!(conn.deadline(IDLE), later + IDLE);
}

#[test]
fn trickling_a_message_does_not_hold_off_the_idle_timeout() {
    let start = Instant::now();
    let mut stats = Stats::default();
    let mut conn = app_conn(1 << 20, start);
    let mut wire = Vec::new();
    encode::search_request("ring", true, &mut wire).expect("encode");
    // One byte a second: the message started at `start` and must be whole
    // by `start + IDLE`.
    for (i, byte) in wire[..40].iter().enumerate() {
        conn.on_read(&[*byte], start + Duration::from_secs(i as u64), &mut stats);
    }
    assert!(conn.on_timeout(start + IDLE, IDLE, &mut stats));
    assert_eq!(stats.errors, 1, "the stall is answered with an error");
}

#[test]
fn stops_reading_while_output_is_full_and_resumes_when_it_drains() {
    let now = Instant::now();
    let mut stats = Stats::default();
    // Room for about two responses.
    let mut conn = app_conn(200, now);
    let mut wire = Vec::new();
    for _ in 0..50 {
        encode::search_request("morpheus", true, &mut wire).expect("encode");
    }
    conn.on_read(&wire, now, &mut stats);
    assert!(!conn.wants_read(), "backpressure: output is full");
    let first = conn.pending().len();
    assert!(
        first < 400,
        "the session stopped producing at the cap, held {first}"
    );

    let got = decode_responses(&drain(&mut conn, now, &mut stats));
    assert_eq!(
        got.len(),
        50,
        "every buffered request answered after draining"
    );
    assert!(conn.wants_read());
}

#[test]
fn echo_half_close_flushes_what_is_owed_then_closes() {
    let now = Instant::now();
    let mut stats = Stats::default();
    let mut conn = Connection::new(EchoService.session(), 1 << 20, now);
    conn.on_read(b"hello ", now, &mut stats);
    conn.on_read(b"world", now, &mut stats);
    conn.on_eof(now, &mut stats);
    assert!(!conn.wants_read());
    assert_eq!(drain(&mut conn, now, &mut stats), b"hello world");
    assert!(!conn.start_linger(now), "peer already closed: no linger");
    assert_eq!(conn.phase(), sockmux_core::conn::Phase::Done);
}

#[test]
fn bad_request_gets_an_error_response_and_the_connection_closes() {
    let now = Instant::now();
    let mut stats = Stats::default();
    let mut conn = app_conn(1 << 20, now);
    conn.on_read(b"\x00\x02{}", now, &mut stats);
    let got = decode_responses(&drain(&mut conn, now, &mut stats));
    assert_eq!(
        got,
        vec![(
            false,
            result("Error: missing required header \"byteorder\".")
        )]
    );
    assert!(conn.start_linger(now));
}

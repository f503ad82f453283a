//! Deterministic tests of a connection's life with the app and echo
//! sessions: no sockets, a fake clock, bytes in and bytes out.

use std::time::{Duration, Instant};

use sockmux_engine::{
    AppService, AppSession, Connection, EchoService, Phase, Plain, Service, Session, Stats, Timers,
};
use sockmux_proto::{encode, Limits, SearchService, Table};
use sockmux_test_support::app::{decode_responses, result};

const IDLE: Duration = Duration::from_secs(30);

fn app_conn(max_output: usize, now: Instant) -> Connection<AppSession> {
    let service = AppService::new(SearchService::new(Table::builtin()), Limits::default());
    Connection::new(service.session(), Plain, max_output, now)
}

/// Takes everything pending, as a socket that accepts it all would.
fn drain(conn: &mut Connection<impl Session>, now: Instant, stats: &mut Stats) -> Vec<u8> {
    let mut sent = Vec::new();
    loop {
        let pending = conn.poll_transmit().to_vec();
        if pending.is_empty() {
            return sent;
        }
        sent.extend_from_slice(&pending);
        conn.handle_sent(pending.len(), now, stats);
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
        conn.handle_input(chunk, now, &mut stats);
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
    assert_eq!(conn.phase(), Phase::Open);
}

#[test]
fn closes_after_one_response_without_keep_alive() {
    let now = Instant::now();
    let mut stats = Stats::default();
    let mut conn = app_conn(1 << 20, now);
    let mut wire = Vec::new();
    encode::search_request("ring", false, &mut wire).expect("encode");
    encode::search_request("morpheus", false, &mut wire).expect("encode");
    conn.handle_input(&wire, now, &mut stats);
    let got = decode_responses(&drain(&mut conn, now, &mut stats));
    assert_eq!(got.len(), 1, "only the first request is answered");
    assert!(!got[0].0);
    assert!(
        conn.poll_shutdown(now, true),
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
    conn.handle_input(&wire[..wire.len() / 2], start, &mut stats);

    let almost = start + IDLE - Duration::from_millis(1);
    assert!(
        !conn.handle_timeout(almost, &Timers::new(IDLE), &mut stats),
        "not yet"
    );
    assert!(conn.poll_transmit().is_empty());

    assert!(conn.handle_timeout(start + IDLE, &Timers::new(IDLE), &mut stats));
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
    assert!(conn.handle_timeout(start + IDLE, &Timers::new(IDLE), &mut stats));
    assert!(
        conn.poll_transmit().is_empty(),
        "nothing owed, nothing said"
    );
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
    conn.handle_input(&wire[..3], later, &mut stats);
    assert!(!conn.handle_timeout(start + IDLE, &Timers::new(IDLE), &mut stats));
    assert_eq!(conn.poll_timeout(&Timers::new(IDLE)), later + IDLE);
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
        conn.handle_input(&[*byte], start + Duration::from_secs(i as u64), &mut stats);
    }
    assert!(conn.handle_timeout(start + IDLE, &Timers::new(IDLE), &mut stats));
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
    conn.handle_input(&wire, now, &mut stats);
    assert!(!conn.wants_read(), "backpressure: output is full");
    let first = conn.poll_transmit().len();
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
    let mut conn = Connection::new(EchoService.session(), Plain, 1 << 20, now);
    conn.handle_input(b"hello ", now, &mut stats);
    conn.handle_input(b"world", now, &mut stats);
    conn.handle_eof(now, &mut stats);
    assert!(!conn.wants_read());
    assert_eq!(drain(&mut conn, now, &mut stats), b"hello world");
    assert!(
        !conn.poll_shutdown(now, true),
        "peer already closed: no linger"
    );
    assert_eq!(conn.phase(), Phase::Done);
}

#[test]
fn bad_request_gets_an_error_response_and_the_connection_closes() {
    let now = Instant::now();
    let mut stats = Stats::default();
    let mut conn = app_conn(1 << 20, now);
    conn.handle_input(b"\x00\x02{}", now, &mut stats);
    let got = decode_responses(&drain(&mut conn, now, &mut stats));
    assert_eq!(
        got,
        vec![(
            false,
            result("Error: missing required header \"byteorder\".")
        )]
    );
    assert!(conn.poll_shutdown(now, true));
}

#[test]
fn closes_at_once_when_the_driver_knows_no_input_is_queued() {
    let now = Instant::now();
    let mut stats = Stats::default();
    let mut conn = app_conn(1 << 20, now);
    conn.handle_input(b"\x00\x02{}", now, &mut stats);
    drain(&mut conn, now, &mut stats);
    assert!(!conn.poll_shutdown(now, false), "no linger needed");
    assert!(conn.is_done());
    assert_eq!(stats.errors, 1);
}

#[test]
fn lingering_discards_input_and_ends_at_the_linger_time() {
    let now = Instant::now();
    let mut stats = Stats::default();
    let mut conn = app_conn(1 << 20, now);
    let mut wire = Vec::new();
    encode::search_request("ring", false, &mut wire).expect("encode");
    conn.handle_input(&wire, now, &mut stats);
    drain(&mut conn, now, &mut stats);
    assert!(conn.poll_shutdown(now, true));
    assert_eq!(conn.phase(), Phase::Lingering);
    assert!(conn.wants_read());
    assert_eq!(conn.handle_input(&wire, now, &mut stats), 0, "discarded");
    assert!(conn.poll_transmit().is_empty());
    let timers = Timers::new(IDLE);
    assert_eq!(conn.poll_timeout(&timers), now + timers.linger);
    assert!(conn.handle_timeout(now + timers.linger, &timers, &mut stats));
    assert!(conn.is_done());
}

#[test]
fn handle_input_reports_the_messages_it_completed() {
    let now = Instant::now();
    let mut stats = Stats::default();
    let mut conn = app_conn(1 << 20, now);
    let mut wire = Vec::new();
    for key in ["ring", "morpheus", "nobody"] {
        encode::search_request(key, true, &mut wire).expect("encode");
    }
    let (first, rest) = wire.split_at(wire.len() - 3);
    assert_eq!(conn.handle_input(first, now, &mut stats), 2);
    assert_eq!(conn.handle_input(rest, now, &mut stats), 1);
    assert_eq!(stats.requests, 3);
}

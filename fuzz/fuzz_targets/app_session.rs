//! Fuzzes one app connection, sans-IO: bytes in, bytes out, a fake clock.
//!
//! Input layout: the first byte picks the output cap (backpressure) and how
//! the output is drained; the next 4 bytes are chunk sizes; the rest is the
//! peer's byte stream, fed in chunks of those sizes, cycling, then EOF.
//!
//! The invariant is stronger than "no panic": the connection's output must
//! equal, byte for byte, what an independent oracle built from the decoder
//! and the search service says is owed: a response for every complete
//! request, in order, up to the first request without keep-alive or the
//! first error (which gets its error response), then nothing more. Memory
//! stays within the limits: the session never holds more than one message
//! plus one chunk of input.
#![no_main]

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use sockmux_engine::{AppService, AppSession, Connection, Plain, Service, Stats, Timers};
use sockmux_proto::{error_response, Limits, Request, SearchService, StreamDecoder, Table};

const LIMITS: Limits = Limits {
    max_header: 128,
    max_content: 256,
};
const IDLE: Duration = Duration::from_secs(30);

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let (control, rest) = data.split_at(5);
    let cap = 1 + usize::from(control[0] & 0x3f) * 16;
    let drain_step = 1 + usize::from(control[0] >> 6) * 97;
    let sizes: Vec<usize> = control[1..].iter().map(|&s| 1 + usize::from(s)).collect();

    let start = Instant::now();
    let service = AppService::new(SearchService::new(Table::builtin()), LIMITS);
    let mut conn = Connection::new(service.session(), Plain, cap, start);
    let mut stats = Stats::default();
    let mut output = Vec::new();

    let mut at = 0;
    let mut i = 0;
    while at < rest.len() {
        // The loop reads only when the connection wants input: drain first.
        while !conn.wants_read() && !conn.poll_transmit().is_empty() {
            drain(&mut conn, drain_step, &mut output, &mut stats, start);
        }
        if !conn.wants_read() {
            break;
        }
        let n = sizes[i % sizes.len()].min(rest.len() - at);
        conn.handle_input(&rest[at..at + n], start, &mut stats);
        at += n;
        i += 1;
        // Never more than the cap plus one response is owed; a response
        // quotes at most the request content back, escaped (at most six
        // bytes a byte), plus its fixed parts.
        let one_response = 6 * LIMITS.max_content + 512;
        let owed = conn.poll_transmit().len();
        assert!(owed <= cap + one_response, "output grew to {owed}");
    }
    // The peer closes after its last byte; the loop sees the EOF once it
    // reads again, which is after the output has room.
    if at == rest.len() {
        while !conn.wants_read() && !conn.poll_transmit().is_empty() {
            drain(&mut conn, drain_step, &mut output, &mut stats, start);
        }
        if conn.wants_read() {
            conn.handle_eof(start, &mut stats);
        }
    }
    while !conn.poll_transmit().is_empty() {
        drain(&mut conn, drain_step, &mut output, &mut stats, start);
    }
    let expected = oracle(&rest[..at], at == rest.len());
    assert!(output == expected, "output differs from the oracle:\n got {output:?}\nwant {expected:?}");

    // Whatever state it is in, the timer ends it without panicking.
    let timers = Timers::new(IDLE);
    conn.handle_timeout(start + IDLE, &timers, &mut stats);
    conn.handle_timeout(start + IDLE * 3, &timers, &mut stats);
});

/// Takes up to `step` pending bytes, as a slow socket would.
fn drain(
    conn: &mut Connection<AppSession>,
    step: usize,
    output: &mut Vec<u8>,
    stats: &mut Stats,
    now: Instant,
) {
    let n = conn.poll_transmit().len().min(step);
    output.extend_from_slice(&conn.poll_transmit()[..n]);
    conn.handle_sent(n, now, stats);
}

/// What the server owes for `input`, computed from the decoder and the
/// service alone. `eof` says the peer closed after `input`.
fn oracle(input: &[u8], eof: bool) -> Vec<u8> {
    let service = SearchService::new(Table::builtin());
    let mut decoder = StreamDecoder::new(LIMITS);
    let mut out = Vec::new();
    let mut done = false;
    let fed = decoder.feed(input, |frame| {
        let keep_alive = frame.header.keep_alive;
        match Request::parse(&frame).and_then(|r| service.respond(&r, keep_alive, &mut out)) {
            Ok(()) if keep_alive => ControlFlow::Continue(()),
            Ok(()) => {
                done = true;
                ControlFlow::Break(())
            }
            Err(e) => {
                error_response(&e, &mut out).expect("error responses encode");
                done = true;
                ControlFlow::Break(())
            }
        }
    });
    if done {
        return out;
    }
    match fed {
        Err(e) => error_response(&e, &mut out).expect("error responses encode"),
        Ok(()) if eof => {
            if let Err(e) = decoder.finish() {
                error_response(&e, &mut out).expect("error responses encode");
            }
        }
        Ok(()) => {}
    }
    out
}

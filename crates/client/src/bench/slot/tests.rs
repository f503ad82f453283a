//! The slot state machine on a fake clock: `Instant` arithmetic from one
//! base instant, no sockets.

use std::time::{Duration, Instant};

use super::*;
use crate::bench::books::{Books, Rules};
use crate::bench::echo::{EchoState, EchoWorkload};
use crate::bench::schedule::{Pace, Schedule};

const MS: Duration = Duration::from_millis(1);
const SIZE: usize = 10;

fn rules(t0: Instant) -> Rules {
    Rules {
        depth: 1,
        batch: false,
        one_shot: false,
        single: false,
        timeout: Duration::from_secs(2),
        measure_start: t0,
        end: None,
        quota: None,
    }
}

/// A slot and its world: echo requests of `SIZE` bytes, closed loop.
struct Fixture {
    rules: Rules,
    books: Books,
    workload: EchoWorkload,
    slot: Slot<EchoState>,
    /// What the slot wrote and the "server" has not echoed yet.
    wire: Vec<u8>,
}

impl Fixture {
    /// A fixture with `rules(t0)` adjusted, and its `t0`.
    fn with(adjust: impl FnOnce(&mut Rules)) -> (Self, Instant) {
        let t0 = Instant::now();
        let mut rules = rules(t0);
        adjust(&mut rules);
        let workload = EchoWorkload::new(SIZE);
        let slot = Slot::new(&workload, 0, Schedule::Closed, &rules, t0);
        let fixture = Self {
            rules,
            books: Books::new(),
            workload,
            slot,
            wire: Vec::new(),
        };
        (fixture, t0)
    }

    fn pump(&mut self, now: Instant) -> Next {
        self.slot
            .pump(&self.workload, &self.rules, &mut self.books, now)
    }

    /// Pumps, connects when asked, and writes everything queued.
    fn open(&mut self, now: Instant) {
        assert_eq!(self.pump(now), Next::Connect);
        self.slot.connected(&self.rules, &mut self.books, now);
        self.pump(now);
        self.flush(now);
    }

    fn flush(&mut self, now: Instant) {
        while let Send::Bytes(bytes) = self.slot.poll_send(&self.workload) {
            let n = bytes.len();
            self.wire.extend_from_slice(bytes);
            self.slot.sent(n, &self.rules, &mut self.books, now);
        }
    }

    /// The server echoes `n` bytes of what it got.
    fn echo(&mut self, n: usize, now: Instant) {
        let bytes: Vec<u8> = self.wire.drain(..n).collect();
        self.slot
            .input(&self.workload, &bytes, &self.rules, &mut self.books, now);
    }

    fn in_flight(&self) -> usize {
        self.slot.in_flight.len()
    }

    fn counts(&self) -> crate::bench::Counts {
        self.books.totals.counts
    }
}

#[test]
fn a_depth_window_is_refilled_as_each_response_arrives() {
    let (mut f, t0) = Fixture::with(|r| r.depth = 4);
    f.open(t0);
    assert_eq!(f.in_flight(), 4);
    assert_eq!(f.wire.len(), 4 * SIZE);
    f.echo(SIZE, t0 + MS);
    assert_eq!(f.in_flight(), 3);
    f.pump(t0 + MS);
    assert_eq!(f.in_flight(), 4, "one answer makes room for one request");
    assert_eq!(f.counts().requests, 1);
}

#[test]
fn a_batch_is_refilled_only_once_all_of_it_is_answered() {
    let (mut f, t0) = Fixture::with(|r| {
        r.depth = 3;
        r.batch = true
    });
    f.open(t0);
    assert_eq!(f.in_flight(), 3);
    f.echo(2 * SIZE, t0 + MS);
    assert_eq!(f.pump(t0 + MS), Next::Wait(None));
    assert_eq!(f.in_flight(), 1, "no refill while the batch is out");
    f.echo(SIZE, t0 + 2 * MS);
    f.pump(t0 + 2 * MS);
    assert_eq!(f.in_flight(), 3);
    assert_eq!(f.counts().requests, 3);
}

#[test]
fn one_shot_waits_for_the_close_then_connects_again() {
    let (mut f, t0) = Fixture::with(|r| r.one_shot = true);
    f.open(t0);
    f.echo(SIZE, t0 + MS);
    assert_eq!(f.slot.phase(), Phase::Finishing);
    assert_eq!(
        f.pump(t0 + MS),
        Next::Wait(None),
        "no request on a finishing connection"
    );
    f.slot.eof(&f.workload, &mut f.books);
    assert_eq!(f.slot.phase(), Phase::Idle);
    assert!(!f.slot.has_connection());
    assert_eq!(f.pump(t0 + 2 * MS), Next::Connect);
    assert_eq!(f.counts().requests, 1);
    assert_eq!(f.counts().protocol_errors, 0);
}

#[test]
fn a_close_with_requests_unanswered_is_a_fault() {
    let (mut f, t0) = Fixture::with(|r| r.depth = 2);
    f.open(t0);
    f.slot.eof(&f.workload, &mut f.books);
    assert_eq!(f.counts().protocol_errors, 1);
    let first = f.books.totals.first_error.as_deref().unwrap_or_default();
    assert!(first.contains("2 request(s) unanswered"), "{first}");
}

#[test]
fn connect_back_off_doubles_to_its_cap_and_resets_on_success() {
    let (mut f, t0) = Fixture::with(|_| {});
    let mut now = t0;
    let mut waits = Vec::new();
    for _ in 0..10 {
        assert_eq!(f.pump(now), Next::Connect);
        let refused = std::io::ErrorKind::ConnectionRefused.into();
        f.slot
            .connect_failed(&f.workload, refused, &mut f.books, now);
        let Next::Wait(Some(at)) = f.pump(now) else {
            panic!("no retry time after a failed connect");
        };
        waits.push(at - now);
        assert_eq!(f.pump(at - MS / 2), Next::Wait(Some(at)), "retried early");
        now = at;
    }
    let ms = |n| n * MS;
    let expected: Vec<_> = [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]
        .into_iter()
        .map(ms)
        .collect();
    assert_eq!(waits, expected);
    assert_eq!(f.counts().connect_errors, 10);

    f.open(now);
    assert_eq!(f.counts().connections_opened, 1);
    f.slot.eof(&f.workload, &mut f.books);
    assert_eq!(f.pump(now), Next::Connect);
    let refused = std::io::ErrorKind::ConnectionRefused.into();
    f.slot
        .connect_failed(&f.workload, refused, &mut f.books, now);
    assert_eq!(
        f.pump(now),
        Next::Wait(Some(now + 10 * MS)),
        "back-off reset"
    );
}

/// Regression (issue 9): the timeout bounds the whole response. A server
/// that drips one byte every 0.3 s must not keep a request alive past a
/// 2 s timeout.
#[test]
fn a_dripping_response_still_times_out() {
    let (mut f, t0) = Fixture::with(|_| {});
    f.open(t0);
    let mut now = t0;
    let mut timed_out_at = None;
    for _ in 0..20 {
        now += 300 * MS;
        if f.slot
            .check_timeout(&f.workload, &f.rules, &mut f.books, now)
        {
            timed_out_at = Some(now);
            break;
        }
        f.echo(1, now);
        assert!(
            f.slot.has_connection(),
            "an intact byte ended the connection"
        );
    }
    let at = timed_out_at.expect("a dripping response never timed out");
    assert!(at >= t0 + f.rules.timeout, "timed out before the deadline");
    assert!(at < t0 + f.rules.timeout + 300 * MS, "the drip extended it");
    assert_eq!(f.counts().timeouts, 1);
    assert_eq!(f.counts().requests, 0);
    assert!(!f.slot.has_connection());
}

#[test]
fn the_next_response_gets_its_own_timeout() {
    let (mut f, t0) = Fixture::with(|r| r.depth = 2);
    f.open(t0);
    let first_done = t0 + 1900 * MS;
    f.echo(SIZE, first_done);
    let late = t0 + 2500 * MS;
    assert!(!f
        .slot
        .check_timeout(&f.workload, &f.rules, &mut f.books, late));
    let timeout = f.rules.timeout;
    assert!(f
        .slot
        .check_timeout(&f.workload, &f.rules, &mut f.books, first_done + timeout));
}

#[test]
fn warm_up_requests_are_answered_but_not_counted() {
    let (mut f, t0) = Fixture::with(|r| r.measure_start += 1000 * MS);
    let measure_start = f.rules.measure_start;
    f.open(t0);
    f.echo(SIZE, t0 + MS);
    f.pump(t0 + MS);
    f.flush(t0 + MS);
    assert_eq!(f.counts().requests, 0);
    assert_eq!(f.counts().bytes_sent, 0);
    // Sent during the warm-up, answered after it: still not counted.
    let after = measure_start + MS;
    f.echo(SIZE, after);
    assert_eq!(f.counts().requests, 0);
    assert_eq!(f.counts().bytes_received, SIZE as u64);
    f.pump(after);
    f.flush(after);
    f.echo(SIZE, after + MS);
    assert_eq!(f.counts().requests, 1);
    assert_eq!(f.counts().bytes_sent, SIZE as u64);
}

#[test]
fn a_single_slot_half_closes_once_sent_and_ends_after_the_close() {
    let t0 = Instant::now();
    let rules = Rules {
        one_shot: true,
        single: true,
        ..rules(t0)
    };
    let workload = EchoWorkload::whole(200_000, None);
    let mut books = Books::new();
    let mut slot = Slot::new(&workload, 0, Schedule::Closed, &rules, t0);
    assert_eq!(slot.pump(&workload, &rules, &mut books, t0), Next::Connect);
    slot.connected(&rules, &mut books, t0);
    slot.pump(&workload, &rules, &mut books, t0);
    let mut wire = Vec::new();
    loop {
        match slot.poll_send(&workload) {
            Send::Bytes(bytes) => {
                assert!(bytes.len() <= 2 * 64 * 1024, "generated in pieces");
                let n = bytes.len();
                wire.extend_from_slice(bytes);
                slot.sent(n, &rules, &mut books, t0);
            }
            Send::ShutWrite => break,
            Send::Nothing => panic!("stalled before half-closing"),
        }
    }
    slot.write_shut();
    assert_eq!(wire.len(), 200_000);
    assert_eq!(slot.poll_send(&workload), Send::Nothing);
    slot.input(&workload, &wire, &rules, &mut books, t0);
    assert_eq!(slot.phase(), Phase::Finishing);
    slot.eof(&workload, &mut books);
    assert_eq!(slot.phase(), Phase::Done);
    assert_eq!(
        slot.pump(&workload, &rules, &mut books, t0),
        Next::Wait(None)
    );
    assert!(books.finished(&rules, 1, t0));
}

#[test]
fn an_open_loop_slot_that_fell_behind_catches_up_within_its_window() {
    let (mut f, t0) = Fixture::with(|r| r.depth = 2);
    let pace = Pace::new(100.0, 1).expect("representable");
    f.slot.schedule = Schedule::new(Some(pace), t0, 0);
    // Ten intervals late: only the window's worth goes out at once, each
    // request keeping the time it was due.
    let late = t0 + 100 * MS;
    f.open(late);
    assert_eq!(f.in_flight(), 2);
    let intended: Vec<_> = f.slot.in_flight.queue.iter().map(|p| p.intended).collect();
    assert_eq!(intended, vec![t0, t0 + 10 * MS]);
    f.echo(SIZE, late + MS);
    f.pump(late + MS);
    assert_eq!(f.in_flight(), 2);
    assert_eq!(f.slot.in_flight.queue[1].intended, t0 + 20 * MS);
    // The answered request's latency counts from when it was due (101 ms
    // before), not from when it went out (1 ms before); the histogram
    // keeps 3 significant digits.
    let recorded = f.books.totals.latency.max() as f64 / 1e6;
    assert!((100.0..102.0).contains(&recorded), "{recorded} ms");
}

#[test]
fn at_the_end_only_requests_written_whole_are_unanswered() {
    let (mut f, t0) = Fixture::with(|r| r.depth = 3);
    assert_eq!(f.pump(t0), Next::Connect);
    f.pump(t0);
    // Queued for a connection not made yet: never sent.
    assert_eq!(f.in_flight(), 3);
    assert!(!f.slot.awaiting());
    assert_eq!(f.slot.unanswered(), 0);
    f.slot.connected(&f.rules, &mut f.books, t0);
    let Send::Bytes(bytes) = f.slot.poll_send(&f.workload) else {
        panic!("nothing to send");
    };
    assert_eq!(bytes.len(), 3 * SIZE);
    let part = bytes[..SIZE + 5].to_vec();
    f.wire.extend_from_slice(&part);
    f.slot.sent(part.len(), &f.rules, &mut f.books, t0);
    assert!(f.slot.awaiting());
    assert_eq!(f.slot.unanswered(), 1, "one whole, one half written");
    f.flush(t0);
    assert_eq!(f.slot.unanswered(), 3);
    f.echo(SIZE, t0 + MS);
    assert_eq!(f.slot.unanswered(), 2);
}

#[test]
fn a_request_generated_in_pieces_is_sent_once_its_last_piece_is() {
    let t0 = Instant::now();
    let rules = rules(t0);
    let workload = EchoWorkload::new(200_000);
    let mut books = Books::new();
    let mut slot = Slot::new(&workload, 0, Schedule::Closed, &rules, t0);
    assert_eq!(slot.pump(&workload, &rules, &mut books, t0), Next::Connect);
    slot.connected(&rules, &mut books, t0);
    slot.pump(&workload, &rules, &mut books, t0);
    let mut written = 0;
    while let Send::Bytes(bytes) = slot.poll_send(&workload) {
        let n = bytes.len();
        assert_eq!(slot.unanswered(), 0, "{written} bytes written");
        slot.sent(n, &rules, &mut books, t0);
        written += n;
    }
    assert_eq!(written, 200_000);
    assert_eq!(slot.unanswered(), 1);
}

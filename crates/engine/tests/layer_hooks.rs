//! The layer's part in a connection's end: `handle_close` once when the
//! connection leaves `Open` (so a TLS layer can send `close_notify` after
//! the last answer), and `is_peer_closed` taken as the peer's EOF.

use std::time::{Duration, Instant};

use sockmux_engine::{
    AppService, Connection, Layer, LayerError, Output, Phase, Service, Session, Stats, Timers,
};
use sockmux_proto::{encode, Limits, SearchService, Table};
use sockmux_test_support::app::{decode_responses, result};

/// Passes bytes through; `BYE` closes the peer's side, and after
/// `handle_close` it sends `END` once the output from above is through.
#[derive(Debug)]
struct Closing {
    out: Output,
    closes: u32,
    peer_closed: bool,
    ended: bool,
}

impl Closing {
    fn new() -> Self {
        Self {
            out: Output::new(1 << 20),
            closes: 0,
            peer_closed: false,
            ended: false,
        }
    }
}

impl Layer for Closing {
    fn handle_input(&mut self, input: &[u8], mut up: impl FnMut(&[u8])) -> Result<(), LayerError> {
        if input == b"BAD" {
            // A layer that fails says so below before it goes.
            self.out.buf_mut().extend_from_slice(b"ALERT");
            return Err(LayerError("bad".into()));
        }
        match input.strip_suffix(b"BYE") {
            Some(rest) => {
                up(rest);
                self.peer_closed = true;
            }
            None => up(input),
        }
        Ok(())
    }

    fn transmit<'a>(&'a mut self, above: &'a mut Output) -> &'a mut Output {
        let n = above.pending().len();
        self.out.buf_mut().extend_from_slice(above.pending());
        above.consume(n);
        if self.closes > 0 && !self.ended {
            self.out.buf_mut().extend_from_slice(b"END");
            self.ended = true;
        }
        &mut self.out
    }

    fn handle_close(&mut self) {
        self.closes += 1;
    }

    fn is_peer_closed(&self) -> bool {
        self.peer_closed
    }
}

fn conn(now: Instant) -> Connection<impl Session, Closing> {
    let service = AppService::new(SearchService::new(Table::builtin()), Limits::default());
    Connection::new(service.session(), Closing::new(), 1 << 20, now)
}

fn drain(conn: &mut Connection<impl Session, Closing>, now: Instant, stats: &mut Stats) -> Vec<u8> {
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

fn request(keep_alive: bool) -> Vec<u8> {
    let mut wire = Vec::new();
    encode::search_request("morpheus", keep_alive, &mut wire).expect("encode");
    wire
}

#[test]
fn the_layer_hears_of_the_close_once_and_speaks_after_the_last_answer() {
    let now = Instant::now();
    let mut stats = Stats::default();
    let mut conn = conn(now);
    conn.handle_input(&request(true), now, &mut stats);
    let first = drain(&mut conn, now, &mut stats);
    assert!(!first.ends_with(b"END"), "still open: no closing words");
    conn.handle_input(&request(false), now, &mut stats);
    assert_eq!(conn.phase(), Phase::Flushing);
    let last = drain(&mut conn, now, &mut stats);
    let answer = last.strip_suffix(b"END").expect("END after the answer");
    assert_eq!(
        decode_responses(answer)[0].1,
        result("Follow the white rabbit. \u{1f430}")
    );
    // Later events do not close it again.
    conn.handle_eof(now, &mut stats);
    assert!(!conn.poll_shutdown(now, true));
    assert_eq!(conn.phase(), Phase::Done);
}

#[test]
fn an_idle_timeout_closes_through_the_layer_too() {
    let now = Instant::now();
    let mut stats = Stats::default();
    let mut conn = conn(now);
    let timers = Timers::new(Duration::from_secs(5));
    assert!(conn.handle_timeout(now + Duration::from_secs(6), &timers, &mut stats));
    assert_eq!(conn.phase(), Phase::Flushing);
    assert_eq!(drain(&mut conn, now, &mut stats), b"END");
}

#[test]
fn a_peer_closed_inside_the_layer_is_an_eof_after_its_last_request() {
    let now = Instant::now();
    let mut stats = Stats::default();
    let mut conn = conn(now);
    let mut wire = request(true);
    wire.extend_from_slice(b"BYE");
    conn.handle_input(&wire, now, &mut stats);
    assert!(!conn.wants_read(), "nothing more will come");
    assert_eq!(conn.phase(), Phase::Flushing);
    let sent = drain(&mut conn, now, &mut stats);
    let answer = sent.strip_suffix(b"END").expect("closing words");
    assert_eq!(
        decode_responses(answer).len(),
        1,
        "the request was answered"
    );
    // The peer closed already: no linger, done at once.
    assert!(!conn.poll_shutdown(now, true));
    assert!(conn.is_done());
}

#[test]
fn a_layer_error_sends_the_layers_last_word_and_nothing_more_of_the_session() {
    let now = Instant::now();
    let mut stats = Stats::default();
    let mut conn = conn(now);
    conn.handle_input(&request(true), now, &mut stats);
    conn.handle_input(b"BAD", now, &mut stats);
    assert_eq!(stats.errors, 1);
    assert!(!conn.wants_read());
    // Only the layer's bytes: the pending answer was dropped, and no
    // closing words either (the layer failed, it did not close).
    assert_eq!(drain(&mut conn, now, &mut stats), b"ALERT");
    assert!(!conn.poll_shutdown(now, false));
    assert!(conn.is_done());
}

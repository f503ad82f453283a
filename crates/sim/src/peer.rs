//! Simulated clients: each one a script of bytes to send, a manner of
//! sending and reading them (pieces, pace, half-close, reset, never
//! reading), and an [`Expect`]ation checked when its connection ends. The
//! kinds, from well-behaved to hostile, are [`Kind`]; [`Peer::new`] draws
//! one's manners from the seed.

use sockmux_proto::{encode, Limits, Table, STREAM_ABOVE};

use crate::expect::{End, Expect};
use crate::link::{Link, PeerRead};
use crate::rng::Rng;

/// Who a peer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// App: pipelines keep-alive searches while reading the answers.
    KeepAlive,
    /// App: one search without keep-alive, as the reference client.
    OneShot,
    /// App: keep-alive searches, reading a few bytes now and then.
    SlowReader,
    /// App or echo: sends and sends, never reads.
    Flooder,
    /// App or echo: sends part of its script, then resets.
    Resetter,
    /// App: random bytes.
    Garbage,
    /// App: one binary request just within or just over `max_content`.
    HugeBody,
    /// App: one search, a byte at a time, slowly (may hit the idle timeout).
    SlowLoris,
    /// App: keep-alive searches for names longer than any key, whose
    /// answers are written in pieces as the output drains.
    LongSearch,
    /// Echo: streams random bytes, reads them back, half-closes.
    Streamer,
}

impl Kind {
    /// Every kind an app server meets.
    pub const APP: [Kind; 9] = [
        Kind::KeepAlive,
        Kind::OneShot,
        Kind::SlowReader,
        Kind::Flooder,
        Kind::Resetter,
        Kind::Garbage,
        Kind::HugeBody,
        Kind::SlowLoris,
        Kind::LongSearch,
    ];
    /// Every kind an echo server meets.
    pub const ECHO: [Kind; 4] = [
        Kind::Streamer,
        Kind::SlowReader,
        Kind::Flooder,
        Kind::Resetter,
    ];
}

/// One simulated client.
#[derive(Debug)]
pub struct Peer {
    /// Who it is.
    pub kind: Kind,
    rng: Rng,
    script: Vec<u8>,
    sent: usize,
    received: Vec<u8>,
    expect: Expect,
    /// Largest piece written at once.
    piece: usize,
    /// Writes on one step in this many.
    write_one_in: u32,
    /// Reads on one step in this many; `None`: never reads.
    read_one_in: Option<u32>,
    read_max: usize,
    /// Half-closes once everything is sent (instead of waiting for the
    /// server to close, or, for keep-alive, for every answer).
    fin_when_sent: bool,
    fin_sent: bool,
    /// Resets after sending this many bytes.
    reset_at: Option<usize>,
    /// Admission turned it away.
    pub refused: bool,
    /// The server ended its connection with an error response.
    pub failed: bool,
    /// The connection ended (and was checked).
    pub done: bool,
}

/// Keys the app peers search: the table's (in a fixed order, for
/// determinism) and a few it lacks.
pub fn search_keys(table: &Table) -> Vec<String> {
    let mut keys: Vec<String> = table.iter().map(|(k, _)| k.to_owned()).collect();
    keys.sort();
    keys.extend(["nobody", "\u{1f436}", "a \"quoted\" key"].map(String::from));
    keys
}

impl Peer {
    /// A peer of `kind` with manners drawn from `rng`, for a server with
    /// `limits` (app) or an echo server (`app` false).
    pub fn new(kind: Kind, mut rng: Rng, keys: &[String], limits: &Limits, app: bool) -> Self {
        let mut script = Vec::new();
        let mut fin_when_sent = false;
        let expect = match kind {
            _ if !app => {
                let len = match kind {
                    Kind::Flooder => rng.range(64 * 1024, 512 * 1024),
                    Kind::SlowReader => rng.range(1, 8 * 1024),
                    _ => rng.range(1, 96 * 1024),
                };
                script = rng.bytes(len);
                fin_when_sent = true;
                Expect::Echo
            }
            Kind::KeepAlive | Kind::SlowReader | Kind::Flooder | Kind::Resetter => {
                let n = match kind {
                    Kind::Flooder => rng.range(200, 3000),
                    _ => rng.range(1, 60),
                };
                let closes = kind != Kind::Flooder && rng.one_in(2);
                let keys = (0..n)
                    .map(|i| {
                        search(
                            rng.pick::<String>(keys),
                            !(closes && i + 1 == n),
                            &mut script,
                        )
                    })
                    .collect();
                Expect::Answers { keys, closes }
            }
            Kind::OneShot => Expect::Answers {
                keys: vec![search(rng.pick::<String>(keys), false, &mut script)],
                closes: true,
            },
            Kind::LongSearch => {
                let n = rng.range(1, 4);
                let closes = rng.one_in(2);
                let keys = (0..n)
                    .map(|i| {
                        let name = long_name(&mut rng, limits);
                        search(&name, !(closes && i + 1 == n), &mut script)
                    })
                    .collect();
                Expect::Answers { keys, closes }
            }
            Kind::SlowLoris => Expect::AnswerOrStall {
                key: search(rng.pick::<String>(keys), false, &mut script),
            },
            Kind::Garbage => {
                let len = rng.range(1, 2048);
                script = rng.bytes(len);
                fin_when_sent = rng.one_in(2);
                Expect::AtMostOneError
            }
            Kind::HugeBody | Kind::Streamer => {
                let over = rng.one_in(2);
                let len = if over {
                    limits.max_content + rng.range(1, 16)
                } else {
                    limits.max_content - rng.range(0, 16.min(limits.max_content - 1))
                };
                let value = "v".repeat(len - 1);
                encode::binary_request("x", &value, false, &mut script).expect("header fits");
                if over {
                    Expect::AtMostOneError
                } else {
                    Expect::Binary
                }
            }
        };
        let expect = match kind {
            Kind::Flooder | Kind::Resetter => Expect::Nothing,
            _ => expect,
        };
        let (write_one_in, read_one_in, read_max) = match kind {
            Kind::SlowReader => (2, Some(rng.range(5, 30) as u32), rng.range(64, 512)),
            Kind::Flooder => (1, None, 0),
            Kind::SlowLoris => (rng.range(20, 400) as u32, Some(4), 4096),
            // Small reads are the slow reader's; a byte at a time would take
            // a 96 KiB stream past the end of the run.
            _ => (
                rng.range(1, 3) as u32,
                Some(rng.range(1, 4) as u32),
                rng.range(512, 8192),
            ),
        };
        let piece = match kind {
            Kind::SlowLoris => 1,
            // Whole within the idle timeout (see `least_buffer`).
            Kind::HugeBody | Kind::LongSearch => rng.range(1024, 16 * 1024),
            // Up to 96 KiB of stream: not a byte at a time.
            Kind::Streamer => rng.range(64, 16 * 1024),
            _ => rng.range(1, 16 * 1024),
        };
        let reset_at = (kind == Kind::Resetter).then(|| rng.range(0, script.len()));
        Self {
            kind,
            script,
            sent: 0,
            received: Vec::new(),
            expect,
            piece,
            write_one_in,
            read_one_in,
            read_max,
            fin_when_sent,
            fin_sent: false,
            reset_at,
            refused: false,
            failed: false,
            done: false,
            rng,
        }
    }

    /// The smallest kernel buffers its connection may have. A message
    /// must arrive whole within the idle timeout from its first byte (the
    /// slow-loris rule), so a huge body through a 1-byte pipe would rightly
    /// be cut off: its buffers are big enough for the body to arrive in
    /// well under the shortest idle timeout the worlds draw. A stream of
    /// tens of KiB through a 1-byte pipe would not finish within the run.
    pub fn least_buffer(&self) -> usize {
        match self.kind {
            Kind::HugeBody | Kind::LongSearch => 4096,
            Kind::SlowReader | Kind::Streamer => 512,
            _ => 1,
        }
    }

    /// One step of the peer's life on `link`; `Err` if what it received
    /// breaks its expectation.
    pub fn act(&mut self, link: &mut Link, table: &Table) -> Result<(), String> {
        if self.done {
            return Ok(());
        }
        if self.reset_at.is_some_and(|at| self.sent >= at) {
            link.peer_reset();
            self.done = true;
            return Ok(());
        }
        if self.sent < self.script.len() && self.rng.one_in(self.write_one_in) {
            let end = self
                .script
                .len()
                .min(self.sent + self.rng.range(1, self.piece));
            let end = self.reset_at.map_or(end, |at| end.min(at));
            match link.peer_write(&self.script[self.sent..end]) {
                Some(n) => self.sent += n,
                None => return self.finish(link, table, End::Reset),
            }
        }
        if self.sent == self.script.len() && !self.fin_sent && self.wants_fin() {
            link.peer_fin();
            self.fin_sent = true;
        }
        let Some(one_in) = self.read_one_in else {
            // Never reads: done once the server gives up on it.
            if link.server_closed {
                link.peer_close();
                self.done = true;
            }
            return Ok(());
        };
        if !self.rng.one_in(one_in) {
            return Ok(());
        }
        match link.peer_read(self.read_max) {
            PeerRead::Data(bytes) => self.received.extend_from_slice(&bytes),
            PeerRead::Nothing => {}
            PeerRead::Eof => return self.finish(link, table, End::Eof),
            PeerRead::Reset => return self.finish(link, table, End::Reset),
        }
        Ok(())
    }

    /// Whether it half-closes now that everything is sent: echo and
    /// chosen peers at once, keep-alive peers once every answer is in.
    fn wants_fin(&self) -> bool {
        match &self.expect {
            _ if self.fin_when_sent => true,
            Expect::Answers {
                keys,
                closes: false,
            } => {
                // Cheap count: whole responses end where the next starts.
                count_frames(&self.received) >= keys.len()
            }
            _ => false,
        }
    }

    /// The peer leaves at the end of the run, by a reset. Only peers whose
    /// server may legitimately never answer may still be here.
    pub fn leave(&mut self, link: &mut Link) -> Result<(), String> {
        if self.done {
            return Ok(());
        }
        link.peer_reset();
        self.done = true;
        match self.expect {
            Expect::Nothing | Expect::AtMostOneError => Ok(()),
            _ if self.refused => Ok(()),
            _ => Err(format!(
                "liveness: {:?} peer never finished (sent {} of {} bytes, received {}, \
                 half-closed {})",
                self.kind,
                self.sent,
                self.script.len(),
                self.received.len(),
                self.fin_sent
            )),
        }
    }

    fn finish(&mut self, link: &mut Link, table: &Table, end: End) -> Result<(), String> {
        self.done = true;
        link.peer_close();
        self.check(table, end)
    }

    fn check(&self, table: &Table, end: End) -> Result<(), String> {
        self.expect
            .check(
                table,
                &self.script,
                self.sent,
                &self.received,
                end,
                self.refused,
                self.failed,
            )
            .map_err(|e| format!("{:?} peer: {e}", self.kind))
    }
}

/// Appends a search for `key` to `script`; returns the key.
/// A name longer than the service answers whole, within `limits` (or a
/// short one when they are too tight for it), with characters that need
/// escapes on the way in and out.
fn long_name(rng: &mut Rng, limits: &Limits) -> String {
    const UNITS: [&str; 5] = ["a", "b", "\"", "é", "\u{1f436}"];
    // Room for the JSON around the name, escapes counted at their worst.
    let most = (limits.max_content.saturating_sub(64)) / 2;
    let len = if most > STREAM_ABOVE {
        rng.range(STREAM_ABOVE + 1, most)
    } else {
        rng.range(1, 64)
    };
    let mut name = String::new();
    while name.len() < len {
        name.push_str(rng.pick::<&str>(&UNITS));
    }
    name
}

fn search(key: &str, keep_alive: bool, script: &mut Vec<u8>) -> String {
    encode::search_request(key, keep_alive, script).expect("a search encodes");
    key.to_owned()
}

/// Whole frames at the front of `bytes`.
fn count_frames(bytes: &[u8]) -> usize {
    let mut decoder = sockmux_proto::Decoder::new(Limits::default());
    let (mut at, mut n) = (0, 0);
    while let Ok(Some(frame)) = decoder.decode(&bytes[at..]) {
        at += frame.len;
        n += 1;
    }
    n
}

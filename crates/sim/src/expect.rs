//! What a peer must have received once its connection ends, checked from
//! its side of the wire only: the responses decoded with the protocol
//! crate and compared with the search table (app peers), or the bytes
//! compared with what was sent (echo peers).

use sockmux_proto::{Decoder, Limits, Reply, Table};

/// What a peer expects back.
#[derive(Debug, Clone)]
pub enum Expect {
    /// One answer per key, in order, each exactly once; every response
    /// carries keep-alive except the last when `closes` (the server then
    /// closes after it).
    Answers {
        /// The keys searched, in the order sent.
        keys: Vec<String>,
        /// The last request did not ask for keep-alive.
        closes: bool,
    },
    /// The answer to `key`, or the idle timeout's error (a slow sender).
    AnswerOrStall {
        /// The key searched.
        key: String,
    },
    /// One binary response (a large binary request within the limits), or
    /// the memory budget's refusal, or the idle timeout's error.
    Binary,
    /// At most one response, an error (garbage, a request over a limit).
    AtMostOneError,
    /// Every byte sent, back, in order (echo).
    Echo,
    /// Nothing but the server's invariants (flooders, resetters).
    Nothing,
}

/// How a peer's connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The server closed cleanly.
    Eof,
    /// The connection was reset.
    Reset,
}

/// The answer text the search table gives for `key`.
pub fn answer(table: &Table, key: &str) -> String {
    match table.get(key) {
        Some(text) => text.to_owned(),
        None => format!("No match for \"{key}\"."),
    }
}

/// One decoded response: its keep-alive flag and what it says.
type Response = (bool, Result<String, &'static str>);

/// Decodes every whole response in `bytes`; `Err` for bytes a server must
/// never send, and for a torn last response unless `torn_ok`.
fn responses(bytes: &[u8], torn_ok: bool) -> Result<Vec<Response>, String> {
    let mut decoder = Decoder::new(Limits::default());
    let (mut at, mut got) = (0, Vec::new());
    loop {
        let frame = match decoder.decode(&bytes[at..]) {
            Ok(Some(frame)) => frame,
            Ok(None) if at == bytes.len() || torn_ok => return Ok(got),
            Ok(None) => return Err(format!("{} bytes of a torn response", bytes.len() - at)),
            Err(e) => return Err(format!("undecodable response: {e}")),
        };
        at += frame.len;
        let said = match Reply::parse(&frame) {
            Ok(Reply::Answer(text)) => Ok(text.into_owned()),
            Ok(Reply::Error(text)) => Err(if text.contains("idle timeout") {
                "stall"
            } else if text.contains("no room") {
                // The memory budget refused a large request.
                "no room"
            } else {
                "error"
            }),
            Ok(Reply::Binary { .. }) => Ok(String::from("<binary>")),
            Err(e) => return Err(format!("unreadable response: {e}")),
        };
        got.push((frame.header.keep_alive, said));
    }
}

impl Expect {
    /// Checks what a peer received, given its script, how much of it it
    /// sent, how the connection ended, whether admission refused it and
    /// whether the server ended it with an error response (whose bytes a
    /// reset may have destroyed before the peer read them).
    #[allow(clippy::too_many_arguments)]
    pub fn check(
        &self,
        table: &Table,
        script: &[u8],
        sent: usize,
        received: &[u8],
        end: End,
        refused: bool,
        failed: bool,
    ) -> Result<(), String> {
        let reset = end == End::Reset;
        if refused {
            return match self {
                Expect::Echo | Expect::Nothing => Ok(()),
                _ => match responses(received, reset)?.as_slice() {
                    [] if reset => Ok(()),
                    [(false, Err("error"))] => Ok(()),
                    other => Err(format!("refused, yet received {other:?}")),
                },
            };
        }
        match self {
            Expect::Answers { keys, closes } => {
                let mut got = responses(received, reset)?;
                // The memory budget may refuse a large request, as the
                // last word (the close may then reset what the peer was
                // still sending); what came before must be right.
                let refused = got.last().is_some_and(|(_, said)| *said == Err("no room"));
                if refused {
                    got.pop();
                } else if reset && !failed {
                    return Err("reset before all answers arrived".into());
                }
                let cut_short = refused || (reset && failed);
                if got.len() != keys.len() && !(cut_short && got.len() < keys.len()) {
                    return Err(format!("{} answers to {} requests", got.len(), keys.len()));
                }
                for (i, (key, (keep_alive, said))) in keys.iter().zip(&got).enumerate() {
                    let last_closes = *closes && i + 1 == keys.len();
                    if *keep_alive == last_closes {
                        return Err(format!("answer {i}: keep-alive {keep_alive}"));
                    }
                    if said.as_deref() != Ok(answer(table, key).as_str()) {
                        return Err(format!("answer {i} to {key:?}: {said:?}"));
                    }
                }
                Ok(())
            }
            Expect::AnswerOrStall { key } => match responses(received, reset)?.as_slice() {
                // Closed quietly when not one byte came within the idle
                // timeout.
                [] if reset || sent == 0 => Ok(()),
                [(false, Err("stall"))] => Ok(()),
                [(false, Ok(said))] if *said == answer(table, key) => Ok(()),
                other => Err(format!("slow request for {key:?} got {other:?}")),
            },
            Expect::Binary => match responses(received, reset)?.as_slice() {
                [(false, Ok(said))] if !reset && said == "<binary>" => Ok(()),
                [(false, Err("no room"))] => Ok(()),
                // A body that took longer than the idle timeout to arrive
                // (the slow-loris rule) gets the stall's error.
                [(false, Err("stall"))] => Ok(()),
                [] if reset && failed => Ok(()),
                other => Err(format!("large request got {other:?} ({end:?})")),
            },
            Expect::AtMostOneError => match responses(received, reset)?.as_slice() {
                [] | [(false, Err(_))] => Ok(()),
                other => Err(format!("bad input got {other:?}")),
            },
            Expect::Echo if reset => Err("echo reset".into()),
            Expect::Echo if received != script || sent != script.len() => Err(format!(
                "echo returned {} of {} bytes ({} sent){}",
                received.len(),
                script.len(),
                sent,
                if script.starts_with(received) {
                    ""
                } else {
                    ", not in order"
                }
            )),
            Expect::Echo | Expect::Nothing => Ok(()),
        }
    }
}

//! The echo workload: each request is the next `size` bytes of the
//! connection's stream; its response is the same bytes, back.
//!
//! Owns request generation and byte-for-byte verification for echo, for
//! the load generator (a wrong byte is a mismatch; the connection goes on)
//! and for the echo client (one request of the whole payload per
//! connection; a wrong byte ends the connection). Every request differs
//! (the pattern depends on the position), so a server that answers with
//! stale or misplaced bytes is caught, and nothing sent is kept: the
//! expected bytes are recomputed from the position. Nothing the server
//! sends is buffered, however much it sends.

use std::sync::Arc;

use crate::pattern::Stream;

use super::workload::{Fault, Verdict, Workload};

/// Bytes of a request generated at once: a big request goes out in pieces
/// of this size, so a connection's write buffer stays small.
const PIECE: u64 = 64 * 1024;

/// Echo requests of a fixed size.
#[derive(Debug, Clone)]
pub(crate) struct EchoWorkload {
    size: u64,
    /// The same bytes on every connection, or each connection's pattern.
    fixed: Option<Arc<[u8]>>,
    /// Connection `n`'s pattern seed is `n + first_seed`.
    first_seed: u64,
    /// A wrong byte ends the connection.
    strict: bool,
}

impl EchoWorkload {
    /// Requests of `size` bytes (at least 1) from each connection's
    /// pattern; a wrong byte is a mismatch.
    pub(crate) fn new(size: usize) -> Self {
        Self {
            size: (size as u64).max(1),
            fixed: None,
            first_seed: 0,
            strict: false,
        }
    }

    /// One request of `total` bytes per connection: `fixed` on every
    /// connection, or a pattern seeded from 1 (connections are numbered
    /// from 1 for people). A wrong byte ends the connection.
    pub(crate) fn whole(total: u64, fixed: Option<Arc<[u8]>>) -> Self {
        Self {
            size: total,
            fixed,
            first_seed: 1,
            strict: true,
        }
    }

    /// Appends up to a piece of the request under way.
    fn piece(&self, state: &mut EchoState, out: &mut Vec<u8>) {
        let left = self.size - state.sent % self.size;
        let len = left.min(PIECE);
        state.stream.append(state.sent, len as usize, out);
        state.sent += len;
    }
}

/// One connection's position in its stream.
#[derive(Debug)]
pub(crate) struct EchoState {
    stream: Stream,
    sent: u64,
    received: u64,
    /// The first wrong byte of the response being received: its stream
    /// offset, the byte sent, the byte received.
    bad: Option<(u64, u8, u8)>,
}

impl EchoState {
    /// Bytes received and verified on this connection.
    pub(crate) fn received(&self) -> u64 {
        self.received
    }
}

impl Workload for EchoWorkload {
    type State = EchoState;

    fn state(&self, conn: usize) -> EchoState {
        EchoState {
            stream: match &self.fixed {
                Some(bytes) => Stream::Bytes(Arc::clone(bytes)),
                None => Stream::Pattern {
                    seed: conn as u64 + self.first_seed,
                },
            },
            sent: 0,
            received: 0,
            bad: None,
        }
    }

    fn reset(&self, state: &mut EchoState, _clean: bool) {
        state.sent = 0;
        state.received = 0;
        state.bad = None;
    }

    fn request(&self, state: &mut EchoState, out: &mut Vec<u8>) {
        if self.size > 0 {
            self.piece(state, out);
        }
    }

    fn more(&self, state: &mut EchoState, out: &mut Vec<u8>) -> bool {
        let whole = self.size == 0 || state.sent.is_multiple_of(self.size);
        if !whole {
            self.piece(state, out);
        }
        !whole
    }

    fn input(
        &self,
        state: &mut EchoState,
        mut input: &[u8],
        detail: bool,
        verdict: &mut dyn FnMut(Verdict),
    ) -> Result<(), Fault> {
        while !input.is_empty() {
            if state.received >= state.sent {
                return Err(Fault::Unsolicited);
            }
            let left_in_response = self.size - state.received % self.size;
            let take = (input.len() as u64)
                .min(left_in_response)
                .min(state.sent - state.received) as usize;
            let (segment, rest) = input.split_at(take);
            if state.bad.is_none() {
                if let Some(i) = state.stream.check(state.received, segment) {
                    let offset = state.received + i as u64;
                    let expected = state.stream.byte_at(offset).unwrap_or_default();
                    if self.strict {
                        return Err(Fault::Corrupt {
                            offset,
                            expected,
                            got: segment[i],
                        });
                    }
                    state.bad = Some((offset, expected, segment[i]));
                }
            }
            state.received += take as u64;
            if state.received.is_multiple_of(self.size) {
                match state.bad.take() {
                    None => verdict(Verdict::Ok),
                    Some((offset, expected, got)) => verdict(Verdict::Mismatch(detail.then(|| {
                        format!(
                            "byte {} of response {} came back as 0x{got:02x}, sent 0x{expected:02x}",
                            offset % self.size,
                            offset / self.size + 1,
                        )
                    }))),
                }
            }
            input = rest;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Generates one whole request the way the slot does.
    fn whole_request(workload: &EchoWorkload, state: &mut EchoState) -> Vec<u8> {
        let mut out = Vec::new();
        workload.request(state, &mut out);
        let mut pieces = 1;
        while workload.more(state, &mut out) {
            pieces += 1;
        }
        assert!(pieces <= workload.size.div_ceil(PIECE).max(1));
        out
    }

    #[test]
    fn a_big_request_is_generated_in_pieces_and_verified_whole() {
        let workload = EchoWorkload::whole(3 * PIECE + 5, None);
        let mut state = workload.state(0);
        let bytes = whole_request(&workload, &mut state);
        assert_eq!(bytes.len() as u64, 3 * PIECE + 5);
        let mut verdicts = Vec::new();
        for chunk in bytes.chunks(1000) {
            workload
                .input(&mut state, chunk, true, &mut |v| verdicts.push(v))
                .expect("an intact echo");
        }
        assert_eq!(verdicts, vec![Verdict::Ok]);
        assert!(matches!(
            workload.input(&mut state, b"x", true, &mut |_| {}),
            Err(Fault::Unsolicited)
        ));
    }

    #[test]
    fn a_wrong_byte_is_a_mismatch_or_ends_a_strict_connection() {
        let lenient = EchoWorkload::new(10);
        let mut state = lenient.state(0);
        let mut bytes = whole_request(&lenient, &mut state);
        bytes[3] ^= 1;
        let mut verdicts = Vec::new();
        lenient
            .input(&mut state, &bytes, true, &mut |v| verdicts.push(v))
            .expect("a mismatch is not a fault");
        assert!(matches!(verdicts.as_slice(), [Verdict::Mismatch(Some(_))]));

        let strict = EchoWorkload::whole(10, None);
        let mut state = strict.state(0);
        let mut bytes = whole_request(&strict, &mut state);
        bytes[3] ^= 1;
        let result = strict.input(&mut state, &bytes, true, &mut |_| {});
        assert!(matches!(result, Err(Fault::Corrupt { offset: 3, .. })));
    }
}

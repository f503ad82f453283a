//! The echo workload: each request is the next `size` bytes of the
//! connection's pattern stream; its response is the same bytes, back.
//!
//! Owns request generation and byte-for-byte verification for echo. Every
//! request differs (the pattern depends on the position), so a server that
//! answers with stale or misplaced bytes is caught, and nothing sent is
//! kept: the expected bytes are recomputed from the position.

use crate::pattern::Stream;

use super::workload::{Fault, Verdict, Workload};

/// Echo requests of a fixed size.
#[derive(Debug, Clone)]
pub(crate) struct EchoWorkload {
    size: u64,
}

impl EchoWorkload {
    /// Requests of `size` bytes (at least 1).
    pub(crate) fn new(size: usize) -> Self {
        Self {
            size: size.max(1) as u64,
        }
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

impl Workload for EchoWorkload {
    type State = EchoState;

    fn state(&self, conn: usize) -> EchoState {
        EchoState {
            stream: Stream::Pattern { seed: conn as u64 },
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
        state.stream.append(state.sent, self.size as usize, out);
        state.sent += self.size;
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
                    state.bad = Some((offset, expected, segment[i]));
                }
            }
            state.received += take as u64;
            if state.received % self.size == 0 {
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

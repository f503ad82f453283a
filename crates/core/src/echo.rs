//! The echo service (PROTOCOL.md section 1): every byte back, in order.

use std::time::Duration;

use crate::{Output, Service, Session, Stats, Step};

/// Makes [`EchoSession`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct EchoService;

impl Service for EchoService {
    type Session = EchoSession;

    fn session(&self) -> EchoSession {
        EchoSession
    }

    fn refusal(&self, _out: &mut Vec<u8>) {
        // The echo stream has no framing to carry an error in.
    }

    fn name(&self) -> &'static str {
        "echo"
    }
}

/// One echo connection. It holds nothing: bytes go straight to the output,
/// and backpressure is the loop's (it stops reading while the output is
/// full).
#[derive(Debug, Clone, Copy, Default)]
pub struct EchoSession;

impl Session for EchoSession {
    fn on_input(&mut self, input: &[u8], out: &mut Output, stats: &mut Stats) -> Step {
        if !input.is_empty() {
            out.buf().extend_from_slice(input);
            stats.requests += 1;
        }
        Step::Continue
    }

    fn on_eof(&mut self, _out: &mut Output, _stats: &mut Stats) -> Step {
        // Half-close: what is owed is still sent, then the loop closes.
        Step::Close
    }

    fn on_stall(&mut self, _idle: Duration, _out: &mut Output, _stats: &mut Stats) {}

    fn on_shutdown(&mut self, _out: &mut Output) -> Step {
        Step::Close
    }

    fn is_mid_message(&self) -> bool {
        // Every byte is a whole message: echoing it is progress.
        false
    }

    fn has_backlog(&self) -> bool {
        false
    }

    fn release_idle(&mut self) {}
}

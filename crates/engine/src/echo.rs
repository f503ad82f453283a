//! The echo service (PROTOCOL.md section 1): every byte back, in order.

use std::time::Duration;

use crate::{Handled, Output, PolicyError, Service, Session, Step};

/// Makes [`EchoSession`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct EchoService;

impl Service for EchoService {
    type Session = EchoSession;

    fn session(&self) -> EchoSession {
        EchoSession
    }

    fn refusal(&self, _reason: &PolicyError, _out: &mut Vec<u8>) {
        // The echo stream has no framing to carry an error in.
    }

    fn name(&self) -> &'static str {
        "echo"
    }
}

/// One echo connection. It holds nothing: bytes go straight to the output,
/// and backpressure is the connection's (it stops reading while the output
/// is full).
#[derive(Debug, Clone, Copy, Default)]
pub struct EchoSession;

impl Session for EchoSession {
    #[inline]
    fn handle_input(&mut self, input: &[u8], out: &mut Output) -> Handled {
        // Room asked of the memory budget, never doubled unasked.
        out.make_room(input.len());
        out.buf_mut().extend_from_slice(input);
        // Every chunk is a whole message: echoing it is progress.
        Handled {
            completed: u32::from(!input.is_empty()),
            step: Step::Continue,
        }
    }

    fn resume(&mut self, _out: &mut Output) -> Handled {
        Handled::NOTHING
    }

    fn handle_eof(&mut self, _out: &mut Output) -> Step {
        // Half-close: what is owed is still sent, then the connection closes.
        Step::Close
    }

    fn handle_stall(&mut self, _idle: Duration, _out: &mut Output) -> Step {
        Step::Close
    }

    fn handle_shutdown(&mut self, _out: &mut Output) -> Step {
        Step::Close
    }

    #[inline]
    fn is_mid_message(&self) -> bool {
        false
    }

    #[inline]
    fn has_backlog(&self) -> bool {
        false
    }

    #[inline]
    fn release_idle(&mut self) {}
}

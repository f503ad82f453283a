//! The app protocol (PROTOCOL.md sections 2 to 4) for any [`Handler`]:
//! framed requests answered in order, keep-alive and pipelining,
//! backpressure, and an `Error: …` response that closes the connection for
//! anything malformed.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use sockmux_proto::{
    error_response, Frame, Limits, Pending, SearchService, Stop, StreamDecoder, ANSWER_ROOM,
    STREAM_ABOVE,
};

use crate::{Handled, Handler, Output, PolicyError, Response, Service, Session, Step};

/// Input buffer capacity an idle session may keep; more is freed.
const IDLE_KEEP: usize = 4 * 1024;
/// Input buffer capacity a busy session may keep between messages: a read
/// chunk's worth. A large request's buffer is freed as soon as it is
/// answered, so a peer holds its request or its answer, never both for long.
const BUSY_KEEP: usize = 64 * 1024;

/// Makes [`AppSession`]s that share one handler.
///
/// ```
/// use std::time::Instant;
/// use sockmux_engine::{AppService, Connection, Plain, Service, Stats};
/// use sockmux_proto::{encode, Limits, SearchService, Table};
///
/// let service = AppService::new(SearchService::new(Table::builtin()), Limits::default());
/// let (now, mut stats) = (Instant::now(), Stats::default());
/// let mut conn = Connection::new(service.session(), Plain, 1 << 20, now);
/// let mut request = Vec::new();
/// encode::search_request("morpheus", false, &mut request)?;
/// assert_eq!(conn.handle_input(&request, now, &mut stats), 1);
/// assert!(!conn.poll_transmit().is_empty());
/// # Ok::<(), sockmux_proto::ProtoError>(())
/// ```
#[derive(Debug)]
pub struct AppService<H = SearchService> {
    handler: Arc<H>,
    limits: Limits,
}

impl<H: Handler> AppService<H> {
    /// A service answering with `handler`, enforcing `limits` on requests.
    pub fn new(handler: H, limits: Limits) -> Self {
        Self {
            handler: Arc::new(handler),
            limits,
        }
    }

    /// The handler answering requests.
    pub fn handler(&self) -> &H {
        &self.handler
    }
}

impl<H: Handler> Service for AppService<H> {
    type Session = AppSession<H>;

    fn session(&self) -> AppSession<H> {
        AppSession {
            decoder: StreamDecoder::new(self.limits),
            handler: Arc::clone(&self.handler),
            closing: false,
            draining: false,
            rest: None,
        }
    }

    fn refusal(&self, reason: &PolicyError, out: &mut Vec<u8>) {
        // An error response is a fixed, small header: it always encodes.
        let _ = error_response(reason, out);
    }

    fn name(&self) -> &'static str {
        "app"
    }
}

/// One app-protocol connection.
///
/// Requests are answered in order as they complete. Without `keep-alive`
/// the session closes after one response (the reference behaviour); with
/// it, requests may be pipelined, and the session stops decoding while the
/// output is full, resuming when the connection reports it drained.
#[derive(Debug)]
pub struct AppSession<H = SearchService> {
    decoder: StreamDecoder,
    handler: Arc<H>,
    /// A response that ends the connection has been written.
    closing: bool,
    /// Shutdown started: answer what has arrived, without keep-alive.
    draining: bool,
    /// The rest of an answer being written in pieces, and whether it
    /// keeps the connection open; its request stays first in the decoder.
    rest: Option<(Pending, bool)>,
}

/// What one pass of the decoder did.
#[derive(Debug, Default)]
struct Pass {
    completed: u32,
    closing: bool,
    failure: Option<sockmux_proto::ProtoError>,
}

impl<H: Handler> AppSession<H> {
    /// Bytes of heap this session's input buffer holds.
    pub fn buffer_capacity(&self) -> usize {
        self.decoder.capacity()
    }

    fn fail(&mut self, err: &dyn std::fmt::Display, out: &mut Output) -> Step {
        tracing::debug!("bad request: {err}");
        // Error responses are small fixed headers: they always encode.
        let _ = error_response(err, out.buf_mut());
        self.closing = true;
        Step::Fail
    }
}

impl<H: Handler> Session for AppSession<H> {
    fn handle_input(&mut self, input: &[u8], out: &mut Output) -> Handled {
        if self.closing {
            return Handled {
                completed: 0,
                step: Step::Close,
            };
        }
        let mut pass = Pass::default();
        let (draining, handler, rest) = (self.draining, &self.handler, &mut self.rest);
        let fed = self.decoder.feed_within(
            input,
            out,
            // A large message's buffer is charged to the budget first.
            |out, bytes| out.lease_mut().try_cover_input(bytes),
            |out, frame| {
                if rest.is_none() {
                    // Answers longer than about their request are written
                    // in pieces (see `write_rest`).
                    out.make_room(frame.len.min(STREAM_ABOVE) + ANSWER_ROOM);
                    let keep_alive = frame.header.keep_alive && !draining;
                    let mut started = None;
                    let response = Response::new(out.buf_mut(), keep_alive, &mut started);
                    if let Err(e) = handler.handle_frame(&frame, response) {
                        pass.failure = Some(e);
                        return ControlFlow::Break(Stop::Consume);
                    }
                    match started {
                        None => return pass.answered(keep_alive, out),
                        Some(pending) => *rest = Some((pending, keep_alive)),
                    }
                }
                write_rest(rest, &frame, draining, out, &mut pass)
            },
        );
        // Only when nothing is buffered (the decoder checks).
        self.decoder.release_idle(BUSY_KEEP);
        let step = match (pass.failure, fed) {
            (Some(err), _) | (None, Err(err)) => self.fail(&err, out),
            (None, Ok(())) if pass.closing || (draining && !self.is_mid_message()) => {
                self.closing = true;
                Step::Close
            }
            (None, Ok(())) => Step::Continue,
        };
        Handled {
            completed: pass.completed,
            step,
        }
    }

    fn resume(&mut self, out: &mut Output) -> Handled {
        self.handle_input(&[], out)
    }

    fn handle_eof(&mut self, out: &mut Output) -> Step {
        if self.closing {
            return Step::Close;
        }
        match self.decoder.finish() {
            Ok(()) => Step::Close,
            // The peer cannot read an answer it closed on, but a
            // half-close still can.
            Err(err) => self.fail(&err, out),
        }
    }

    fn handle_stall(&mut self, idle: Duration, out: &mut Output) -> Step {
        // Nothing can follow half an answer: close without a last word.
        if self.is_mid_message() && !self.closing && self.rest.is_none() {
            let err = PolicyError::Stalled {
                secs: idle.as_secs(),
            };
            self.fail(&err, out)
        } else {
            Step::Close
        }
    }

    fn handle_shutdown(&mut self, _out: &mut Output) -> Step {
        self.draining = true;
        if self.closing {
            return Step::Close;
        }
        // A request under way, or one a client sent just as the server
        // began to drain (a connection accepted a moment ago has usually
        // not been read yet): answered without keep-alive, then closed.
        // The connection's drain timer closes it if nothing comes.
        Step::Continue
    }

    fn is_mid_message(&self) -> bool {
        self.decoder.buffered() > 0
    }

    fn has_backlog(&self) -> bool {
        !self.closing && self.decoder.buffered() > 0
    }

    fn release_idle(&mut self) {
        self.decoder.release_idle(IDLE_KEEP);
    }

    fn wants_input(&self) -> bool {
        self.rest.is_none()
    }

    fn held(&self) -> usize {
        self.decoder.capacity()
    }
}

impl Pass {
    /// One answer is whole: go on to the next message unless it ends the
    /// connection or the output is full.
    fn answered(&mut self, keep_alive: bool, out: &Output) -> ControlFlow<Stop> {
        self.completed += 1;
        if !keep_alive {
            self.closing = true;
            return ControlFlow::Break(Stop::Consume);
        }
        if out.is_full() {
            ControlFlow::Break(Stop::Consume)
        } else {
            ControlFlow::Continue(())
        }
    }
}

/// Writes as much of the answer in `rest` as the output has room for,
/// from its request `frame`, which stays in the decoder until it is whole.
fn write_rest(
    rest: &mut Option<(Pending, bool)>,
    frame: &Frame<'_>,
    draining: bool,
    out: &mut Output,
    pass: &mut Pass,
) -> ControlFlow<Stop> {
    let Some((pending, keep_alive)) = rest else {
        return ControlFlow::Continue(());
    };
    let room = out.room();
    if !pending.fill(frame.content, out.buf_mut(), room) {
        return ControlFlow::Break(Stop::Keep);
    }
    let keep_alive = *keep_alive && !draining;
    *rest = None;
    pass.answered(keep_alive, out)
}

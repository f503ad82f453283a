//! The app protocol (PROTOCOL.md sections 2 to 4) for any [`Handler`]:
//! framed requests answered in order, keep-alive and pipelining,
//! backpressure, and an `Error: …` response that closes the connection for
//! anything malformed.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use sockmux_proto::{error_response, Limits, Request, SearchService, StreamDecoder};

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
        let mut failure = None;
        let mut completed = 0;
        let mut closing = false;
        let (draining, handler) = (self.draining, &self.handler);
        let fed = self.decoder.feed(input, |frame| {
            let keep_alive = frame.header.keep_alive && !draining;
            let answered = Request::parse(&frame).and_then(|request| {
                handler.handle(&request, Response::new(out.buf_mut(), keep_alive))
            });
            if let Err(e) = answered {
                failure = Some(e);
                return ControlFlow::Break(());
            }
            completed += 1;
            if !keep_alive {
                closing = true;
                return ControlFlow::Break(());
            }
            if out.is_full() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        // Only when nothing is buffered (the decoder checks).
        self.decoder.release_idle(BUSY_KEEP);
        let step = match (failure, fed) {
            (Some(err), _) | (None, Err(err)) => self.fail(&err, out),
            (None, Ok(_)) if closing || (draining && !self.is_mid_message()) => {
                self.closing = true;
                Step::Close
            }
            (None, Ok(_)) => Step::Continue,
        };
        Handled { completed, step }
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
        if self.is_mid_message() && !self.closing {
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
        if self.is_mid_message() && !self.closing {
            Step::Continue
        } else {
            self.closing = true;
            Step::Close
        }
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
}

//! The application service (PROTOCOL.md sections 2 to 4): framed requests
//! answered by the search service, with keep-alive and pipelining.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use sockmux_proto::{error_response, Limits, ProtoError, Request, SearchService, StreamDecoder};

use crate::{Output, Service, Session, Stats, Step};

/// Input buffer capacity an idle session may keep; more is freed.
const IDLE_KEEP: usize = 4 * 1024;

/// Makes [`AppSession`]s that share one search table.
#[derive(Debug, Clone)]
pub struct AppService {
    search: Arc<SearchService>,
    limits: Limits,
    max_connections: usize,
}

impl AppService {
    /// A service answering from `search`, enforcing `limits` on requests.
    /// `max_connections` is only quoted in the refusal message.
    pub fn new(search: SearchService, limits: Limits, max_connections: usize) -> Self {
        Self {
            search: Arc::new(search),
            limits,
            max_connections,
        }
    }
}

impl Service for AppService {
    type Session = AppSession;

    fn session(&self) -> AppSession {
        AppSession {
            decoder: StreamDecoder::new(self.limits),
            search: Arc::clone(&self.search),
            closing: false,
            draining: false,
        }
    }

    fn refusal(&self, out: &mut Vec<u8>) {
        let err = ProtoError::TooManyConnections {
            limit: self.max_connections,
        };
        // An error response is a fixed, small header: it always encodes.
        let _ = error_response(&err, out);
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
/// output is full, resuming when the loop reports it drained.
#[derive(Debug)]
pub struct AppSession {
    decoder: StreamDecoder,
    search: Arc<SearchService>,
    /// A response that ends the connection has been written.
    closing: bool,
    /// Shutdown started: answer what has arrived, without keep-alive.
    draining: bool,
}

impl AppSession {
    fn fail(&mut self, err: &ProtoError, out: &mut Output, stats: &mut Stats) -> Step {
        tracing::debug!("bad request: {err}");
        // Error responses are small fixed headers: they always encode.
        let _ = error_response(err, out.buf());
        stats.errors += 1;
        self.closing = true;
        Step::Close
    }
}

impl Session for AppSession {
    fn on_input(&mut self, input: &[u8], out: &mut Output, stats: &mut Stats) -> Step {
        if self.closing {
            return Step::Close;
        }
        let mut failure = None;
        let draining = self.draining;
        let search = &self.search;
        let mut closing = false;
        let fed = self.decoder.feed(input, |frame| {
            let keep_alive = frame.header.keep_alive && !draining;
            let answered = Request::parse(&frame)
                .and_then(|request| search.respond(&request, keep_alive, out.buf()));
            match answered {
                Ok(()) => stats.requests += 1,
                Err(e) => {
                    failure = Some(e);
                    return ControlFlow::Break(());
                }
            }
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
        if let Err(e) = fed {
            failure = Some(e);
        }
        if let Some(err) = failure {
            return self.fail(&err, out, stats);
        }
        if closing {
            self.closing = true;
            return Step::Close;
        }
        if draining && !self.is_mid_message() {
            self.closing = true;
            return Step::Close;
        }
        Step::Continue
    }

    fn on_eof(&mut self, out: &mut Output, stats: &mut Stats) -> Step {
        if self.closing {
            return Step::Close;
        }
        match self.decoder.finish() {
            Ok(()) => Step::Close,
            Err(err) => {
                // The peer cannot read an answer it closed on, but a
                // half-close still can.
                self.fail(&err, out, stats)
            }
        }
    }

    fn on_stall(&mut self, idle: Duration, out: &mut Output, stats: &mut Stats) {
        if self.is_mid_message() && !self.closing {
            let err = ProtoError::Stalled {
                secs: idle.as_secs(),
            };
            self.fail(&err, out, stats);
        }
    }

    fn on_shutdown(&mut self, _out: &mut Output) -> Step {
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

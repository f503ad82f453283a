//! One load-generator connection ("slot") as a sans-IO state machine.
//!
//! ```text
//!        Connect        connected
//! Idle ───────> Connecting ─────> Open ── one-shot: answered ──> Finishing
//!  ^ ^ failed: back off │          │                                │
//!  │ └──────────────────┘          │ fault, timeout     server closes │
//!  └───────────────────────────────┴────────────────────────────────┘
//!              (single: Done instead of Idle, never replaced)
//! ```
//!
//! Owns the lifecycle, the in-flight queue with each request's intended
//! send time, the depth and batch refill rules, reconnect back-off, the
//! timeouts and the counting. The I/O loop ([`super::worker`]) feeds it
//! what happened (`connected`, `input`, `eof`, `io_failed`, `sent`,
//! `check_timeout`) with `now` passed in, asks what to do (`pump`,
//! `poll_send`), and keeps a socket exactly while [`Slot::has_connection`].
//! No sockets and no clock reads here.
//!
//! A timeout bounds a whole response, from when it became the oldest one
//! awaited: bytes trickling in do not extend it. Only the echo client's
//! one long exchange (`single`) counts the timeout from the last progress.

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use super::books::{Books, Rules};
use super::schedule::{Due, Schedule};
use super::workload::{Failure, Fault, Workload};
use crate::error::seconds;

/// First wait before reconnecting after a failed connect; doubles up to
/// [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
/// Longest wait before reconnecting.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Where a slot is in its connection's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// No connection.
    Idle,
    Connecting,
    Open,
    /// One-shot: the response is in; waiting for the server to close.
    Finishing,
    /// Single: the one exchange is over.
    Done,
}

/// What the loop must do for a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Open a connection, report how it went, and pump again.
    Connect,
    /// Pump again at this time, or on the next event if `None`.
    Wait(Option<Instant>),
}

/// What the loop must write.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Send<'a> {
    Bytes(&'a [u8]),
    /// Half-close: everything is sent.
    ShutWrite,
    Nothing,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    /// When the request was meant to go out (open loop) or went out.
    intended: Instant,
    /// Due after the warm-up, so it counts.
    counted: bool,
}

/// One connection slot.
#[derive(Debug)]
pub(crate) struct Slot<S> {
    conn: usize,
    /// [`Rules::single`].
    single: bool,
    phase: Phase,
    state: S,
    schedule: Schedule,
    out: Vec<u8>,
    out_pos: usize,
    /// The last request is not generated whole yet.
    partial: bool,
    write_shut: bool,
    /// Bytes written on this connection.
    written: u64,
    in_flight: VecDeque<Pending>,
    /// When the current wait (connect, oldest response, close) times out.
    deadline: Option<Instant>,
    /// No reconnecting before this; `None` is never.
    retry_at: Option<Instant>,
    backoff: Duration,
}

impl<S> Slot<S> {
    /// Slot for connection number `conn` (unique in the run).
    pub(crate) fn new<W: Workload<State = S>>(
        workload: &W,
        conn: usize,
        schedule: Schedule,
        rules: &Rules,
        start: Instant,
    ) -> Self {
        Self {
            conn,
            single: rules.single,
            phase: Phase::Idle,
            state: workload.state(conn),
            schedule,
            out: Vec::new(),
            out_pos: 0,
            partial: false,
            write_shut: false,
            written: 0,
            in_flight: VecDeque::with_capacity(rules.depth),
            deadline: None,
            retry_at: Some(start),
            backoff: FIRST_BACKOFF,
        }
    }

    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether the loop should hold a socket for this slot.
    pub(crate) fn has_connection(&self) -> bool {
        matches!(
            self.phase,
            Phase::Connecting | Phase::Open | Phase::Finishing
        )
    }

    /// Queues as many requests as the schedule, the window and the quota
    /// allow, asking for a connection first when there is none.
    pub(crate) fn pump<W: Workload<State = S>>(
        &mut self,
        workload: &W,
        rules: &Rules,
        books: &mut Books,
        now: Instant,
    ) -> Next {
        if matches!(self.phase, Phase::Finishing | Phase::Done)
            || (rules.batch && !self.in_flight.is_empty())
        {
            return Next::Wait(None);
        }
        loop {
            if self.partial || self.in_flight.len() >= rules.depth || books.stopping(rules, now) {
                return Next::Wait(None);
            }
            let intended = match self.schedule.due(now) {
                Due::Now(at) => at,
                Due::At(at) => return Next::Wait(Some(at)),
                Due::Never => return Next::Wait(None),
            };
            let counted = intended >= rules.measure_start;
            if counted && !books.may_issue(rules) {
                return Next::Wait(None);
            }
            if self.phase == Phase::Idle {
                return match self.retry_at {
                    Some(at) if at <= now => {
                        self.phase = Phase::Connecting;
                        self.deadline = now.checked_add(rules.timeout);
                        Next::Connect
                    }
                    at => Next::Wait(at),
                };
            }
            if self.in_flight.is_empty() && self.phase == Phase::Open {
                self.deadline = now.checked_add(rules.timeout);
            }
            workload.request(&mut self.state, &mut self.out);
            self.partial = workload.more(&mut self.state, &mut self.out);
            self.in_flight.push_back(Pending { intended, counted });
            self.schedule.advance();
            books.issued(counted);
        }
    }

    /// The connection is up.
    pub(crate) fn connected(&mut self, rules: &Rules, books: &mut Books, now: Instant) {
        self.phase = Phase::Open;
        self.backoff = FIRST_BACKOFF;
        self.written = 0;
        self.write_shut = false;
        books.totals.counts.connections_opened += 1;
        self.deadline = if self.in_flight.is_empty() {
            None
        } else {
            now.checked_add(rules.timeout)
        };
    }

    /// The connection could not be made: back off before the next try.
    pub(crate) fn connect_failed<W: Workload<State = S>>(
        &mut self,
        workload: &W,
        error: io::Error,
        books: &mut Books,
        now: Instant,
    ) {
        workload.failed(self.conn, &mut self.state, Failure::Connect(&error));
        self.connect_lost(workload, error, books, now);
    }

    fn connect_lost<W: Workload<State = S>>(
        &mut self,
        workload: &W,
        error: io::Error,
        books: &mut Books,
        now: Instant,
    ) {
        books.totals.counts.connect_errors += 1;
        books.totals.first_connect_error.get_or_insert(error);
        self.close(workload, books, true);
        self.retry_at = now.checked_add(self.backoff);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    /// Bytes read.
    pub(crate) fn input<W: Workload<State = S>>(
        &mut self,
        workload: &W,
        bytes: &[u8],
        rules: &Rules,
        books: &mut Books,
        now: Instant,
    ) {
        if now >= rules.measure_start {
            books.totals.counts.bytes_received += bytes.len() as u64;
        }
        let in_flight = &mut self.in_flight;
        let mut answered = false;
        let mut unsolicited = false;
        let detail = books.totals.first_mismatch.is_none();
        let result = workload.input(&mut self.state, bytes, detail, &mut |verdict| {
            let Some(pending) = in_flight.pop_front() else {
                unsolicited = true;
                return;
            };
            answered = true;
            books.answered(pending.intended, pending.counted, verdict, now);
        });
        let fault = match result {
            Err(fault) => Some(fault),
            Ok(()) if unsolicited => Some(Fault::Unsolicited),
            Ok(()) => None,
        };
        match fault {
            // The server answered and will close, as the reference server
            // does with every connection: reconnect and go on, like
            // app-client. Requests pipelined behind are given back.
            Some(Fault::KeepAliveIgnored) => {
                books.totals.counts.closed_after_response += 1;
                return self.close(workload, books, true);
            }
            Some(fault) => return self.fault(workload, fault, books),
            None => {}
        }
        if rules.single || answered {
            self.deadline = now.checked_add(rules.timeout);
        }
        if answered && self.in_flight.is_empty() {
            if rules.one_shot {
                self.phase = Phase::Finishing;
            } else {
                self.deadline = None;
            }
        }
    }

    /// The server closed the connection.
    pub(crate) fn eof<W: Workload<State = S>>(&mut self, workload: &W, books: &mut Books) {
        match self.in_flight.len() {
            0 => self.close(workload, books, true),
            unanswered => self.fault(workload, Fault::Closed(unanswered), books),
        }
    }

    /// Reading or writing failed.
    pub(crate) fn io_failed<W: Workload<State = S>>(
        &mut self,
        workload: &W,
        error: io::Error,
        books: &mut Books,
    ) {
        self.fault(workload, Fault::Io(error), books);
    }

    /// What to write next.
    pub(crate) fn poll_send<W: Workload<State = S>>(&mut self, workload: &W) -> Send<'_> {
        if self.phase != Phase::Open {
            return Send::Nothing;
        }
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
            if self.partial {
                self.partial = workload.more(&mut self.state, &mut self.out);
            }
        }
        if self.out_pos < self.out.len() {
            Send::Bytes(&self.out[self.out_pos..])
        } else if self.single && !self.write_shut && !self.partial && !self.in_flight.is_empty() {
            // Depth is 1 there: the request in flight is all written.
            Send::ShutWrite
        } else {
            Send::Nothing
        }
    }

    /// `n` bytes of what [`Slot::poll_send`] gave were written.
    pub(crate) fn sent(&mut self, n: usize, rules: &Rules, books: &mut Books, now: Instant) {
        self.out_pos += n;
        self.written += n as u64;
        if now >= rules.measure_start {
            books.totals.counts.bytes_sent += n as u64;
        }
        if rules.single {
            self.deadline = now.checked_add(rules.timeout);
        }
    }

    /// The write side is shut.
    pub(crate) fn write_shut(&mut self) {
        self.write_shut = true;
    }

    /// Ends the current wait if it has lasted past the timeout; true when
    /// it did (the connection is gone).
    pub(crate) fn check_timeout<W: Workload<State = S>>(
        &mut self,
        workload: &W,
        rules: &Rules,
        books: &mut Books,
        now: Instant,
    ) -> bool {
        if self.deadline.is_none_or(|deadline| now < deadline) {
            return false;
        }
        let failure = Failure::Timeout {
            after: rules.timeout,
            written: self.written,
        };
        let what = match self.phase {
            Phase::Connecting => {
                workload.failed(self.conn, &mut self.state, failure);
                let error = io::ErrorKind::TimedOut.into();
                self.connect_lost(workload, error, books, now);
                return true;
            }
            Phase::Open => "a response",
            Phase::Finishing => "the server to close the connection after its response",
            Phase::Idle | Phase::Done => return false,
        };
        books.totals.counts.timeouts += 1;
        books
            .totals
            .error(|| format!("waited more than {} for {what}", seconds(rules.timeout)));
        workload.failed(self.conn, &mut self.state, failure);
        self.close(workload, books, false);
        true
    }

    /// Counts a fault and drops the connection.
    fn fault<W: Workload<State = S>>(&mut self, workload: &W, fault: Fault, books: &mut Books) {
        books.totals.counts.protocol_errors += 1;
        books.totals.error(|| fault.to_string());
        let failure = Failure::Fault {
            fault: &fault,
            written: self.written,
        };
        workload.failed(self.conn, &mut self.state, failure);
        self.close(workload, books, false);
    }

    /// Drops the connection and whatever it had in flight.
    fn close<W: Workload<State = S>>(&mut self, workload: &W, books: &mut Books, clean: bool) {
        for pending in self.in_flight.drain(..) {
            books.settle(pending.counted);
        }
        self.out.clear();
        self.out_pos = 0;
        self.partial = false;
        self.deadline = None;
        workload.reset(&mut self.state, clean);
        self.phase = if self.single {
            books.done();
            Phase::Done
        } else {
            Phase::Idle
        };
    }
}

#[cfg(test)]
mod tests;

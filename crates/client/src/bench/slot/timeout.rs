//! When a slot's wait lasts too long: a connection attempt, the oldest
//! response awaited, or (one-shot) the server's close after its response.
//!
//! A timeout bounds a whole response, from when it became the oldest one
//! awaited: bytes trickling in do not extend it. Only the echo client's
//! one long exchange (`single`) counts the timeout from the last progress.

use std::io;
use std::time::Instant;

use super::{Phase, Slot};
use crate::bench::books::{Books, Rules};
use crate::bench::workload::{Failure, Workload};
use crate::error::seconds;

impl<S> Slot<S> {
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
}

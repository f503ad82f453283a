//! What a thread's slots follow and share: the [`Rules`] (fixed for the
//! run) and the [`Books`] (totals, the quota's progress, the stop). Owns
//! counting a request's outcome; when it happens is the slot's business.

use std::time::{Duration, Instant};

use super::counters::Totals;
use super::link::Established;
use super::workload::Verdict;

/// How every slot of a thread behaves.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    /// Requests in flight per connection.
    pub(crate) depth: usize,
    /// Refill a connection only once all its requests are answered.
    pub(crate) batch: bool,
    /// One connection per request: send, read the response, wait for the
    /// server to close, connect again.
    pub(crate) one_shot: bool,
    /// One connection for one request, half-closed once sent, never
    /// replaced (the echo client). Implies `one_shot`.
    pub(crate) single: bool,
    pub(crate) timeout: Duration,
    /// Responses to requests due before this are not counted (warm-up).
    pub(crate) measure_start: Instant,
    /// When to stop starting requests.
    pub(crate) end: Option<Instant>,
    /// This thread's share of the requests.
    pub(crate) quota: Option<u64>,
}

/// What a thread's slots share: the totals and the quota's progress.
#[derive(Debug)]
pub(crate) struct Books {
    pub(crate) totals: Totals,
    /// Counted requests sent.
    issued: u64,
    /// Counted requests answered, or lost with their connection.
    settled: u64,
    /// Asked to stop from outside.
    stopped: bool,
    /// Single slots whose one exchange is over.
    done: usize,
}

impl Books {
    pub(crate) fn new() -> Self {
        Self {
            totals: Totals::new(),
            issued: 0,
            settled: 0,
            stopped: false,
            done: 0,
        }
    }

    /// No new request may start from now on.
    pub(crate) fn stop(&mut self) {
        self.stopped = true;
    }

    pub(crate) fn stopping(&self, rules: &Rules, now: Instant) -> bool {
        self.stopped || rules.end.is_some_and(|end| now >= end)
    }

    /// Whether a thread with `slots` slots is to start no more requests:
    /// stopped, past its end, its quota settled, or every single slot
    /// done. Responses in flight may still come (the worker waits a little
    /// for them).
    pub(crate) fn finished(&self, rules: &Rules, slots: usize, now: Instant) -> bool {
        self.stopping(rules, now)
            || rules.quota.is_some_and(|quota| self.settled >= quota)
            || self.done >= slots
    }

    /// Whether the quota allows another counted request.
    pub(crate) fn may_issue(&self, rules: &Rules) -> bool {
        rules.quota.is_none_or(|quota| self.issued < quota)
    }

    /// A request was sent; `counted` when it was due after the warm-up.
    pub(crate) fn issued(&mut self, counted: bool) {
        if counted {
            self.issued += 1;
        }
    }

    /// A request was answered, or lost with its connection.
    pub(crate) fn settle(&mut self, counted: bool) {
        if counted {
            self.settled += 1;
        }
    }

    /// A connection came up; a TLS handshake completed in the measured
    /// period counts.
    pub(crate) fn established(&mut self, how: Established, rules: &Rules, now: Instant) {
        if let Established::Tls { resumed } = how {
            if now >= rules.measure_start {
                self.totals.counts.handshakes += 1;
                self.totals.counts.resumed += u64::from(resumed);
            }
        }
    }

    /// A single slot's exchange is over.
    pub(crate) fn done(&mut self) {
        self.done += 1;
    }

    /// Counts one answered request, meant to go out at `intended`.
    pub(crate) fn answered(
        &mut self,
        intended: Instant,
        counted: bool,
        verdict: Verdict,
        now: Instant,
    ) {
        let totals = &mut self.totals;
        match verdict {
            Verdict::Ok if counted => {
                totals.counts.requests += 1;
                let nanos = now.saturating_duration_since(intended).as_nanos();
                totals
                    .latency
                    .saturating_record(u64::try_from(nanos).unwrap_or(u64::MAX));
                totals.last_completion = Some(now);
            }
            Verdict::Ok => {}
            Verdict::Mismatch(detail) => {
                totals.counts.mismatches += 1;
                if totals.first_mismatch.is_none() {
                    totals.first_mismatch = detail;
                }
            }
        }
        self.settle(counted);
    }
}

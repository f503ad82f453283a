//! What the load generator counts, listed once.
//!
//! The `counters!` list below is the only place a counter is named: it
//! makes [`Counts`] (plain numbers: per-thread totals, their sum, the
//! report and progress snapshots) and [`Live`] (the same as relaxed
//! atomics, published once per loop turn for the progress display).
//! [`Totals`] adds what is not a plain count: the latency histogram and the
//! first error of each kind. Deciding *when* to count is the slot's job.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latency histogram range: 1 ns to 10 minutes, 3 significant digits.
const MAX_LATENCY_NS: u64 = 600_000_000_000;

macro_rules! counters {
    ($($(#[doc = $doc:literal])* $name:ident,)*) => {
        /// The load generator's counters. Bytes and requests cover the
        /// measured period (after the warm-up); errors count from the
        /// start.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
        pub struct Counts {
            $($(#[doc = $doc])* pub $name: u64,)*
        }

        impl Counts {
            /// Adds `other` to these counts.
            pub(crate) fn add(&mut self, other: &Counts) {
                $(self.$name += other.$name;)*
            }
        }

        /// One thread's [`Counts`], readable from other threads while it
        /// runs.
        #[derive(Debug, Default)]
        pub(crate) struct Live {
            $($name: AtomicU64,)*
        }

        impl Live {
            /// Makes `counts` visible to readers.
            pub(crate) fn publish(&self, counts: &Counts) {
                $(self.$name.store(counts.$name, Ordering::Relaxed);)*
            }

            /// The counts last published.
            pub(crate) fn load(&self) -> Counts {
                Counts {
                    $($name: self.$name.load(Ordering::Relaxed),)*
                }
            }
        }
    };
}

counters! {
    /// Requests answered and verified.
    requests,
    /// Bytes written.
    bytes_sent,
    /// Bytes read.
    bytes_received,
    /// Connections established (with TLS: handshake done).
    connections_opened,
    /// TLS handshakes completed.
    handshakes,
    /// TLS handshakes that resumed a session from the run's cache.
    resumed,
    /// Connection attempts that failed or timed out.
    connect_errors,
    /// Malformed responses, early closes, resets, error answers, bytes
    /// nobody asked for.
    protocol_errors,
    /// Well-framed responses with a wrong byte.
    mismatches,
    /// Connections that waited longer than the timeout for a response.
    timeouts,
    /// Requests sent in full and still unanswered when the run ended
    /// (after a short wait for them); requests never sent are not counted.
    unanswered,
    /// Keep-alive connections the server closed after one response (the
    /// reference server ignores keep-alive): reconnected, not errors.
    closed_after_response,
}

/// What one thread did: its counts and what is not a plain count.
#[derive(Debug)]
pub(crate) struct Totals {
    pub(crate) counts: Counts,
    /// Nanoseconds from intended send to whole, verified response.
    pub(crate) latency: Histogram<u64>,
    pub(crate) last_completion: Option<Instant>,
    pub(crate) first_mismatch: Option<String>,
    pub(crate) first_error: Option<String>,
    pub(crate) first_connect_error: Option<io::Error>,
}

impl Totals {
    pub(crate) fn new() -> Self {
        Self {
            counts: Counts::default(),
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3)
                .unwrap_or_else(|_| unreachable!("constant, valid bounds")),
            last_completion: None,
            first_mismatch: None,
            first_error: None,
            first_connect_error: None,
        }
    }

    /// Keeps the first error's description; `describe` runs only for it.
    pub(crate) fn error(&mut self, describe: impl FnOnce() -> String) {
        if self.first_error.is_none() {
            self.first_error = Some(describe());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_counts_read_back_what_was_published_and_sums_add_every_counter() {
        let mut counts = Counts {
            requests: 1,
            bytes_sent: 2,
            bytes_received: 3,
            connections_opened: 4,
            handshakes: 5,
            resumed: 6,
            connect_errors: 7,
            protocol_errors: 8,
            mismatches: 9,
            timeouts: 10,
            unanswered: 11,
            closed_after_response: 12,
        };
        let live = Live::default();
        live.publish(&counts);
        assert_eq!(live.load(), counts);
        let once = counts;
        counts.add(&once);
        let json = serde_json::to_value(counts).expect("serializes");
        let fields = json.as_object().expect("an object");
        assert_eq!(fields.len(), 12);
        for (name, value) in fields {
            let doubled = value.as_u64().expect("a number");
            assert_eq!(doubled % 2, 0, "{name} was not added");
            assert!(doubled > 0, "{name} was not added");
        }
    }
}

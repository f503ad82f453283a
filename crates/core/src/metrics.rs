//! What a running server exposes to an operator: every worker's counters,
//! the shared limits' state, and any gauges the embedding program adds,
//! rendered in the Prometheus text format (see [`crate::MetricsServer`]).
//!
//! Workers publish their counters at each timer sweep (at most a second
//! apart, and at exit), never per message, so a scrape costs the hot path
//! nothing and sees numbers at most a sweep old.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sockmux_engine::{SharedStats, Stats};

use crate::intake::Shared;

/// One worker's published numbers.
#[derive(Debug, Default)]
pub(crate) struct Published {
    pub(crate) stats: SharedStats,
    /// The latest a timer sweep ran after it was due since the last
    /// scrape, in nanoseconds: how far behind the loop is.
    lag_max_ns: AtomicU64,
}

impl Published {
    /// Publishes `stats` and a sweep that ran `late`.
    pub(crate) fn publish(&self, stats: &Stats, late: Duration) {
        self.stats.publish(stats);
        let ns = u64::try_from(late.as_nanos()).unwrap_or(u64::MAX);
        self.lag_max_ns.fetch_max(ns, Ordering::Relaxed);
    }
}

/// A gauge or counter the embedding program adds (table size, dropped log
/// lines): it appends its lines, `# HELP` and `# TYPE` included.
pub type Source = Box<dyn Fn(&mut String) + Send + Sync>;

/// A running server's metrics, to render on demand.
#[derive(Clone)]
pub struct Metrics {
    shared: Arc<Shared>,
    sources: Arc<Mutex<Vec<Source>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            sources: Arc::default(),
        }
    }

    /// Adds lines of the program's own to every scrape.
    pub fn add_source(&self, source: Source) {
        self.sources
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(source);
    }

    /// The totals over all workers, as last published.
    pub fn totals(&self) -> Stats {
        let mut total = Stats::default();
        for worker in self.shared.published() {
            total += worker.stats.read();
        }
        total
    }

    /// Appends every metric in the Prometheus text exposition format
    /// (version 0.0.4).
    pub fn render(&self, out: &mut String) {
        let t = self.totals();
        let shared = &self.shared;
        let gauge = |out: &mut String, name: &str, help: &str, value: u64| {
            metric(out, name, "gauge", help, &[("", value)]);
        };
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            metric(out, name, "counter", help, &[("", value)]);
        };
        gauge(
            out,
            "sockmux_connections_open",
            "Connections open now.",
            shared.admission.active() as u64,
        );
        gauge(
            out,
            "sockmux_connections_max",
            "The max-connections limit.",
            shared.max_connections as u64,
        );
        counter(
            out,
            "sockmux_connections_accepted_total",
            "Connections accepted and served.",
            t.connections,
        );
        let max_connections = t.refused - t.refused_per_address - t.refused_untrusted;
        metric(
            out,
            "sockmux_connections_refused_total",
            "counter",
            "Connections refused, by reason.",
            &[
                ("reason=\"max_connections\"", max_connections),
                ("reason=\"per_address\"", t.refused_per_address),
                ("reason=\"untrusted\"", t.refused_untrusted),
            ],
        );
        counter(
            out,
            "sockmux_requests_total",
            "Requests answered (app) or reads echoed (echo).",
            t.requests,
        );
        metric(
            out,
            "sockmux_errors_total",
            "counter",
            "Connections ended by an error, by kind (protocol: an Error response).",
            &[
                ("kind=\"protocol\"", t.errors - t.transport_errors),
                ("kind=\"transport\"", t.transport_errors),
            ],
        );
        counter(
            out,
            "sockmux_handshakes_deferred_total",
            "Times a TLS handshake waited a loop turn (handshake-budget), so established connections went first.",
            t.handshakes_deferred,
        );
        counter(
            out,
            "sockmux_idle_timeouts_total",
            "Connections closed by the idle timeout.",
            t.idle_timeouts,
        );
        counter(
            out,
            "sockmux_received_bytes_total",
            "Bytes read from peers.",
            t.bytes_in,
        );
        counter(
            out,
            "sockmux_sent_bytes_total",
            "Bytes written to peers.",
            t.bytes_out,
        );
        gauge(
            out,
            "sockmux_buffered_bytes",
            "Bytes charged to the memory budget now (beyond each connection's allowance).",
            shared.budget.used() as u64,
        );
        gauge(
            out,
            "sockmux_buffered_bytes_max",
            "The memory budget (max-buffered).",
            shared.budget.limit() as u64,
        );
        counter(
            out,
            "sockmux_budget_refusals_total",
            "Large messages refused because the memory budget could not hold them.",
            shared.budget.refusals(),
        );
        let lag = self
            .shared
            .published()
            .iter()
            .map(|w| w.lag_max_ns.swap(0, Ordering::Relaxed))
            .max()
            .unwrap_or(0);
        let _ = writeln!(out, "# HELP sockmux_loop_lag_seconds How late the most behind worker ran its timers since the last scrape.\n# TYPE sockmux_loop_lag_seconds gauge\nsockmux_loop_lag_seconds {:.6}", lag as f64 / 1e9);
        gauge(
            out,
            "sockmux_workers",
            "Worker threads.",
            shared.published().len() as u64,
        );
        for source in self
            .sources
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            source(out);
        }
    }
}

/// Appends one metric family: HELP, TYPE and a sample per label set.
pub fn metric(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(&str, u64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

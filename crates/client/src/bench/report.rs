//! The load generator's results: one [`Report`] for people (its `Display`,
//! in `text`), machines (`serde::Serialize`, one JSON object, exact numbers
//! in µs), HdrHistogram tools (`hgrm`) and eyes (`plot`, an SVG). Owns
//! merging the threads' totals, the rates and percentiles, and whether the
//! run failed; it does not count anything itself.

mod hgrm;
mod plot;
mod text;
mod units;

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;
use thiserror::Error;

use super::counters::{Counts, Totals};
use super::timeline::Throughput;
use units::plural;

/// Latency of verified responses, in microseconds, from the intended send
/// time (open loop) or the send time (closed loop) to the last byte of the
/// response. For one connection per request this includes connecting.
/// All zero when no response was verified.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Fastest.
    pub min: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Standard deviation.
    pub stdev: f64,
}

impl Latency {
    fn from_histogram(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let us = |ns: u64| ns as f64 / 1000.0;
        Self {
            min: us(h.min()),
            p50: us(h.value_at_quantile(0.50)),
            p90: us(h.value_at_quantile(0.90)),
            p99: us(h.value_at_quantile(0.99)),
            p999: us(h.value_at_quantile(0.999)),
            max: us(h.max()),
            mean: h.mean() / 1000.0,
            stdev: h.stdev() / 1000.0,
        }
    }
}

/// What a run measured. Counts cover the measured period (after the
/// warm-up); mismatches and errors count from the start.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// `echo` or `app`.
    pub target: String,
    /// What a request is: `64-byte messages`, `search`, `binary`.
    pub request: String,
    /// The server.
    pub addr: String,
    /// Connections (slots; with one connection per request each slot
    /// connects again and again).
    pub conns: usize,
    /// Event-loop threads.
    pub threads: usize,
    /// Requests in flight per connection.
    pub depth: usize,
    /// Pipelined in batches of `depth` (`redis-benchmark -P`), not a
    /// sliding window.
    pub batch: bool,
    /// Requests carried `keep-alive` (app only).
    pub keep_alive: bool,
    /// Each request had a connection of its own.
    pub one_connection_per_request: bool,
    /// Every connection spoke TLS.
    pub tls: bool,
    /// Open-loop rate asked for, requests per second; `None` is closed loop.
    pub rate: Option<f64>,
    /// Seconds of warm-up, not counted.
    pub warmup_secs: f64,
    /// Seconds measured.
    pub elapsed_secs: f64,
    /// What was counted, all threads together (one JSON object with the
    /// rest).
    #[serde(flatten)]
    pub counts: Counts,
    /// `requests / elapsed_secs`.
    pub requests_per_sec: f64,
    /// `handshakes / elapsed_secs`: TLS handshakes completed in the
    /// measured period.
    pub handshakes_per_sec: f64,
    /// `resumed / handshakes` (0 without handshakes).
    pub resumption_rate: f64,
    /// `bytes_sent / elapsed_secs`.
    pub bytes_sent_per_sec: f64,
    /// `bytes_received / elapsed_secs`.
    pub bytes_received_per_sec: f64,
    /// Latency of the verified responses.
    pub latency_us: Latency,
    /// Verified responses over time.
    pub throughput: Throughput,
    /// The first mismatch, described.
    pub first_mismatch: Option<String>,
    /// The first protocol error or timeout, described.
    pub first_error: Option<String>,
    /// The first failed connection attempt, described.
    pub first_connect_error: Option<String>,
    /// The run was stopped early (Ctrl-C).
    pub interrupted: bool,
    /// Why the run counts as failed, in one line; `None` when it did not.
    pub failure: Option<String>,
    /// Every verified response's latency, in nanoseconds.
    #[serde(skip)]
    histogram: Histogram<u64>,
}

/// The run's settings a report repeats.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) target: &'static str,
    pub(crate) request: String,
    pub(crate) addr: String,
    pub(crate) conns: usize,
    pub(crate) threads: usize,
    pub(crate) depth: usize,
    pub(crate) batch: bool,
    pub(crate) keep_alive: bool,
    pub(crate) one_shot: bool,
    pub(crate) rate: Option<f64>,
    pub(crate) warmup: Duration,
    pub(crate) tls: bool,
}

/// What a run measured besides the threads' totals.
#[derive(Debug)]
pub(crate) struct Measured {
    /// The measured period.
    pub(crate) elapsed: Duration,
    pub(crate) throughput: Throughput,
    pub(crate) first_connect_error: Option<String>,
    pub(crate) interrupted: bool,
}

/// The SVG chart could not be drawn.
#[derive(Debug, Error)]
#[error("cannot draw the chart: {0}")]
pub struct PlotError(String);

impl Report {
    /// Merges the threads' totals (at least one).
    pub(crate) fn new(settings: Settings, totals: &[Totals], measured: Measured) -> Self {
        let mut histogram = Histogram::<u64>::new_from(&totals[0].latency);
        let mut counts = Counts::default();
        for t in totals {
            // Same bounds everywhere, so adding cannot fail.
            let _ = histogram.add(&t.latency);
            counts.add(&t.counts);
        }
        let secs = measured.elapsed.as_secs_f64();
        let per_sec = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        let mut report = Self {
            target: settings.target.to_owned(),
            request: settings.request,
            addr: settings.addr,
            conns: settings.conns,
            threads: settings.threads,
            depth: settings.depth,
            batch: settings.batch,
            keep_alive: settings.keep_alive,
            one_connection_per_request: settings.one_shot,
            tls: settings.tls,
            rate: settings.rate,
            warmup_secs: settings.warmup.as_secs_f64(),
            elapsed_secs: secs,
            counts,
            requests_per_sec: per_sec(counts.requests),
            handshakes_per_sec: per_sec(counts.handshakes),
            resumption_rate: if counts.handshakes > 0 {
                counts.resumed as f64 / counts.handshakes as f64
            } else {
                0.0
            },
            bytes_sent_per_sec: per_sec(counts.bytes_sent),
            bytes_received_per_sec: per_sec(counts.bytes_received),
            latency_us: Latency::from_histogram(&histogram),
            throughput: measured.throughput,
            first_mismatch: totals.iter().find_map(|t| t.first_mismatch.clone()),
            first_error: totals.iter().find_map(|t| t.first_error.clone()),
            first_connect_error: measured.first_connect_error,
            interrupted: measured.interrupted,
            failure: None,
            histogram,
        };
        report.failure = report.judge();
        report
    }

    /// Whether any connection was made.
    pub fn connected(&self) -> bool {
        self.counts.connections_opened > 0
    }

    /// The latency distribution in HdrHistogram's percentile-distribution
    /// text format (`.hgrm`), values in microseconds.
    pub fn hgrm(&self) -> String {
        hgrm::render(&self.histogram)
    }

    /// An SVG of two charts: latency by percentile and throughput over
    /// time.
    pub fn svg(&self) -> Result<String, PlotError> {
        plot::render(self)
    }

    /// Why the run failed, if it did: nothing could connect, nothing was
    /// verified (unless stopped by hand), a wrong answer, a protocol error,
    /// a timeout, or a request the server left unanswered. Connect errors
    /// alone do not fail a run that connected at all (they are reported).
    fn judge(&self) -> Option<String> {
        if !self.connected() {
            let why = self.first_connect_error.as_deref();
            return Some(format!(
                "cannot connect to {}: {}",
                self.addr,
                why.unwrap_or("no connection was accepted")
            ));
        }
        let c = &self.counts;
        let mut causes = Vec::new();
        if c.requests == 0 && !self.interrupted {
            causes.push("no request answered and verified".to_owned());
        }
        for (n, one, many) in [
            (c.mismatches, "mismatch", "mismatches"),
            (c.protocol_errors, "protocol error", "protocol errors"),
            (c.timeouts, "timeout", "timeouts"),
            (
                c.unanswered,
                "request left unanswered at the end",
                "requests left unanswered at the end",
            ),
        ] {
            if n > 0 {
                causes.push(plural(n, one, many));
            }
        }
        if causes.is_empty() {
            return None;
        }
        let mut line = causes.join(", ");
        if let Some(first) = self.first_mismatch.as_ref().or(self.first_error.as_ref()) {
            line.push_str(&format!(" (first: {first})"));
        }
        Some(line)
    }
}

#[cfg(test)]
mod tests;

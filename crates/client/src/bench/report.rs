//! The load generator's results: one [`Report`] for people (its `Display`)
//! and machines (`serde::Serialize`, one JSON object). Owns merging the
//! threads' totals, the rates and percentiles, and the wording; it does
//! not count anything itself.

use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::counters::{Counts, Totals};

/// Latency percentiles of verified responses, in microseconds, from the
/// intended send time (open loop) or the send time (closed loop) to the
/// last byte of the response. For one connection per request this
/// includes connecting.
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
    /// The first mismatch, described.
    pub first_mismatch: Option<String>,
    /// The first protocol error or timeout, described.
    pub first_error: Option<String>,
    /// The first failed connection attempt, described.
    pub first_connect_error: Option<String>,
    /// The run was stopped early (Ctrl-C).
    pub interrupted: bool,
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

impl Report {
    /// Merges the threads' totals over `elapsed` of measurement.
    pub(crate) fn new(
        settings: Settings,
        totals: &[Totals],
        elapsed: Duration,
        first_connect_error: Option<String>,
        interrupted: bool,
    ) -> Self {
        let mut latency = Histogram::<u64>::new_from(&totals[0].latency);
        let mut counts = Counts::default();
        for t in totals {
            // Same bounds everywhere, so adding cannot fail.
            let _ = latency.add(&t.latency);
            counts.add(&t.counts);
        }
        let secs = elapsed.as_secs_f64();
        let per_sec = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        Self {
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
            latency_us: Latency::from_histogram(&latency),
            first_mismatch: totals.iter().find_map(|t| t.first_mismatch.clone()),
            first_error: totals.iter().find_map(|t| t.first_error.clone()),
            first_connect_error,
            interrupted,
        }
    }

    /// Why the run counts as failed, in one line; `None` when every
    /// response was right. Connect errors alone do not fail a run that
    /// connected at all (they are reported).
    pub fn failure(&self) -> Option<String> {
        let mut causes = Vec::new();
        if self.counts.mismatches > 0 {
            causes.push(format!("{} mismatches", self.counts.mismatches));
        }
        if self.counts.protocol_errors > 0 {
            causes.push(format!("{} protocol errors", self.counts.protocol_errors));
        }
        if self.counts.timeouts > 0 {
            causes.push(format!("{} timeouts", self.counts.timeouts));
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

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = if self.one_connection_per_request {
            "one connection per request".to_owned()
        } else if self.keep_alive {
            let batches = if self.batch { " in batches" } else { "" };
            format!("keep-alive, depth {}{batches}", self.depth)
        } else {
            format!("depth {}", self.depth)
        };
        let pace = match self.rate {
            Some(rate) => format!("open loop at {rate} requests/s"),
            None => "closed loop".to_owned(),
        };
        writeln!(
            f,
            "{} ({}) against {}{}: {} connections, {} thread{}, {mode}, {pace}",
            self.target,
            self.request,
            self.addr,
            if self.tls { " over TLS" } else { "" },
            self.conns,
            self.threads,
            if self.threads == 1 { "" } else { "s" },
        )?;
        write!(f, "measured {:.2} s", self.elapsed_secs)?;
        if self.warmup_secs > 0.0 {
            write!(f, " after {} s of warm-up", self.warmup_secs)?;
        }
        if self.interrupted {
            write!(f, " (interrupted)")?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "  requests     {:>12}  {:>12.1} /s",
            self.counts.requests, self.requests_per_sec
        )?;
        if self.tls {
            writeln!(
                f,
                "  handshakes   {:>12}  {:>12.1} /s  {} resumed ({:.1}%)",
                self.counts.handshakes,
                self.handshakes_per_sec,
                self.counts.resumed,
                self.resumption_rate * 100.0
            )?;
        }
        writeln!(
            f,
            "  sent         {:>12}  {:>12} /s",
            bytes(self.counts.bytes_sent as f64),
            bytes(self.bytes_sent_per_sec)
        )?;
        writeln!(
            f,
            "  received     {:>12}  {:>12} /s",
            bytes(self.counts.bytes_received as f64),
            bytes(self.bytes_received_per_sec)
        )?;
        let l = &self.latency_us;
        writeln!(
            f,
            "  latency µs   min {:.1}  p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}",
            l.min, l.p50, l.p90, l.p99, l.p999, l.max
        )?;
        write!(
            f,
            "  connections  {} opened, {} connect errors",
            self.counts.connections_opened, self.counts.connect_errors
        )?;
        if self.counts.closed_after_response > 0 {
            write!(
                f,
                ", {} closed by the server after one response (it ignores keep-alive)",
                self.counts.closed_after_response
            )?;
        }
        writeln!(f)?;
        write!(
            f,
            "  errors       {} protocol, {} mismatches, {} timeouts",
            self.counts.protocol_errors, self.counts.mismatches, self.counts.timeouts
        )?;
        for (label, text) in [
            ("first mismatch", &self.first_mismatch),
            ("first error", &self.first_error),
            ("first connect error", &self.first_connect_error),
        ] {
            if let Some(text) = text {
                write!(f, "\n  {label}: {text}")?;
            }
        }
        Ok(())
    }
}

/// `12.3 MB`: decimal units, as network rates are usually quoted.
pub(crate) fn bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_like_a_person_writes_them() {
        assert_eq!(bytes(999.0), "999 B");
        assert_eq!(bytes(1500.0), "1.5 kB");
        assert_eq!(bytes(12_345_678.0), "12.3 MB");
    }
}

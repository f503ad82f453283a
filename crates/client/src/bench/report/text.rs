//! The report for people: a few aligned lines, each duration in the unit
//! that suits it, rates per second, nouns that agree with their counts.

use std::fmt;

use super::units::{bytes, duration, plural};
use super::Report;

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
            "{} ({}) against {}{}: {}, {}, {mode}, {pace}",
            self.target,
            self.request,
            self.addr,
            if self.tls { " over TLS" } else { "" },
            plural(self.conns as u64, "connection", "connections"),
            plural(self.threads as u64, "thread", "threads"),
        )?;
        write!(f, "measured {:.2} s", self.elapsed_secs)?;
        if self.warmup_secs > 0.0 {
            write!(f, " after {} s of warm-up", self.warmup_secs)?;
        }
        if self.interrupted {
            write!(f, " (interrupted)")?;
        }
        writeln!(f)?;
        let c = &self.counts;
        let rate = format!("{:.1}/s", self.requests_per_sec);
        writeln!(f, "  requests     {:>12}  {rate:>14}", c.requests)?;
        if self.tls {
            let rate = format!("{:.1}/s", self.handshakes_per_sec);
            writeln!(
                f,
                "  handshakes   {:>12}  {rate:>14}  {} resumed ({:.1}%)",
                c.handshakes,
                c.resumed,
                self.resumption_rate * 100.0
            )?;
        }
        for (label, total, per_sec) in [
            ("sent    ", c.bytes_sent, self.bytes_sent_per_sec),
            ("received", c.bytes_received, self.bytes_received_per_sec),
        ] {
            let rate = format!("{}/s", bytes(per_sec));
            writeln!(f, "  {label}     {:>12}  {rate:>14}", bytes(total as f64))?;
        }
        let l = &self.latency_us;
        if c.requests == 0 {
            writeln!(f, "  latency      none: no response was verified")?;
        } else {
            writeln!(
                f,
                "  latency      min {}  mean {}  stdev {}  max {}",
                duration(l.min),
                duration(l.mean),
                duration(l.stdev),
                duration(l.max)
            )?;
            writeln!(
                f,
                "  percentiles  p50 {}  p90 {}  p99 {}  p99.9 {}",
                duration(l.p50),
                duration(l.p90),
                duration(l.p99),
                duration(l.p999)
            )?;
        }
        write!(
            f,
            "  connections  {} opened, {}",
            c.connections_opened,
            plural(c.connect_errors, "connect error", "connect errors")
        )?;
        if c.closed_after_response > 0 {
            write!(
                f,
                ", {} closed by the server after one response (it ignores keep-alive)",
                c.closed_after_response
            )?;
        }
        writeln!(f)?;
        write!(
            f,
            "  errors       {} protocol, {}, {}, {} unanswered",
            c.protocol_errors,
            plural(c.mismatches, "mismatch", "mismatches"),
            plural(c.timeouts, "timeout", "timeouts"),
            c.unanswered
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

//! What a load-generator run is asked to do ([`BenchConfig`]), the checks
//! that refuse a run that makes no sense, and why a run could not happen
//! ([`BenchError`]). Owns no running: see the module above.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sockmux_proto::Table;
use sockmux_tls::TlsConnector;
use thiserror::Error;

use super::schedule::Pace;

/// What the load generator sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Echo protocol: messages of `size` bytes, each one verified byte for
    /// byte when it comes back.
    Echo {
        /// Bytes per message.
        size: usize,
    },
    /// App protocol: requests rotating over the table's keys (see
    /// [`BenchConfig::tables`]) and one missing key, each response checked
    /// against the search service.
    App {
        /// Binary requests (`bin` + key) instead of `search`.
        binary: bool,
        /// `keep-alive` requests over persistent connections; without it,
        /// one connection per request, like the reference client.
        keep_alive: bool,
    },
}

/// When a run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// After this long (not counting the warm-up).
    Duration(Duration),
    /// After this many requests have been answered or lost (not counting
    /// the warm-up).
    Requests(u64),
}

/// A load-generator run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// The server.
    pub addr: SocketAddr,
    /// What to send.
    pub target: Target,
    /// Connections (for one connection per request: concurrent requests).
    /// Default: 50.
    pub conns: usize,
    /// Event-loop threads, each with `conns / threads` connections.
    /// Default: 1.
    pub threads: usize,
    /// When to stop. Default: after 10 s.
    pub limit: Limit,
    /// Time run first and not counted. Default: none.
    pub warmup: Duration,
    /// Open loop at this many requests per second overall; `None` sends
    /// each request as soon as there is room (closed loop).
    pub rate: Option<f64>,
    /// Requests in flight per connection (pipelining). Default: 1.
    pub depth: usize,
    /// Pipelining in batches, as `redis-benchmark -P` does: send `depth`
    /// requests at once and wait for all their responses before the next
    /// batch. Otherwise each response makes room for the next request at
    /// once (a sliding window, as memtier does). Default: off.
    pub batch: bool,
    /// A connection attempt that takes longer fails, and so does a
    /// response that is not whole this long after it became the oldest one
    /// awaited (bytes trickling in do not extend it). Default: 10 s.
    pub timeout: Duration,
    /// App only: the largest response content accepted, in bytes; a
    /// response announcing more ends its connection as malformed, before
    /// its content is buffered. At least the largest right answer. `None`:
    /// [`BenchConfig::RESPONSE_SLACK`] over the largest right answer.
    pub max_response: Option<usize>,
    /// App only: the tables a right answer may come from (a server that
    /// reloads from one to another during the run answers from either);
    /// requests search a sample of the first one's keys. Empty (the
    /// default): the built-in table.
    pub tables: Vec<Arc<Table>>,
    /// TLS on every connection, all sharing the connector's session
    /// cache (a slot connecting again resumes). Default: plaintext.
    pub tls: Option<TlsConnector>,
}

impl BenchConfig {
    /// Default for [`BenchConfig::conns`].
    pub const DEFAULT_CONNS: usize = 50;
    /// Default for [`BenchConfig::limit`].
    pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);
    /// Default for [`BenchConfig::timeout`].
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default echo message size.
    pub const DEFAULT_SIZE: usize = 64;
    /// Room the default [`BenchConfig::max_response`] leaves beyond the
    /// largest right answer (another server may space its JSON
    /// differently): 64 KiB.
    pub const RESPONSE_SLACK: usize = 64 * 1024;

    /// A run against `addr` with the defaults.
    pub fn new(addr: SocketAddr, target: Target) -> Self {
        Self {
            addr,
            target,
            conns: Self::DEFAULT_CONNS,
            threads: 1,
            limit: Limit::Duration(Self::DEFAULT_DURATION),
            warmup: Duration::ZERO,
            rate: None,
            depth: 1,
            batch: false,
            timeout: Self::DEFAULT_TIMEOUT,
            max_response: None,
            tables: Vec::new(),
            tls: None,
        }
    }

    pub(super) fn one_shot(&self) -> bool {
        matches!(
            self.target,
            Target::App {
                keep_alive: false,
                ..
            }
        )
    }

    pub(super) fn check(&self) -> Result<(), BenchError> {
        let bad = |text: &str| Err(BenchError::Config(text.to_owned()));
        if self.conns == 0 {
            return bad("the number of connections must be at least 1");
        }
        if self.depth == 0 {
            return bad("the depth must be at least 1");
        }
        if self.one_shot() && self.depth > 1 {
            return bad("pipelining (depth > 1) needs keep-alive: without it the server closes after one response");
        }
        if matches!(self.target, Target::Echo { size: 0 }) {
            return bad("the echo message size must be at least 1 byte");
        }
        if self.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
            return bad("the rate must be a positive number of requests per second");
        }
        if let Some(rate) = self.rate {
            if let Err(e) = Pace::new(rate, self.conns) {
                return Err(BenchError::Config(e.to_string()));
            }
        }
        match self.limit {
            Limit::Duration(d) if d.is_zero() => bad("the duration must be positive"),
            Limit::Requests(0) => bad("the number of requests must be at least 1"),
            _ if self.timeout.is_zero() => bad("the timeout must be positive"),
            _ => Ok(()),
        }
    }

    /// When counting starts and when the run ends (`None`: when the
    /// requests are done), from `start`.
    pub(super) fn span(&self, start: Instant) -> Result<(Instant, Option<Instant>), BenchError> {
        let too_long = || BenchError::Config("the warm-up and duration are too long".to_owned());
        let measure_start = start.checked_add(self.warmup).ok_or_else(too_long)?;
        let end = match self.limit {
            Limit::Duration(d) => Some(measure_start.checked_add(d).ok_or_else(too_long)?),
            Limit::Requests(_) => None,
        };
        Ok((measure_start, end))
    }
}

/// Why a run could not happen at all.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BenchError {
    /// The configuration makes no sense.
    #[error("{0}")]
    Config(String),
    /// A thread or an event loop could not be started.
    #[error("cannot start the load generator: {0}")]
    Setup(#[source] io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_pipelining_without_keep_alive() {
        let mut config = BenchConfig::new(
            SocketAddr::from(([127, 0, 0, 1], 1)),
            Target::App {
                binary: false,
                keep_alive: false,
            },
        );
        config.depth = 4;
        assert!(matches!(config.check(), Err(BenchError::Config(_))));
    }

    #[test]
    fn refuses_absurd_rates_and_durations_without_panicking() {
        let mut config = BenchConfig::new(
            SocketAddr::from(([127, 0, 0, 1], 1)),
            Target::Echo { size: 64 },
        );
        config.rate = Some(1e-300);
        assert!(matches!(config.check(), Err(BenchError::Config(_))));
        config.rate = Some(1000.0);
        config.limit = Limit::Duration(Duration::MAX);
        assert!(config.check().is_ok());
        assert!(matches!(
            config.span(Instant::now()),
            Err(BenchError::Config(_))
        ));
        config.limit = Limit::Requests(10);
        config.warmup = Duration::MAX;
        assert!(matches!(
            config.span(Instant::now()),
            Err(BenchError::Config(_))
        ));
    }
}

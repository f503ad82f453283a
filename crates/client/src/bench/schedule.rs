//! When each connection's requests are due, in open loop.
//!
//! A rate of `r` requests per second over `c` connections gives each
//! connection one request every `c / r`, and connection `n` starts
//! `n / r` after the run's start, so the requests are spread evenly
//! rather than sent in `c`-wide bursts. The schedule never moves: a
//! connection that fell behind finds its missed requests due at once, with
//! their original intended times, so their latency counts from when they
//! should have gone out (no coordinated omission). How many of them go out
//! at once is bounded by the slot's in-flight window (depth), not here.
//!
//! Owns the arithmetic, checked: a time past what `Instant` can hold means
//! "never", and a rate whose interval `Duration` cannot hold is refused.
//! Does not own sockets, the window or the clock: `now` is passed in.

use std::time::{Duration, Instant};

use thiserror::Error;

/// A rate too low to schedule.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("the rate is too low: one request per connection would be due less often than once in {} years", u64::MAX / 31_557_600)]
pub(crate) struct RateTooLow;

/// The open-loop pace of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pace {
    /// Between two requests of one connection.
    interval: Duration,
    /// Between the first requests of two consecutive connections.
    stagger: Duration,
}

impl Pace {
    /// `rate` requests per second (finite, positive) over `conns`
    /// connections.
    pub(crate) fn new(rate: f64, conns: usize) -> Result<Self, RateTooLow> {
        let secs = |x: f64| Duration::try_from_secs_f64(x).map_err(|_| RateTooLow);
        Ok(Self {
            interval: secs(conns as f64 / rate)?,
            stagger: secs(1.0 / rate)?,
        })
    }
}

/// When a connection's next request may go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// Now; the time it was meant to go out, which latency counts from.
    Now(Instant),
    /// Not before this time.
    At(Instant),
    /// Never (the schedule ran past what `Instant` can hold).
    Never,
}

/// One connection's schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Schedule {
    /// Closed loop: a request may go out whenever there is room.
    Closed,
    /// Open loop.
    Open {
        /// The next request's intended time; `None` is never.
        next: Option<Instant>,
        interval: Duration,
    },
}

impl Schedule {
    /// Connection `conn`'s schedule in a run paced by `pace` (closed loop
    /// without one) that starts at `start`.
    pub(crate) fn new(pace: Option<Pace>, start: Instant, conn: usize) -> Self {
        let Some(pace) = pace else {
            return Self::Closed;
        };
        let offset = u32::try_from(conn)
            .ok()
            .and_then(|n| pace.stagger.checked_mul(n));
        Self::Open {
            next: offset.and_then(|offset| start.checked_add(offset)),
            interval: pace.interval,
        }
    }

    /// Whether the next request is due at `now`.
    pub(crate) fn due(&self, now: Instant) -> Due {
        match *self {
            Self::Closed => Due::Now(now),
            Self::Open { next: None, .. } => Due::Never,
            Self::Open {
                next: Some(next), ..
            } if next > now => Due::At(next),
            Self::Open {
                next: Some(next), ..
            } => Due::Now(next),
        }
    }

    /// The due request went out: the next one is an interval later.
    pub(crate) fn advance(&mut self) {
        if let Self::Open { next, interval } = self {
            *next = next.and_then(|at| at.checked_add(*interval));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn closed_loop_is_always_due_now() {
        let now = Instant::now();
        let mut schedule = Schedule::new(None, now, 7);
        assert_eq!(schedule.due(now), Due::Now(now));
        schedule.advance();
        assert_eq!(schedule.due(now + MS), Due::Now(now + MS));
    }

    #[test]
    fn connections_start_staggered_and_keep_their_interval() {
        // 1000 requests/s over 10 connections: each sends every 10 ms,
        // connection n first at n ms.
        let pace = Pace::new(1000.0, 10).expect("representable");
        let t0 = Instant::now();
        let third = Schedule::new(Some(pace), t0, 3);
        assert_eq!(third.due(t0), Due::At(t0 + 3 * MS));
        let mut first = Schedule::new(Some(pace), t0, 0);
        assert_eq!(first.due(t0), Due::Now(t0));
        first.advance();
        assert_eq!(first.due(t0 + 9 * MS), Due::At(t0 + 10 * MS));
        assert_eq!(first.due(t0 + 10 * MS), Due::Now(t0 + 10 * MS));
    }

    #[test]
    fn a_late_connection_catches_up_with_the_original_intended_times() {
        let pace = Pace::new(100.0, 1).expect("representable");
        let t0 = Instant::now();
        let mut schedule = Schedule::new(Some(pace), t0, 0);
        // Stalled for 35 ms: the four missed requests are due at once, each
        // with the time it should have gone out; then the schedule is back
        // in the future, with no extra requests to make up for the stall.
        let now = t0 + 35 * MS;
        let mut intended = Vec::new();
        while let Due::Now(at) = schedule.due(now) {
            intended.push(at);
            schedule.advance();
        }
        let expected: Vec<_> = (0..4).map(|k| t0 + k * 10 * MS).collect();
        assert_eq!(intended, expected);
        assert_eq!(schedule.due(now), Due::At(t0 + 40 * MS));
    }

    #[test]
    fn absurd_rates_are_refused_or_never_due_without_panicking() {
        assert_eq!(Pace::new(1e-300, 50), Err(RateTooLow));
        assert_eq!(Pace::new(f64::MIN_POSITIVE, 1), Err(RateTooLow));
        // Representable as a Duration (about 300 billion years) but past
        // what an Instant can reach from now.
        let pace = Pace::new(5e-18, 50).expect("fits a Duration");
        let t0 = Instant::now();
        let mut schedule = Schedule::new(Some(pace), t0, usize::MAX);
        assert_eq!(schedule.due(t0), Due::Never);
        let mut late = Schedule::new(Some(pace), t0, 1);
        for _ in 0..3 {
            late.advance();
        }
        assert_eq!(late.due(t0), Due::Never);
        schedule.advance();
        assert_eq!(schedule.due(t0), Due::Never);
    }
}

//! Requests answered over time, for the throughput chart: counts per
//! interval of the measured period.
//!
//! The calling thread samples the counts the workers publish anyway (for
//! the progress display), so the workers do nothing more for it. Intervals
//! start at [`FIRST_INTERVAL`] and double, adjacent pairs merged, whenever
//! a run outgrows [`MAX_INTERVALS`] of them: a run of any length keeps at
//! most that many numbers.

use std::time::{Duration, Instant};

use serde::Serialize;

/// The finest interval.
const FIRST_INTERVAL: Duration = Duration::from_millis(100);
/// The most intervals kept.
const MAX_INTERVALS: usize = 400;

/// Requests answered and verified per interval of the measured period, as
/// sampled about every 20 ms while the run went on.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Throughput {
    /// Seconds per interval (0.1 s, doubled for long runs); the last
    /// interval ends with the measured period and may be shorter.
    pub interval_secs: f64,
    /// Requests counted in each interval, oldest first; they add up to the
    /// report's `requests`.
    pub requests: Vec<u64>,
}

impl Throughput {
    /// Each interval's span in seconds, given the measured period's length:
    /// the interval, or less for the last one.
    pub fn spans(&self, elapsed_secs: f64) -> impl Iterator<Item = f64> + '_ {
        let interval = self.interval_secs;
        (0..self.requests.len()).map(move |i| {
            let left = elapsed_secs - i as f64 * interval;
            left.clamp(0.0, interval)
        })
    }
}

/// Builds a [`Throughput`] from samples of the running total.
#[derive(Debug)]
pub(crate) struct Timeline {
    start: Instant,
    interval: Duration,
    requests: Vec<u64>,
    /// The total at the last sample.
    seen: u64,
}

impl Timeline {
    /// A timeline of the period measured from `start`.
    pub(crate) fn new(start: Instant) -> Self {
        Self {
            start,
            interval: FIRST_INTERVAL,
            requests: Vec::new(),
            seen: 0,
        }
    }

    /// `total` requests have been counted by `now`; what is new since the
    /// last sample belongs to `now`'s interval. Samples before the start
    /// are ignored (nothing counts then).
    pub(crate) fn sample(&mut self, now: Instant, total: u64) {
        let Some(since) = now.checked_duration_since(self.start) else {
            return;
        };
        // Interval i holds (i * interval, (i + 1) * interval].
        let nanos = since.as_nanos().saturating_sub(1);
        let mut index = usize::try_from(nanos / self.interval.as_nanos()).unwrap_or(usize::MAX);
        while index >= MAX_INTERVALS {
            self.coarsen();
            index /= 2;
        }
        if self.requests.len() <= index {
            self.requests.resize(index + 1, 0);
        }
        self.requests[index] += total.saturating_sub(self.seen);
        self.seen = self.seen.max(total);
    }

    /// Doubles the interval, merging adjacent pairs.
    fn coarsen(&mut self) {
        let merged = self
            .requests
            .chunks(2)
            .map(|pair| pair.iter().sum())
            .collect();
        self.requests = merged;
        self.interval *= 2;
    }

    /// The intervals of a measured period that lasted `elapsed`: counts
    /// sampled after it (responses to its last requests) go to its last
    /// interval.
    pub(crate) fn finish(mut self, elapsed: Duration) -> Throughput {
        let intervals = elapsed.as_nanos().div_ceil(self.interval.as_nanos()).max(1);
        let keep = usize::try_from(intervals).unwrap_or(usize::MAX);
        if self.requests.len() > keep {
            let late: u64 = self.requests.drain(keep..).sum();
            self.requests[keep - 1] += late;
        }
        Throughput {
            interval_secs: self.interval.as_secs_f64(),
            requests: self.requests,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn samples_fall_into_their_interval_and_add_up() {
        let t0 = Instant::now();
        let mut timeline = Timeline::new(t0 + 50 * MS);
        timeline.sample(t0, 0);
        timeline.sample(t0 + 120 * MS, 7);
        timeline.sample(t0 + 150 * MS, 10);
        timeline.sample(t0 + 390 * MS, 25);
        let throughput = timeline.finish(350 * MS);
        assert_eq!(throughput.interval_secs, 0.1);
        assert_eq!(throughput.requests, vec![10, 0, 0, 15]);
        let spans: Vec<f64> = throughput.spans(0.35).collect();
        assert!((spans[3] - 0.05).abs() < 1e-9, "{spans:?}");
    }

    #[test]
    fn a_long_run_keeps_a_bounded_number_of_coarser_intervals() {
        let t0 = Instant::now();
        let mut timeline = Timeline::new(t0);
        let seconds = 3600;
        for s in 1..=seconds {
            timeline.sample(t0 + Duration::from_secs(s), s * 10);
        }
        let throughput = timeline.finish(Duration::from_secs(seconds));
        assert!(throughput.requests.len() <= MAX_INTERVALS);
        assert_eq!(throughput.interval_secs, 12.8);
        assert_eq!(throughput.requests.iter().sum::<u64>(), seconds * 10);
    }

    #[test]
    fn late_answers_go_to_the_last_interval() {
        let t0 = Instant::now();
        let mut timeline = Timeline::new(t0);
        timeline.sample(t0 + 200 * MS, 4);
        timeline.sample(t0 + 900 * MS, 5);
        let throughput = timeline.finish(200 * MS);
        assert_eq!(throughput.requests, vec![0, 5]);
    }
}

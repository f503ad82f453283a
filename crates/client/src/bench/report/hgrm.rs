//! The latency distribution as an `.hgrm` file: HdrHistogram's percentile
//! distribution text, exactly as Java's
//! `outputPercentileDistribution(out, 5, scale)` writes it (wrk2's
//! "Detailed Percentile spectrum" has the same rows and footer, from the C
//! library, with narrower columns), which HdrHistogram's plotter and the
//! usual scripts read.
//!
//! ```text
//! # sockmux bench latency distribution; values in microseconds
//!        Value     Percentile TotalCount 1/(1-Percentile)
//!
//!       28.847 0.000000000000          1           1.00
//!       68.543 0.100000000000      14977           1.11
//!    …
//!    37552.127 1.000000000000     149625
//! #[Mean    =      200.450, StdDeviation   =      368.480]
//! #[Max     =    37552.127, Total count    =       149625]
//! #[Buckets =           30, SubBuckets     =         2048]
//! ```
//!
//! Rows step through the percentiles with 5 ticks per half distance to
//! 100% (0%, 10%, … 50%, 55%, … 75%, 77.5%, …), each giving the highest
//! value at that percentile, the count up to it and 1/(1-p), the x of the
//! usual log-scale plot; the 100% row has no 1/(1-p). Values are in
//! microseconds with three decimals (the histogram records nanoseconds,
//! so nothing is lost), where wrk2 prints milliseconds: the first line, a
//! comment, says so.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

/// Percentile ticks per half distance to 100%, as wrk2 and the Java
/// examples use.
const TICKS_PER_HALF_DISTANCE: u32 = 5;
/// Nanoseconds per microsecond, the unit values are written in.
const SCALE: f64 = 1000.0;

/// One row of the distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Tick {
    /// The percentile stepped to, as a fraction.
    pub(super) quantile: f64,
    /// The highest value at that percentile (nanoseconds).
    pub(super) value: u64,
    /// Values up to it.
    pub(super) total: u64,
}

/// The percentile ticks of `h`, 0 to 1 (the last).
pub(super) fn spectrum(h: &Histogram<u64>) -> impl Iterator<Item = Tick> + '_ {
    let mut total = 0u64;
    h.iter_quantiles(TICKS_PER_HALF_DISTANCE).map(move |step| {
        total += step.count_since_last_iteration();
        Tick {
            quantile: step.quantile_iterated_to(),
            value: step.value_iterated_to(),
            total,
        }
    })
}

/// The `.hgrm` text of `h` (nanoseconds).
pub(super) fn render(h: &Histogram<u64>) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_to(h, &mut out);
    out
}

fn write_to(h: &Histogram<u64>, out: &mut String) -> std::fmt::Result {
    let digits = usize::from(h.sigfig());
    writeln!(
        out,
        "# sockmux bench latency distribution; values in microseconds"
    )?;
    writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    )?;
    for tick in spectrum(h) {
        let value = tick.value as f64 / SCALE;
        let (quantile, total) = (tick.quantile, tick.total);
        write!(out, "{value:12.digits$} {quantile:2.12} {total:10}")?;
        if quantile < 1.0 {
            write!(out, " {:14.2}", 1.0 / (1.0 - quantile))?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "#[Mean    = {:12.digits$}, StdDeviation   = {:12.digits$}]",
        h.mean() / SCALE,
        h.stdev() / SCALE
    )?;
    writeln!(
        out,
        "#[Max     = {:12.digits$}, Total count    = {:12}]",
        h.max() as f64 / SCALE,
        h.len()
    )?;
    writeln!(
        out,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        sub_buckets(h.sigfig())
    )
}

/// Sub-buckets per bucket for `sigfig` significant digits: the smallest
/// power of two that holds 2 x 10^sigfig values with unit resolution
/// (HdrHistogram's rule; the crate keeps the number private).
fn sub_buckets(sigfig: u8) -> u64 {
    (2 * 10u64.pow(u32::from(sigfig))).next_power_of_two()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values 1..=10000 µs, once each.
    fn uniform() -> Histogram<u64> {
        let mut h = Histogram::<u64>::new_with_bounds(1, 600_000_000_000, 3).expect("bounds");
        for us in 1..=10_000u64 {
            h.record(us * 1000).expect("in range");
        }
        h
    }

    #[test]
    fn rows_tick_five_times_per_half_distance_and_end_at_the_total() {
        let h = uniform();
        let text = render(&h);
        let mut lines = text.lines();
        assert!(lines.next().is_some_and(|l| l.starts_with('#')));
        assert_eq!(
            lines.next(),
            Some("       Value     Percentile TotalCount 1/(1-Percentile)")
        );
        assert_eq!(lines.next(), Some(""));
        let rows: Vec<Vec<&str>> = lines
            .clone()
            .take_while(|l| !l.starts_with('#'))
            .map(|l| l.split_whitespace().collect())
            .collect();
        let quantiles: Vec<&str> = rows.iter().take(12).map(|r| r[1]).collect();
        assert_eq!(
            quantiles,
            [
                "0.000000000000",
                "0.100000000000",
                "0.200000000000",
                "0.300000000000",
                "0.400000000000",
                "0.500000000000",
                "0.550000000000",
                "0.600000000000",
                "0.650000000000",
                "0.700000000000",
                "0.750000000000",
                "0.775000000000",
            ]
        );
        assert_eq!(rows[5][3], "2.00");
        let last = rows.last().expect("rows");
        assert_eq!(last.len(), 3, "the 100% row has no 1/(1-p): {last:?}");
        assert_eq!(last[1], "1.000000000000");
        assert_eq!(last[2], "10000");
        let median: f64 = rows[5][0].parse().expect("a number");
        assert_eq!(median, h.value_at_quantile(0.5) as f64 / 1000.0);
        let footer: Vec<&str> = text.lines().filter(|l| l.starts_with("#[")).collect();
        assert_eq!(footer.len(), 3);
        assert!(
            footer[1].ends_with("Total count    =        10000]"),
            "{footer:?}"
        );
        assert!(
            footer[2].ends_with("SubBuckets     =         2048]"),
            "{footer:?}"
        );
    }

    #[test]
    fn an_empty_histogram_has_a_header_and_a_footer_only() {
        let h = Histogram::<u64>::new_with_bounds(1, 1000, 3).expect("bounds");
        let text = render(&h);
        assert_eq!(text.lines().count(), 6, "{text}");
        assert!(text.contains("Total count    =            0]"), "{text}");
    }
}

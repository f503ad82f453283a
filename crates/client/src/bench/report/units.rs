//! Numbers as people read them: counts with the right noun, durations in
//! the unit that suits each value, byte counts in decimal units. Used by
//! the text report and the chart labels.

/// `1 mismatch`, `2 mismatches`.
pub(super) fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A time unit for a value given in microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct TimeUnit {
    /// `µs`, `ms` or `s`.
    pub(super) name: &'static str,
    /// Microseconds per unit.
    pub(super) micros: f64,
}

const UNITS: [TimeUnit; 3] = [
    TimeUnit {
        name: "µs",
        micros: 1.0,
    },
    TimeUnit {
        name: "ms",
        micros: 1e3,
    },
    TimeUnit {
        name: "s",
        micros: 1e6,
    },
];

impl TimeUnit {
    /// The largest unit in which `us` microseconds is at least 1 (µs for
    /// anything smaller).
    pub(super) fn for_micros(us: f64) -> Self {
        // 999.95 would print as 1000.0: the next unit reads better.
        UNITS
            .into_iter()
            .rev()
            .find(|unit| us >= unit.micros * 0.99995)
            .unwrap_or(UNITS[0])
    }
}

/// `605.7 µs`, `1.85 ms`, `38.0 ms`, `2.50 s`: about three significant
/// digits.
pub(super) fn duration(us: f64) -> String {
    let unit = TimeUnit::for_micros(us);
    let value = us / unit.micros;
    if value < 9.995 {
        format!("{value:.2} {}", unit.name)
    } else {
        format!("{value:.1} {}", unit.name)
    }
}

/// `12.3 MB`: decimal units, as network rates are usually quoted.
pub(super) fn bytes(n: f64) -> String {
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

    #[test]
    fn durations_take_the_unit_that_suits_each_value() {
        assert_eq!(duration(0.0), "0.00 µs");
        assert_eq!(duration(5.2), "5.20 µs");
        assert_eq!(duration(108.84), "108.8 µs");
        assert_eq!(duration(999.96), "1.00 ms");
        assert_eq!(duration(1845.2), "1.85 ms");
        assert_eq!(duration(38_010.9), "38.0 ms");
        assert_eq!(duration(2_500_000.0), "2.50 s");
        assert_eq!(duration(600_000_000.0), "600.0 s");
    }

    #[test]
    fn counts_take_the_right_noun() {
        assert_eq!(plural(1, "connection", "connections"), "1 connection");
        assert_eq!(plural(0, "connection", "connections"), "0 connections");
        assert_eq!(plural(2, "mismatch", "mismatches"), "2 mismatches");
    }
}

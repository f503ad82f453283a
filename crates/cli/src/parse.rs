//! clap value parsers for every flag or argument that takes a number:
//! seconds, a rate, a byte size, a port, or a count of connections,
//! threads, requests or payloads. Owns the bounds: a value that would later
//! overflow a `Duration`, an `Instant` or an allocation, that makes no
//! sense (a client connecting to port 0, a server admitting 0 connections),
//! or that is negative, NaN or infinite is refused here, so clap reports it
//! with exit status 2 and no worker ever panics on it. What each flag means
//! belongs to its command; `tests/flag_sweep.rs` checks every numeric flag
//! of every command goes through one of these.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Longest time any flag accepts: one year, in seconds.
pub const MAX_SECONDS: u64 = 365 * 24 * 60 * 60;
/// Slowest open-loop rate, requests per second: one per 1000 s.
pub const MIN_RATE: f64 = 0.001;
/// Fastest open-loop rate, requests per second.
pub const MAX_RATE: f64 = 1e9;
/// Largest byte size any flag accepts: 1 GiB.
pub const MAX_BYTES: usize = 1 << 30;
/// Most connections (or requests in flight per connection) a client opens:
/// above any file-descriptor limit.
pub const MAX_CONNECTIONS: usize = 1_000_000;
/// Most threads (server workers, bench threads).
pub const MAX_THREADS: usize = 1024;
/// Most requests one run makes: more than a day at ten million a second.
pub const MAX_REQUESTS: u64 = 1_000_000_000_000;
/// Most payloads one connection sends.
pub const MAX_PAYLOADS: usize = 1_000_000_000;

/// A flag's time: what [`seconds`] parsed, shown in `--help` as seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Secs(pub Duration);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.as_secs_f64())
    }
}

/// Seconds above 0, at most [`MAX_SECONDS`] (fractions allowed).
pub fn seconds(text: &str) -> Result<Secs, String> {
    match seconds_or_zero(text) {
        Ok(Secs(d)) if !d.is_zero() => Ok(Secs(d)),
        _ => Err(format!(
            "must be a number of seconds above 0 and at most {MAX_SECONDS} (one year)"
        )),
    }
}

/// Seconds from 0 to [`MAX_SECONDS`] (fractions allowed).
pub fn seconds_or_zero(text: &str) -> Result<Secs, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|&s| (0.0..=MAX_SECONDS as f64).contains(&s))
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .map(Secs)
        .ok_or_else(|| format!("must be a number of seconds from 0 to {MAX_SECONDS} (one year)"))
}

/// Requests per second, from [`MIN_RATE`] to [`MAX_RATE`].
pub fn rate(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|&r| (MIN_RATE..=MAX_RATE).contains(&r))
        .ok_or_else(|| {
            format!("must be a number of requests per second from {MIN_RATE} to {MAX_RATE}")
        })
}

/// A byte size from 1 to [`MAX_BYTES`]: a number, or one with a binary
/// suffix (`64KiB`, `16MiB`, `1GiB`).
pub fn bytes(text: &str) -> Result<usize, String> {
    size(text, MAX_BYTES, "1GiB")
}

/// Largest memory budget: 1 TiB.
pub const MAX_BUDGET: usize = 1 << 40;

/// A memory budget from 1 byte to [`MAX_BUDGET`], with suffixes as
/// [`bytes`] takes them.
pub fn budget(text: &str) -> Result<usize, String> {
    size(text, MAX_BUDGET, "1TiB")
}

fn size(text: &str, max: usize, max_text: &str) -> Result<usize, String> {
    const UNITS: [(&str, usize); 4] = [
        ("KiB", 1 << 10),
        ("MiB", 1 << 20),
        ("GiB", 1 << 30),
        ("TiB", 1 << 40),
    ];
    let text = text.trim();
    let (digits, unit) = UNITS
        .iter()
        .find_map(|&(suffix, unit)| text.strip_suffix(suffix).map(|d| (d.trim_end(), unit)))
        .unwrap_or((text, 1));
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| {
            format!("must be a byte size from 1 to {max} ({max_text}): a number, or one ending in KiB, MiB, GiB or TiB")
        })
}

/// A JSON header size: 1 to 65,535 bytes, what the 2-byte length can say.
pub fn header_bytes(text: &str) -> Result<usize, String> {
    whole(text, 1, sockmux_proto::Limits::DEFAULT_MAX_HEADER, " bytes")
}

/// The largest PROXY v2 header to accept: at least its 16 fixed bytes, at
/// most what its 2-byte length can announce after them.
pub fn proxy_header(text: &str) -> Result<usize, String> {
    whole(text, 16, 16 + usize::from(u16::MAX), " bytes")
}

/// A number of connections, or of requests in flight on one, from 1 to
/// [`MAX_CONNECTIONS`].
pub fn connections(text: &str) -> Result<usize, String> {
    whole(text, 1, MAX_CONNECTIONS, "")
}

/// Most of anything a loop does per turn (reads of one connection,
/// accepts): more would let one source hold its loop for long.
const MAX_PER_TURN: usize = 65_536;

/// A number of operations per loop turn, from 1 to 65536.
pub fn per_turn(text: &str) -> Result<usize, String> {
    whole(text, 1, MAX_PER_TURN, "")
}

/// A number of threads from 1 to [`MAX_THREADS`].
pub fn threads(text: &str) -> Result<usize, String> {
    whole(text, 1, MAX_THREADS, "")
}

/// A number of requests from 1 to [`MAX_REQUESTS`].
pub fn requests(text: &str) -> Result<u64, String> {
    whole(text, 1, MAX_REQUESTS, "")
}

/// A number of payloads per connection from 1 to [`MAX_PAYLOADS`].
pub fn payloads(text: &str) -> Result<usize, String> {
    whole(text, 1, MAX_PAYLOADS, "")
}

/// The port a server binds: 0 asks the system for a free one.
pub fn server_port(text: &str) -> Result<u16, String> {
    whole(text, 0, u16::MAX, " (0 picks a free port)")
}

/// The port a client connects to: 1 to 65535, as no server listens on 0.
pub fn client_port(text: &str) -> Result<u16, String> {
    whole(text, 1, u16::MAX, " (no server listens on port 0)")
}

fn whole<T>(text: &str, min: T, max: T, unit: &str) -> Result<T, String>
where
    T: FromStr + PartialOrd + fmt::Display + Copy,
{
    text.trim()
        .parse::<T>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("must be a whole number from {min} to {max}{unit}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_take_fractions_up_to_a_year() {
        assert_eq!(seconds("0.5"), Ok(Secs(Duration::from_millis(500))));
        assert_eq!(
            seconds("31536000"),
            Ok(Secs(Duration::from_secs(MAX_SECONDS)))
        );
        assert_eq!(seconds_or_zero("0"), Ok(Secs(Duration::ZERO)));
    }

    #[test]
    fn seconds_refuse_what_a_duration_cannot_hold() {
        for bad in [
            "0", "-1", "NaN", "inf", "-inf", "1e19", "31536001", "1e-300", "", "x",
        ] {
            assert!(seconds(bad).is_err(), "{bad:?}");
        }
        for bad in ["-0.1", "NaN", "inf", "1e19"] {
            assert!(seconds_or_zero(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rates_stay_within_bounds() {
        assert_eq!(rate("1000"), Ok(1000.0));
        for bad in ["0", "1e-300", "-5", "NaN", "inf", "1e10"] {
            assert!(rate(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn counts_and_sizes_refuse_zero_and_huge_values() {
        assert_eq!(bytes("64"), Ok(64));
        assert_eq!(header_bytes("65535"), Ok(65535));
        assert_eq!(connections("1000000"), Ok(1_000_000));
        assert_eq!(threads("2"), Ok(2));
        let huge = "18446744073709551615";
        for parser in [bytes, header_bytes, connections, threads] {
            for bad in ["0", "-1", "1.5", huge, "99999999999999999999"] {
                assert!(parser(bad).is_err(), "{bad:?}");
            }
        }
        assert!(header_bytes("65536").is_err());
        assert!(bytes("1073741825").is_err());
    }

    #[test]
    fn sizes_take_binary_suffixes_within_bounds() {
        assert_eq!(bytes("64KiB"), Ok(64 << 10));
        assert_eq!(bytes("1GiB"), Ok(1 << 30));
        assert_eq!(budget("64 MiB"), Ok(64 << 20));
        assert_eq!(budget("1TiB"), Ok(MAX_BUDGET));
        for bad in [
            "0MiB",
            "2GiB",
            "1.5MiB",
            "MiB",
            "-1KiB",
            "18446744073709551615KiB",
            "1 mb",
        ] {
            assert!(bytes(bad).is_err(), "{bad:?}");
        }
        assert!(budget("1025GiB").is_err());
    }

    #[test]
    fn requests_and_payloads_refuse_zero_and_huge_values() {
        assert_eq!(requests("1000000000000"), Ok(MAX_REQUESTS));
        assert_eq!(payloads("3"), Ok(3));
        for bad in [
            "0",
            "-1",
            "NaN",
            "1e19",
            "1000000000001",
            "18446744073709551615",
        ] {
            assert!(requests(bad).is_err(), "{bad:?}");
        }
        for bad in ["0", "-1", "1000000001", "18446744073709551615"] {
            assert!(payloads(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_servers_take_port_0() {
        assert_eq!(server_port("0"), Ok(0));
        assert_eq!(server_port("65535"), Ok(65535));
        assert_eq!(client_port("65535"), Ok(65535));
        let err = client_port("0").expect_err("no server listens on 0");
        assert_eq!(
            err,
            "must be a whole number from 1 to 65535 (no server listens on port 0)"
        );
        for bad in ["-1", "65536", "NaN", "1e19", "18446744073709551615"] {
            assert!(server_port(bad).is_err(), "{bad:?}");
            assert!(client_port(bad).is_err(), "{bad:?}");
        }
    }
}

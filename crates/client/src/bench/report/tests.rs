//! Reports built from hand-made totals: when a run fails, and how the text
//! and JSON read.

use std::time::Duration;

use super::*;

fn settings(conns: usize) -> Settings {
    Settings {
        target: "echo",
        request: "64-byte messages".to_owned(),
        addr: "127.0.0.1:9".to_owned(),
        conns,
        threads: 1,
        depth: 1,
        batch: false,
        keep_alive: false,
        one_shot: false,
        rate: None,
        warmup: Duration::ZERO,
        tls: false,
    }
}

fn measured(interrupted: bool) -> Measured {
    Measured {
        elapsed: Duration::from_secs(2),
        throughput: Throughput::default(),
        first_connect_error: None,
        interrupted,
    }
}

/// One thread's totals: `latencies_us` verified responses, on one
/// connection.
fn totals(latencies_us: &[u64]) -> Totals {
    let mut t = Totals::new();
    t.counts.connections_opened = 1;
    for &us in latencies_us {
        t.counts.requests += 1;
        t.counts.bytes_sent += 21_050_000;
        t.latency.record(us * 1000).expect("in range");
    }
    t
}

#[test]
fn a_run_that_verified_nothing_fails_unless_stopped_by_hand() {
    let report = Report::new(settings(2), &[totals(&[])], measured(false));
    assert_eq!(
        report.failure.as_deref(),
        Some("no request answered and verified")
    );
    let text = report.to_string();
    assert!(
        text.contains("latency      none: no response was verified"),
        "{text}"
    );
    let stopped = Report::new(settings(2), &[totals(&[])], measured(true));
    assert_eq!(stopped.failure, None);
}

#[test]
fn requests_left_unanswered_fail_the_run() {
    let mut t = totals(&[100]);
    t.counts.unanswered = 1;
    let report = Report::new(settings(1), &[t], measured(false));
    assert_eq!(
        report.failure.as_deref(),
        Some("1 request left unanswered at the end")
    );
    assert!(report.to_string().contains(", 1 unanswered"));
    let json = serde_json::to_value(&report).expect("serializes");
    assert_eq!(json["unanswered"], 1);
}

#[test]
fn nothing_connected_is_the_one_cause_given() {
    let mut t = Totals::new();
    t.counts.connect_errors = 3;
    let mut m = measured(false);
    m.first_connect_error = Some("connection refused".to_owned());
    let report = Report::new(settings(3), &[t], m);
    assert!(!report.connected());
    assert_eq!(
        report.failure.as_deref(),
        Some("cannot connect to 127.0.0.1:9: connection refused")
    );
}

#[test]
fn text_scales_each_latency_and_agrees_in_number() {
    let report = Report::new(
        settings(1),
        &[totals(&[90, 100, 110, 38_000])],
        measured(false),
    );
    assert_eq!(report.failure, None);
    let text = report.to_string();
    assert!(
        text.starts_with(
            "echo (64-byte messages) against 127.0.0.1:9: 1 connection, 1 thread, depth 1, \
             closed loop\n"
        ),
        "{text}"
    );
    assert!(text.contains(" 84.2 MB       42.1 MB/s\n"), "{text}");
    assert!(!text.contains(" /s"), "{text}");
    assert!(text.contains("min 90.0 µs"), "{text}");
    assert!(text.contains("max 38.0 ms"), "{text}");
    // The mean and deviation of 90 µs, 100 µs, 110 µs and 38 ms.
    assert!(
        text.contains("mean 9.5") && text.contains(" ms  stdev 16.4 ms"),
        "{text}"
    );
    assert!(text.contains("p50 100.0 µs"), "{text}");
    assert!(text.contains("1 opened, 0 connect errors"), "{text}");
    assert!(
        text.contains("0 mismatches, 0 timeouts, 0 unanswered"),
        "{text}"
    );
}

#[test]
fn json_keeps_the_old_fields_and_adds_exact_mean_and_stdev() {
    let report = Report::new(settings(1), &[totals(&[100, 300])], measured(false));
    let json = serde_json::to_value(&report).expect("serializes");
    for field in [
        "requests",
        "requests_per_sec",
        "mismatches",
        "protocol_errors",
        "timeouts",
        "unanswered",
        "throughput",
        "failure",
    ] {
        assert!(json.get(field).is_some(), "{field} missing: {json}");
    }
    let latency = &json["latency_us"];
    // Exact to the histogram's three significant digits.
    let near = |field: &str, want: f64| {
        let got = latency[field].as_f64().expect("a number");
        assert!(
            (got - want).abs() <= want * 1e-3,
            "{field}: {got}, not {want}"
        );
    };
    near("p50", 100.0);
    near("mean", 200.0);
    near("stdev", 100.0);
    assert_eq!(json["failure"], serde_json::Value::Null);
}

//! `sockmux bench` tells the truth (issue 13): a run that verified nothing
//! or left requests unanswered fails, a failed run still prints its JSON,
//! the progress line stays off a pipe unless asked for, the text report
//! scales its units and agrees in number, `--hgrm` writes HdrHistogram's
//! percentile distribution and `--plot` an SVG that renders.
//!
//! The SVG is rendered with `rsvg-convert` (Debian's `librsvg2-bin`);
//! `.ci/run` installs it and sets `SOCKMUX_REQUIRE_RSVG=1`, so a missing
//! one fails there instead of skipping.

use std::path::Path;
use std::process::Command;

use sockmux_test_support::{free_port, Sockmux};

const SOCKMUX: Sockmux = Sockmux::new(env!("CARGO_BIN_EXE_sockmux"));

/// Runs `sockmux bench ARGS… --json`: exit code, the report, stderr.
fn bench_json(args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let (status, stdout, stderr) = SOCKMUX.run(["bench"].iter().chain(args).chain(&["--json"]));
    let report = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!("bench {args:?}: no JSON report ({e}):\nstdout: {stdout}\nstderr: {stderr}")
    });
    (status.code(), report, stderr)
}

#[test]
fn echo_load_on_an_app_server_verifies_nothing_and_fails() {
    // The app server reads the echo bytes as the start of a message that
    // never ends: it never answers, and the run must not pass for one.
    let server = SOCKMUX.start(&["app-server"]);
    let port = server.port().to_string();
    let run = [
        "echo",
        "127.0.0.1",
        &port,
        "--conns",
        "2",
        "--duration",
        "1",
    ];
    let (code, report, stderr) = bench_json(&run);
    assert_eq!(code, Some(1), "{report}\n{stderr}");
    assert_eq!(report["requests"], 0, "{report}");
    // One request per connection was sent in full and never answered.
    assert_eq!(report["unanswered"], 2, "{report}");
    assert_eq!(report["protocol_errors"], 0, "{report}");
    let why = "no request answered and verified, 2 requests left unanswered at the end";
    assert_eq!(report["failure"], why, "{report}");
    assert_eq!(
        stderr.trim(),
        format!("sockmux: error: {why}"),
        "one line, why"
    );

    let (status, stdout, stderr) = SOCKMUX.run(["bench"].iter().chain(&run));
    assert_eq!(status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("latency      none: no response was verified"),
        "{stdout}"
    );
    assert!(stdout.contains(", 2 unanswered"), "{stdout}");
}

#[test]
fn a_healthy_run_leaves_nothing_unanswered() {
    let server = SOCKMUX.start(&["echo-server"]);
    let port = server.port().to_string();
    let (code, report, stderr) = bench_json(&[
        "echo",
        "127.0.0.1",
        &port,
        "--duration",
        "1",
        "--conns",
        "8",
        "--depth",
        "4",
    ]);
    assert_eq!(code, Some(0), "{report}\n{stderr}");
    // The run ends with 32 requests out; they are answered in the wait
    // that follows, counted, and none is left unanswered.
    assert_eq!(report["unanswered"], 0, "{report}");
    assert_eq!(report["failure"], serde_json::Value::Null, "{report}");
    let requests = report["requests"].as_u64().expect("requests");
    let per_interval = report["throughput"]["requests"]
        .as_array()
        .expect("intervals");
    let sum: u64 = per_interval.iter().filter_map(|n| n.as_u64()).sum();
    assert_eq!(sum, requests, "{report}");
    assert_eq!(report["throughput"]["interval_secs"], 0.1, "{report}");
    assert_eq!(per_interval.len(), 10, "{report}");
}

#[test]
fn nothing_connecting_still_prints_the_json_report() {
    let port = free_port().to_string();
    let (code, report, stderr) = bench_json(&["app", "127.0.0.1", &port, "--duration", "60"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(report["connections_opened"], 0, "{report}");
    assert!(report["connect_errors"].as_u64() >= Some(50), "{report}");
    let why = format!("cannot connect to 127.0.0.1:{port}: connection refused");
    assert_eq!(report["failure"], why.as_str(), "{report}");
    assert!(
        stderr.contains(&format!("sockmux: error: {why}")),
        "{stderr}"
    );
}

#[test]
fn the_progress_line_stays_off_a_pipe_unless_asked_for() {
    let server = SOCKMUX.start(&["echo-server"]);
    let port = server.port().to_string();
    let run = ["bench", "echo", "127.0.0.1", &port, "--duration", "2.5"];
    // Progress comes once a second: a 2.5 s run would print two lines.
    let (status, _, stderr) = SOCKMUX.run(run);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("bench: "), "progress on a pipe: {stderr}");

    let (status, _, stderr) = SOCKMUX.run(run.iter().chain(&["--json", "--progress"]));
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr.lines().filter(|l| l.starts_with("bench: ")).count() >= 2,
        "asked for: {stderr}"
    );
}

#[test]
fn the_text_report_scales_units_and_agrees_in_number() {
    let server = SOCKMUX.start(&["echo-server"]);
    let port = server.port().to_string();
    let (status, stdout, stderr) = SOCKMUX.run([
        "bench",
        "echo",
        "127.0.0.1",
        &port,
        "--conns",
        "1",
        "--requests",
        "200",
    ]);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains(": 1 connection, 1 thread, depth 1, closed loop\n"),
        "{stdout}"
    );
    let latency = stdout
        .lines()
        .find(|l| l.starts_with("  latency "))
        .unwrap_or_else(|| panic!("no latency line:\n{stdout}"));
    for part in ["min ", "mean ", "stdev ", "max "] {
        let value = latency
            .split(part)
            .nth(1)
            .unwrap_or_else(|| panic!("no {part}in {latency}"));
        let unit = value.split_whitespace().nth(1).expect("a unit");
        assert!(["µs", "ms", "s"].contains(&unit), "{latency}");
    }
    assert!(stdout.contains("  percentiles  p50 "), "{stdout}");
    assert!(
        stdout.contains("kB/s") || stdout.contains("MB/s"),
        "{stdout}"
    );
    assert!(!stdout.contains(" /s"), "{stdout}");
    assert!(stdout.contains("1 opened, 0 connect errors"), "{stdout}");
}

/// One row of an `.hgrm` file: value (µs), percentile, total count.
fn rows(hgrm: &str) -> Vec<(f64, f64, u64)> {
    hgrm.lines()
        .skip_while(|l| !l.trim_start().starts_with("Value"))
        .skip(1)
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let number = |i: usize| f[i].parse::<f64>().expect("a number");
            (number(0), number(1), f[2].parse().expect("a count"))
        })
        .collect()
}

/// The number after `#[key =` or `, key =` in the footer (keys are padded
/// with spaces before the `=`).
fn footer(hgrm: &str, key: &str) -> f64 {
    let after = hgrm
        .lines()
        .filter(|l| l.starts_with("#["))
        .find_map(|l| l.split_once(key).map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("no {key} in\n{hgrm}"));
    let value = after.trim_start().strip_prefix('=').expect("an =");
    let number = value.split([',', ']']).next().expect("text");
    number.trim().parse().expect("a number")
}

#[test]
fn hgrm_holds_the_distribution_the_report_summarises() {
    let server = SOCKMUX.start(&["echo-server"]);
    let port = server.port().to_string();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("latency.hgrm");
    let (code, report, stderr) = bench_json(&[
        "echo",
        "127.0.0.1",
        &port,
        "--requests",
        "3000",
        "--conns",
        "4",
        "--hgrm",
        file.to_str().expect("UTF-8"),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let hgrm = std::fs::read_to_string(&file).expect("the .hgrm file");
    assert!(hgrm.starts_with("# "), "a comment names the unit:\n{hgrm}");
    assert!(hgrm
        .lines()
        .next()
        .is_some_and(|l| l.contains("microseconds")));
    assert!(
        hgrm.contains("       Value     Percentile TotalCount 1/(1-Percentile)\n\n"),
        "{hgrm}"
    );
    let rows = rows(&hgrm);
    let latency = &report["latency_us"];
    let us = |field: &str| latency[field].as_f64().expect("a number");
    // Three decimals of µs: the report's exact values within rounding.
    let close = |got: f64, want: f64| (got - want).abs() <= 0.0005 + want * 1e-9;
    let at = |p: f64| {
        rows.iter()
            .position(|r| (r.1 - p).abs() < 1e-12)
            .unwrap_or_else(|| panic!("no {p} row in\n{hgrm}"))
    };
    // The first row is the top of the fastest value's bucket (0.1 % wide),
    // the report's min its bottom.
    let first = rows[at(0.0)].0;
    assert!(
        first >= us("min") && first <= us("min") * 1.002 + 0.0005,
        "min\n{hgrm}\n{report}"
    );
    // A percentile's row holds the report's value, or the row before does:
    // the row's count may be rounded up by one where the report's is not.
    for (p, field) in [(0.5, "p50"), (0.9, "p90")] {
        let i = at(p);
        let (low, high) = (rows[i.saturating_sub(1)].0, rows[i].0);
        let want = us(field);
        assert!(
            want >= low - 0.0005 && want <= high + 0.0005,
            "{field}\n{hgrm}\n{report}"
        );
    }
    let last = rows.last().expect("rows");
    assert_eq!(last.1, 1.0, "{hgrm}");
    assert!(close(last.0, us("max")), "max\n{hgrm}\n{report}");
    assert_eq!(Some(last.2), report["requests"].as_u64(), "{hgrm}");
    assert!(rows
        .windows(2)
        .all(|w| w[0].0 <= w[1].0 && w[0].2 <= w[1].2));
    assert_eq!(footer(&hgrm, "Total count"), 3000.0);
    assert!(close(footer(&hgrm, "Mean"), us("mean")), "{hgrm}");
    assert!(close(footer(&hgrm, "StdDeviation"), us("stdev")), "{hgrm}");
    assert!(close(footer(&hgrm, "Max"), us("max")), "{hgrm}");
    assert_eq!(footer(&hgrm, "SubBuckets"), 2048.0);
}

/// `rsvg-convert`, if installed (required where `SOCKMUX_REQUIRE_RSVG` is
/// set).
fn rsvg_convert() -> bool {
    let found = Command::new("rsvg-convert")
        .arg("--version")
        .output()
        .is_ok();
    if !found {
        assert!(
            std::env::var_os("SOCKMUX_REQUIRE_RSVG").is_none(),
            "rsvg-convert is not installed (apt-get install librsvg2-bin)"
        );
        eprintln!("skipped: rsvg-convert is not installed");
    }
    found
}

/// A PNG's width and height, from its IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().expect("4 bytes"));
    (be(16), be(20))
}

#[test]
fn plot_writes_an_svg_that_renders() {
    let server = SOCKMUX.start(&["echo-server"]);
    let port = server.port().to_string();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let svg = dir.path().join("bench.svg");
    let (code, report, stderr) = bench_json(&[
        "echo",
        "127.0.0.1",
        &port,
        "--duration",
        "2",
        "--conns",
        "10",
        "--plot",
        svg.to_str().expect("UTF-8"),
    ]);
    assert_eq!(code, Some(0), "{report}\n{stderr}");
    let text = std::fs::read_to_string(&svg).expect("the SVG");
    assert!(text.starts_with("<svg"), "{}", &text[..text.len().min(200)]);
    assert!(text.contains("Latency by percentile"), "no latency chart");
    assert!(text.contains("Throughput"), "no throughput chart");
    assert!(text.contains("\n99.9%\n"), "no percentile axis");
    if !rsvg_convert() {
        return;
    }
    let png = dir.path().join("bench.png");
    let status = Command::new("rsvg-convert")
        .arg(&svg)
        .arg("-o")
        .arg(&png)
        .status()
        .expect("runs rsvg-convert");
    assert!(status.success(), "rsvg-convert failed on {}", show(&svg));
    let bytes = std::fs::read(&png).expect("the PNG");
    assert!(
        bytes.len() > 10_000,
        "a near-empty PNG: {} bytes",
        bytes.len()
    );
    assert_eq!(png_size(&bytes), (1000, 900));
}

fn show(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

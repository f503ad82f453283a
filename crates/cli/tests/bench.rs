//! `sockmux bench` end to end: bounded runs against each sockmux server
//! and each reference server (every response verified), against an echo
//! double that corrupts one byte in a thousand, and against a closed port.

use sockmux_test_support::doubles::CorruptingEcho;
use sockmux_test_support::{free_port, Seed, Sockmux};

const SOCKMUX: Sockmux = Sockmux::new(env!("CARGO_BIN_EXE_sockmux"));

/// Runs `sockmux bench ARGS… --json`: exit code, the report, stderr.
fn bench(args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let (status, stdout, stderr) = SOCKMUX.run(["bench"].iter().chain(args).chain(&["--json"]));
    let report = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!("bench {args:?}: no JSON report ({e}):\nstdout: {stdout}\nstderr: {stderr}")
    });
    (status.code(), report, stderr)
}

/// A run of `--duration 2` that must verify every response and answer
/// some.
fn clean_run(args: &[&str]) -> serde_json::Value {
    let (code, report, stderr) = bench(args);
    assert_eq!(code, Some(0), "bench {args:?}: {report}\n{stderr}");
    for counter in [
        "mismatches",
        "protocol_errors",
        "timeouts",
        "connect_errors",
    ] {
        assert_eq!(report[counter], 0, "bench {args:?}: {counter} in {report}");
    }
    assert!(report["requests"].as_u64() > Some(0), "{report}");
    assert!(report["requests_per_sec"].as_f64() > Some(0.0), "{report}");
    // The measured span ends at the duration's deadline whenever the run
    // lasts that long, so it is the duration exactly, however busy the
    // machine.
    assert_eq!(report["elapsed_secs"].as_f64(), Some(2.0), "{report}");
    let latency = &report["latency_us"];
    assert!(latency["min"].as_f64() > Some(0.0), "{report}");
    assert!(
        latency["p50"].as_f64() <= latency["p99"].as_f64(),
        "{report}"
    );
    assert!(
        latency["p99"].as_f64() <= latency["max"].as_f64(),
        "{report}"
    );
    report
}

#[test]
fn echo_against_sockmux_echo_server() {
    let server = SOCKMUX.start(&["echo-server"]);
    let port = server.port().to_string();
    let report = clean_run(&["echo", "127.0.0.1", &port, "--duration", "2"]);
    assert_eq!(report["connections_opened"], 50);
    let requests = report["requests"].as_u64().expect("requests");
    assert_eq!(report["bytes_received"].as_u64(), Some(requests * 64));
}

#[test]
fn app_against_sockmux_app_server_one_connection_per_request() {
    let server = SOCKMUX.start(&["app-server"]);
    let port = server.port().to_string();
    let report = clean_run(&[
        "app",
        "127.0.0.1",
        &port,
        "--duration",
        "2",
        "--conns",
        "20",
    ]);
    assert!(report["connections_opened"].as_u64() >= report["requests"].as_u64());
}

#[test]
fn app_against_sockmux_app_server_keep_alive_pipelined() {
    let server = SOCKMUX.start(&["app-server"]);
    let port = server.port().to_string();
    let report = clean_run(&[
        "app",
        "127.0.0.1",
        &port,
        "--duration",
        "2",
        "--keep-alive",
        "--depth",
        "4",
        "--conns",
        "20",
    ]);
    assert_eq!(report["connections_opened"], 20);
    clean_run(&[
        "app",
        "127.0.0.1",
        &port,
        "--duration",
        "2",
        "--keep-alive",
        "--binary",
        "--threads",
        "2",
    ]);
}

#[test]
fn echo_against_the_reference_server() {
    let Some(seed) = Seed::find() else { return };
    let server = seed.start("multiconn-server.py");
    let port = server.port().to_string();
    clean_run(&[
        "echo",
        "127.0.0.1",
        &port,
        "--duration",
        "2",
        "--conns",
        "5",
    ]);
}

#[test]
fn app_against_the_reference_server() {
    let Some(seed) = Seed::find() else { return };
    let server = seed.start("app-server.py");
    let port = server.port().to_string();
    clean_run(&["app", "127.0.0.1", &port, "--duration", "2", "--conns", "5"]);
    clean_run(&[
        "app",
        "127.0.0.1",
        &port,
        "--duration",
        "2",
        "--conns",
        "5",
        "--binary",
    ]);
}

#[test]
fn keep_alive_against_the_reference_server_reconnects_instead_of_failing() {
    let Some(seed) = Seed::find() else { return };
    let server = seed.start("app-server.py");
    let port = server.port().to_string();
    // The reference server ignores keep-alive and closes after each
    // answer (PROTOCOL.md section 4): every answer is still verified, and
    // each close is counted as such, not as an error.
    for depth in ["1", "4"] {
        let report = clean_run(&[
            "app",
            "127.0.0.1",
            &port,
            "--duration",
            "2",
            "--conns",
            "5",
            "--keep-alive",
            "--depth",
            depth,
        ]);
        let closed = report["closed_after_response"].as_u64().unwrap_or(0);
        assert!(closed > 0, "depth {depth}: {report}");
    }
}

#[test]
fn a_corrupted_byte_is_a_mismatch_and_fails_the_run() {
    let server = CorruptingEcho::start(1000);
    let port = server.port().to_string();
    let (code, report, stderr) = bench(&[
        "echo",
        "127.0.0.1",
        &port,
        "--duration",
        "1",
        "--conns",
        "5",
    ]);
    assert_eq!(code, Some(1), "{report}");
    let mismatches = report["mismatches"].as_u64().expect("mismatches");
    assert!(mismatches > 0, "{report}");
    // 64-byte messages, one byte in 1000 flipped: about 6 % are wrong, and
    // none of them counts as a request.
    let requests = report["requests"].as_u64().expect("requests");
    assert!(
        mismatches * 100 > requests * 3 && mismatches * 100 < requests * 10,
        "{report}"
    );
    assert!(stderr.contains("mismatches"), "{stderr}");
    assert!(report["first_mismatch"]
        .as_str()
        .is_some_and(|m| m.contains("came back as")));
}

#[test]
fn a_closed_port_is_a_clear_error_at_once() {
    let port = free_port().to_string();
    // An hour-long run: that `run` (bounded by a far shorter hang guard)
    // returns at all shows it did not wait out the duration.
    let (status, stdout, stderr) =
        SOCKMUX.run(["bench", "echo", "127.0.0.1", &port, "--duration", "3600"]);
    assert_eq!(status.code(), Some(1), "{stdout}");
    assert!(
        stderr.contains(&format!(
            "sockmux: error: cannot connect to 127.0.0.1:{port}: connection refused"
        )),
        "{stderr}"
    );
}

#[test]
fn a_request_count_is_exact() {
    let server = SOCKMUX.start(&["echo-server"]);
    let port = server.port().to_string();
    let (code, report, stderr) = bench(&[
        "echo",
        "127.0.0.1",
        &port,
        "--requests",
        "1000",
        "--conns",
        "7",
        "--depth",
        "3",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(report["requests"], 1000, "{report}");
}

#[test]
fn open_loop_sends_no_faster_than_the_rate() {
    let server = SOCKMUX.start(&["app-server"]);
    let port = server.port().to_string();
    let (code, report, stderr) = bench(&[
        "app",
        "127.0.0.1",
        &port,
        "--keep-alive",
        "--rate",
        "500",
        "--requests",
        "500",
        "--conns",
        "10",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(report["requests"], 500, "{report}");
    assert_eq!(report["rate"], 500.0, "{report}");
    // Request k is not sent before k / 500 s, so the last of 500 is not
    // answered before 499 / 500 s (less a microsecond of rounding in the
    // schedule).
    let elapsed = report["elapsed_secs"].as_f64().expect("elapsed");
    assert!(elapsed >= 0.998 - 1e-6, "{report}");
}

#[test]
fn batched_pipelining_answers_every_request() {
    let server = SOCKMUX.start(&["app-server"]);
    let port = server.port().to_string();
    let (code, report, stderr) = bench(&[
        "app",
        "127.0.0.1",
        &port,
        "--keep-alive",
        "--depth",
        "16",
        "--batch",
        "--conns",
        "10",
        "--requests",
        "1600",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(report["requests"], 1600, "{report}");
    assert_eq!(report["batch"], true, "{report}");
    assert_eq!(report["mismatches"], 0, "{report}");
}

//! Zero-downtime restarts: a new server takes the listening sockets of the
//! running one over its control socket (`--control PATH --takeover`), and
//! the old one drains. A load generator running across ten restarts sees
//! no refused connection, no reset, no lost or wrong answer.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use sockmux_test_support::{wait_timeout, Sockmux, WAIT};

const SOCKMUX: Sockmux = Sockmux::new(env!("CARGO_BIN_EXE_sockmux"));

/// A server on `control` (taking over from the one there when `takeover`).
fn server(control: &Path, takeover: bool) -> sockmux_test_support::Server {
    let control = control.to_str().expect("a UTF-8 path");
    let mut args = vec!["app-server", "--workers", "2", "--control", control];
    if takeover {
        args.push("--takeover");
    }
    SOCKMUX.start(&args)
}

fn bench(port: u16, extra: &[&str]) -> Child {
    let port = port.to_string();
    let mut args = vec!["-q", "bench", "app", "127.0.0.1", &port, "--json"];
    args.extend_from_slice(extra);
    SOCKMUX
        .command()
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("bench starts")
}

fn report(child: Child) -> serde_json::Value {
    let out = child.wait_with_output().expect("bench output");
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("bench report {last:?}: {e}"))
}

#[test]
fn ten_takeovers_under_load_refuse_reset_and_lose_nothing() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let control = dir.path().join("control.sock");
    let mut old = server(&control, false);
    let port = old.port();
    // One connection per request (the reference client's way), so every
    // restart meets connections being opened, waiting in the accept
    // queue, and half answered.
    let load = bench(port, &["--conns", "8", "--duration", "8"]);
    std::thread::sleep(Duration::from_millis(300));
    for round in 0..10 {
        let new = server(&control, true);
        assert_eq!(new.port(), port, "round {round}: the same sockets");
        let status = old.wait_exit();
        assert!(
            status.success(),
            "round {round}: the old server exited {status:?}"
        );
        old = new;
        std::thread::sleep(Duration::from_millis(300));
    }
    let report = report(load);
    let requests = report["requests"].as_u64().expect("requests");
    assert!(
        requests > 1000,
        "too little load to mean anything: {report}"
    );
    for field in [
        "connect_errors",
        "protocol_errors",
        "mismatches",
        "timeouts",
    ] {
        assert_eq!(report[field], 0, "{field} across ten restarts: {report}");
    }
    eprintln!("ten takeovers under load: {requests} requests, 0 errors of any kind");
    assert!(old.is_alive(), "the last server still serves");
    assert!(old.terminate().code() == Some(143));
}

#[test]
fn a_control_socket_a_live_server_answers_on_is_refused_without_takeover() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let control = dir.path().join("control.sock");
    let _first = server(&control, false);
    let mut second = SOCKMUX
        .command()
        .args([
            "app-server",
            "--control",
            control.to_str().expect("UTF-8"),
            "127.0.0.1",
            "0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let status = wait_timeout(&mut second, WAIT).expect("exits");
    assert_eq!(
        status.code(),
        Some(1),
        "a second server on a live control socket"
    );
}

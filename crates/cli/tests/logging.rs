//! A log line can never kill a process: with stderr closed under it, the
//! server goes on answering and still shuts down cleanly on a signal, and
//! the clients finish their work.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use sockmux_proto::encode;
use sockmux_test_support::Sockmux;

const SOCKMUX: Sockmux = Sockmux::new(env!("CARGO_BIN_EXE_sockmux"));

#[test]
fn a_closed_stderr_does_not_stop_the_server() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sockmux"))
        // Debug level: every connection logs, into the closed pipe.
        .args(["-v", "app-server", "--workers", "2", "127.0.0.1", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sockmux");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    // Nobody reads stderr any more: writes to it fail with EPIPE.
    drop(child.stderr.take());

    let mut request = Vec::new();
    encode::search_request("morpheus", false, &mut request).unwrap();
    for i in 0..50 {
        let mut stream = TcpStream::connect(&addr)
            .unwrap_or_else(|e| panic!("connection {i}: the server is gone: {e}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(&request).unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        assert!(
            String::from_utf8_lossy(&response).contains("white rabbit"),
            "connection {i}: {response:?}"
        );
    }
    sigterm(child.id());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "{status}");
}

/// SIGTERM, through the `kill` command (no libc in the tests).
fn sigterm(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Runs `sockmux ARGS…` with its stderr a pipe nobody reads any more
/// (every write fails with EPIPE), bounded in time: exit code and stdout.
fn run_without_stderr(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sockmux"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sockmux");
    drop(child.stderr.take());
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let status = sockmux_test_support::wait_timeout(&mut child, sockmux_test_support::WAIT)
        .expect("the client ends");
    (status.code(), stdout)
}

/// The clients' own lines to stderr (the `--raw` transcript, bench's
/// progress lines) must not end the run when stderr is gone: `eprintln!`
/// panicked there on EPIPE, exit 101.
#[test]
fn clients_finish_their_work_with_stderr_closed() {
    let server = SOCKMUX.start(&["app-server"]);
    let port = server.port().to_string();
    let (code, stdout) = run_without_stderr(&[
        "app-client",
        "--raw",
        "127.0.0.1",
        &port,
        "search",
        "morpheus",
    ]);
    assert_eq!(code, Some(0), "app-client --raw: {stdout}");
    assert!(stdout.contains("white rabbit"), "{stdout}");

    let (code, stdout) = run_without_stderr(&[
        "bench",
        "app",
        "127.0.0.1",
        &port,
        "--conns",
        "2",
        "--duration",
        "1.5",
    ]);
    assert_eq!(code, Some(0), "bench: {stdout}");
    assert!(stdout.contains("requests"), "{stdout}");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let mut server = SOCKMUX.start(&["--log-format", "json", "app-server"]);
    assert!(server.wait_for_log("app service on"), "the start line");
    server.terminate();
    let log = server.log();
    let lines: Vec<&str> = log.lines().filter(|l| !l.is_empty()).collect();
    assert!(lines.len() >= 2, "{log}");
    for line in lines {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        assert!(
            value["level"].is_string() && value["fields"]["message"].is_string(),
            "{line}"
        );
    }
}

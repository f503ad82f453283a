//! `sockmux app-client` end to end: the real binary against the reference
//! `app-server.py`, against `sockmux app-server`, and against doubles that
//! record its bytes or misbehave on purpose.

use std::process::ExitStatus;

use sockmux_client::PyBytes;
use sockmux_test_support::doubles::{Recorder, Reply};
use sockmux_test_support::{free_port, Seed, Sockmux};

const SOCKMUX: Sockmux = Sockmux::new(env!("CARGO_BIN_EXE_sockmux"));

/// Runs `sockmux app-client ARGS…`: status, stdout, stderr.
fn app_client(args: &[&str]) -> (ExitStatus, String, String) {
    SOCKMUX.run(["app-client"].iter().chain(args))
}

/// Runs it and insists on success.
fn ok(args: &[&str]) -> String {
    let (status, stdout, stderr) = app_client(args);
    assert!(
        status.success(),
        "app-client {args:?} failed ({status}):\nstdout: {stdout}\nstderr: {stderr}"
    );
    stdout
}

/// One request of each kind the reference client makes, with the result
/// line our client must print for it.
const CASES: [(&str, &str, &str); 4] = [
    ("search", "morpheus", "Follow the white rabbit. 🐰"),
    ("search", "nobody", "No match for \"nobody\"."),
    ("search", "🐶", "🐾 Playing ball! 🏐"),
    (
        "echo",
        "hello world",
        "First 10 bytes of request: echohello ",
    ),
];

#[test]
fn sends_the_same_bytes_as_the_reference_client() {
    let Some(seed) = Seed::find() else { return };
    let recorder = Recorder::start(Reply::Service);
    let port = recorder.port().to_string();
    let mut cases: Vec<(&str, &str)> = CASES.iter().map(|&(a, v, _)| (a, v)).collect();
    // Escapes and non-ASCII must be written as Python's json.dumps does.
    cases.push(("search", "tab\tquote\"back\\slash\u{1}é"));
    cases.push(("frob", "ünï"));
    for (action, value) in cases {
        let (status, _, stderr) = seed.run("app-client.py", &["127.0.0.1", &port, action, value]);
        assert!(status.success(), "app-client.py failed: {stderr}");
        let theirs = recorder.next_request();
        ok(&["127.0.0.1", &port, action, value]);
        let ours = recorder.next_request();
        assert_eq!(
            ours,
            theirs,
            "{action} {value:?}:\n ours:   {}\n theirs: {}",
            PyBytes(&ours),
            PyBytes(&theirs)
        );
    }
}

#[test]
fn prints_results_from_the_reference_server() {
    let Some(seed) = Seed::find() else { return };
    let server = seed.start("app-server.py");
    let port = server.port().to_string();
    for (action, value, result) in CASES {
        let stdout = ok(&["127.0.0.1", &port, action, value]);
        assert_eq!(stdout, format!("{result}\n"), "{action} {value}");
    }
}

#[test]
fn keep_alive_against_the_reference_server_reconnects_for_each_value() {
    let Some(seed) = Seed::find() else { return };
    let server = seed.start("app-server.py");
    let port = server.port().to_string();
    let (status, stdout, stderr) = app_client(&[
        "--keep-alive",
        "--raw",
        "127.0.0.1",
        &port,
        "search",
        "morpheus",
        "ring",
        "nobody",
    ]);
    assert!(status.success(), "{stderr}");
    assert_eq!(
        stdout,
        "Follow the white rabbit. 🐰\nIn the caves beneath the Misty Mountains. 💍\nNo match for \"nobody\".\n"
    );
    // The reference server ignores keep-alive and closes: one connection
    // per value.
    assert_eq!(stderr.matches("starting connection").count(), 3, "{stderr}");
}

#[test]
fn answers_from_sockmux_app_server_with_and_without_keep_alive() {
    let server = SOCKMUX.start(&["app-server"]);
    let port = server.port().to_string();
    let expected = "Follow the white rabbit. 🐰\nNo match for \"x\".\n🐾 Playing ball! 🏐\n";
    for (flags, connections) in [(&[][..], 3), (&["--keep-alive"][..], 1)] {
        let mut args = flags.to_vec();
        args.extend(["--raw", "127.0.0.1", &port, "search", "morpheus", "x", "🐶"]);
        let (status, stdout, stderr) = app_client(&args);
        assert!(status.success(), "{flags:?}: {stderr}");
        assert_eq!(stdout, expected, "{flags:?}");
        assert_eq!(
            stderr.matches("starting connection").count(),
            connections,
            "{flags:?}: {stderr}"
        );
        let keep_alive_sent = stderr.contains(r#""keep-alive": true}"#);
        assert_eq!(keep_alive_sent, !flags.is_empty(), "{stderr}");
    }
}

#[test]
fn raw_shows_the_exchange_as_the_reference_prints_bytes() {
    let server = SOCKMUX.start(&["app-server"]);
    let (status, _, stderr) = app_client(&[
        "--raw",
        "127.0.0.1",
        &server.port().to_string(),
        "search",
        "morpheus",
    ]);
    assert!(status.success());
    let sent = r#"sending b'\x00g{"byteorder": "little", "content-type": "text/json", "content-encoding": "utf-8", "content-length": 41}{"action": "search", "value": "morpheus"}'"#;
    assert!(
        cfg!(target_endian = "big") || stderr.contains(sent),
        "{stderr}"
    );
    assert!(
        stderr.contains(r#"received b'\x00g{"byteorder""#),
        "{stderr}"
    );
    assert!(
        stderr.contains(r#"{"result": "Follow the white rabbit. \xf0\x9f\x90\xb0"}'"#),
        "{stderr}"
    );
}

#[test]
fn json_prints_header_and_content_per_response() {
    let server = SOCKMUX.start(&["app-server"]);
    let port = server.port().to_string();
    let stdout = ok(&["--json", "127.0.0.1", &port, "search", "ring"]);
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(line["header"]["content-type"], "text/json");
    assert_eq!(line["header"]["content-length"], 60);
    assert_eq!(
        line["content"]["result"],
        "In the caves beneath the Misty Mountains. 💍"
    );

    let stdout = ok(&["--json", "127.0.0.1", &port, "echo", "hi"]);
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(
        line["header"]["content-type"],
        "binary/custom-server-binary-type"
    );
    assert_eq!(line["content"], "First 10 bytes of request: echohi");
}

/// Runs the client against `reply` and checks it fails with `code` and a
/// message containing `needle`.
fn fails_with(reply: Reply, extra: &[&str], code: i32, needle: &str) {
    let recorder = Recorder::start(reply);
    let port = recorder.port().to_string();
    let mut args = extra.to_vec();
    args.extend(["127.0.0.1", &port, "search", "morpheus"]);
    let (status, stdout, stderr) = app_client(&args);
    assert_eq!(
        status.code(),
        Some(code),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
}

#[test]
fn an_unreachable_server_is_a_one_line_error() {
    let port = free_port().to_string();
    let (status, _, stderr) = app_client(&["127.0.0.1", &port, "search", "x"]);
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        stderr.trim(),
        format!("sockmux: error: cannot connect to 127.0.0.1:{port}: connection refused")
    );
}

#[test]
fn a_silent_server_times_out() {
    fails_with(
        Reply::Silent,
        &["--timeout", "0.5"],
        1,
        "timed out after 0.5 s waiting for the response",
    );
}

#[test]
fn a_server_closing_early_is_named() {
    fails_with(
        Reply::Close,
        &[],
        1,
        "closed the connection before the response was complete",
    );
    let mut partial = Vec::new();
    sockmux_proto::encode::search_request("x", false, &mut partial).expect("encodes");
    partial.truncate(20);
    fails_with(
        Reply::Bytes(partial),
        &[],
        1,
        "(20 bytes of it had arrived)",
    );
}

#[test]
fn a_malformed_response_is_named() {
    fails_with(
        Reply::Bytes(b"\x00\x02{}".to_vec()),
        &[],
        1,
        "malformed response",
    );
    fails_with(
        Reply::Bytes(b"\x00\x05hello".to_vec()),
        &[],
        1,
        "malformed response from 127.0.0.1",
    );
}

#[test]
fn an_error_answer_is_printed_and_exits_3() {
    let mut wire = Vec::new();
    sockmux_proto::error_response(&sockmux_proto::ProtoError::EmptyContent, &mut wire)
        .expect("encodes");
    let recorder = Recorder::start(Reply::Bytes(wire));
    let port = recorder.port().to_string();
    let (status, stdout, stderr) = app_client(&["127.0.0.1", &port, "search", "x"]);
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert_eq!(stdout, "Error: the request has no content.\n");
    assert!(stderr.contains("answered with an error"), "{stderr}");
}

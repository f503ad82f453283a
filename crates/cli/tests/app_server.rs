//! `sockmux app-server` end to end: the real binary on port 0, real sockets,
//! the reference client where it is available.

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use sockmux_proto::encode;
use sockmux_test_support::app::{
    ask, assert_still_answers, bad_inputs, closes, read_responses, result, search,
};
use sockmux_test_support::{Seed, Sockmux, WAIT};

const SOCKMUX: Sockmux = Sockmux::new(env!("CARGO_BIN_EXE_sockmux"));

#[test]
fn reference_client_gets_every_answer() {
    let Some(seed) = Seed::find() else { return };
    let server = SOCKMUX.start(&["app-server"]);
    let port = server.port().to_string();
    let cases: [(&str, &str, &str); 5] = [
        (
            "search",
            "morpheus",
            "got result: Follow the white rabbit. \u{1f430}",
        ),
        (
            "search",
            "ring",
            "got result: In the caves beneath the Misty Mountains. \u{1f48d}",
        ),
        (
            "search",
            "\u{1f436}",
            "got result: \u{1f43e} Playing ball! \u{1f3d0}",
        ),
        ("search", "nobody", "got result: No match for \"nobody\"."),
        (
            "echo",
            "hello",
            "got response: b'First 10 bytes of request: echohello'",
        ),
    ];
    for (action, value, expected) in cases {
        let (status, stdout, stderr) =
            seed.run("app-client.py", &["127.0.0.1", &port, action, value]);
        assert!(status.success(), "{action} {value}: {stderr}");
        assert!(
            stdout.lines().any(|l| l == expected),
            "{action} {value}: expected line {expected:?} in:\n{stdout}"
        );
        assert!(!stdout.contains("error"), "{stdout}");
    }
}

#[test]
fn answers_a_thousand_pipelined_keep_alive_requests_in_order() {
    let server = SOCKMUX.start(&["app-server"]);
    let mut stream = server.connect();
    let keys = ["morpheus", "ring", "nobody", "\u{1f436}"];
    let mut wire = Vec::new();
    for i in 0..1000 {
        encode::search_request(keys[i % 4], true, &mut wire).expect("encode");
    }
    let writer = {
        let mut stream = stream.try_clone().expect("clone");
        thread::spawn(move || stream.write_all(&wire).expect("send all"))
    };
    let (got, closed) = read_responses(&mut stream, 1000);
    writer.join().expect("writer");
    assert!(!closed);
    assert_eq!(got.len(), 1000);
    let table = sockmux_proto::Table::builtin();
    for (i, (keep_alive, content)) in got.iter().enumerate() {
        let key = keys[i % 4];
        let expected = match table.get(key) {
            Some(answer) => result(answer),
            None => result(&format!("No match for \"{key}\".")),
        };
        assert!(keep_alive, "response {i} keeps the connection");
        assert_eq!(content, &expected, "response {i}");
    }
    // Still open and answering.
    stream.write_all(&search("ring", false)).expect("send");
    let (last, _) = read_responses(&mut stream, 1);
    assert_eq!(
        last[0],
        (
            false,
            result("In the caves beneath the Misty Mountains. \u{1f48d}")
        )
    );
    assert!(
        closes(&mut stream),
        "closes after a response without keep-alive"
    );
}

#[test]
fn closes_after_one_response_without_keep_alive() {
    let server = SOCKMUX.start(&["app-server"]);
    let mut stream = server.connect();
    let mut wire = search("ring", false);
    wire.extend(search("morpheus", false));
    stream.write_all(&wire).expect("send");
    let (got, closed) = read_responses(&mut stream, 2);
    assert_eq!(got.len(), 1, "the second request is not answered");
    assert!(!got[0].0, "no keep-alive key in the response");
    assert!(closed, "the server closed after one response");
}

#[test]
fn answers_binary_requests_like_the_reference() {
    let server = SOCKMUX.start(&["app-server"]);
    let mut wire = Vec::new();
    encode::binary_request("echo", "hello world", false, &mut wire).expect("encode");
    assert_eq!(
        ask(&server, &wire),
        b"First 10 bytes of request: echohello "
    );
}

#[test]
fn every_bad_input_gets_an_error_response_and_the_server_goes_on() {
    let server = SOCKMUX.start(&["app-server"]);
    for (name, wire, expected) in bad_inputs() {
        eprintln!("case: {name}");
        let mut stream = server.connect();
        stream.write_all(&wire).expect("send");
        let (got, _) = read_responses(&mut stream, 1);
        assert_eq!(got.len(), 1, "{name}: one error response");
        let text = String::from_utf8_lossy(&got[0].1).into_owned();
        assert!(
            text.starts_with(&format!("{{\"result\": \"{expected}")),
            "{name}: got {text}, expected it to start with {expected}"
        );
        assert!(closes(&mut stream), "{name}: closed after the error");
        assert_still_answers(&server);
    }
}

#[test]
fn peer_closing_mid_message_costs_nothing_else() {
    let server = SOCKMUX.start(&["app-server"]);
    let wire = search("morpheus", false);
    for cut in [1, 2, 50, wire.len() - 1] {
        let mut stream = server.connect();
        stream.write_all(&wire[..cut]).expect("send");
        stream.shutdown(Shutdown::Write).expect("half-close");
        assert!(closes(&mut stream), "cut at {cut}: closed");
        assert_still_answers(&server);
    }
}

#[test]
fn stalled_peer_is_closed_after_the_idle_timeout() {
    let server = SOCKMUX.start(&["app-server", "--idle-timeout", "1"]);
    // Taken before connecting: the server's clock for this connection
    // cannot start earlier.
    let start = Instant::now();
    let mut stream = server.connect();
    let wire = search("morpheus", true);
    stream.write_all(&wire[..10]).expect("send half");
    let (got, closed) = read_responses(&mut stream, 1);
    let waited = start.elapsed();
    assert!(closed || got.len() == 1);
    assert_eq!(
        got[0].1,
        result("Error: no complete message within the idle timeout of 1 s.")
    );
    assert!(!got[0].0, "the error response does not keep the connection");
    assert!(closes(&mut stream));
    assert!(
        waited >= Duration::from_secs(1),
        "closed before the idle timeout: {waited:?}"
    );
    assert_still_answers(&server);
}

#[test]
fn connection_over_the_limit_gets_an_error_and_the_others_keep_working() {
    let mut server = SOCKMUX.start(&["app-server", "--max-connections", "3", "--workers", "1"]);
    let mut held: Vec<TcpStream> = (0..3).map(|_| server.connect()).collect();
    // Make sure the server has accepted all three before the fourth comes.
    for stream in &mut held {
        stream.write_all(&search("ring", true)).expect("send");
        let (got, _) = read_responses(stream, 1);
        assert_eq!(got.len(), 1);
    }
    let mut extra = server.connect();
    let (got, closed) = read_responses(&mut extra, 1);
    assert_eq!(
        got[0].1,
        result("Error: the server is at its limit of 3 connections, try again later.")
    );
    assert!(closed || closes(&mut extra));
    for stream in &mut held {
        stream.write_all(&search("morpheus", true)).expect("send");
        let (got, _) = read_responses(stream, 1);
        assert_eq!(got[0].1, result("Follow the white rabbit. \u{1f430}"));
    }
    drop(held);
    // Slots free up once the held connections close.
    let start = Instant::now();
    loop {
        let mut stream = server.connect();
        stream.write_all(&search("morpheus", false)).expect("send");
        let (got, _) = read_responses(&mut stream, 1);
        if got[0].1 == result("Follow the white rabbit. \u{1f430}") {
            break;
        }
        assert!(start.elapsed() < WAIT, "slots never freed");
        thread::sleep(Duration::from_millis(20));
    }
    assert!(server.wait_for_log("max-connections (3) reached"));
}

#[test]
fn table_file_is_served_and_a_bad_one_is_a_clear_startup_error() {
    let dir = std::env::temp_dir().join(format!("sockmux-table-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let good = dir.join("good.json");
    std::fs::write(&good, r#"{"neo": "The One.", "q": "say \"hi\""}"#).expect("write");
    let server = SOCKMUX.start(&["app-server", "--table", good.to_str().expect("utf-8 path")]);
    assert_eq!(ask(&server, &search("neo", false)), result("The One."));
    assert_eq!(ask(&server, &search("q", false)), result("say \"hi\""));
    assert_eq!(
        ask(&server, &search("morpheus", false)),
        result("No match for \"morpheus\".")
    );

    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"neo": 5}"#).expect("write");
    let bad = bad.to_str().expect("utf-8 path");
    let (status, _, stderr) = SOCKMUX.run(["app-server", "127.0.0.1", "0", "--table", bad]);
    assert!(!status.success());
    assert!(stderr.contains("bad.json"), "names the file: {stderr}");
    assert!(
        stderr.contains("an answer that is not a string at line 1 column 9"),
        "names the problem: {stderr}"
    );
}

#[test]
fn sigterm_answers_requests_in_flight_and_exits_143() {
    let mut server = SOCKMUX.start(&["app-server"]);
    // Requests whose first half is in before the signal and second half after.
    let mut halves = Vec::new();
    for i in 0..20 {
        let mut stream = server.connect();
        let wire = search(if i % 2 == 0 { "ring" } else { "morpheus" }, true);
        stream
            .write_all(&wire[..wire.len() / 2])
            .expect("first half");
        halves.push((stream, wire));
    }
    // And complete keep-alive requests whose responses are owed.
    let mut whole = Vec::new();
    for _ in 0..20 {
        let mut stream = server.connect();
        stream.write_all(&search("morpheus", true)).expect("send");
        whole.push(stream);
    }
    thread::sleep(Duration::from_millis(100));
    let pid = server.pid().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    thread::sleep(Duration::from_millis(100));
    for (stream, wire) in &mut halves {
        stream
            .write_all(&wire[wire.len() / 2..])
            .expect("second half");
    }
    for (i, (stream, wire)) in halves.iter_mut().enumerate() {
        let (got, closed) = read_responses(stream, 2);
        assert_eq!(got.len(), 1, "half {i}: one answer");
        assert!(!got[0].0, "drain answers without keep-alive");
        assert!(closed);
        let _ = wire;
    }
    for stream in &mut whole {
        let (got, _) = read_responses(stream, 1);
        assert_eq!(got[0].1, result("Follow the white rabbit. \u{1f430}"));
    }
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(143), "exit status {status:?}");
}

#[test]
fn an_acceptor_thread_hands_connections_to_every_worker() {
    let mut server = SOCKMUX.start(&["app-server", "--workers", "2", "--accept", "handoff"]);
    let mut keep = Vec::new();
    for i in 0..20 {
        assert_still_answers(&server);
        // Some connections stay open, spread over both workers.
        if i % 2 == 0 {
            let mut stream = server.connect();
            stream.write_all(&search("ring", true)).expect("send");
            let (got, _) = read_responses(&mut stream, 1);
            assert_eq!(
                got[0].1,
                result("In the caves beneath the Misty Mountains. \u{1f48d}")
            );
            keep.push(stream);
        }
    }
    drop(keep);
    let status = server.terminate();
    assert_eq!(status.code(), Some(143), "exit status {status:?}");
}

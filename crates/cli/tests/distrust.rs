//! Clients that distrust their server (issue 10, class 5), run through the
//! real binary against doubles: a server dripping its answer a byte at a
//! time does not stretch `app-client --timeout`, a response announcing
//! more than `--max-response` fails as soon as its header arrives (the
//! doubles flood without end, so a client that kept reading would hang),
//! and `bench` quotes a huge wrong answer by its start, length and hash.

use std::process::ExitStatus;
use std::time::Duration;

use sockmux_proto::encode;
use sockmux_test_support::doubles::{Recorder, Reply};
use sockmux_test_support::Sockmux;

const SOCKMUX: Sockmux = Sockmux::new(env!("CARGO_BIN_EXE_sockmux"));

/// Runs `sockmux ARGS… 127.0.0.1 PORT TAIL…` against a double answering
/// with `reply`: status, stdout, stderr.
fn against(reply: Reply, args: &[&str], tail: &[&str]) -> (ExitStatus, String, String) {
    let double = Recorder::start(reply);
    let port = double.port().to_string();
    let mut all = args.to_vec();
    all.extend(["127.0.0.1", &port]);
    all.extend(tail);
    SOCKMUX.run(&all)
}

/// The protoheader and JSON header of a binary response announcing `len`
/// bytes of content, without the content.
fn header_announcing(len: usize) -> Vec<u8> {
    let mut whole = Vec::new();
    encode::message(&mut whole, "binary/x", "binary", &[], false).expect("encodes");
    let header = String::from_utf8(whole[2..].to_vec())
        .expect("UTF-8")
        .replace(
            "\"content-length\": 0",
            &format!("\"content-length\": {len}"),
        );
    let mut out = (header.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out
}

#[test]
fn app_client_timeout_is_one_deadline_for_a_dripping_response() {
    // The whole answer would take over 30 s at this pace; each byte comes
    // well within the timeout, so only one deadline per response ends it.
    let mut answer = Vec::new();
    encode::message(
        &mut answer,
        "text/json",
        "utf-8",
        &[br#"{"result": "a right answer, sent one byte at a time, ever so slowly"}"#],
        false,
    )
    .expect("encodes");
    let drip = Reply::Drip {
        bytes: answer,
        every: Duration::from_millis(250),
    };
    let (status, stdout, stderr) = against(
        drip,
        &["app-client", "--timeout", "1"],
        &["search", "morpheus"],
    );
    assert_eq!(status.code(), Some(1), "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stderr.contains("timed out after 1 s waiting for the response"),
        "{stderr}"
    );
}

#[test]
fn app_client_refuses_a_response_above_max_response_unread() {
    let (status, _, stderr) = against(
        Reply::Flood(header_announcing(1 << 20)),
        &["app-client", "--max-response", "65536"],
        &["search", "morpheus"],
    );
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr
            .contains("content-length 1048576 is above the limit of 65536 bytes (--max-response)"),
        "{stderr}"
    );

    // The default: 16 MiB.
    let (status, _, stderr) = against(
        Reply::Flood(header_announcing(20 << 20)),
        &["app-client"],
        &["search", "morpheus"],
    );
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("above the limit of 16777216 bytes (--max-response)"),
        "{stderr}"
    );
}

#[test]
fn bench_refuses_a_flood_and_quotes_a_huge_wrong_answer_by_length_and_hash() {
    let bench = ["bench", "app", "--conns", "1", "--requests", "2"];
    let (status, _, stderr) = against(Reply::Flood(header_announcing(1 << 20)), &bench, &[]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("content-length 1048576 is above the limit of"),
        "{stderr}"
    );

    // Let a large wrong answer in: it is a mismatch, quoted short.
    let mut wrong = header_announcing(200 * 1024);
    wrong.resize(wrong.len() + 200 * 1024, b'x');
    let mut args = bench.to_vec();
    args.extend(["--max-response", "1048576"]);
    let (status, stdout, stderr) = against(Reply::Bytes(wrong), &args, &[]);
    assert_eq!(status.code(), Some(1), "stdout: {stdout}\nstderr: {stderr}");
    let line = stdout
        .lines()
        .find(|l| l.contains("first mismatch"))
        .unwrap_or_else(|| panic!("no mismatch reported:\n{stdout}"));
    assert!(line.contains("... (204800 bytes, FNV-1a "), "{line}");
    assert!(line.len() < 1024, "{line}");
}

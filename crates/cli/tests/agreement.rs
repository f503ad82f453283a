//! Golden agreement with the real reference server (issue 10): the same raw
//! bytes go to `app-server.py` and to `sockmux app-server`, and what comes
//! back is compared.
//!
//! Valid input (PROTOCOL.md, section 3, "What is not bad input") must get
//! byte-identical answers. Each malformed input of section 3 must be refused
//! by both; sockmux refuses with an `Error: …` response where the reference
//! just closes, and where PROTOCOL.md parts from the reference (it answers
//! some inputs sockmux calls malformed, and never answers a few it should)
//! the test says what the reference does, so a change on either side shows.
//!
//! Every exchange sends the request, half-closes, and reads to EOF: the
//! reference then closes whenever it is still waiting for input, so no case
//! needs a timeout to finish. Needs python3 and the reference programs
//! (`SOCKMUX_REQUIRE_SEED=1` fails instead of skipping without them).

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};

use sockmux_test_support::app::{bad_inputs, decode_responses, frame, search};
use sockmux_test_support::{connect, ReferenceServer, Seed, Sockmux};

const SOCKMUX: Sockmux = Sockmux::new(env!("CARGO_BIN_EXE_sockmux"));

/// The header of a `text/json` request of `len` bytes, then `extra` members.
fn json_header(len: usize, extra: &str) -> String {
    format!(
        r#"{{"byteorder": "little", "content-type": "text/json", "content-encoding": "utf-8", "content-length": {len}{extra}}}"#
    )
}

/// A `text/json` request: `header_extra` appended to its header.
fn json_request(content: &[u8], header_extra: &str) -> Vec<u8> {
    frame(&json_header(content.len(), header_extra), content)
}

const MORPHEUS: &[u8] = br#"{"action": "search", "value": "morpheus"}"#;

/// Valid requests the reference answers, each read the way Python's
/// `json.loads` reads it: both servers must send the same bytes.
fn valid_inputs() -> Vec<(&'static str, Vec<u8>)> {
    let deep = format!(r#", "x": {}{}"#, "[".repeat(500), "]".repeat(500));
    vec![
        ("canonical search", search("morpheus", false)),
        (
            "duplicate header key, last wins",
            frame(
                &json_header(5, "").replace(r#""content-length": 5"#, r#""content-length": 5, "content-length": 41"#),
                MORPHEUS,
            ),
        ),
        (
            "duplicate content-type, last wins",
            frame(
                &json_header(41, "").replace(
                    r#""content-type": "text/json""#,
                    r#""content-type": "text/json", "content-type": "binary/x""#,
                ),
                MORPHEUS,
            ),
        ),
        (
            "duplicate request keys, last wins",
            json_request(br#"{"action": "x", "value": "nobody", "action": "search", "value": "ring"}"#, ""),
        ),
        (
            "non-finite numbers in ignored header keys",
            json_request(MORPHEUS, r#", "x-nan": NaN, "x-inf": [Infinity, {"y": -Infinity}]"#),
        ),
        (
            "non-finite numbers in ignored request keys",
            json_request(br#"{"score": NaN, "action": "search", "value": "\ud83d\udc36", "w": -Infinity}"#, ""),
        ),
        ("keep-alive null", json_request(MORPHEUS, r#", "keep-alive": null"#)),
        ("keep-alive false", json_request(MORPHEUS, r#", "keep-alive": false"#)),
        ("keep-alive true then null", json_request(MORPHEUS, r#", "keep-alive": true, "keep-alive": null"#)),
        (
            "reordered, spaced header",
            frame(
                "{ \"content-length\" :41,\n\"content-encoding\":\"UTF-8\",\t\"content-type\":\"text/json\",\"byteorder\":\"big\" }",
                MORPHEUS,
            ),
        ),
        ("lone surrogate in an ignored key", json_request(MORPHEUS, r#", "x": "\ud800""#)),
        ("nesting deeper than serde's default", json_request(MORPHEUS, &deep)),
        ("search miss with escapes", search("no \"such\" \\ key\n", false)),
        ("another action", json_request(br#"{"action": "find", "value": "morpheus"}"#, "")),
        ("binary request", {
            let mut wire = Vec::new();
            sockmux_proto::encode::binary_request("echo", "hello world", false, &mut wire).expect("encodes");
            wire
        }),
    ]
}

/// What the reference does with a malformed input of section 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reference {
    /// Closes without sending a byte (an exception in its handler).
    Closes,
    /// Never answers and never closes: its request is empty and so falsy.
    Silent,
    /// Answers with this content, where PROTOCOL.md calls the input
    /// malformed (a required key of the wrong type, a non-string value).
    Answers(&'static [u8]),
}

/// The reference's side of each entry of [`bad_inputs`], by name.
fn reference_on(name: &str) -> Reference {
    match name {
        "wrong type" => Reference::Answers(b"First 10 bytes of request: {}"),
        "value not string" => Reference::Answers(br#"{"result": "No match for \"5\"."}"#),
        "content not object" | "no action" => Reference::Silent,
        "empty header"
        | "header not utf-8"
        | "header not json"
        | "header not object"
        | "empty object"
        | "missing key"
        | "negative length"
        | "fractional length"
        | "length above limit"
        | "zero length"
        | "content not utf-8"
        | "content not json"
        | "unsupported encoding" => Reference::Closes,
        other => panic!("no expectation of the reference for bad input {other:?}: add one"),
    }
}

/// Sends `wire`, half-closes, and returns every byte the server sends
/// before it closes (an error if it does not close within `WAIT`).
fn exchange(addr: SocketAddr, wire: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = connect(addr);
    stream.write_all(wire)?;
    stream.shutdown(Shutdown::Write)?;
    read_to_close(&mut stream)
}

fn read_to_close(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(got),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(got),
            Err(e) => return Err(e),
        }
    }
}

/// The one `text/json` result sockmux sent, as text.
fn our_result(name: &str, bytes: &[u8]) -> String {
    let responses = decode_responses(bytes);
    assert_eq!(responses.len(), 1, "{name}: one response");
    String::from_utf8_lossy(&responses[0].1).into_owned()
}

/// Asserts that `reference` has sent nothing on `stream`, after a request
/// on another connection was answered: the reference is single-threaded,
/// so by then it had read the first request. (A late answer would only
/// make this pass wrongly, never fail wrongly.)
fn assert_silent(reference: &ReferenceServer, stream: &mut TcpStream, name: &str) {
    let answered = exchange(reference.addr, &search("ring", false)).expect("reference answers");
    assert!(!answered.is_empty(), "{name}: reference answered the probe");
    stream.set_nonblocking(true).expect("nonblocking");
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("{name}: expected the reference to stay silent, got {other:?}"),
    }
}

#[test]
fn valid_input_gets_the_reference_servers_bytes() {
    let Some(seed) = Seed::find() else { return };
    let reference = seed.start("app-server.py");
    let ours = SOCKMUX.start(&["app-server"]);
    let mut differ = Vec::new();
    for (name, wire) in valid_inputs() {
        let theirs = exchange(reference.addr, &wire).expect("reference closes");
        let mine = exchange(ours.addr, &wire).expect("sockmux closes");
        assert!(!theirs.is_empty(), "{name}: the reference answers");
        if mine != theirs {
            differ.push(format!(
                "{name}:\n  reference: {}\n  sockmux:   {}",
                theirs.escape_ascii(),
                mine.escape_ascii()
            ));
        }
    }
    assert!(differ.is_empty(), "answers differ:\n{}", differ.join("\n"));
}

#[test]
fn malformed_input_is_refused_as_protocol_md_says() {
    let Some(seed) = Seed::find() else { return };
    let reference = seed.start("app-server.py");
    let ours = SOCKMUX.start(&["app-server"]);
    for (name, wire, error) in bad_inputs() {
        let text = our_result(name, &exchange(ours.addr, &wire).expect("sockmux closes"));
        assert!(
            text.starts_with(&format!("{{\"result\": \"{error}")),
            "{name}: got {text}, expected {error}"
        );
        match reference_on(name) {
            Reference::Closes => {
                let theirs = exchange(reference.addr, &wire).expect("reference closes");
                assert_eq!(theirs, b"", "{name}: the reference closes without a word");
            }
            Reference::Answers(content) => {
                let theirs = exchange(reference.addr, &wire).expect("reference closes");
                let responses = decode_responses(&theirs);
                assert_eq!(responses.len(), 1, "{name}");
                assert_eq!(
                    responses[0].1.escape_ascii().to_string(),
                    content.escape_ascii().to_string(),
                    "{name}"
                );
            }
            Reference::Silent => {
                // A silent connection keeps the reference busy: use a
                // server of its own, stopped right after.
                let alone = seed.start("app-server.py");
                let mut stream = connect(alone.addr);
                stream.write_all(&wire).expect("send");
                assert_silent(&alone, &mut stream, name);
            }
        }
    }
}

/// PROTOCOL.md, section 3: a binary request with `content-length` 0 is
/// answered; the reference never answers it (its empty request is falsy),
/// a bug not copied.
#[test]
fn an_empty_binary_request_is_answered_where_the_reference_stays_silent() {
    let wire = frame(
        r#"{"byteorder": "little", "content-type": "binary/custom-client-binary-type", "content-encoding": "binary", "content-length": 0}"#,
        b"",
    );
    let ours = SOCKMUX.start(&["app-server"]);
    let responses = decode_responses(&exchange(ours.addr, &wire).expect("sockmux closes"));
    assert_eq!(
        responses,
        vec![(false, b"First 10 bytes of request: ".to_vec())]
    );

    let Some(seed) = Seed::find() else { return };
    let reference = seed.start("app-server.py");
    let mut stream = connect(reference.addr);
    stream.write_all(&wire).expect("send");
    assert_silent(&reference, &mut stream, "empty binary request");
}

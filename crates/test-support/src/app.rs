//! The app protocol from a test's side: requests and expected answers as
//! bytes, reading and decoding a server's responses, and the catalogue of
//! malformed inputs of PROTOCOL.md section 3. The wire format itself is
//! `sockmux-proto`'s; nothing here re-implements it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use sockmux_proto::{encode, Decoder, Limits};

use crate::{Server, WAIT};

/// A decoded response: keep-alive flag and content.
pub type Response = (bool, Vec<u8>);

/// Decodes every whole response in `buf[*at..]` into `got`, moving `at`
/// past them.
fn decode_into(decoder: &mut Decoder, buf: &[u8], at: &mut usize, got: &mut Vec<Response>) {
    while let Some(frame) = decoder
        .decode(&buf[*at..])
        .expect("server sends valid messages")
    {
        *at += frame.len;
        got.push((frame.header.keep_alive, frame.content.to_vec()));
    }
}

/// Every response in `bytes`, which must hold whole responses only.
pub fn decode_responses(bytes: &[u8]) -> Vec<Response> {
    let mut got = Vec::new();
    let mut at = 0;
    decode_into(
        &mut Decoder::new(Limits::default()),
        bytes,
        &mut at,
        &mut got,
    );
    assert_eq!(at, bytes.len(), "no partial response");
    got
}

/// Reads responses until `count` have arrived or the server closes; the
/// responses, and whether it closed.
pub fn read_responses(stream: &mut TcpStream, count: usize) -> (Vec<Response>, bool) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    let mut got = Vec::new();
    let mut decoder = Decoder::new(Limits::default());
    let mut at = 0;
    loop {
        decode_into(&mut decoder, &buf, &mut at, &mut got);
        if got.len() >= count {
            return (got, false);
        }
        match stream.read(&mut chunk) {
            Ok(0) => return (got, true),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (got, true),
            Err(e) => panic!("read failed: {e}"),
        }
    }
}

/// Whether the server closes the connection within `WAIT` (EOF or reset).
pub fn closes(stream: &mut TcpStream) -> bool {
    let mut sink = [0u8; 4096];
    let start = Instant::now();
    while start.elapsed() < WAIT {
        match stream.read(&mut sink) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return false,
            Err(e) => panic!("read failed: {e}"),
        }
    }
    false
}

/// A search request for `value`, as the reference client sends it.
pub fn search(value: &str, keep_alive: bool) -> Vec<u8> {
    let mut wire = Vec::new();
    encode::search_request(value, keep_alive, &mut wire).expect("encode");
    wire
}

/// The content of a search answer (or an error) reading `text`.
pub fn result(text: &str) -> Vec<u8> {
    let mut out = Vec::from(&b"{\"result\": \""[..]);
    sockmux_proto::json::write_escaped(&mut out, text);
    out.extend_from_slice(b"\"}");
    out
}

/// Sends one request on a new connection and returns the single response.
pub fn ask(server: &Server, wire: &[u8]) -> Vec<u8> {
    let mut stream = server.connect();
    stream.write_all(wire).expect("send");
    let (got, _) = read_responses(&mut stream, 1);
    assert_eq!(got.len(), 1, "one response");
    got.into_iter().next().map(|(_, c)| c).unwrap_or_default()
}

/// Panics unless `server` still answers a search correctly.
pub fn assert_still_answers(server: &Server) {
    assert_eq!(
        ask(server, &search("morpheus", false)),
        result("Follow the white rabbit. \u{1f430}")
    );
}

/// A 2-byte length, `header` and `content`, with no other checks: the
/// bytes a broken peer could send.
pub fn frame(header: &str, content: &[u8]) -> Vec<u8> {
    let mut wire = u16::try_from(header.len())
        .expect("header fits the 2-byte length")
        .to_be_bytes()
        .to_vec();
    wire.extend_from_slice(header.as_bytes());
    wire.extend_from_slice(content);
    wire
}

/// Each malformed input of PROTOCOL.md section 3: a name, the raw bytes,
/// and the error text the response must carry.
pub fn bad_inputs() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    fn json_header(len: &str) -> String {
        format!("{{\"byteorder\": \"little\", \"content-type\": \"text/json\", \"content-encoding\": \"utf-8\", \"content-length\": {len}}}")
    }
    let mut not_utf8 = vec![0, 4];
    not_utf8.extend_from_slice(b"{\xff}\n");
    vec![
        ("empty header", vec![0, 0], "Error: the JSON header is empty."),
        ("header not utf-8", not_utf8, "Error: the JSON header is not valid UTF-8."),
        ("header not json", frame("{nope", b""), "Error: the JSON header is not valid JSON"),
        ("header not object", frame("[1, 2]", b""), "Error: the JSON header is not a JSON object."),
        ("empty object", frame("{}", b""), "Error: missing required header \\\"byteorder\\\"."),
        (
            "missing key",
            frame("{\"byteorder\": \"little\", \"content-type\": \"text/json\", \"content-length\": 2}", b"{}"),
            "Error: missing required header \\\"content-encoding\\\".",
        ),
        (
            "wrong type",
            frame("{\"byteorder\": \"little\", \"content-type\": 7, \"content-encoding\": \"utf-8\", \"content-length\": 2}", b"{}"),
            "Error: header \\\"content-type\\\" must be a string.",
        ),
        ("negative length", frame(&json_header("-1"), b""), "Error: header \\\"content-length\\\" is negative."),
        ("fractional length", frame(&json_header("2.5"), b""), "Error: header \\\"content-length\\\" is not an integer."),
        (
            "length above limit",
            frame(&json_header("4294967296"), b""),
            "Error: content-length 4294967296 is above the limit of 16777216 bytes.",
        ),
        ("zero length", frame(&json_header("0"), b""), "Error: the request has no content."),
        ("content not utf-8", frame(&json_header("3"), b"{\xfe}"), "Error: the content is not valid UTF-8."),
        ("content not json", frame(&json_header("5"), b"{nope"), "Error: the content is not valid JSON"),
        ("content not object", frame(&json_header("2"), b"[]"), "Error: the content is not a JSON object."),
        ("no action", frame(&json_header("2"), b"{}"), "Error: the request has no \\\"action\\\"."),
        (
            "value not string",
            frame(&json_header("32"), b"{\"action\": \"search\", \"value\": 5}"),
            "Error: \\\"value\\\" must be a string.",
        ),
        (
            "unsupported encoding",
            frame("{\"byteorder\": \"little\", \"content-type\": \"text/json\", \"content-encoding\": \"utf-16\", \"content-length\": 2}", b"{}"),
            "Error: unsupported content-encoding \\\"utf-16\\\".",
        ),
    ]
}

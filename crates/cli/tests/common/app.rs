//! Helpers for talking the app protocol in tests: encode a request, read
//! and decode responses, the catalogue of malformed inputs.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use sockmux_proto::{encode, Decoder, Limits};

use super::{Server, WAIT};

/// A decoded response: keep-alive flag and content.
pub type Response = (bool, Vec<u8>);

/// Reads responses until `count` have arrived or the server closes.
pub fn read_responses(stream: &mut TcpStream, count: usize) -> (Vec<Response>, bool) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    let mut got = Vec::new();
    let mut decoder = Decoder::new(Limits::default());
    let mut at = 0;
    loop {
        while let Some(frame) = decoder
            .decode(&buf[at..])
            .expect("server sends valid messages")
        {
            at += frame.len;
            got.push((frame.header.keep_alive, frame.content.to_vec()));
        }
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

pub fn search(value: &str, keep_alive: bool) -> Vec<u8> {
    let mut wire = Vec::new();
    encode::search_request(value, keep_alive, &mut wire).expect("encode");
    wire
}

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

pub fn assert_still_answers(server: &Server) {
    assert_eq!(
        ask(server, &search("morpheus", false)),
        result("Follow the white rabbit. \u{1f430}")
    );
}

/// Each malformed input of PROTOCOL.md section 3, as raw bytes, and the
/// error text the response must carry.
pub fn bad_inputs() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    fn framed(header: &str, content: &[u8]) -> Vec<u8> {
        let mut wire = (header.len() as u16).to_be_bytes().to_vec();
        wire.extend_from_slice(header.as_bytes());
        wire.extend_from_slice(content);
        wire
    }
    fn json_header(len: &str) -> String {
        format!("{{\"byteorder\": \"little\", \"content-type\": \"text/json\", \"content-encoding\": \"utf-8\", \"content-length\": {len}}}")
    }
    let mut not_utf8 = vec![0, 4];
    not_utf8.extend_from_slice(b"{\xff}\n");
    vec![
        ("empty header", vec![0, 0], "Error: the JSON header is empty."),
        ("header not utf-8", not_utf8, "Error: the JSON header is not valid UTF-8."),
        ("header not json", framed("{nope", b""), "Error: the JSON header is not valid JSON"),
        ("header not object", framed("[1, 2]", b""), "Error: the JSON header is not a JSON object."),
        ("empty object", framed("{}", b""), "Error: missing required header \\\"byteorder\\\"."),
        (
            "missing key",
            framed("{\"byteorder\": \"little\", \"content-type\": \"text/json\", \"content-length\": 2}", b"{}"),
            "Error: missing required header \\\"content-encoding\\\".",
        ),
        (
            "wrong type",
            framed("{\"byteorder\": \"little\", \"content-type\": 7, \"content-encoding\": \"utf-8\", \"content-length\": 2}", b"{}"),
            "Error: header \\\"content-type\\\" must be a string.",
        ),
        ("negative length", framed(&json_header("-1"), b""), "Error: header \\\"content-length\\\" is negative."),
        ("fractional length", framed(&json_header("2.5"), b""), "Error: header \\\"content-length\\\" is not an integer."),
        (
            "length above limit",
            framed(&json_header("4294967296"), b""),
            "Error: content-length 4294967296 is above the limit of 16777216 bytes.",
        ),
        ("zero length", framed(&json_header("0"), b""), "Error: the request has no content."),
        ("content not utf-8", framed(&json_header("3"), b"{\xfe}"), "Error: the content is not valid UTF-8."),
        ("content not json", framed(&json_header("5"), b"{nope"), "Error: the content is not valid JSON"),
        ("content not object", framed(&json_header("2"), b"[]"), "Error: the content is not a JSON object."),
        ("no action", framed(&json_header("2"), b"{}"), "Error: the request has no \\\"action\\\"."),
        (
            "value not string",
            framed(&json_header("32"), b"{\"action\": \"search\", \"value\": 5}"),
            "Error: \\\"value\\\" must be a string.",
        ),
        (
            "unsupported encoding",
            framed("{\"byteorder\": \"little\", \"content-type\": \"text/json\", \"content-encoding\": \"utf-16\", \"content-length\": 2}", b"{}"),
            "Error: unsupported content-encoding \\\"utf-16\\\".",
        ),
    ]
}

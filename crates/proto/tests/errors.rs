//! One test per cause of a malformed message (`ProtoError` variant): the
//! decoder, `Header::parse_into`, `Request::parse` and the encoder each
//! report the cause they meet, and `error_response` turns any of them into
//! the `{"result": "Error: …."}` message a peer reads.

use std::ops::ControlFlow;

use sockmux_proto::{
    encode, error_response, Decoder, Header, Limits, ProtoError, Request, StreamDecoder,
};

/// A header with all required keys; `{CT}`, `{CE}` and `{CL}` are replaced.
const TEMPLATE: &str = r#"{"byteorder": "little", "content-type": {CT}, "content-encoding": {CE}, "content-length": {CL}}"#;

fn header_text(content_type: &str, encoding: &str, length: &str) -> String {
    TEMPLATE
        .replace("{CT}", content_type)
        .replace("{CE}", encoding)
        .replace("{CL}", length)
}

/// Protoheader + `header` + `content`, with no checks: the bytes a broken
/// peer could send.
fn wire(header: &[u8], content: &[u8]) -> Vec<u8> {
    let len = u16::try_from(header.len()).expect("test header fits the protoheader");
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(header);
    out.extend_from_slice(content);
    out
}

fn json_wire(content: &[u8]) -> Vec<u8> {
    let header = header_text(r#""text/json""#, r#""utf-8""#, &content.len().to_string());
    wire(header.as_bytes(), content)
}

fn parse_header(bytes: &[u8]) -> Result<Header, ProtoError> {
    let mut header = Header::default();
    header
        .parse_into(bytes, &Limits::default())
        .map(|()| header)
}

#[track_caller]
fn header_error(text: &str) -> ProtoError {
    parse_header(text.as_bytes()).expect_err("header must be rejected")
}

/// Decodes `bytes` with a fresh decoder: the error, or `None` when the
/// decoder wants more bytes or produced a message.
fn decode_error(limits: Limits, bytes: &[u8]) -> Option<ProtoError> {
    Decoder::new(limits).decode(bytes).err()
}

/// Decodes one whole message and parses the request it carries.
#[track_caller]
fn request_error(bytes: &[u8]) -> ProtoError {
    let mut decoder = Decoder::new(Limits::default());
    let frame = decoder
        .decode(bytes)
        .expect("framing is valid")
        .expect("whole message");
    Request::parse(&frame).expect_err("request must be rejected")
}

fn small_limits() -> Limits {
    Limits {
        max_header: 200,
        max_content: 16,
    }
}

// EmptyHeader
#[test]
fn rejects_empty_json_header() {
    assert_eq!(
        decode_error(Limits::default(), b"\x00\x00"),
        Some(ProtoError::EmptyHeader),
        "a protoheader announcing 0 bytes is refused at once"
    );
    assert_eq!(parse_header(b""), Err(ProtoError::EmptyHeader));
}

// HeaderTooLong, from the decoder
#[test]
fn rejects_header_longer_than_limit_from_the_protoheader_alone() {
    let limits = Limits {
        max_header: 64,
        max_content: 256,
    };
    // Only the two protoheader bytes: no header byte has arrived yet.
    assert_eq!(
        decode_error(limits, &65u16.to_be_bytes()),
        Some(ProtoError::HeaderTooLong { len: 65, limit: 64 })
    );
    let mut stream = StreamDecoder::new(limits);
    let err = stream
        .feed(&[0xff, 0xff], |_| ControlFlow::Continue(()))
        .expect_err("refused from the protoheader");
    assert_eq!(
        err,
        ProtoError::HeaderTooLong {
            len: 65_535,
            limit: 64
        }
    );
    // Exactly at the limit is fine: the decoder waits for the header.
    assert_eq!(decode_error(limits, &64u16.to_be_bytes()), None);
}

// HeaderTooLong, from the encoder
#[test]
fn refuses_to_encode_a_header_longer_than_65535_bytes() {
    let mut out = b"kept".to_vec();
    let long_type = "\u{1}".repeat(11_000); // 6 bytes each once escaped
    let err = encode::message(&mut out, &long_type, "binary", &[b"x"], false)
        .expect_err("header too long");
    assert!(
        matches!(err, ProtoError::HeaderTooLong { len, limit: 65_535 } if len > 65_535),
        "{err:?}"
    );
    assert_eq!(out, b"kept", "nothing written on error");
}

// HeaderNotUtf8
#[test]
fn rejects_header_that_is_not_utf8() {
    let mut bytes = header_text(r#""bin""#, r#""binary""#, "1").into_bytes();
    bytes[20] = 0xff;
    assert_eq!(
        decode_error(Limits::default(), &wire(&bytes, b"x")),
        Some(ProtoError::HeaderNotUtf8)
    );
    // Latin-1 "é" in a string is not UTF-8 either.
    assert_eq!(
        parse_header(b"{\"caf\xe9\": 1}"),
        Err(ProtoError::HeaderNotUtf8)
    );
}

// HeaderNotJson
#[test]
fn rejects_header_that_is_not_json() {
    for text in [
        "not json",
        "{",
        r#"{"byteorder": "little",}"#,
        "{} trailing",
        "{'byteorder': 'little'}",
    ] {
        assert!(
            matches!(header_error(text), ProtoError::HeaderNotJson { .. }),
            "{text:?} gave {:?}",
            header_error(text)
        );
    }
    let err = decode_error(Limits::default(), &wire(b"{oops", b"")).expect("an error");
    assert!(matches!(err, ProtoError::HeaderNotJson { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("the JSON header is not valid JSON ("),
        "{err}"
    );
}

// HeaderNotObject
#[test]
fn rejects_header_that_is_not_an_object() {
    for text in ["[]", "[1, 2]", r#""text""#, "42", "null", "true", " [] "] {
        assert_eq!(header_error(text), ProtoError::HeaderNotObject, "{text:?}");
    }
}

// MissingHeaderKey
#[test]
fn rejects_header_missing_a_required_key() {
    let full: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&header_text(r#""text/json""#, r#""utf-8""#, "2"))
            .expect("template is JSON");
    for key in [
        "byteorder",
        "content-type",
        "content-encoding",
        "content-length",
    ] {
        let mut partial = full.clone();
        partial.remove(key);
        let text = serde_json::to_string(&partial).expect("serialises");
        assert_eq!(
            header_error(&text),
            ProtoError::MissingHeaderKey {
                key: match key {
                    "byteorder" => "byteorder",
                    "content-type" => "content-type",
                    "content-encoding" => "content-encoding",
                    _ => "content-length",
                }
            },
            "{text}"
        );
    }
    assert_eq!(
        header_error("{}"),
        ProtoError::MissingHeaderKey { key: "byteorder" },
        "the first key in the reference's order is named"
    );
}

// HeaderKeyType
#[test]
fn rejects_header_key_of_the_wrong_type() {
    let cases = [
        (
            TEMPLATE
                .replace(r#""little""#, r#""middle""#)
                .replace("{CT}", r#""t""#)
                .replace("{CE}", r#""e""#)
                .replace("{CL}", "1"),
            "byteorder",
        ),
        (
            TEMPLATE
                .replace(r#""little""#, "1")
                .replace("{CT}", r#""t""#)
                .replace("{CE}", r#""e""#)
                .replace("{CL}", "1"),
            "byteorder",
        ),
        (header_text("5", r#""e""#, "1"), "content-type"),
        (header_text(r#"["t"]"#, r#""e""#, "1"), "content-type"),
        (header_text(r#""t""#, "null", "1"), "content-encoding"),
        (header_text(r#""t""#, r#""e""#, r#""41""#), "content-length"),
        (header_text(r#""t""#, r#""e""#, "true"), "content-length"),
        (header_text(r#""t""#, r#""e""#, "null"), "content-length"),
        (
            header_text(r#""t""#, r#""e""#, "1").replace('}', r#", "keep-alive": "yes"}"#),
            "keep-alive",
        ),
        (
            header_text(r#""t""#, r#""e""#, "1").replace('}', r#", "keep-alive": 1}"#),
            "keep-alive",
        ),
        (
            header_text(r#""t""#, r#""e""#, "1").replace('}', r#", "keep-alive": NaN}"#),
            "keep-alive",
        ),
    ];
    for (text, key) in cases {
        let err = header_error(&text);
        assert!(
            matches!(err, ProtoError::HeaderKeyType { key: k, .. } if k == key),
            "{text} gave {err:?}"
        );
    }
    assert_eq!(
        header_error(&header_text("5", r#""e""#, "1")).to_string(),
        "header \"content-type\" must be a string"
    );
}

// NegativeContentLength
#[test]
fn rejects_negative_content_length() {
    for length in ["-1", "-41", "-1.5", "-99999999999999999999999"] {
        assert_eq!(
            header_error(&header_text(r#""t""#, r#""e""#, length)),
            ProtoError::NegativeContentLength,
            "{length}"
        );
    }
}

// ContentLengthNotInteger
#[test]
fn rejects_content_length_that_is_not_an_integer() {
    for length in ["1.5", "41.0", "1e3", "1E+2", "0.0"] {
        assert_eq!(
            header_error(&header_text(r#""t""#, r#""e""#, length)),
            ProtoError::ContentLengthNotInteger,
            "{length}"
        );
    }
}

// ContentTooLong
#[test]
fn rejects_content_length_above_limit_before_content_arrives() {
    let limits = small_limits();
    let header = header_text(r#""text/json""#, r#""utf-8""#, "17");
    // The header only: not one content byte has been sent.
    let bytes = wire(header.as_bytes(), b"");
    let too_long = ProtoError::ContentTooLong { len: 17, limit: 16 };
    assert_eq!(decode_error(limits, &bytes), Some(too_long.clone()));

    let mut stream = StreamDecoder::new(limits);
    let mut frames = 0;
    let err = stream
        .feed(&bytes, |_| {
            frames += 1;
            ControlFlow::Continue(())
        })
        .expect_err("refused once the header is in");
    assert_eq!(err, too_long);
    assert_eq!(frames, 0);

    // At the limit, the same header waits for its content instead.
    let at_limit = wire(
        header_text(r#""text/json""#, r#""utf-8""#, "16").as_bytes(),
        b"",
    );
    assert_eq!(decode_error(limits, &at_limit), None);

    // A length beyond u64 saturates instead of wrapping.
    let huge = header_text(r#""t""#, r#""e""#, "123456789012345678901234567890");
    assert_eq!(
        header_error(&huge),
        ProtoError::ContentTooLong {
            len: u64::MAX,
            limit: Limits::DEFAULT_MAX_CONTENT
        }
    );
}

// UnsupportedEncoding
#[test]
fn rejects_json_content_in_an_unsupported_encoding() {
    let err = header_error(&header_text(r#""text/json""#, r#""latin-1""#, "2"));
    assert_eq!(
        err,
        ProtoError::UnsupportedEncoding {
            encoding: "latin-1".into()
        }
    );
    assert_eq!(err.to_string(), "unsupported content-encoding \"latin-1\"");
    // Binary content may name any encoding: it is never decoded.
    assert!(parse_header(header_text(r#""bin""#, r#""latin-1""#, "2").as_bytes()).is_ok());
}

// EmptyContent: JSON content only. Empty binary content is a request
// (tests/agreement.rs).
#[test]
fn rejects_json_request_with_no_content() {
    assert_eq!(request_error(&json_wire(b"")), ProtoError::EmptyContent);
}

// ContentNotUtf8
#[test]
fn rejects_json_content_that_is_not_utf8() {
    assert_eq!(
        request_error(&json_wire(b"{\"action\": \"search\", \"value\": \"\xff\"}")),
        ProtoError::ContentNotUtf8
    );
}

// ContentNotJson
#[test]
fn rejects_json_content_that_is_not_json() {
    for content in [&b"nope"[..], b"{", b"{\"action\": }", b"{} {}"] {
        let err = request_error(&json_wire(content));
        assert!(
            matches!(err, ProtoError::ContentNotJson { .. }),
            "{} gave {err:?}",
            content.escape_ascii()
        );
    }
}

// ContentNotObject
#[test]
fn rejects_json_content_that_is_not_an_object() {
    for content in [&b"[]"[..], b"\"search\"", b"7", b"null"] {
        assert_eq!(
            request_error(&json_wire(content)),
            ProtoError::ContentNotObject,
            "{}",
            content.escape_ascii()
        );
    }
}

// MissingField
#[test]
fn rejects_request_missing_action_or_value() {
    assert_eq!(
        request_error(&json_wire(br#"{"value": "x"}"#)),
        ProtoError::MissingField { field: "action" }
    );
    assert_eq!(
        request_error(&json_wire(br#"{"action": "search"}"#)),
        ProtoError::MissingField { field: "value" }
    );
}

// FieldNotString
#[test]
fn rejects_action_or_value_that_is_not_a_string() {
    for (content, field) in [
        (&br#"{"action": 5, "value": "x"}"#[..], "action"),
        (br#"{"action": ["search"], "value": "x"}"#, "action"),
        (br#"{"action": null, "value": "x"}"#, "action"),
        (br#"{"action": "search", "value": 5}"#, "value"),
        (br#"{"action": "search", "value": null}"#, "value"),
        (br#"{"action": "search", "value": {"k": "v"}}"#, "value"),
    ] {
        assert_eq!(
            request_error(&json_wire(content)),
            ProtoError::FieldNotString { field },
            "{}",
            content.escape_ascii()
        );
    }
}

// Truncated
#[test]
fn reports_a_message_cut_short_at_eof_as_truncated() {
    let mut whole = Vec::new();
    encode::search_request("morpheus", false, &mut whole).expect("encodes");
    // Cut inside the protoheader, the header and the content.
    for cut in [1, 2, 40, whole.len() - 1] {
        let mut stream = StreamDecoder::new(Limits::default());
        stream
            .feed(&whole[..cut], |_| panic!("no whole message yet"))
            .expect("valid so far");
        let err = stream.finish().expect_err("cut short");
        assert_eq!(err, ProtoError::Truncated { buffered: cut });
        assert_eq!(
            err.to_string(),
            format!("the connection closed after {cut} bytes of an unfinished message")
        );
    }
    let mut stream = StreamDecoder::new(Limits::default());
    stream
        .feed(&whole, |_| ControlFlow::Continue(()))
        .expect("valid");
    assert_eq!(stream.finish(), Ok(()), "EOF between messages is clean");
}

/// Regression: after an error, `StreamDecoder` kept the whole chunk that
/// carried the bad bytes, so `buffered()` could exceed `max_message()` (the
/// proptest `arbitrary_bytes_never_panic_or_overfill_the_buffer` found it).
#[test]
fn stream_decoder_keeps_nothing_after_an_error() {
    let limits = Limits {
        max_header: 64,
        max_content: 256,
    };
    let mut stream = StreamDecoder::new(limits);
    stream
        .feed(&[0x00], |_| ControlFlow::Continue(()))
        .expect("half a protoheader is fine");
    assert_eq!(stream.buffered(), 1);
    let err = stream
        .feed(&[0xff; 400], |_| ControlFlow::Continue(()))
        .expect_err("header too long");
    assert_eq!(
        err,
        ProtoError::HeaderTooLong {
            len: 255,
            limit: 64
        }
    );
    assert_eq!(stream.buffered(), 0);
    assert!(stream.buffered() <= limits.max_message());
}

#[test]
fn error_response_is_a_text_json_result_naming_the_error() {
    let errors = [
        ProtoError::EmptyHeader,
        ProtoError::HeaderTooLong { len: 65, limit: 64 },
        ProtoError::HeaderNotUtf8,
        header_error("{"),
        ProtoError::HeaderNotObject,
        ProtoError::MissingHeaderKey { key: "byteorder" },
        ProtoError::HeaderKeyType {
            key: "byteorder",
            expected: "\"little\" or \"big\"",
        },
        ProtoError::NegativeContentLength,
        ProtoError::ContentLengthNotInteger,
        ProtoError::ContentTooLong { len: 17, limit: 16 },
        ProtoError::UnsupportedEncoding {
            encoding: "we\"ird\n".into(),
        },
        ProtoError::EmptyContent,
        ProtoError::ContentNotUtf8,
        request_error(&json_wire(b"{")),
        ProtoError::ContentNotObject,
        ProtoError::MissingField { field: "action" },
        ProtoError::FieldNotString { field: "value" },
        ProtoError::Truncated { buffered: 3 },
    ];
    for err in errors {
        let mut out = Vec::new();
        error_response(&err, &mut out).expect("encodes");
        let mut decoder = Decoder::new(Limits::default());
        let frame = decoder
            .decode(&out)
            .expect("valid message")
            .expect("whole message");
        assert_eq!(frame.len, out.len());
        assert_eq!(frame.header.content_type, "text/json");
        assert_eq!(frame.header.content_encoding, "utf-8");
        assert!(!frame.header.keep_alive, "the connection closes after it");
        let expected = serde_json::json!({ "result": format!("Error: {err}.") });
        let got: serde_json::Value =
            serde_json::from_slice(frame.content).expect("content is JSON");
        assert_eq!(got, expected, "{err:?}");
    }

    // And byte for byte, the way the reference server writes its results.
    let mut out = Vec::new();
    error_response(&ProtoError::MissingHeaderKey { key: "byteorder" }, &mut out).expect("encodes");
    let content = br#"{"result": "Error: missing required header \"byteorder\"."}"#;
    let mut expected = Vec::new();
    encode::message(&mut expected, "text/json", "utf-8", &[content], false).expect("encodes");
    assert_eq!(
        out.escape_ascii().to_string(),
        expected.escape_ascii().to_string()
    );
}

/// Regression (found by the `app_session` fuzzer): serde's detail quoted a
/// header of control bytes back escaped, six characters a byte, so an error
/// answer grew past any fixed size. The JSON reader's errors now never quote the peer.
#[test]
fn a_json_error_detail_quoting_the_peer_stays_short() {
    let header = format!("\"{}\" x", "\u{7f}".repeat(120));
    let mut wire = Vec::new();
    wire.extend_from_slice(&(header.len() as u16).to_be_bytes());
    wire.extend_from_slice(header.as_bytes());
    let mut decoder = Decoder::new(Limits::default());
    let err = decoder.decode(&wire).expect_err("a string is not a header");
    let mut out = Vec::new();
    error_response(&err, &mut out).expect("encodes");
    assert!(
        out.len() < 400,
        "{} bytes: {}",
        out.len(),
        out.escape_ascii()
    );
}

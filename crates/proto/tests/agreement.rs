//! Valid input the reference server accepts, read the way it reads it
//! (issue 10; PROTOCOL.md, section 3, "What is not bad input"): JSON as
//! Python's `json.loads` reads it, `"keep-alive": null`, and a binary
//! request with no content. Each case was refused with `Error: …` before.
//! `crates/cli/tests/agreement.rs` checks the same cases against the real
//! reference server.

use sockmux_proto::{Decoder, Header, Limits, ProtoError, Reply, Request, SearchService, Table};
use sockmux_test_support::app::frame;

/// A header with the keys of a text/json request of `len` bytes, then `extra`.
fn json_header(len: usize, extra: &str) -> String {
    format!(
        r#"{{"byteorder": "little", "content-type": "text/json", "content-encoding": "utf-8", "content-length": {len}{extra}}}"#
    )
}

fn parse_header(text: &str) -> Result<Header, ProtoError> {
    let mut header = Header::default();
    header
        .parse_into(text.as_bytes(), &Limits::default())
        .map(|()| header)
}

/// Decodes one message and reads its request, owned.
fn request(bytes: &[u8]) -> Result<Request<'static>, ProtoError> {
    let mut decoder = Decoder::new(Limits::default());
    let frame = decoder.decode(bytes)?.expect("a whole message");
    assert_eq!(frame.len, bytes.len());
    Request::parse(&frame).map(|r| match r {
        Request::Search { value } => Request::Search {
            value: value.into_owned().into(),
        },
        Request::OtherAction { action, value } => Request::OtherAction {
            action: action.into_owned().into(),
            value: value.map(|v| v.into_owned().into()),
        },
        Request::Binary { content } => Request::Binary {
            content: content.to_vec().leak(),
        },
    })
}

fn search(value: &str) -> Request<'static> {
    Request::Search {
        value: value.to_owned().into(),
    }
}

#[test]
fn a_duplicate_header_key_keeps_its_last_value() {
    let header = parse_header(
        r#"{"byteorder": "big", "content-length": 7, "content-type": 5, "byteorder": "little", "content-type": "binary/x", "content-encoding": "binary", "content-length": 3, "keep-alive": true, "keep-alive": false}"#,
    )
    .expect("valid");
    assert_eq!(header.content_length, 3);
    assert_eq!(header.content_type, "binary/x");
    assert_eq!(header.byteorder, sockmux_proto::ByteOrder::Little);
    assert!(!header.keep_alive);

    // And the other way round: a valid first value does not save a bad last one.
    let err =
        parse_header(&json_header(2, r#", "content-length": "2""#)).expect_err("bad last value");
    assert!(
        matches!(
            err,
            ProtoError::HeaderKeyType {
                key: "content-length",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_duplicate_request_key_keeps_its_last_value() {
    let content = br#"{"action": "other", "value": "x", "action": "search", "value": "ring"}"#;
    assert_eq!(
        request(&frame(&json_header(content.len(), ""), content)),
        Ok(search("ring"))
    );
}

#[test]
fn non_finite_numbers_are_fine_where_nothing_reads_them() {
    let extra = r#", "x-nan": NaN, "x-inf": [Infinity, {"y": -Infinity}]"#;
    let header = parse_header(&json_header(41, extra)).expect("valid");
    assert_eq!(header.content_length, 41);
    let content = br#"{"action": "search", "score": NaN, "value": "morpheus", "w": -Infinity}"#;
    assert_eq!(
        request(&frame(&json_header(content.len(), extra), content)),
        Ok(search("morpheus"))
    );
}

#[test]
fn non_finite_numbers_are_errors_where_an_integer_or_string_is_needed() {
    for (length, expected) in [
        ("NaN", ProtoError::ContentLengthNotInteger),
        ("Infinity", ProtoError::ContentLengthNotInteger),
        ("-Infinity", ProtoError::NegativeContentLength),
    ] {
        let text = json_header(0, "").replace(
            "\"content-length\": 0",
            &format!("\"content-length\": {length}"),
        );
        assert_eq!(parse_header(&text), Err(expected), "{length}");
    }
    let text = json_header(1, "").replace("\"utf-8\"", "NaN");
    assert!(matches!(
        parse_header(&text),
        Err(ProtoError::HeaderKeyType {
            key: "content-encoding",
            ..
        })
    ));
    let content = br#"{"action": "search", "value": NaN}"#;
    assert_eq!(
        request(&frame(&json_header(content.len(), ""), content)),
        Err(ProtoError::FieldNotString { field: "value" })
    );
}

#[test]
fn keep_alive_null_is_the_same_as_no_keep_alive() {
    let header = parse_header(&json_header(41, r#", "keep-alive": null"#)).expect("valid");
    assert!(!header.keep_alive);
    let header = parse_header(&json_header(
        41,
        r#", "keep-alive": null, "keep-alive": true"#,
    ))
    .expect("valid");
    assert!(header.keep_alive, "the last value wins");
}

#[test]
fn a_binary_request_with_no_content_is_answered() {
    let header = r#"{"byteorder": "little", "content-type": "binary/custom-client-binary-type", "content-encoding": "binary", "content-length": 0}"#;
    let parsed = request(&frame(header, b"")).expect("a request");
    assert_eq!(parsed, Request::Binary { content: &[] });
    let mut response = Vec::new();
    SearchService::new(Table::builtin())
        .respond(&parsed, false, &mut response)
        .expect("encodes");
    let mut decoder = Decoder::new(Limits::default());
    let frame = decoder.decode(&response).expect("valid").expect("whole");
    assert_eq!(
        Reply::parse(&frame),
        Ok(Reply::Binary {
            content_type: "binary/custom-server-binary-type",
            content: b"First 10 bytes of request: ",
        })
    );
}

#[test]
fn a_reply_with_a_duplicate_result_or_non_finite_numbers_reads_its_last_result() {
    let content = br#"{"result": "first", "score": NaN, "result": "Follow the white rabbit."}"#;
    let mut out = Vec::new();
    sockmux_proto::encode::message(&mut out, "text/json", "utf-8", &[content], false)
        .expect("encodes");
    let mut decoder = Decoder::new(Limits::default());
    let frame = decoder.decode(&out).expect("valid").expect("whole");
    assert_eq!(
        Reply::parse(&frame),
        Ok(Reply::Answer("Follow the white rabbit.".into()))
    );
}

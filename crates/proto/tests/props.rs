//! Properties of the encoder, the decoders and the JSON writer, over
//! generated headers, contents and byte streams.
//!
//! Runs are deterministic: the seed is fixed unless `PROPTEST_RNG_SEED` is
//! set (use that, and `PROPTEST_CASES`, to explore further).

use std::fmt::Write as _;
use std::ops::ControlFlow;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use sockmux_proto::service::SERVER_BINARY_TYPE;
use sockmux_proto::{
    encode, error_response, json, result_response, ByteOrder, Decoder, Frame, Limits, ProtoError,
    QuoteStyle, Reply, Request, SearchService, StreamDecoder, Table,
};
use sockmux_test_support::app::frame;

/// Seed used when `PROPTEST_RNG_SEED` is not set.
const SEED: u64 = 0x50c4_4d0c;

fn config(cases: u32) -> Config {
    let mut config = Config::with_cases(cases);
    if config.rng_seed == RngSeed::Random {
        config.rng_seed = RngSeed::Fixed(SEED);
    }
    config
}

/// A message as the encoder is asked to write it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Msg {
    content_type: String,
    content_encoding: String,
    content: Vec<u8>,
    keep_alive: bool,
}

/// A decoded frame, owned, to compare with the [`Msg`] it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Decoded {
    byteorder: ByteOrder,
    content_length: usize,
    msg: Msg,
}

impl From<Frame<'_>> for Decoded {
    fn from(frame: Frame<'_>) -> Self {
        Self {
            byteorder: frame.header.byteorder,
            content_length: frame.header.content_length,
            msg: Msg {
                content_type: frame.header.content_type.clone(),
                content_encoding: frame.header.content_encoding.clone(),
                content: frame.content.to_vec(),
                keep_alive: frame.header.keep_alive,
            },
        }
    }
}

impl Msg {
    fn encode(&self, out: &mut Vec<u8>) {
        encode::message(
            out,
            &self.content_type,
            &self.content_encoding,
            &[&self.content],
            self.keep_alive,
        )
        .expect("generated headers fit in 65,535 bytes");
    }

    fn wire(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// What decoding this message must give.
    fn decoded(&self) -> Decoded {
        Decoded {
            byteorder: ByteOrder::native(),
            content_length: self.content.len(),
            msg: self.clone(),
        }
    }
}

/// Header strings: the real ones, printable Unicode, and strings heavy in
/// what needs escaping (quotes, backslashes, control characters).
fn header_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("text/json".to_owned()),
        Just("binary/custom-client-binary-type".to_owned()),
        Just("utf-8".to_owned()),
        Just(String::new()),
        "\\PC{0,24}",
        "[\"\\\\\\x00-\\x1f\\x7f a-z/\u{e9}\u{2028}\u{1f436}]{0,24}",
        proptest::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter),
    ]
}

fn utf8_label() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["utf-8", "UTF-8", "utf8", "Utf_8"]).prop_map(str::to_owned)
}

fn msg() -> impl Strategy<Value = Msg> {
    (
        header_string(),
        header_string(),
        utf8_label(),
        proptest::collection::vec(any::<u8>(), 0..300),
        any::<bool>(),
    )
        .prop_map(|(content_type, encoding, utf8, content, keep_alive)| Msg {
            // text/json must name an encoding the decoder accepts.
            content_encoding: if content_type == "text/json" {
                utf8
            } else {
                encoding
            },
            content_type,
            content,
            keep_alive,
        })
}

/// Messages whose headers mostly fit [`SMALL`] and whose content sometimes
/// does not.
fn short_msg() -> impl Strategy<Value = Msg> {
    (
        prop_oneof![Just("text/json".to_owned()), "[a-z/\"\\\\\x00-\x1f]{0,12}"],
        "[a-z\"\\\\\x00-\x1f-]{0,12}",
        proptest::collection::vec(any::<u8>(), 0..300),
        any::<bool>(),
    )
        .prop_map(|(content_type, encoding, content, keep_alive)| Msg {
            content_encoding: if content_type == "text/json" {
                "utf-8".to_owned()
            } else {
                encoding
            },
            content_type,
            content,
            keep_alive,
        })
}

/// Feeds `chunks` in order, collecting every frame.
fn feed_all<'c>(
    stream: &mut StreamDecoder,
    chunks: impl IntoIterator<Item = &'c [u8]>,
) -> Result<Vec<Decoded>, ProtoError> {
    let mut frames = Vec::new();
    for chunk in chunks {
        stream.feed(chunk, |frame| {
            frames.push(Decoded::from(frame));
            ControlFlow::Continue(())
        })?;
    }
    Ok(frames)
}

/// Splits `bytes` into chunks whose sizes cycle through `sizes` (each >= 1).
fn chunked<'b>(bytes: &'b [u8], sizes: &[usize]) -> Vec<&'b [u8]> {
    let mut chunks = Vec::new();
    let mut rest = bytes;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(size.clamp(1, rest.len()));
        chunks.push(chunk);
        rest = tail;
    }
    chunks
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn round_trips_whole(m in msg()) {
        let wire = m.wire();
        let mut decoder = Decoder::new(Limits::default());
        let frame = decoder.decode(&wire).expect("valid").expect("whole");
        prop_assert_eq!(frame.len, wire.len());
        prop_assert_eq!(frame.header_json, &wire[2..wire.len() - m.content.len()]);
        prop_assert_eq!(Decoded::from(frame), m.decoded());
        prop_assert!(!decoder.is_mid_message());
    }

    #[test]
    fn round_trips_one_byte_at_a_time(m in msg()) {
        let wire = m.wire();
        let mut decoder = Decoder::new(Limits::default());
        for end in 0..wire.len() {
            let got = decoder.decode(&wire[..end]).expect("valid prefix");
            prop_assert!(got.is_none(), "a message after {} of {} bytes", end, wire.len());
        }
        let frame = decoder.decode(&wire).expect("valid").expect("whole");
        prop_assert_eq!(frame.len, wire.len());
        prop_assert_eq!(Decoded::from(frame), m.decoded());
    }

    #[test]
    fn round_trips_split_at_every_index(m in msg()) {
        let wire = m.wire();
        for split in 0..=wire.len() {
            let mut stream = StreamDecoder::new(Limits::default());
            let (a, b) = wire.split_at(split);
            let frames = feed_all(&mut stream, [a, b]).expect("valid");
            prop_assert_eq!(frames, vec![m.decoded()], "split at {}", split);
            prop_assert_eq!(stream.buffered(), 0);
            prop_assert_eq!(stream.finish(), Ok(()));
        }
    }

    #[test]
    fn round_trips_many_messages_in_one_chunk(
        msgs in proptest::collection::vec(msg(), 1..8),
        sizes in proptest::collection::vec(1usize..200, 1..8),
    ) {
        let mut wire = Vec::new();
        for m in &msgs {
            m.encode(&mut wire);
        }
        let expected: Vec<Decoded> = msgs.iter().map(Msg::decoded).collect();

        let mut stream = StreamDecoder::new(Limits::default());
        let frames = feed_all(&mut stream, [&wire[..]]).expect("valid");
        prop_assert_eq!(&frames, &expected);
        prop_assert_eq!(stream.buffered(), 0);

        // The same stream in arbitrary chunks.
        let mut stream = StreamDecoder::new(Limits::default());
        let frames = feed_all(&mut stream, chunked(&wire, &sizes)).expect("valid");
        prop_assert_eq!(&frames, &expected);
        prop_assert_eq!(stream.finish(), Ok(()));

        // And through the slice decoder, dropping each message's bytes.
        let mut decoder = Decoder::new(Limits::default());
        let mut at = 0;
        let mut frames = Vec::new();
        while let Some(frame) = decoder.decode(&wire[at..]).expect("valid") {
            at += frame.len;
            frames.push(Decoded::from(frame));
        }
        prop_assert_eq!(at, wire.len());
        prop_assert_eq!(frames, expected);
    }

    #[test]
    fn a_caller_may_stop_after_each_frame_and_resume(
        msgs in proptest::collection::vec(msg(), 1..6),
    ) {
        let mut wire = Vec::new();
        for m in &msgs {
            m.encode(&mut wire);
        }
        let mut stream = StreamDecoder::new(Limits::default());
        let mut frames = Vec::new();
        let mut chunk: &[u8] = &wire;
        for _ in 0..=msgs.len() {
            stream
                .feed(chunk, |frame| {
                    frames.push(Decoded::from(frame));
                    ControlFlow::Break(())
                })
                .expect("valid");
            chunk = &[];
        }
        let expected: Vec<Decoded> = msgs.iter().map(Msg::decoded).collect();
        prop_assert_eq!(frames, expected);
        prop_assert_eq!(stream.buffered(), 0);
    }
}

/// Limits small enough that generated streams hit them, yet large enough
/// that a message with short strings (a header of about 90 bytes) passes.
const SMALL: Limits = Limits {
    max_header: 128,
    max_content: 256,
};

/// Feeds `chunks` to a stream decoder with [`SMALL`] limits, checking after
/// every call that nothing panicked, the buffer stayed within one message,
/// and every frame is consistent. Stops at the first error, as a caller
/// must (the stream cannot be resynchronised).
fn feed_checked(chunks: &[&[u8]]) -> Result<(), TestCaseError> {
    let mut stream = StreamDecoder::new(SMALL);
    for chunk in chunks {
        let mut bad_frame = None;
        let result = stream.feed(chunk, |frame| {
            if frame.content.len() != frame.header.content_length
                || frame.header.content_length > SMALL.max_content
                || frame.len > SMALL.max_message()
            {
                bad_frame = Some(format!("{frame:?}"));
            }
            ControlFlow::Continue(())
        });
        prop_assert!(bad_frame.is_none(), "inconsistent frame {:?}", bad_frame);
        prop_assert!(
            stream.buffered() <= SMALL.max_message(),
            "{} bytes buffered, limit {} ({:?})",
            stream.buffered(),
            SMALL.max_message(),
            result
        );
        if result.is_err() {
            return Ok(());
        }
    }
    let _ = stream.finish();
    Ok(())
}

/// Mostly small chunks, now and then one larger than a whole message.
fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(
        prop_oneof![4 => 1usize..8, 2 => 8usize..100, 1 => 100usize..1000],
        1..10,
    )
}

/// Valid small messages with some bytes overwritten: gets past the header
/// checks far more often than uniform noise does.
fn mutated_stream() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec(short_msg(), 1..6),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    )
        .prop_map(|(msgs, edits)| {
            let mut wire = Vec::new();
            for m in &msgs {
                // Too long for the small limits is fine: that is a path too.
                m.encode(&mut wire);
            }
            for (at, byte) in edits {
                let i = at.index(wire.len());
                wire[i] = byte;
            }
            wire
        })
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_bytes_never_panic_or_overfill_the_buffer(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        sizes in chunk_sizes(),
    ) {
        feed_checked(&chunked(&bytes, &sizes))?;
    }

    #[test]
    fn mutated_messages_never_panic_or_overfill_the_buffer(
        bytes in mutated_stream(),
        sizes in chunk_sizes(),
    ) {
        feed_checked(&chunked(&bytes, &sizes))?;
    }
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn json_writer_output_parses_back_to_the_same_string(s in any::<String>()) {
        let mut out = Vec::new();
        json::write_str(&mut out, &s);
        let back: String = serde_json::from_slice(&out).expect("valid JSON string");
        prop_assert_eq!(&back, &s);
        // serde_json escapes strings exactly as Python's
        // json.dumps(ensure_ascii=False) does.
        prop_assert_eq!(String::from_utf8(out).expect("UTF-8"), serde_json::to_string(&s).expect("serialises"));
    }

    #[test]
    fn json_writer_matches_serde_json_on_escape_heavy_strings(
        s in "[\"\\\\\\x00-\\x1f\\x7f a-z\u{80}-\u{ff}\u{2028}\u{2029}\u{fffd}\u{1f436}]{0,40}",
    ) {
        let mut out = Vec::new();
        json::write_str(&mut out, &s);
        prop_assert_eq!(String::from_utf8(out).expect("UTF-8"), serde_json::to_string(&s).expect("serialises"));
    }

    #[test]
    fn escaping_writer_escapes_like_write_escaped(s in any::<String>()) {
        let mut direct = Vec::new();
        json::write_escaped(&mut direct, &s);
        let mut formatted = Vec::new();
        write!(json::EscapingWriter(&mut formatted), "{s}").expect("writing to a Vec");
        prop_assert_eq!(direct, formatted);
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn search_for_any_value_is_answered_as_the_reference_would(
        value in "\\PC{0,16}|[\"\\\\\\x00-\\x1f]{0,8}|morpheus|ring|\u{1f436}",
        keep_alive in any::<bool>(),
    ) {
        let mut wire = Vec::new();
        encode::search_request(&value, keep_alive, &mut wire).expect("encodes");
        let mut decoder = Decoder::new(Limits::default());
        let frame = decoder.decode(&wire).expect("valid").expect("whole");
        prop_assert_eq!(frame.header.keep_alive, keep_alive);
        let request = Request::parse(&frame).expect("a search");
        prop_assert_eq!(&request, &Request::Search { value: value.as_str().into() });

        let table = Table::builtin();
        let mut response = Vec::new();
        SearchService::new(table.clone())
            .respond(&request, keep_alive, &mut response)
            .expect("encodes");
        let mut decoder = Decoder::new(Limits::default());
        let reply = decoder.decode(&response).expect("valid").expect("whole");
        prop_assert_eq!(reply.len, response.len());
        prop_assert_eq!(reply.header.keep_alive, keep_alive);
        prop_assert!(reply.header.is_json());
        let result: serde_json::Value = serde_json::from_slice(reply.content).expect("JSON");
        let expected = match table.get(&value) {
            Some(answer) => answer.to_owned(),
            None => format!("No match for \"{value}\"."),
        };
        prop_assert_eq!(result, serde_json::json!({ "result": expected }));
    }
}

/// A request of each kind the service answers differently.
#[derive(Debug, Clone)]
enum Asked {
    Search(String),
    /// A JSON request with an action other than `search`.
    Action(String, String),
    /// A binary request for `action + value` (never empty).
    Binary(String, String),
}

fn asked() -> impl Strategy<Value = Asked> {
    let text = || "\\PC{0,16}|[\"'\\\\\\x00-\\x1f]{0,8}|morpheus|ring|\u{1f436}";
    prop_oneof![
        text().prop_map(Asked::Search),
        (text().prop_filter("not search", |a| a != "search"), text())
            .prop_map(|(a, v)| Asked::Action(a, v)),
        ("[a-z]{1,6}", text()).prop_map(|(a, v)| Asked::Binary(a, v)),
    ]
}

/// A [`Reply`], owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Read {
    Answer(String),
    Error(String),
    Binary(String, Vec<u8>),
}

/// Decodes `wire` as one response and reads it.
fn read_reply(wire: &[u8]) -> Result<Read, TestCaseError> {
    let mut decoder = Decoder::new(Limits::default());
    let frame = decoder.decode(wire).expect("valid").expect("whole");
    prop_assert_eq!(frame.len, wire.len());
    let reply = Reply::parse(&frame).map_err(|e| TestCaseError::fail(e.to_string()))?;
    Ok(match reply {
        Reply::Answer(text) => Read::Answer(text.into_owned()),
        Reply::Error(text) => Read::Error(text.into_owned()),
        Reply::Binary {
            content_type,
            content,
        } => Read::Binary(content_type.to_owned(), content.to_vec()),
    })
}

proptest! {
    #![proptest_config(config(256))]

    /// Every response the service writes, in either quote style, reads
    /// back as the result it meant to write.
    #[test]
    fn every_response_the_service_writes_reads_back_as_its_result(
        asked in asked(),
        keep_alive in any::<bool>(),
        style in prop::sample::select(QuoteStyle::ALL.to_vec()),
    ) {
        let mut wire = Vec::new();
        match &asked {
            Asked::Search(value) => encode::search_request(value, keep_alive, &mut wire),
            Asked::Action(action, value) => encode::json_request(action, value, keep_alive, &mut wire),
            Asked::Binary(action, value) => encode::binary_request(action, value, keep_alive, &mut wire),
        }
        .expect("encodes");
        let mut decoder = Decoder::new(Limits::default());
        let frame = decoder.decode(&wire).expect("valid").expect("whole");
        let request = Request::parse(&frame).expect("a request");
        let table = Table::builtin();
        let mut response = Vec::new();
        SearchService::new(table.clone())
            .with_quote_style(style)
            .respond(&request, keep_alive, &mut response)
            .expect("encodes");

        let q = style.mark();
        let expected = match asked {
            Asked::Search(value) => Read::Answer(match table.get(&value) {
                Some(answer) => answer.to_owned(),
                None => format!("No match for {q}{value}{q}."),
            }),
            Asked::Action(action, _) => Read::Error(format!("Error: invalid action {q}{action}{q}.")),
            Asked::Binary(action, value) => {
                let sent = format!("{action}{value}");
                let mut content = b"First 10 bytes of request: ".to_vec();
                content.extend_from_slice(&sent.as_bytes()[..sent.len().min(10)]);
                Read::Binary(SERVER_BINARY_TYPE.to_owned(), content)
            }
        };
        prop_assert_eq!(read_reply(&response)?, expected);
    }

    /// Every error response reads back as an error carrying the message.
    #[test]
    fn every_error_response_reads_back_as_an_error(
        detail in "\\PC{0,16}|[\"'\\\\\\x00-\\x1f]{0,8}",
        encoding in "\\PC{0,16}",
    ) {
        for err in [
            ProtoError::EmptyHeader,
            ProtoError::HeaderNotJson { detail: detail.clone() },
            ProtoError::UnsupportedEncoding { encoding: encoding.clone() },
            ProtoError::MissingField { field: "action" },
        ] {
            let mut response = Vec::new();
            error_response(&err, &mut response).expect("encodes");
            prop_assert_eq!(read_reply(&response)?, Read::Error(format!("Error: {err}.")));
        }
    }
}

/// JSON values a key the reader does not use may carry: Python's
/// non-finite numbers among them, nested.
fn ignored_value() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec![
        "NaN",
        "Infinity",
        "-Infinity",
        "null",
        "true",
        "0",
        "-1.5e3",
        "\"x\"",
        "\"\\ud800\"",
    ])
    .prop_map(str::to_owned);
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3)
                .prop_map(|v| format!("[{}]", v.join(", "))),
            proptest::collection::vec(inner, 0..3).prop_map(|v| {
                let members: Vec<String> = v.iter().map(|x| format!("\"k\": {x}")).collect();
                format!("{{{}}}", members.join(", "))
            }),
        ]
    })
}

/// A value for a key the reader does use, which a later duplicate of the
/// key overrides: anything at all, wrong types included.
fn overridden_value() -> impl Strategy<Value = String> {
    prop_oneof![
        ignored_value(),
        Just("\"text/json\"".to_owned()),
        Just("-1".to_owned())
    ]
}

/// The members of a canonical object rewritten as Python's `json.loads`
/// still reads them the same: each key may come earlier with a value a
/// later duplicate overrides; keys nothing reads, holding non-finite
/// numbers, are mixed in; `extra` members go at the end (after the last
/// value of every key); whitespace varies.
fn noisy_object(
    members: &[(String, String)],
    extra: &[(String, String)],
) -> impl Strategy<Value = String> {
    let members = members.to_vec();
    let extra = extra.to_vec();
    let n = members.len();
    (
        proptest::collection::vec(proptest::option::of(overridden_value()), n),
        proptest::collection::vec(
            proptest::option::of(("x-[a-z]{1,3}", ignored_value())),
            n + 1,
        ),
        prop::sample::select(vec![", ", ",", " ,\n ", "\t,"]),
        prop::sample::select(vec![": ", ":", " :\t", "\n:"]),
    )
        .prop_map(move |(earlier, unknown, comma, colon)| {
            let mut out: Vec<(String, String)> = Vec::new();
            for (key, value) in members
                .iter()
                .zip(&earlier)
                .filter_map(|(m, e)| Some((&m.0, e.as_ref()?)))
            {
                out.push((key.clone(), value.clone()));
            }
            for (i, member) in members.iter().enumerate() {
                if let Some((key, value)) = &unknown[i] {
                    out.push((format!("\"{key}\""), value.clone()));
                }
                out.push(member.clone());
            }
            if let Some((key, value)) = &unknown[n] {
                out.push((format!("\"{key}\""), value.clone()));
            }
            out.extend(extra.iter().cloned());
            let body: Vec<String> = out.iter().map(|(k, v)| format!("{k}{colon}{v}")).collect();
            format!("{{ {} }}", body.join(comma))
        })
}

/// A JSON string's text.
fn quoted(s: &str) -> String {
    let mut out = Vec::new();
    json::write_str(&mut out, s);
    String::from_utf8(out).expect("UTF-8")
}

/// A message (its header canonical, so it takes the fast path) and the same
/// header rewritten by [`noisy_object`], with `"keep-alive": null` added
/// when the message does not ask for keep-alive.
fn noisy_header() -> impl Strategy<Value = (Msg, String)> {
    (msg(), any::<bool>()).prop_flat_map(|(m, null_keep_alive)| {
        let mut members = vec![
            (
                "\"byteorder\"".to_owned(),
                quoted(ByteOrder::native().as_str()),
            ),
            ("\"content-type\"".to_owned(), quoted(&m.content_type)),
            (
                "\"content-encoding\"".to_owned(),
                quoted(&m.content_encoding),
            ),
            ("\"content-length\"".to_owned(), m.content.len().to_string()),
        ];
        let mut extra = Vec::new();
        if m.keep_alive {
            members.push(("\"keep-alive\"".to_owned(), "true".to_owned()));
        } else if null_keep_alive {
            extra.push(("\"keep-alive\"".to_owned(), "null".to_owned()));
        }
        noisy_object(&members, &extra).prop_map(move |text| (m.clone(), text))
    })
}

/// Decodes protoheader + `header` + the message's content.
fn decode_with_header(header: &str, content: &[u8]) -> Result<Decoded, ProtoError> {
    let wire = frame(header, content);
    let mut decoder = Decoder::new(Limits::default());
    let frame = decoder.decode(&wire)?.expect("whole");
    Ok(Decoded::from(frame))
}

proptest! {
    #![proptest_config(config(512))]

    /// Duplicate keys (the last wins), non-finite numbers in keys nothing
    /// reads, `"keep-alive": null` and free whitespace take the general
    /// path and give what the canonical header gives on the fast path.
    #[test]
    fn a_header_read_as_python_reads_it_agrees_with_its_canonical_form(
        (m, noisy) in noisy_header(),
    ) {
        prop_assert_eq!(decode_with_header(&noisy, &m.content), Ok(m.decoded()), "{}", noisy);
    }

    /// The same for a request's content: its `action` and `value`, after
    /// duplicates and noise, are the ones the canonical request carries.
    #[test]
    fn a_request_read_as_python_reads_it_agrees_with_its_canonical_form(
        (action, value, noisy) in ("search|[a-z]{1,6}", "\\PC{0,8}|[\"\\\\\\x00-\\x1f]{0,4}")
            .prop_flat_map(|(action, value): (String, String)| {
                let members = [("\"action\"".to_owned(), quoted(&action)), ("\"value\"".to_owned(), quoted(&value))];
                noisy_object(&members, &[]).prop_map(move |text| (action.clone(), value.clone(), text))
            }),
    ) {
        let mut canonical = Vec::new();
        encode::json_request(&action, &value, false, &mut canonical).expect("encodes");
        let mut noisy_wire = Vec::new();
        encode::message(&mut noisy_wire, "text/json", "utf-8", &[noisy.as_bytes()], false).expect("encodes");
        let (mut a, mut b) = (Decoder::new(Limits::default()), Decoder::new(Limits::default()));
        let fast = a.decode(&canonical).expect("valid").expect("whole");
        let general = b.decode(&noisy_wire).expect("valid").expect("whole");
        prop_assert_eq!(Request::parse(&general), Request::parse(&fast), "{}", noisy);
    }

    /// And for a response's `result`, as a client reads it.
    #[test]
    fn a_reply_read_as_python_reads_it_agrees_with_its_canonical_form(
        (result, noisy) in "\\PC{0,8}|Error: [\"\\\\\\x00-\\x1f]{0,4}".prop_flat_map(|result: String| {
            let members = [("\"result\"".to_owned(), quoted(&result))];
            noisy_object(&members, &[]).prop_map(move |text| (result.clone(), text))
        }),
    ) {
        let mut canonical = Vec::new();
        result_response(&result, false, &mut canonical).expect("encodes");
        let mut noisy_wire = Vec::new();
        encode::message(&mut noisy_wire, "text/json", "utf-8", &[noisy.as_bytes()], false).expect("encodes");
        prop_assert_eq!(read_reply(&noisy_wire)?, read_reply(&canonical)?, "{}", noisy);
    }
}

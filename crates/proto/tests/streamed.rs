//! Long answers written in pieces ([`Pending`]) are byte for byte the
//! answers built whole, for every kind of long name and quote style.

use proptest::prelude::*;
use sockmux_proto::{
    encode, Decoder, Limits, Pending, QuoteStyle, Request, SearchService, Table, STREAM_ABOVE,
};

/// The request for `content` (a JSON text), as a whole message.
fn wire(content: &str, keep_alive: bool) -> Vec<u8> {
    let mut out = Vec::new();
    encode::json_message(&mut out, keep_alive, |out| {
        out.extend_from_slice(content.as_bytes())
    })
    .expect("encodes");
    out
}

/// The answer built whole, and the answer streamed `room` bytes at a time
/// (`None` when the service chose to build it whole).
fn both(service: &SearchService, content: &str, room: usize) -> (Vec<u8>, Option<Vec<u8>>) {
    let wire = wire(content, true);
    let mut decoder = Decoder::new(Limits::default());
    let frame = decoder.decode(&wire).expect("valid").expect("whole");
    let mut whole = Vec::new();
    service
        .respond(
            &Request::parse(&frame).expect("a request"),
            true,
            &mut whole,
        )
        .expect("answers");
    let mut streamed = Vec::new();
    let pending = service
        .respond_frame(&frame, true, &mut streamed)
        .expect("answers");
    let streamed = pending.map(|mut pending: Pending| {
        let mut turns = 0;
        while !pending.fill(frame.content, &mut streamed, room) {
            turns += 1;
            assert!(turns <= content.len() / room + 1, "no progress");
        }
        streamed
    });
    (whole, streamed)
}

fn long(unit: &str) -> String {
    unit.repeat(STREAM_ABOVE / unit.len() + 7)
}

#[test]
fn a_long_no_match_is_streamed_exactly_as_built_whole() {
    for quote in QuoteStyle::ALL {
        let service = SearchService::new(Table::builtin()).with_quote_style(quote);
        for name in [
            long("x"),
            long("é🐶"),
            long(r#"a\"b\\c\n\u00e9\ud83d\ude00"#),
        ] {
            for content in [
                format!(r#"{{"action": "search", "value": "{name}"}}"#),
                format!(r#"{{"value": "{name}", "action": "search", "n": NaN}}"#),
                format!(r#"{{"action": "{name}", "value": 1}}"#),
            ] {
                let (whole, streamed) = both(&service, &content, 4096);
                assert_eq!(
                    streamed.as_deref(),
                    Some(&whole[..]),
                    "{quote:?} {}",
                    &content[..40]
                );
            }
        }
    }
}

#[test]
fn short_names_keys_that_could_match_and_bad_strings_are_built_whole() {
    let long_key = "k".repeat(STREAM_ABOVE);
    let table = Table::from_entries([(long_key.as_str(), "found")]);
    let service = SearchService::new(table);
    for content in [
        r#"{"action": "search", "value": "short"}"#.to_owned(),
        // Could be the long key, escaped: looked up, not streamed.
        format!(r#"{{"action": "search", "value": "{}"}}"#, long("k")),
    ] {
        let (_, streamed) = both(&service, &content, 4096);
        assert_eq!(streamed, None, "{}", &content[..40]);
    }
    // A lone surrogate is not a string: refused the usual way.
    let mut out = Vec::new();
    let bad = wire(
        &format!(r#"{{"action": "search", "value": "{}\ud800"}}"#, long("x")),
        false,
    );
    let mut decoder = Decoder::new(Limits::default());
    let frame = decoder.decode(&bad).expect("valid").expect("whole");
    assert!(service.respond_frame(&frame, false, &mut out).is_err());
    assert!(out.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn any_long_name_streams_as_built_whole(
        unit in "\\PC{1,8}",
        room in 1usize..9000,
        single in any::<bool>(),
    ) {
        let name = serde_json::to_string(&long(&unit)).expect("serialises");
        let quote = if single { QuoteStyle::Single } else { QuoteStyle::Double };
        let service = SearchService::new(Table::builtin()).with_quote_style(quote);
        let content = format!(r#"{{"action": "search", "value": {name}}}"#);
        let (whole, streamed) = both(&service, &content, room);
        prop_assert_eq!(streamed, Some(whole));
    }
}

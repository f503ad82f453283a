use super::*;

fn run(
    workload: &AppWorkload,
    responses: &[u8],
    requests: usize,
) -> (Vec<Verdict>, Result<(), Fault>) {
    let mut state = workload.state(0);
    let mut sink = Vec::new();
    for _ in 0..requests {
        workload.request(&mut state, &mut sink);
    }
    let mut verdicts = Vec::new();
    let result = workload.input(&mut state, responses, true, &mut |v| verdicts.push(v));
    (verdicts, result)
}

/// The responses the reference server would give to `requests`
/// requests of connection 0.
fn served(workload: &AppWorkload, requests: usize, keep_alive: bool) -> Vec<u8> {
    served_quoting(workload, requests, keep_alive, QuoteStyle::default())
}

/// The same, from a server of the given quote style.
fn served_quoting(
    workload: &AppWorkload,
    requests: usize,
    keep_alive: bool,
    quote: QuoteStyle,
) -> Vec<u8> {
    let service = SearchService::new(Table::builtin()).with_quote_style(quote);
    served_by(workload, &service, requests, keep_alive)
}

/// The responses `service` gives to `requests` requests of connection 0.
fn served_by(
    workload: &AppWorkload,
    service: &SearchService,
    requests: usize,
    keep_alive: bool,
) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..requests {
        let case = &workload.cases[i % workload.cases.len()];
        let mut decoder = Decoder::new(Limits::default());
        let frame = decoder
            .decode(&case.request)
            .expect("valid")
            .expect("whole");
        let request = Request::parse(&frame).expect("valid");
        service
            .respond(&request, keep_alive, &mut out)
            .expect("encodes");
    }
    out
}

#[test]
fn accepts_the_services_own_answers_pipelined() {
    let workload = AppWorkload::new(false, true, None, &[]).expect("builds");
    let responses = served(&workload, 9, true);
    let (verdicts, result) = run(&workload, &responses, 9);
    assert!(result.is_ok());
    assert_eq!(verdicts, vec![Verdict::Ok; 9]);
}

#[test]
fn flags_a_wrong_byte_as_a_mismatch() {
    let workload = AppWorkload::new(true, false, None, &[]).expect("builds");
    let mut responses = served(&workload, 1, false);
    let last = responses.len() - 1;
    responses[last] ^= 0x20;
    let (verdicts, result) = run(&workload, &responses, 1);
    assert!(result.is_ok());
    assert!(matches!(verdicts.as_slice(), [Verdict::Mismatch(Some(_))]));
}

/// One `text/json` response with `content`.
fn json_response(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode::message(&mut out, "text/json", "utf-8", &[content], false).expect("encodes");
    out
}

#[test]
fn accepts_json_spaced_differently() {
    let workload = AppWorkload::new(false, false, None, &[]).expect("builds");
    let expected = &workload.cases[0].expected[0];
    let result = expected.result.as_deref().expect("a JSON answer");
    let compact = serde_json::to_vec(&serde_json::json!({ "result": result })).expect("json");
    assert_ne!(compact, expected.content);
    let (verdicts, result) = run(&workload, &json_response(&compact), 1);
    assert!(result.is_ok());
    assert_eq!(verdicts, vec![Verdict::Ok]);
}

#[test]
fn accepts_either_quote_style_of_protocol_3a() {
    let workload = AppWorkload::new(false, false, None, &[]).expect("builds");
    let requests = workload.cases.len();
    let single = served_quoting(&workload, requests, false, QuoteStyle::Single);
    assert_ne!(
        single,
        served(&workload, requests, false),
        "a miss shows the style"
    );
    let (verdicts, result) = run(&workload, &single, requests);
    assert!(result.is_ok());
    assert_eq!(verdicts, vec![Verdict::Ok; requests]);
}

#[test]
fn an_error_answer_ends_the_connection_with_its_text() {
    let workload = AppWorkload::new(false, false, None, &[]).expect("builds");
    let mut response = Vec::new();
    sockmux_proto::error_response(&ProtoError::EmptyContent, &mut response).expect("encodes");
    let (verdicts, result) = run(&workload, &response, 1);
    assert_eq!(verdicts, vec![]);
    assert!(
        matches!(&result, Err(Fault::ServerError(text)) if text == "Error: the request has no content."),
        "{result:?}"
    );
}

#[test]
fn says_why_an_unreadable_answer_is_a_mismatch() {
    let workload = AppWorkload::new(false, false, None, &[]).expect("builds");
    let (verdicts, result) = run(&workload, &json_response(br#"["result"]"#), 1);
    assert!(result.is_ok());
    let [Verdict::Mismatch(Some(detail))] = verdicts.as_slice() else {
        panic!("one described mismatch, got {verdicts:?}");
    };
    assert!(
        detail.contains("(text/json: the response content is not a JSON object)"),
        "{detail}"
    );
}

#[test]
fn a_response_without_keep_alive_is_judged_and_ends_the_connection() {
    let workload = AppWorkload::new(false, true, None, &[]).expect("builds");
    let responses = served(&workload, 1, false);
    let (verdicts, result) = run(&workload, &responses, 2);
    assert_eq!(verdicts, vec![Verdict::Ok]);
    assert!(matches!(result, Err(Fault::KeepAliveIgnored)));
}

#[test]
fn a_huge_wrong_answer_is_refused_or_quoted_short() {
    let workload = AppWorkload::new(false, true, None, &[]).expect("builds");
    let mut state = workload.state(0);
    workload.request(&mut state, &mut Vec::new());
    // Announces far more content than any expected answer: refused as
    // soon as the header is read, before the content is buffered.
    let mut huge = Vec::new();
    let content = vec![b'x'; 4 * 1024 * 1024];
    let header = format!(
        r#"{{"byteorder": "little", "content-type": "binary/custom-server-binary-type", "content-encoding": "binary", "content-length": {}, "keep-alive": true}}"#,
        content.len()
    );
    huge.extend_from_slice(&(header.len() as u16).to_be_bytes());
    huge.extend_from_slice(header.as_bytes());
    let result = workload.input(&mut state, &huge, true, &mut |_| {});
    assert!(matches!(result, Err(Fault::Malformed(_))), "{result:?}");
    assert!(state.decoder.buffered() < 1024);

    let quoted = quote(&content[..BenchConfig::RESPONSE_SLACK]);
    assert!(quoted.len() < 2 * QUOTE_MAX, "{quoted}");
    assert!(
        quoted.ends_with("... (65536 bytes, FNV-1a a9c6f43f08762325)"),
        "{quoted}"
    );
    // Cut at a character boundary: byte 200 is inside an "é".
    let text = format!("a{}", "é".repeat(QUOTE_MAX));
    let short = shorten(&text);
    assert_eq!(short, format!("{}... (401 bytes)", &text[..199]));
}

#[test]
fn fnv1a_matches_the_published_test_vectors() {
    assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
}

#[test]
fn long_answers_that_start_alike_are_quoted_apart() {
    let mut one = vec![b'x'; 10 * QUOTE_MAX];
    let two = one.clone();
    one[5 * QUOTE_MAX] = b'y';
    let (one, two) = (quote(&one), quote(&two));
    assert_ne!(one, two);
    assert!(
        one.contains(&format!("({} bytes, FNV-1a ", 10 * QUOTE_MAX)),
        "{one}"
    );
}

/// One binary response whose content is `len` bytes of `x`.
fn binary_response(len: usize, keep_alive: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let content = vec![b'x'; len];
    encode::message(&mut out, "binary/x", "binary", &[&content], keep_alive).expect("encodes");
    out
}

#[test]
fn max_response_bounds_what_is_read_and_quotes_what_is_wrong() {
    let big = binary_response(200 * 1024, true);
    // The default leaves 64 KiB over the largest right answer.
    let workload = AppWorkload::new(false, true, None, &[]).expect("builds");
    let (verdicts, result) = run(&workload, &big, 1);
    assert!(verdicts.is_empty());
    assert!(
        matches!(
            result,
            Err(Fault::Malformed(ProtoError::ContentTooLong { .. }))
        ),
        "{result:?}"
    );

    let workload = AppWorkload::new(false, true, Some(1 << 20), &[]).expect("builds");
    let (verdicts, result) = run(&workload, &big, 1);
    assert!(result.is_ok(), "{result:?}");
    let [Verdict::Mismatch(Some(detail))] = verdicts.as_slice() else {
        panic!("one described mismatch, got {verdicts:?}");
    };
    assert!(detail.contains("(204800 bytes, FNV-1a "), "{detail}");
    assert!(detail.len() < 4 * QUOTE_MAX, "{detail}");

    let Err(BenchError::Config(text)) = AppWorkload::new(false, true, Some(10), &[]) else {
        panic!("a bound below the right answers is refused");
    };
    assert!(text.contains("below the largest right answer"), "{text}");
}

#[test]
fn with_two_tables_an_answer_from_either_is_right_and_from_another_a_mismatch() {
    let table = |tag: &str| {
        Arc::new(Table::from_entries(
            (0..10).map(|i| (format!("key-{i}"), format!("{tag} answer {i}"))),
        ))
    };
    let (a, b) = (table("A"), table("B"));
    let workload =
        AppWorkload::new(false, true, None, &[Arc::clone(&a), Arc::clone(&b)]).expect("builds");
    assert_eq!(
        workload.cases.len(),
        11,
        "every key of the first table, and a miss"
    );
    let requests = 22;
    for from in [&a, &b] {
        let responses = served_by(
            &workload,
            &SearchService::new_shared(Arc::clone(from)),
            requests,
            true,
        );
        let (verdicts, result) = run(&workload, &responses, requests);
        assert!(result.is_ok());
        assert_eq!(verdicts, vec![Verdict::Ok; requests]);
    }
    let responses = served_by(
        &workload,
        &SearchService::new_shared(table("C")),
        requests,
        true,
    );
    let (verdicts, result) = run(&workload, &responses, requests);
    assert!(result.is_ok());
    let wrong = verdicts
        .iter()
        .filter(|v| matches!(v, Verdict::Mismatch(_)))
        .count();
    assert_eq!(wrong, 20, "every hit is wrong, every miss right");
}

#[test]
fn a_large_table_is_searched_over_a_sample_spread_across_it() {
    let big = Arc::new(Table::from_entries(
        (0..MAX_KEYS * 3).map(|i| (format!("key-{i:07}"), format!("answer {i}"))),
    ));
    let workload = AppWorkload::new(false, true, None, &[big]).expect("builds");
    assert_eq!(workload.cases.len(), MAX_KEYS + 1);
    let last = &workload.cases[MAX_KEYS - 1].label;
    assert!(
        last.ends_with(&format!("key-{:07}", (MAX_KEYS - 1) * 3)),
        "{last}"
    );
}

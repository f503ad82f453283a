//! Golden tests: our encoder and search service emit, byte for byte, what the
//! reference Python programs emitted for the same request, and our decoder
//! reads their bytes back to the same header values and content.
//!
//! The fixtures in `tests/golden/` were captured from the real reference
//! client and server by `scripts/capture-golden.py` (run it from the
//! repository root to regenerate them). The last test re-runs that script,
//! when the reference programs and python3 are present, and checks the
//! committed fixtures still match a fresh capture, and another compares the
//! JSON writer with Python's `json.dumps` itself. Whether those two skip or
//! fail when the programs are missing is `sockmux_test_support::Seed`'s
//! decision (`SOCKMUX_REQUIRE_SEED=1` fails).
//!
//! The fixtures were captured on a little-endian machine, so their headers
//! say `"byteorder": "little"`; these tests assume the same.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sockmux_proto::{
    encode, json, ByteOrder, Decoder, Limits, QuoteStyle, Reply, Request, SearchService, Table,
};
use sockmux_test_support::{python3, run_bounded_with_input, Seed};

/// What a fixture message must decode to.
struct Message {
    content_type: &'static str,
    content_encoding: &'static str,
    content: &'static [u8],
}

struct Case {
    /// File stem in `tests/golden/`.
    name: &'static str,
    /// Our encoder's version of the request.
    encode_request: fn(&mut Vec<u8>),
    request: Message,
    /// What `Request::parse` must make of the request.
    parsed: Request<'static>,
    response: Message,
    /// What `Reply::parse` must make of the response.
    reply: Reply<'static>,
}

const JSON: &str = "text/json";
const UTF8: &str = "utf-8";

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn fixture(name: &str, part: &str) -> Vec<u8> {
    let path = golden_dir().join(format!("{name}.{part}.bin"));
    fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (regenerate with scripts/capture-golden.py)",
            path.display()
        )
    })
}

#[track_caller]
fn assert_bytes_eq(actual: &[u8], expected: &[u8], what: &str) {
    assert!(
        actual == expected,
        "{what} differs\n  got:      b\"{}\"\n  expected: b\"{}\"",
        actual.escape_ascii(),
        expected.escape_ascii()
    );
}

/// Decodes `wire` as exactly one message and checks it against `expected`.
#[track_caller]
fn assert_decodes_to(wire: &[u8], expected: &Message, what: &str) {
    let mut decoder = Decoder::new(Limits::default());
    let frame = decoder
        .decode(wire)
        .unwrap_or_else(|e| panic!("{what}: decode error: {e}"))
        .unwrap_or_else(|| panic!("{what}: decoder wants more bytes"));
    assert_eq!(frame.len, wire.len(), "{what}: one message, nothing after");
    assert_eq!(frame.header.byteorder, ByteOrder::Little, "{what}");
    assert_eq!(frame.header.content_type, expected.content_type, "{what}");
    assert_eq!(
        frame.header.content_encoding, expected.content_encoding,
        "{what}"
    );
    assert_eq!(
        frame.header.content_length,
        expected.content.len(),
        "{what}"
    );
    assert!(!frame.header.keep_alive, "{what}: no keep-alive");
    assert_bytes_eq(
        frame.content,
        expected.content,
        &format!("{what}: decoded content"),
    );
}

fn check(case: &Case) {
    let name = case.name;
    let request_fixture = fixture(name, "request");
    let response_fixture = fixture(name, "response");

    let mut ours = Vec::new();
    (case.encode_request)(&mut ours);
    assert_bytes_eq(
        &ours,
        &request_fixture,
        &format!("{name}: our request vs the fixture"),
    );
    assert_decodes_to(&request_fixture, &case.request, &format!("{name}: request"));
    assert_decodes_to(
        &response_fixture,
        &case.response,
        &format!("{name}: response"),
    );

    // The service, fed the reference client's bytes, answers with the
    // reference server's bytes.
    let mut decoder = Decoder::new(Limits::default());
    let frame = decoder
        .decode(&request_fixture)
        .expect("valid request")
        .expect("whole request");
    let request = Request::parse(&frame).expect("a request the service understands");
    assert_eq!(request, case.parsed, "{name}: parsed request");
    let service = SearchService::new(Table::builtin());
    let mut response = Vec::new();
    service
        .respond(&request, frame.header.keep_alive, &mut response)
        .expect("response encodes");
    assert_bytes_eq(
        &response,
        &response_fixture,
        &format!("{name}: our response vs the fixture"),
    );

    // The reference server's response reads as the reference client
    // reads it.
    let mut decoder = Decoder::new(Limits::default());
    let frame = decoder
        .decode(&response_fixture)
        .expect("valid response")
        .expect("whole response");
    assert_eq!(
        Reply::parse(&frame),
        Ok(case.reply.clone()),
        "{name}: reply"
    );
}

fn search(value: &'static str) -> Request<'static> {
    Request::Search {
        value: value.into(),
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "search-morpheus",
            encode_request: |out| encode::search_request("morpheus", false, out).unwrap(),
            request: Message {
                content_type: JSON,
                content_encoding: UTF8,
                content: br#"{"action": "search", "value": "morpheus"}"#,
            },
            parsed: search("morpheus"),
            response: Message {
                content_type: JSON,
                content_encoding: UTF8,
                content: "{\"result\": \"Follow the white rabbit. \u{1f430}\"}".as_bytes(),
            },
            reply: Reply::Answer("Follow the white rabbit. \u{1f430}".into()),
        },
        Case {
            name: "search-ring",
            encode_request: |out| encode::search_request("ring", false, out).unwrap(),
            request: Message {
                content_type: JSON,
                content_encoding: UTF8,
                content: br#"{"action": "search", "value": "ring"}"#,
            },
            parsed: search("ring"),
            response: Message {
                content_type: JSON,
                content_encoding: UTF8,
                content: "{\"result\": \"In the caves beneath the Misty Mountains. \u{1f48d}\"}"
                    .as_bytes(),
            },
            reply: Reply::Answer("In the caves beneath the Misty Mountains. \u{1f48d}".into()),
        },
        Case {
            name: "search-dog",
            encode_request: |out| encode::search_request("\u{1f436}", false, out).unwrap(),
            request: Message {
                content_type: JSON,
                content_encoding: UTF8,
                content: "{\"action\": \"search\", \"value\": \"\u{1f436}\"}".as_bytes(),
            },
            parsed: search("\u{1f436}"),
            response: Message {
                content_type: JSON,
                content_encoding: UTF8,
                content: "{\"result\": \"\u{1f43e} Playing ball! \u{1f3d0}\"}".as_bytes(),
            },
            reply: Reply::Answer("\u{1f43e} Playing ball! \u{1f3d0}".into()),
        },
        Case {
            name: "search-nobody",
            encode_request: |out| encode::search_request("nobody", false, out).unwrap(),
            request: Message {
                content_type: JSON,
                content_encoding: UTF8,
                content: br#"{"action": "search", "value": "nobody"}"#,
            },
            parsed: search("nobody"),
            response: Message {
                content_type: JSON,
                content_encoding: UTF8,
                content: br#"{"result": "No match for \"nobody\"."}"#,
            },
            reply: Reply::Answer("No match for \"nobody\".".into()),
        },
        Case {
            name: "search-escapes",
            encode_request: |out| {
                encode::search_request("say \"hi\"\\\t\u{1}\n", false, out).unwrap()
            },
            request: Message {
                content_type: JSON,
                content_encoding: UTF8,
                content: br#"{"action": "search", "value": "say \"hi\"\\\t\u0001\n"}"#,
            },
            parsed: search("say \"hi\"\\\t\u{1}\n"),
            response: Message {
                content_type: JSON,
                content_encoding: UTF8,
                content: br#"{"result": "No match for \"say \"hi\"\\\t\u0001\n\"."}"#,
            },
            reply: Reply::Answer("No match for \"say \"hi\"\\\t\u{1}\n\".".into()),
        },
        Case {
            name: "other-action",
            encode_request: |out| encode::json_request("frobnicate", "x", false, out).unwrap(),
            request: Message {
                content_type: JSON,
                content_encoding: UTF8,
                content: br#"{"action": "frobnicate", "value": "x"}"#,
            },
            parsed: Request::OtherAction {
                action: "frobnicate".into(),
                value: Some("x".into()),
            },
            response: Message {
                content_type: JSON,
                content_encoding: UTF8,
                content: br#"{"result": "Error: invalid action \"frobnicate\"."}"#,
            },
            reply: Reply::Error("Error: invalid action \"frobnicate\".".into()),
        },
        Case {
            name: "binary-echo",
            encode_request: |out| {
                encode::binary_request("echo", "hello world \u{1f30d}", false, out).unwrap()
            },
            request: Message {
                content_type: "binary/custom-client-binary-type",
                content_encoding: "binary",
                content: "echohello world \u{1f30d}".as_bytes(),
            },
            parsed: Request::Binary {
                content: "echohello world \u{1f30d}".as_bytes(),
            },
            response: Message {
                content_type: "binary/custom-server-binary-type",
                content_encoding: "binary",
                content: b"First 10 bytes of request: echohello ",
            },
            reply: Reply::Binary {
                content_type: "binary/custom-server-binary-type",
                content: b"First 10 bytes of request: echohello ",
            },
        },
    ]
}

fn case(name: &str) -> Case {
    cases()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case {name}"))
}

#[test]
fn search_found_matches_reference() {
    check(&case("search-morpheus"));
}

#[test]
fn search_found_with_emoji_answer_matches_reference() {
    check(&case("search-ring"));
}

#[test]
fn search_for_non_ascii_key_matches_reference() {
    check(&case("search-dog"));
}

#[test]
fn search_not_found_matches_reference() {
    check(&case("search-nobody"));
}

#[test]
fn search_not_found_with_escaped_value_matches_reference() {
    check(&case("search-escapes"));
}

#[test]
fn json_request_with_other_action_matches_reference() {
    check(&case("other-action"));
}

#[test]
fn binary_request_matches_reference() {
    check(&case("binary-echo"));
}

/// PROTOCOL.md 3a: the current tutorial's server differs from the captured
/// one only in the quote marks around the value or action a result names
/// (and so in `content-length`). The seed holds no program of that
/// generation, so the expected texts are the section's own examples.
#[test]
fn single_quote_style_differs_from_the_captures_only_in_the_quote_marks() {
    let service = SearchService::new(Table::builtin()).with_quote_style(QuoteStyle::Single);
    for (name, content, reply) in [
        (
            "search-nobody",
            r#"{"result": "No match for 'nobody'."}"#,
            Reply::Answer("No match for 'nobody'.".into()),
        ),
        (
            "search-escapes",
            r#"{"result": "No match for 'say \"hi\"\\\t\u0001\n'."}"#,
            Reply::Answer("No match for 'say \"hi\"\\\t\u{1}\n'.".into()),
        ),
        (
            "other-action",
            r#"{"result": "Error: invalid action 'frobnicate'."}"#,
            Reply::Error("Error: invalid action 'frobnicate'.".into()),
        ),
        (
            "search-morpheus",
            "{\"result\": \"Follow the white rabbit. \u{1f430}\"}",
            Reply::Answer("Follow the white rabbit. \u{1f430}".into()),
        ),
    ] {
        let request = fixture(name, "request");
        let mut decoder = Decoder::new(Limits::default());
        let frame = decoder.decode(&request).expect("valid").expect("whole");
        let mut response = Vec::new();
        service
            .respond(
                &Request::parse(&frame).expect("valid"),
                false,
                &mut response,
            )
            .expect("encodes");

        let captured = fixture(name, "response");
        let mut decoder = Decoder::new(Limits::default());
        let theirs = decoder.decode(&captured).expect("valid").expect("whole");
        let (their_type, their_encoding) = (
            theirs.header.content_type.clone(),
            theirs.header.content_encoding.clone(),
        );
        let mut decoder = Decoder::new(Limits::default());
        let ours = decoder.decode(&response).expect("valid").expect("whole");
        assert_eq!(ours.len, response.len(), "{name}");
        assert_eq!(ours.header.content_type, their_type, "{name}");
        assert_eq!(ours.header.content_encoding, their_encoding, "{name}");
        assert_bytes_eq(ours.content, content.as_bytes(), name);
        assert_eq!(Reply::parse(&ours), Ok(reply), "{name}");
    }
}

/// A fixture without a case here would silently go untested.
#[test]
fn every_fixture_has_a_case() {
    let on_disk = fixture_names(&golden_dir());
    let covered: BTreeSet<String> = cases()
        .iter()
        .flat_map(|c| {
            [
                format!("{}.request.bin", c.name),
                format!("{}.response.bin", c.name),
            ]
        })
        .collect();
    assert_eq!(on_disk, covered);
}

fn fixture_names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .into_string()
                .expect("UTF-8 file name")
        })
        .filter(|name| name.ends_with(".bin"))
        .collect()
}

/// How long the capture script may run before it is stopped. It bounds each
/// of its own steps at 10 s, so this is only a backstop.
const CAPTURE_TIMEOUT: Duration = Duration::from_secs(90);

#[test]
fn committed_fixtures_match_a_fresh_capture_from_the_reference_programs() {
    let Some(seed) = Seed::find() else { return };
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));

    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("golden-capture-{}", std::process::id()));
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out).expect("create temp dir");

    let script = manifest.join("../../scripts/capture-golden.py");
    let output = run_bounded_with_input(
        seed.python()
            .command()
            .arg(script)
            .arg("--seed")
            .arg(seed.dir())
            .arg("--out")
            .arg(&out),
        b"",
        CAPTURE_TIMEOUT,
    );
    assert!(
        output.status.success(),
        "capture script failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    let committed = fixture_names(&golden_dir());
    assert_eq!(fixture_names(&out), committed, "same set of fixtures");
    for name in &committed {
        let fresh = fs::read(out.join(name)).expect("fresh fixture");
        let kept = fs::read(golden_dir().join(name)).expect("committed fixture");
        assert!(
            kept == fresh,
            "committed {name} differs from a fresh capture (regenerate with \
             scripts/capture-golden.py)\n  committed: b\"{}\"\n  fresh:     b\"{}\"",
            kept.escape_ascii(),
            fresh.escape_ascii()
        );
    }
    let _ = fs::remove_dir_all(&out);
}

/// Prints `json.dumps(s, ensure_ascii=False)` for each string, one a line;
/// strings arrive as lists of code points, so nothing of ours encodes them.
const PY_DUMPS: &str = "import json, sys\n\
for cps in json.load(sys.stdin): sys.stdout.buffer.write(\
json.dumps(''.join(map(chr, cps)), ensure_ascii=False).encode('utf-8') + b'\\n')\n";

#[test]
fn json_writer_matches_python_json_dumps() {
    let Some(python) = python3() else { return };
    // Every ASCII character alone, then the characters near the escaping
    // rules' edges and some mixtures.
    let mut strings: Vec<String> = (0u8..0x80).map(|b| char::from(b).to_string()).collect();
    strings.extend(
        [
            "",
            "\u{80}\u{9f}\u{a0}\u{ad}\u{e9}",
            "\u{2028}\u{2029}\u{feff}\u{fffd}\u{ffff}",
            "\u{1f436}\u{1f43e}\u{10ffff}",
            "say \"hi\"\\\t\u{1}\n\r\u{8}\u{c}\u{7f}\u{1f}",
            "\\u0041 \\\\ \\\"",
            "</script>",
        ]
        .map(String::from),
    );
    let code_points: Vec<Vec<u32>> = strings
        .iter()
        .map(|s| s.chars().map(u32::from).collect())
        .collect();
    let input = serde_json::to_vec(&code_points).expect("serialises");
    let output = run_bounded_with_input(
        python.command().args(["-c", PY_DUMPS]),
        &input,
        Duration::from_secs(30),
    );
    assert!(
        output.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&[u8]> = output
        .stdout
        .strip_suffix(b"\n")
        .expect("ends with a newline")
        .split(|&b| b == b'\n')
        .collect();
    assert_eq!(lines.len(), strings.len());
    for (s, python) in strings.iter().zip(lines) {
        let mut ours = Vec::new();
        json::write_str(&mut ours, s);
        assert_bytes_eq(&ours, python, &format!("json of {s:?}: ours vs python"));
    }
}

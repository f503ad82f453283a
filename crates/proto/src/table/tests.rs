use std::collections::HashMap;

use proptest::prelude::*;

use super::*;
use crate::json;

/// What serde_json (the reader before this one) makes of `text`.
fn serde_map(text: &str) -> Option<HashMap<String, String>> {
    serde_json::from_str(text).ok()
}

/// Feeds `text` in pieces of `piece` bytes, keeping what was not used,
/// as a reader does.
fn fed_in_pieces(text: &[u8], piece: usize) -> Result<Table, TableError> {
    let mut builder = TableBuilder::new();
    let mut pending = Vec::new();
    for chunk in text.chunks(piece.max(1)) {
        pending.extend_from_slice(chunk);
        let used = builder.feed(&pending)?;
        pending.drain(..used);
    }
    builder.finish()
}

fn assert_same(table: &Table, map: &HashMap<String, String>) {
    assert_eq!(table.len(), map.len());
    let listed: HashMap<String, String> = table
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(
        &listed, map,
        "iter lists each key once, with its last answer"
    );
    for (key, text) in map {
        let expected = (!text.is_empty()).then_some(text.as_str());
        assert_eq!(table.get(key), expected, "{key:?}");
        let mut escaped = Vec::new();
        json::write_escaped(&mut escaped, text);
        let body = table.answer_body(key);
        assert_eq!(body, (!text.is_empty()).then_some(&escaped[..]), "{key:?}");
    }
}

/// A JSON text of `pairs` (duplicates and all), every string written with
/// serde's escaping or, when `ascii`, all in `\u` escapes.
fn object(pairs: &[(String, String)], ascii: bool, space: &str) -> String {
    let quote = |s: &str| {
        if ascii {
            let body: String = s.encode_utf16().map(|u| format!("\\u{u:04x}")).collect();
            format!("\"{body}\"")
        } else {
            serde_json::to_string(s).expect("a string serialises")
        }
    };
    let entries: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}{space}:{space}{}", quote(k), quote(v)))
        .collect();
    format!(
        "{space}{{{space}{}{space}}}{space}",
        entries.join(&format!("{space},{space}"))
    )
}

proptest! {
    #[test]
    fn reads_what_serde_json_reads_in_pieces_of_any_size(
        pairs in proptest::collection::vec(("[a-c]{0,2}|\\PC{0,6}", "\\PC{0,12}|[\"\\\\\n\t\u{1}]{0,4}"), 0..12),
        ascii in any::<bool>(),
        space in prop::sample::select(vec!["", " ", "\n", " \t\r\n "]),
        piece in 1usize..40,
    ) {
        let text = object(&pairs, ascii, space);
        let map = serde_map(&text).expect("serde reads it");
        let table = fed_in_pieces(text.as_bytes(), piece).expect("reads");
        assert_same(&table, &map);
        prop_assert_eq!(Table::from_json(&text).expect("reads"), table);
    }

    #[test]
    fn from_entries_keeps_the_last_answer_of_a_key(
        pairs in proptest::collection::vec(("[a-d]{1,2}", "\\PC{0,8}"), 0..20),
    ) {
        let map: HashMap<String, String> = pairs.iter().cloned().collect();
        let table = Table::from_entries(pairs);
        assert_same(&table, &map);
    }
}

#[test]
fn a_duplicate_key_keeps_its_last_answer_and_is_listed_once_in_file_order() {
    let table =
        Table::from_json(r#"{"b": "1", "a": "x", "b": "2", "c": "", "b": "3"}"#).expect("reads");
    assert_eq!(table.len(), 3);
    assert_eq!(table.get("b"), Some("3"));
    let listed: Vec<_> = table.iter().collect();
    assert_eq!(listed, [("a", "x"), ("c", ""), ("b", "3")]);
}

#[test]
fn an_empty_answer_counts_as_no_answer() {
    let table = Table::from_json(r#"{"empty": ""}"#).expect("reads");
    assert_eq!(table.len(), 1);
    assert_eq!(table.get("empty"), None);
    assert_eq!(table.answer_body("empty"), None);
    assert_eq!(table.get("other"), None);
}

#[test]
fn refuses_what_is_not_an_object_of_strings_as_serde_json_does() {
    for text in [
        "",
        "   ",
        "[]",
        "\"text\"",
        "{",
        r#"{"a": "b""#,
        r#"{"a": "b",}"#,
        r#"{"a" "b"}"#,
        r#"{"a": 1}"#,
        r#"{"a": null}"#,
        r#"{"a": ["b"]}"#,
        r#"{a: "b"}"#,
        r#"{"a": "b"} {}"#,
        r#"{"a": "b"}]"#,
        r#"{"a": "\ud800"}"#,
        r#"{"\udc00": "b"}"#,
        r#"{"a": "\x"}"#,
        r#"{"a": "\u12"}"#,
        "{\"a\": \"line\nbreak\"}",
        "\u{feff}{}",
    ] {
        assert!(serde_map(text).is_none(), "serde reads {text:?}");
        for piece in [1, 3, 1 << 20] {
            let got = fed_in_pieces(text.as_bytes(), piece);
            assert!(
                matches!(got, Err(TableError::Json { .. })),
                "{text:?} in pieces of {piece}: {got:?}"
            );
        }
    }
    let not_utf8 = b"{\"a\": \"\xff\"}";
    assert!(matches!(
        fed_in_pieces(not_utf8, 2),
        Err(TableError::Json { .. })
    ));
}

#[test]
fn an_error_says_what_and_where() {
    let text = "{\n \"a\": \"b\",\n \"c\": 1\n}";
    let err = Table::from_json(text).expect_err("a number is not an answer");
    assert_eq!(
        err.to_string(),
        "not a JSON object of strings to strings: an answer that is not a string at line 3 column 7"
    );
    let err = fed_in_pieces(b"{\"a\": \"b\"}\n\n  x", 2).expect_err("trailing");
    assert!(
        err.to_string()
            .ends_with("trailing characters at line 3 column 3"),
        "{err}"
    );
    let err = fed_in_pieces(b"{\"a\": \"b\"", 4).expect_err("unclosed");
    assert!(
        err.to_string().contains("the file ends inside the object"),
        "{err}"
    );
}

#[test]
fn reads_from_a_reader_an_entry_longer_than_its_buffer() {
    /// A reader that hands out at most 1000 bytes a call.
    struct Trickle<'a>(&'a [u8]);
    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.0.len()).min(1000);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let long = "é\"".repeat(400_000);
    let mut pairs: Vec<(String, String)> = (0..2000)
        .map(|i| (format!("k{i}"), format!("v{i}")))
        .collect();
    pairs.insert(1000, ("long".into(), long.clone()));
    let text = object(&pairs, false, " ");
    let table = TableBuilder::with_capacity(text.len())
        .read_from(Trickle(text.as_bytes()))
        .expect("reads");
    assert_eq!(table.len(), 2001);
    assert_eq!(table.get("long"), Some(long.as_str()));
    assert_eq!(table.get("k1999"), Some("v1999"));
}

#[test]
fn a_large_table_takes_about_the_size_of_its_file() {
    // Keys and answers shaped like bench/gen_table.py's (issue 11).
    let pairs: Vec<(String, String)> = (0..100_000u32)
        .map(|i| {
            let key = format!("key-{i:07}-{:08x}", i.wrapping_mul(2_654_435_761));
            (key, format!("A{i}: follow the white rabbit beneath misty"))
        })
        .collect();
    let text = object(&pairs, false, " ");
    let table = Table::from_json(&text).expect("reads");
    assert_eq!(table.len(), pairs.len());
    let ratio = table.heap_bytes() as f64 / text.len() as f64;
    assert!(
        ratio <= 1.15,
        "{} bytes for a {}-byte file ({ratio:.2}x)",
        table.heap_bytes(),
        text.len()
    );
}

#[test]
fn equal_tables_are_equal_however_they_were_built() {
    let text = "{\"\u{1f436}\": \"\u{1f43e} Playing ball! \u{1f3d0}\", \"ring\": \"In the caves beneath the Misty Mountains. \u{1f48d}\", \"morpheus\": \"Follow the white rabbit. \u{1f430}\"}";
    assert_eq!(Table::from_json(text).expect("reads"), Table::builtin());
    assert_ne!(Table::from_entries([("ring", "other")]), Table::builtin());
}

//! The reader against Python's rules, and against serde_json where the
//! two agree (strict JSON).

use super::*;

fn one<'a>(text: &'a str, key: &str) -> Result<Option<&'a str>, ObjectError> {
    fields(text, [key]).map(|[v]| v)
}

#[test]
fn a_duplicate_key_keeps_its_last_value() {
    let text = r#"{"a": 1, "b": {"a": 9}, "a": [2, 3], "c\u0061": "x"}"#;
    assert_eq!(
        fields(text, ["a", "b", "ca"]),
        Ok([Some("[2, 3]"), Some(r#"{"a": 9}"#), Some(r#""x""#)])
    );
}

#[test]
fn non_finite_numbers_are_values() {
    let text = r#"{"x": [NaN, Infinity, -Infinity, {"y": NaN}], "n": NaN, "i": -Infinity}"#;
    assert_eq!(
        fields(text, ["n", "i"]),
        Ok([Some("NaN"), Some("-Infinity")])
    );
    for bad in [
        "{\"x\": nan}",
        "{\"x\": -NaN}",
        "{\"x\": +1}",
        "{\"x\": Infinit}",
        "{\"x\": NaN1}",
    ] {
        assert!(matches!(one(bad, "x"), Err(ObjectError::Json(_))), "{bad}");
    }
}

#[test]
fn null_is_a_present_value() {
    assert_eq!(one(r#"{"k": null}"#, "k"), Ok(Some("null")));
    assert_eq!(one(r#"{"j": null}"#, "k"), Ok(None));
}

#[test]
fn nesting_beyond_serdes_limit_up_to_ours_is_accepted() {
    let nested = |depth: usize| format!("{{\"x\": {}{}}}", "[".repeat(depth), "]".repeat(depth));
    assert_eq!(one(&nested(989), "y"), Ok(None), "what the reference reads");
    assert_eq!(one(&nested(MAX_DEPTH - 1), "y"), Ok(None));
    assert!(
        matches!(one(&nested(MAX_DEPTH), "y"), Err(ObjectError::Json(e)) if e.starts_with("nested too deeply"))
    );
}

#[test]
fn a_lone_surrogate_is_valid_but_not_a_string() {
    assert_eq!(one(r#"{"x": "\ud800"}"#, "x"), Ok(Some(r#""\ud800""#)));
    assert_eq!(string(r#""\ud800""#), None);
    assert_eq!(string(r#""a\"b""#).as_deref(), Some("a\"b"));
    assert_eq!(string("NaN"), None);
}

#[test]
fn tells_other_json_apart_from_not_json() {
    for text in ["[]", " 7 ", "NaN", "\"{\"", "null"] {
        assert_eq!(one(text, "x"), Err(ObjectError::NotObject), "{text}");
    }
    for text in [
        "",
        " ",
        "{",
        "[",
        "{}}",
        "{\"a\" 1}",
        "{\"a\": 1,}",
        "[1,]",
        "{1: 2}",
        "\"\\x\"",
        "\"\u{1}\"",
        "01",
        "1.",
        "1e",
        "-",
    ] {
        assert!(
            matches!(one(text, "x"), Err(ObjectError::Json(_))),
            "{text:?}"
        );
    }
    assert_eq!(
        one("{\n  \"a\": ?}", "a"),
        Err(ObjectError::Json(
            "expected a value at line 2 column 8".into()
        ))
    );
}

fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "\\PC{0,6}|[\"\\\\\\x00-\\x1f]{0,4}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map("[abc]", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest::proptest! {
    /// On strict JSON (no NaN, no duplicate keys, shallow), the scanner
    /// accepts exactly what serde_json accepts.
    #[test]
    fn accepts_what_serde_json_accepts(text in r#"[{}\[\]",:0-9a-f.eE+\- \\u\n\t]{0,24}"#) {
        let strict = serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok();
        let ours = fields(&text, ["a"]);
        proptest::prop_assert_eq!(
            strict,
            !matches!(ours, Err(ObjectError::Json(_))),
            "{:?}: {:?}", text, ours
        );
    }

    /// Each key's raw text reads back, through serde_json, as the value
    /// serde_json wrote, compact or pretty.
    #[test]
    fn finds_every_value_serde_json_writes(
        map in proptest::collection::btree_map("[abc]", json_value(), 0..4),
        pretty in proptest::bool::ANY,
    ) {
        let object = serde_json::Value::Object(map.clone().into_iter().collect());
        let text = if pretty {
            serde_json::to_string_pretty(&object)
        } else {
            serde_json::to_string(&object)
        }
        .expect("serialises");
        let got = fields(&text, ["a", "b", "c"]).expect("valid object");
        for (key, raw) in ["a", "b", "c"].into_iter().zip(got) {
            let back = raw.map(|r| serde_json::from_str::<serde_json::Value>(r).expect("a value"));
            proptest::prop_assert_eq!(back.as_ref(), map.get(key), "{}", text);
        }
    }
}

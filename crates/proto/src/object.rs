//! Reading a JSON object the way Python's `json.loads` reads it, which is
//! how the reference programs read every header and every content.
//!
//! Owns the grammar of the general (non-canonical) path: which texts are
//! JSON, and which value a key has. Python differs from strict JSON, and
//! from serde, in three ways that matter on the wire (PROTOCOL.md,
//! section 3): a duplicate key keeps its last value; `NaN`, `Infinity` and
//! `-Infinity` are numbers; and nesting is bounded by its recursion limit
//! (about 990 levels in the reference server), not serde's 128. It does not
//! own what a value must be (see [`crate::header`], [`crate::service`],
//! [`crate::reply`]): it hands back each wanted key's value as its raw JSON
//! text, and [`string`] reads the ones that must be strings.
//!
//! The scanner is iterative and allocates nothing: untrusted nesting costs
//! a bit per level in a fixed stack, never a call frame.

use std::borrow::Cow;

/// Deepest nesting accepted, the top-level object included. Python's own
/// bound (its recursion limit) is a little lower and depends on the
/// version; ours only has to be at least as generous, so that nothing the
/// reference reads is refused.
const MAX_DEPTH: usize = 1024;

/// Why a JSON text did not yield an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ObjectError {
    /// Valid JSON of another kind (array, string, number …).
    NotObject,
    /// Not JSON: what is wrong, and where.
    Json(String),
}

/// The raw JSON text of the last value of each of `keys` in the top-level
/// object `text` (`None` for an absent key), after checking that all of
/// `text` is one JSON value as Python reads it.
pub(crate) fn fields<'a, const N: usize>(
    text: &'a str,
    keys: [&str; N],
) -> Result<[Option<&'a str>; N], ObjectError> {
    let mut scan = Scanner { text, at: 0 };
    scan.skip_ws();
    if scan.peek() != Some(b'{') {
        scan.value()?;
        scan.end()?;
        return Err(ObjectError::NotObject);
    }
    scan.at += 1;
    let mut found = [None; N];
    scan.skip_ws();
    if !scan.eat(b'}') {
        loop {
            let key = scan.key()?;
            scan.skip_ws();
            let start = scan.at;
            scan.value()?;
            let name = string(key);
            if let Some(i) = keys.iter().position(|k| name.as_deref() == Some(k)) {
                // A later duplicate overwrites: Python keeps the last.
                found[i] = Some(&text[start..scan.at]);
            }
            scan.skip_ws();
            match scan.next() {
                Some(b',') => scan.skip_ws(),
                Some(b'}') => break,
                _ => return Err(scan.error("expected `,` or `}`")),
            }
        }
    }
    scan.end()?;
    Ok(found)
}

/// A JSON string value's text, borrowed when it has no escapes; `None`
/// when `raw` is not a string. A string holding a lone surrogate escape is
/// valid to Python but has no Rust `str`: it is not a string here either.
pub(crate) fn string(raw: &str) -> Option<Cow<'_, str>> {
    let body = raw.strip_prefix('"')?.strip_suffix('"')?;
    if !body.contains('\\') {
        return Some(Cow::Borrowed(body));
    }
    serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
}

/// Containers open around the current value: one bit per level, set for
/// an object.
struct Nesting {
    bits: [u64; MAX_DEPTH / 64],
    depth: usize,
}

impl Nesting {
    fn push(&mut self, object: bool) -> bool {
        if self.depth >= MAX_DEPTH - 1 {
            return false;
        }
        let (word, bit) = (self.depth / 64, self.depth % 64);
        self.bits[word] = (self.bits[word] & !(1 << bit)) | (u64::from(object) << bit);
        self.depth += 1;
        true
    }

    /// Whether the innermost open container is an object; `None` at the top.
    fn top(&self) -> Option<bool> {
        let d = self.depth.checked_sub(1)?;
        Some(self.bits[d / 64] & (1 << (d % 64)) != 0)
    }
}

struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.at += usize::from(hit);
        hit
    }

    fn eat_str(&mut self, s: &str) -> bool {
        let hit = self.text.as_bytes()[self.at..].starts_with(s.as_bytes());
        self.at += if hit { s.len() } else { 0 };
        hit
    }

    /// JSON's whitespace, which is also Python's.
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// `what` and where. It never quotes the peer's bytes, so an error
    /// answer stays small whatever the peer sent.
    fn error(&self, what: &str) -> ObjectError {
        let mut end = self.at.min(self.text.len());
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let before = &self.text[..end];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ObjectError::Json(format!("{what} at line {line} column {column}"))
    }

    /// Only whitespace may follow the top-level value.
    fn end(&mut self) -> Result<(), ObjectError> {
        self.skip_ws();
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error("trailing characters")),
        }
    }

    /// An object key, the colon after it and the whitespace around both:
    /// the key's raw text.
    fn key(&mut self) -> Result<&'a str, ObjectError> {
        if self.peek() != Some(b'"') {
            return Err(self.error("expected a key in double quotes"));
        }
        let start = self.at;
        self.string()?;
        let text: &'a str = self.text;
        let key = &text[start..self.at];
        self.skip_ws();
        if !self.eat(b':') {
            return Err(self.error("expected `:`"));
        }
        Ok(key)
    }

    /// One whole value, nested containers included, leading whitespace
    /// skipped.
    fn value(&mut self) -> Result<(), ObjectError> {
        let mut nesting = Nesting {
            bits: [0; MAX_DEPTH / 64],
            depth: 0,
        };
        loop {
            self.skip_ws();
            match self.peek() {
                Some(open @ (b'{' | b'[')) => {
                    self.at += 1;
                    if !nesting.push(open == b'{') {
                        return Err(self.error("nested too deeply"));
                    }
                    self.skip_ws();
                    let close = if open == b'{' { b'}' } else { b']' };
                    if !self.eat(close) {
                        if open == b'{' {
                            self.key()?;
                        }
                        continue;
                    }
                    nesting.depth -= 1;
                }
                Some(b'"') => self.string()?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                _ => {
                    let literal = ["null", "true", "false", "NaN", "Infinity"]
                        .iter()
                        .any(|l| self.eat_str(l));
                    if !literal {
                        return Err(self.error("expected a value"));
                    }
                }
            }
            // A value is complete: close what it completes.
            loop {
                let Some(object) = nesting.top() else {
                    return Ok(());
                };
                self.skip_ws();
                match (self.next(), object) {
                    (Some(b','), true) => {
                        self.skip_ws();
                        self.key()?;
                        break;
                    }
                    (Some(b','), false) => break,
                    (Some(b'}'), true) | (Some(b']'), false) => nesting.depth -= 1,
                    (_, true) => return Err(self.error("expected `,` or `}`")),
                    (_, false) => return Err(self.error("expected `,` or `]`")),
                }
            }
        }
    }

    /// A string, from its opening quote past its closing one.
    fn string(&mut self) -> Result<(), ObjectError> {
        self.at += 1;
        loop {
            let rest = &self.text.as_bytes()[self.at..];
            let Some(stop) = rest
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            else {
                self.at = self.text.len();
                return Err(self.error("unterminated string"));
            };
            self.at += stop;
            match self.next() {
                Some(b'"') => return Ok(()),
                Some(b'\\') => match self.next() {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {}
                    // Any four hex digits: Python keeps a lone surrogate.
                    Some(b'u') => {
                        let hex = self.text.as_bytes().get(self.at..self.at + 4);
                        if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                            return Err(self.error("invalid \\u escape"));
                        }
                        self.at += 4;
                    }
                    _ => return Err(self.error("invalid escape")),
                },
                _ => {
                    self.at -= 1;
                    return Err(self.error("control character in a string"));
                }
            }
        }
    }

    /// A number as JSON writes it, or `-Infinity`.
    fn number(&mut self) -> Result<(), ObjectError> {
        if self.eat(b'-') && self.eat_str("Infinity") {
            return Ok(());
        }
        match self.next() {
            Some(b'0') => {}
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("expected a digit")),
        }
        if self.eat(b'.') {
            self.some_digits()?;
        }
        if self.eat(b'e') || self.eat(b'E') {
            let _ = self.eat(b'+') || self.eat(b'-');
            self.some_digits()?;
        }
        Ok(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
    }

    fn some_digits(&mut self) -> Result<(), ObjectError> {
        if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
            return Err(self.error("expected a digit"));
        }
        self.digits();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
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
        let nested =
            |depth: usize| format!("{{\"x\": {}{}}}", "[".repeat(depth), "]".repeat(depth));
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
}

//! Fast paths for the exact shapes the reference programs and sockmux emit.
//!
//! Nearly every header, request and response on the wire is byte-for-byte
//! the shape Python's `json.dumps` writes: known keys in a known order,
//! `", "` and `": "` separators, strings without escapes. These scanners recognise
//! exactly that shape, and nothing else, in one pass with no allocation;
//! anything else (other key orders, whitespace, escapes, unknown keys,
//! duplicate keys, errors of any kind) returns `None` and goes through the
//! general serde_json path. Because they accept only inputs whose meaning
//! is unambiguous, both paths give the same result wherever the fast one
//! answers (a property test checks this).

use std::borrow::Cow;

use crate::ByteOrder;

/// A header in canonical form, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CanonicalHeader<'a> {
    pub(crate) byteorder: ByteOrder,
    pub(crate) content_type: &'a str,
    pub(crate) content_encoding: &'a str,
    pub(crate) content_length: u64,
    pub(crate) keep_alive: bool,
}

/// Recognises
/// `{"byteorder": "little"|"big", "content-type": S, "content-encoding": S, "content-length": N}`
/// optionally with `, "keep-alive": true|false` before the closing brace.
pub(crate) fn header(bytes: &[u8]) -> Option<CanonicalHeader<'_>> {
    let rest = bytes.strip_prefix(b"{\"byteorder\": \"")?;
    let (byteorder, rest) = if let Some(rest) = rest.strip_prefix(b"little\"") {
        (ByteOrder::Little, rest)
    } else {
        (ByteOrder::Big, rest.strip_prefix(b"big\"")?)
    };
    let rest = rest.strip_prefix(b", \"content-type\": \"")?;
    let (content_type, rest) = simple_string(rest)?;
    let rest = rest.strip_prefix(b", \"content-encoding\": \"")?;
    let (content_encoding, rest) = simple_string(rest)?;
    let rest = rest.strip_prefix(b", \"content-length\": ")?;
    let (content_length, rest) = integer(rest)?;
    let keep_alive = match rest {
        b"}" => false,
        b", \"keep-alive\": true}" => true,
        b", \"keep-alive\": false}" => false,
        _ => return None,
    };
    Some(CanonicalHeader {
        byteorder,
        content_type,
        content_encoding,
        content_length,
        keep_alive,
    })
}

/// Recognises `{"action": A, "value": V}` with both strings simple.
pub(crate) fn request(bytes: &[u8]) -> Option<(&str, &str)> {
    let rest = bytes.strip_prefix(b"{\"action\": \"")?;
    let (action, rest) = simple_string(rest)?;
    let rest = rest.strip_prefix(b", \"value\": \"")?;
    let (value, rest) = simple_string(rest)?;
    (rest == b"}").then_some((action, value))
}

/// Recognises `{"result": R}`, R any JSON string: nearly every response.
/// R is borrowed when it is simple; a result with escapes (every
/// `No match for \"V\".`) is unescaped by serde_json, which is still far
/// cheaper than the general path's walk over an unknown object.
pub(crate) fn result(bytes: &[u8]) -> Option<Cow<'_, str>> {
    let quoted = bytes.strip_prefix(b"{\"result\": ")?.strip_suffix(b"}")?;
    if let Some((result, b"")) = simple_string(quoted.strip_prefix(b"\"")?) {
        return Some(Cow::Borrowed(result));
    }
    // Exactly one JSON string, or not this shape at all.
    serde_json::from_slice::<String>(quoted)
        .ok()
        .map(Cow::Owned)
}

/// The body of a JSON string up to its closing quote, when it has no
/// escapes and no control characters (so its bytes are its value), and the
/// bytes after the closing quote.
fn simple_string(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let end = bytes
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    if bytes[end] != b'"' {
        return None;
    }
    let text = std::str::from_utf8(&bytes[..end]).ok()?;
    Some((text, &bytes[end + 1..]))
}

/// A JSON non-negative integer of at most 19 digits (so it fits a `u64`),
/// with no leading zero, and the bytes after it.
fn integer(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let len = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if len == 0 || len > 19 || (len > 1 && bytes[0] == b'0') {
        return None;
    }
    let value = bytes[..len]
        .iter()
        .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
    Some((value, &bytes[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_reference_header_and_request() {
        let h = header(br#"{"byteorder": "little", "content-type": "text/json", "content-encoding": "utf-8", "content-length": 41}"#)
            .expect("canonical");
        assert_eq!(
            h,
            CanonicalHeader {
                byteorder: ByteOrder::Little,
                content_type: "text/json",
                content_encoding: "utf-8",
                content_length: 41,
                keep_alive: false,
            }
        );
        assert_eq!(
            request(br#"{"action": "search", "value": "morpheus"}"#),
            Some(("search", "morpheus"))
        );
    }

    #[test]
    fn leaves_everything_else_to_the_general_parser() {
        for text in [
            r#"{"byteorder":"little", "content-type": "a", "content-encoding": "b", "content-length": 1}"#,
            r#"{"byteorder": "little", "content-type": "a\"", "content-encoding": "b", "content-length": 1}"#,
            r#"{"byteorder": "little", "content-type": "a", "content-encoding": "b", "content-length": 01}"#,
            r#"{"byteorder": "little", "content-type": "a", "content-encoding": "b", "content-length": 1.0}"#,
            r#"{"byteorder": "little", "content-type": "a", "content-encoding": "b", "content-length": 1} "#,
            r#"{"byteorder": "little", "content-type": "a", "content-encoding": "b", "content-length": 1, "x": 1}"#,
            r#"{"byteorder": "middle", "content-type": "a", "content-encoding": "b", "content-length": 1}"#,
            r#"{"byteorder": "little", "content-type": "a", "content-encoding": "b", "content-length": 12345678901234567890}"#,
        ] {
            assert_eq!(header(text.as_bytes()), None, "{text}");
        }
        assert_eq!(request(br#"{"action": "search", "value": 5}"#), None);
        assert_eq!(request(br#"{"value": "x", "action": "search"}"#), None);
        assert_eq!(result(br#"{"result": "a"}"#), Some(Cow::Borrowed("a")));
        assert_eq!(result(br#"{"result": "a\"b"}"#), Some("a\"b".into()));
        assert_eq!(result(br#"{"result": "a", "x": "b"}"#), None);
        assert_eq!(result(br#"{"result": 1}"#), None);
    }
}

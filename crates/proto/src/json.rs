//! A JSON writer whose output is byte-identical to Python's
//! `json.dumps(obj, ensure_ascii=False)`, for the few shapes sockmux emits.
//!
//! Owns escaping and separators. It does not parse (serde_json does that) and
//! it does not know which keys a header has (see [`crate::encode`]).

use std::fmt;

/// Appends `s` as a quoted JSON string, escaped the way Python does it:
/// `"` and `\` backslash-escaped, `\b \f \n \r \t` by name, other characters
/// below U+0020 as `\u00xx` (lower-case hex), everything else as raw UTF-8.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    write_escaped(out, s);
    out.push(b'"');
}

/// Appends `"key": ` the way Python separates a key from its value.
pub fn write_key(out: &mut Vec<u8>, key: &str) {
    write_str(out, key);
    out.extend_from_slice(b": ");
}

/// Appends the decimal digits of `n`.
pub fn write_u64(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        // The remainder is below 10, so the cast cannot truncate.
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends the body of a JSON string (no quotes), escaped as by
/// [`write_str`].
pub fn write_escaped(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut run_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let named: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[run_start..i]);
        run_start = i + 1;
        if named.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(named);
        }
    }
    out.extend_from_slice(&bytes[run_start..]);
}

/// A [`fmt::Write`] sink that escapes everything written to it into the body
/// of a JSON string, so formatted text (`No match for "…".`) goes straight
/// into an output buffer with no intermediate `String`.
#[derive(Debug)]
pub struct EscapingWriter<'a>(pub &'a mut Vec<u8>);

impl fmt::Write for EscapingWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_escaped(self.0, s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(s: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, s);
        String::from_utf8(out).expect("the writer emits UTF-8")
    }

    #[test]
    fn escapes_like_python_json_dumps() {
        // Expected values are what CPython 3.11 prints for
        // json.dumps(s, ensure_ascii=False).
        assert_eq!(quoted("plain"), "\"plain\"");
        assert_eq!(quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quoted("\n\r\t\u{8}\u{c}"), "\"\\n\\r\\t\\b\\f\"");
        assert_eq!(quoted("\u{0}\u{1f}\u{7f}"), "\"\\u0000\\u001f\u{7f}\"");
        assert_eq!(quoted("🐶 é \u{2028}"), "\"🐶 é \u{2028}\"");
    }

    #[test]
    fn writes_integers_in_decimal() {
        for n in [0, 7, 10, 41, 65_535, u64::MAX] {
            let mut out = Vec::new();
            write_u64(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }
}

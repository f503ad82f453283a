//! A JSON string from a request, written back escaped the way the server
//! writes it, a piece at a time, straight from the bytes that arrived.
//!
//! An answer that quotes a very long name (`No match for "…".`) is streamed
//! as the output drains instead of built whole, so a peer that sends a
//! 16 MiB name does not make the server hold a 16 MiB answer beside it.
//! The name is never decoded into a copy: each escape sequence is decoded
//! and re-escaped on the way out ([`crate::json`] owns the rules; a test
//! checks that the two agree byte for byte).

use crate::json;

/// One piece of a decoded string: a run of bytes that escape to
/// themselves, or one character that came from an escape sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'a> {
    Run(&'a [u8]),
    Char(char),
}

/// The body of a JSON string literal as it arrived (between its quotes,
/// already checked as JSON), read piece by piece.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Raw<'a>(pub(crate) &'a [u8]);

impl<'a> Raw<'a> {
    /// The piece at `at`, at most `max_run` bytes of a run, and where the
    /// next one starts; `None` for an escape a Rust string cannot hold (a
    /// lone surrogate) or a malformed one.
    fn piece(self, at: usize, max_run: usize) -> Option<(Piece<'a>, usize)> {
        let rest = self.0.get(at..)?;
        if rest.first() != Some(&b'\\') {
            // Unescaped bytes of a JSON string are never `"`, `\` or a
            // control character, so they are written as they came.
            let len = rest
                .iter()
                .position(|&b| b == b'\\')
                .unwrap_or(rest.len())
                .min(max_run.max(1));
            return Some((Piece::Run(&rest[..len]), at + len));
        }
        let c = match rest.get(1)? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => return self.unicode(at),
            _ => return None,
        };
        Some((Piece::Char(c), at + 2))
    }

    /// A `\uXXXX` escape at `at`, or a surrogate pair of two.
    fn unicode(self, at: usize) -> Option<(Piece<'a>, usize)> {
        let first = hex4(self.0.get(at + 2..at + 6)?)?;
        if !(0xd800..0xe000).contains(&first) {
            return Some((Piece::Char(char::from_u32(first)?), at + 6));
        }
        if first >= 0xdc00 || self.0.get(at + 6..at + 8)? != b"\\u" {
            return None;
        }
        let second = hex4(self.0.get(at + 8..at + 12)?)?;
        if !(0xdc00..0xe000).contains(&second) {
            return None;
        }
        let c = char::from_u32(0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00))?;
        Some((Piece::Char(c), at + 12))
    }

    /// Appends the string the body stands for to `out`, or returns `None`
    /// when it is not a string a Rust `str` can hold (a lone surrogate, a
    /// malformed escape, a run that is not UTF-8); `out` may then hold a
    /// part of it.
    pub(crate) fn decode(self, out: &mut String) -> Option<()> {
        let mut at = 0;
        while at < self.0.len() {
            let (piece, next) = self.piece(at, usize::MAX)?;
            match piece {
                Piece::Run(bytes) => out.push_str(std::str::from_utf8(bytes).ok()?),
                Piece::Char(c) => out.push(c),
            }
            at = next;
        }
        Some(())
    }

    /// The length of the whole string escaped as the server writes it, or
    /// `None` when it is not a string a Rust `str` can hold.
    pub(crate) fn escaped_len(self) -> Option<usize> {
        let (mut at, mut len) = (0, 0);
        while at < self.0.len() {
            let (piece, next) = self.piece(at, usize::MAX)?;
            len += match piece {
                Piece::Run(bytes) => bytes.len(),
                Piece::Char(c) => escaped_char_len(c),
            };
            at = next;
        }
        Some(len)
    }

    /// Appends the escaped string from `at` until about `room` bytes were
    /// appended (an escape is never split, so up to 5 more) or it ends;
    /// returns where it stopped. Call [`Raw::escaped_len`] first: a piece
    /// it refused stops the writing here.
    pub(crate) fn write(self, mut at: usize, out: &mut Vec<u8>, room: usize) -> usize {
        let start = out.len();
        while at < self.0.len() {
            let written = out.len() - start;
            if written >= room {
                break;
            }
            let Some((piece, next)) = self.piece(at, room - written) else {
                break;
            };
            match piece {
                Piece::Run(bytes) => out.extend_from_slice(bytes),
                Piece::Char(c) => json::write_escaped(out, c.encode_utf8(&mut [0; 4])),
            }
            at = next;
        }
        at
    }
}

/// How many bytes [`json::write_escaped`] writes for `c`.
fn escaped_char_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        '\0'..='\u{1f}' => 6,
        c => c.len_utf8(),
    }
}

/// Four hex digits.
fn hex4(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0, |n, &d| {
        let v = char::from(d).to_digit(16)?;
        Some(n << 4 | v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What the server writes for the string `raw` encodes, the slow way:
    /// decode it whole, then escape it whole.
    fn whole(raw: &str) -> Option<Vec<u8>> {
        let decoded: String = serde_json::from_str(&format!("\"{raw}\"")).ok()?;
        let mut out = Vec::new();
        json::write_escaped(&mut out, &decoded);
        Some(out)
    }

    fn pieces(raw: &str, room: usize) -> Option<Vec<u8>> {
        let raw = Raw(raw.as_bytes());
        let len = raw.escaped_len()?;
        let (mut out, mut at) = (Vec::new(), 0);
        while at < raw.0.len() {
            let before = out.len();
            at = raw.write(at, &mut out, room);
            assert!(out.len() > before, "no progress at {at}");
            assert!(out.len() - before < room.max(1) + 6, "overshot the room");
        }
        assert_eq!(out.len(), len, "the length pass agrees with the writing");
        Some(out)
    }

    #[test]
    fn rewrites_every_kind_of_escape_as_the_whole_path_does() {
        for raw in [
            "plain",
            r#"a\"b\\c\/d"#,
            r"\b\f\n\r\t",
            r"\u0000\u001f\u0041\u00e9\u20ac",
            r"\ud83d\ude00 and \uD83D\uDE00",
            "🐶 é",
            r"\u0022\u005c",
        ] {
            assert_eq!(pieces(raw, 3), whole(raw), "{raw}");
            assert_eq!(pieces(raw, 1 << 20), whole(raw), "{raw}");
        }
    }

    #[test]
    fn decodes_as_serde_json_does() {
        for raw in [
            "plain",
            r#"a\"b\\c\/d"#,
            r"\b\f\n\r\t",
            r"\u0000\u001f\u0041\u00e9\u20ac",
            r"\ud83d\ude00 and \uD83D\uDE00",
            "🐶 é",
        ] {
            let mut out = String::new();
            assert_eq!(Raw(raw.as_bytes()).decode(&mut out), Some(()), "{raw}");
            let expected: String = serde_json::from_str(&format!("\"{raw}\"")).expect("valid");
            assert_eq!(out, expected, "{raw}");
        }
        for raw in [&br"\ud800"[..], br"\x", b"ok \xff"] {
            assert_eq!(Raw(raw).decode(&mut String::new()), None, "{raw:?}");
        }
    }

    #[test]
    fn refuses_what_a_rust_string_cannot_hold() {
        for raw in [
            r"\ud800",
            r"\udc00",
            r"\ud800\u0041",
            r"\ud800x",
            r"\u12",
            r"\x",
        ] {
            assert_eq!(Raw(raw.as_bytes()).escaped_len(), None, "{raw}");
        }
    }

    proptest! {
        #[test]
        fn any_string_escaped_any_way_comes_back_as_the_whole_path_writes_it(
            s in any::<String>(),
            ascii_only in any::<bool>(),
            room in 1usize..40,
        ) {
            // Two encodings of the same string: serde's (raw UTF-8) and an
            // all-ASCII one with \u escapes (surrogate pairs included).
            let raw = if ascii_only {
                s.encode_utf16().map(|u| format!("\\u{u:04x}")).collect::<String>()
            } else {
                let quoted = serde_json::to_string(&s).expect("a string serialises");
                quoted[1..quoted.len() - 1].to_owned()
            };
            let expected = whole(&raw);
            prop_assert!(expected.is_some());
            prop_assert_eq!(pieces(&raw, room), expected);
        }
    }
}

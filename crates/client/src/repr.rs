//! Showing bytes the way the reference programs print them: Python's
//! `repr()` of a `bytes` object (`b'\x00g{"byteorder": …}'`). Owns that
//! escaping only.

use std::fmt;

/// Displays a byte slice as Python's `repr(bytes)` does, without
/// allocating.
///
/// Single quotes unless the bytes hold a `'` and no `"`; `\\`, the quote,
/// `\t` `\n` `\r` escaped by name; other bytes outside printable ASCII as
/// `\xhh` (lower-case hex).
#[derive(Debug, Clone, Copy)]
pub struct PyBytes<'a>(pub &'a [u8]);

impl fmt::Display for PyBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quote = if self.0.contains(&b'\'') && !self.0.contains(&b'"') {
            b'"'
        } else {
            b'\''
        };
        f.write_str("b")?;
        f.write_str(if quote == b'"' { "\"" } else { "'" })?;
        let mut run_start = 0;
        for (i, &b) in self.0.iter().enumerate() {
            let plain = (0x20..0x7f).contains(&b) && b != b'\\' && b != quote;
            if plain {
                continue;
            }
            // Runs of printable ASCII are valid UTF-8 by construction.
            f.write_str(std::str::from_utf8(&self.0[run_start..i]).unwrap_or_default())?;
            run_start = i + 1;
            match b {
                b'\\' => f.write_str("\\\\")?,
                b'\t' => f.write_str("\\t")?,
                b'\n' => f.write_str("\\n")?,
                b'\r' => f.write_str("\\r")?,
                b'\'' => f.write_str("\\'")?,
                b'"' => f.write_str("\\\"")?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        f.write_str(std::str::from_utf8(&self.0[run_start..]).unwrap_or_default())?;
        f.write_str(if quote == b'"' { "\"" } else { "'" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repr(bytes: &[u8]) -> String {
        PyBytes(bytes).to_string()
    }

    #[test]
    fn matches_python_repr() {
        // Expected values are what CPython 3 prints for repr(b'...').
        assert_eq!(repr(b"Message 1 from client."), "b'Message 1 from client.'");
        assert_eq!(repr(b"\x00g{\"a\": 1}"), "b'\\x00g{\"a\": 1}'");
        assert_eq!(repr(b"it's"), "b\"it's\"");
        assert_eq!(repr(b"it's \"q\""), "b'it\\'s \"q\"'");
        assert_eq!(repr(b"\t\n\r\\\x7f\xf0"), "b'\\t\\n\\r\\\\\\x7f\\xf0'");
        assert_eq!(repr(b""), "b''");
    }
}

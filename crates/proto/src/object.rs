//! Reading a JSON object the way Python's `json.loads` reads it, which is
//! how the reference programs read every header and every content.
//!
//! Owns the grammar of the general (non-canonical) path: which texts are
//! JSON, and which value a key has. Python differs from strict JSON, and
//! from serde's derived structs, in two ways that matter on the wire
//! (PROTOCOL.md, section 3): a duplicate key keeps its last value, and
//! `NaN`, `Infinity` and `-Infinity` are numbers. Nesting is bounded only by
//! its recursion limit (about 990 levels in the reference server). It does not
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
mod tests;

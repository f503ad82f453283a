//! Reading a table file a piece at a time, straight into the table's arena.
//!
//! A [`TableBuilder`] is fed the bytes of a JSON object of strings to
//! strings in pieces of any size and writes each entry into the arena as
//! soon as it is whole, so that loading a table never holds the file's
//! text, a map of owned strings and the table at once: the peak is the
//! table plus one read buffer. It reads what `json.load` reads for such an
//! object (a duplicate key keeps its last value) and what a Rust string can
//! hold (a lone surrogate escape is refused, as `serde_json` refuses it).
//! It owns the grammar of the file; the layout is [`super::arena`]'s.

use std::io::{self, Read};

use super::{arena, Table, TableError};
use crate::json;
use crate::requote::Raw;

/// Bytes read from a file at a time by [`TableBuilder::read_from`]; an
/// entry longer than this grows the buffer to hold it.
const READ_CHUNK: usize = 256 * 1024;

/// Where the reader is in the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the opening brace.
    Start,
    /// After the opening brace: an entry or the closing brace.
    First,
    /// After a comma: an entry.
    Entry,
    /// After an entry: a comma or the closing brace.
    Separator,
    /// After the closing brace: only whitespace.
    End,
}

/// Builds a [`Table`] from the text of a JSON object of string keys to
/// string answers, fed in pieces (sans-IO: the caller reads).
///
/// ```
/// use sockmux_proto::TableBuilder;
///
/// let text = br#"{"ring": "In the caves.", "ring": "Under the mountain."}"#;
/// let mut builder = TableBuilder::new();
/// let mut pending = Vec::new();
/// for piece in text.chunks(7) {
///     pending.extend_from_slice(piece);
///     let used = builder.feed(&pending)?;
///     pending.drain(..used);
/// }
/// let table = builder.finish()?;
/// assert_eq!(table.get("ring"), Some("Under the mountain."));
/// # Ok::<(), sockmux_proto::TableError>(())
/// ```
#[derive(Debug)]
pub struct TableBuilder {
    arena: Vec<u8>,
    /// Entries written, duplicates included.
    entries: usize,
    longest_key: usize,
    state: State,
    /// Bytes consumed by earlier calls to `feed`.
    offset: u64,
    /// Line (from 1) of the next byte to consume, and the offset of that
    /// line's first byte: for error positions.
    line: u64,
    line_start: u64,
    /// Scratch space for keys and answers with escapes (rare).
    key: String,
    text: String,
    body: Vec<u8>,
}

impl Default for TableBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TableBuilder {
    /// A builder for a table of unknown size.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// A builder for a file of `bytes` bytes: its table takes about as many
    /// (keys and escaped answers are never longer than in the file, and
    /// each entry's two lengths take fewer bytes than its quotes, colon
    /// and comma), so that much is reserved at once and never copied.
    pub fn with_capacity(bytes: usize) -> Self {
        Self {
            arena: Vec::with_capacity(bytes),
            entries: 0,
            longest_key: 0,
            state: State::Start,
            offset: 0,
            line: 1,
            line_start: 0,
            key: String::new(),
            text: String::new(),
            body: Vec::new(),
        }
    }

    /// Reads every whole entry at the start of `input` into the table and
    /// returns how many bytes it used. The rest (the start of an entry not
    /// yet whole) must be fed again, with what follows it appended.
    pub fn feed(&mut self, input: &[u8]) -> Result<usize, TableError> {
        let mut at = 0;
        loop {
            at = self.skip_ws(input, at);
            let Some(&b) = input.get(at) else { break };
            match (self.state, b) {
                (State::Start, b'{') => self.state = State::First,
                (State::Start, _) => return Err(self.error(input, at, at, "expected `{`")),
                (State::First, b'}') | (State::Separator, b'}') => self.state = State::End,
                (State::Separator, b',') => self.state = State::Entry,
                (State::Separator, _) => {
                    return Err(self.error(input, at, at, "expected `,` or `}`"))
                }
                (State::First | State::Entry, _) => match self.entry(input, at)? {
                    Some(next) => {
                        at = next;
                        self.state = State::Separator;
                        continue;
                    }
                    None => break,
                },
                (State::End, _) => return Err(self.error(input, at, at, "trailing characters")),
            }
            at += 1;
        }
        self.offset += at as u64;
        Ok(at)
    }

    /// The table, once the whole object has been fed.
    pub fn finish(self) -> Result<Table, TableError> {
        if self.state != State::End {
            return Err(self.error(&[], 0, 0, "the file ends inside the object"));
        }
        Table::from_arena(self.arena, self.entries, self.longest_key)
    }

    /// Feeds everything `reader` yields, 256 KiB at a time, and
    /// finishes. Its memory is the table and one chunk (or the longest
    /// entry, if longer).
    pub fn read_from(mut self, mut reader: impl Read) -> Result<Table, TableError> {
        let mut buf = vec![0; READ_CHUNK];
        let mut filled = 0;
        loop {
            if filled == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
            let n = match reader.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(TableError::Io(e)),
            };
            filled += n;
            let used = self.feed(&buf[..filled])?;
            buf.copy_within(used..filled, 0);
            filled -= used;
        }
        self.finish()
    }

    /// Adds an entry given as text (`from_entries`, the built-in table).
    pub(super) fn push_text(&mut self, key: &str, text: &str) {
        self.body.clear();
        json::write_escaped(&mut self.body, text);
        let text = (self.body.as_slice() != text.as_bytes()).then_some(text.as_bytes());
        arena::push(&mut self.arena, key.as_bytes(), &self.body, text);
        self.entries += 1;
        self.longest_key = self.longest_key.max(key.len());
    }

    /// The table of the entries pushed, without the object's syntax.
    pub(super) fn into_table(self) -> Result<Table, TableError> {
        Table::from_arena(self.arena, self.entries, self.longest_key)
    }

    /// One `"key": "value"` starting at `start`: where it ends, or `None`
    /// when `input` ends first.
    fn entry(&mut self, input: &[u8], start: usize) -> Result<Option<usize>, TableError> {
        if input[start] != b'"' {
            return Err(self.error(input, start, start, "expected a key in double quotes"));
        }
        let (key_end, key_escaped) = match string_end(input, start + 1) {
            Ok(Some(end)) => end,
            Ok(None) => return Ok(None),
            Err(at) => return Err(self.error(input, start, at, "control character in a string")),
        };
        let mut at = skip_ws(input, key_end + 1);
        match input.get(at) {
            None => return Ok(None),
            Some(b':') => at = skip_ws(input, at + 1),
            Some(_) => return Err(self.error(input, start, at, "expected `:`")),
        }
        match input.get(at) {
            None => return Ok(None),
            Some(b'"') => {}
            Some(_) => return Err(self.error(input, start, at, "an answer that is not a string")),
        }
        let value_start = at + 1;
        let (value_end, value_escaped) = match string_end(input, value_start) {
            Ok(Some(end)) => end,
            Ok(None) => return Ok(None),
            Err(at) => return Err(self.error(input, start, at, "control character in a string")),
        };
        let key = &input[start + 1..key_end];
        let value = &input[value_start..value_end];
        if let Err(what) = self.add(key, key_escaped, value, value_escaped) {
            return Err(self.error(input, start, start, what));
        }
        Ok(Some(value_end + 1))
    }

    /// Writes one entry from the raw bodies of its two strings.
    fn add(
        &mut self,
        key: &[u8],
        key_escaped: bool,
        value: &[u8],
        value_escaped: bool,
    ) -> Result<(), &'static str> {
        let key = if key_escaped {
            self.key.clear();
            Raw(key).decode(&mut self.key).ok_or(BAD_STRING)?;
            self.key.as_bytes()
        } else {
            std::str::from_utf8(key).map_err(|_| BAD_STRING)?;
            key
        };
        if value_escaped {
            self.text.clear();
            Raw(value).decode(&mut self.text).ok_or(BAD_STRING)?;
            self.body.clear();
            json::write_escaped(&mut self.body, &self.text);
            // Escaping writes a backslash exactly when it changes a character.
            let text = self.body.contains(&b'\\').then_some(self.text.as_bytes());
            arena::push(&mut self.arena, key, &self.body, text);
        } else {
            // Without escapes the body is the text, and the server's
            // escaping leaves it as it is: a JSON string holds no `"`, `\`
            // or control character unescaped.
            std::str::from_utf8(value).map_err(|_| BAD_STRING)?;
            arena::push(&mut self.arena, key, value, None);
        }
        self.entries += 1;
        self.longest_key = self.longest_key.max(key.len());
        Ok(())
    }

    /// Skips whitespace from `at`, counting lines; where it stops.
    fn skip_ws(&mut self, input: &[u8], mut at: usize) -> usize {
        while let Some(&b) = input.get(at) {
            match b {
                b' ' | b'\t' | b'\r' => {}
                b'\n' => {
                    self.line += 1;
                    self.line_start = self.offset + at as u64 + 1;
                }
                _ => break,
            }
            at += 1;
        }
        at
    }

    /// The error `what` at `input[at]`; lines are counted up to `from`,
    /// and from there by looking at `input[from..at]`.
    fn error(&self, input: &[u8], from: usize, at: usize, what: &'static str) -> TableError {
        let (mut line, mut line_start) = (self.line, self.line_start);
        for (i, &b) in input[from..at].iter().enumerate() {
            if b == b'\n' {
                line += 1;
                line_start = self.offset + (from + i) as u64 + 1;
            }
        }
        let column = self.offset + at as u64 - line_start + 1;
        TableError::Json { what, line, column }
    }
}

/// What a string that is not a Rust string is called in errors.
const BAD_STRING: &str = "a string that is not valid UTF-8 or has a bad escape";

/// JSON whitespace from `at`: where it stops.
fn skip_ws(input: &[u8], mut at: usize) -> usize {
    while matches!(input.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// The closing quote of the string whose body starts at `from`, and
/// whether the body has escapes; `Ok(None)` when `input` ends first,
/// `Err(at)` at a control character (which JSON strings cannot hold raw).
/// Escapes are only skipped here; decoding checks them.
fn string_end(input: &[u8], from: usize) -> Result<Option<(usize, bool)>, usize> {
    let mut at = from;
    let mut escaped = false;
    loop {
        let Some(rest) = input.get(at..) else {
            return Ok(None);
        };
        let Some(stop) = rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        else {
            return Ok(None);
        };
        at += stop;
        match input[at] {
            b'"' => return Ok(Some((at, escaped))),
            b'\\' => {
                escaped = true;
                at += 2;
            }
            _ => return Err(at),
        }
    }
}

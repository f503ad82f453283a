//! Answers too long to build whole: the search service's answers that quote
//! a long name back (`No match for "…".`, `Error: invalid action "…".`).
//!
//! Such an answer is as long as the request that asked it, so building it
//! whole makes the server hold two copies of a peer's largest message. A
//! [`Pending`] writes it instead a piece at a time, as the output drains,
//! from the request's own bytes, which the session keeps until the answer
//! is whole. Bytes on the wire are the same as the answer built whole.

use std::ops::Range;

use crate::encode::{self, JSON_ENCODING, SEARCH_ACTION};
use crate::header::CONTENT_TYPE_JSON;
use crate::object;
use crate::requote::Raw;
use crate::service::{QuoteStyle, SearchService, RESULT_OPEN};
use crate::{fast, json, Frame, ProtoError, Table};

/// Requests whose content is at most this long are answered whole: their
/// answers are at most about as long.
pub const STREAM_ABOVE: usize = 16 * 1024;

/// The rest of an answer that quotes a long name from its request.
///
/// The head of the message is written when it is made; [`Pending::fill`]
/// writes the rest, from the content of the same request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The name's escaped body within the request content.
    name: Range<usize>,
    /// How far into `name` the answer is written.
    at: usize,
    /// What follows the name: closing mark, period, end of the object.
    tail: &'static [u8],
}

impl Pending {
    /// Appends about `room` more bytes of the answer (an escape is never
    /// split, and the short tail is written whole). `content` is the
    /// content of the request the answer was started for. Returns `true`
    /// once the answer is whole.
    pub fn fill(&mut self, content: &[u8], out: &mut Vec<u8>, room: usize) -> bool {
        let Some(name) = content.get(self.name.clone()) else {
            // Not the request this answer was made for: a caller's bug,
            // and the message cannot be finished. End it here.
            return true;
        };
        self.at = Raw(name).write(self.at, out, room);
        if self.at < name.len() {
            return false;
        }
        out.extend_from_slice(self.tail);
        true
    }
}

impl SearchService {
    /// Like [`SearchService::respond`], for the request `frame` carries:
    /// when the answer would quote a long name, only its head is written
    /// and the returned [`Pending`] writes the rest.
    pub fn respond_frame(
        &self,
        frame: &Frame<'_>,
        keep_alive: bool,
        out: &mut Vec<u8>,
    ) -> Result<Option<Pending>, ProtoError> {
        // One table for the whole answer, even if it is replaced meanwhile.
        let table = self.current();
        if let Some((before, name)) = long_name(&table, frame) {
            if let Some(pending) = self.start(frame.content, before, name, keep_alive, out)? {
                return Ok(Some(pending));
            }
        }
        let request = crate::Request::parse(frame)?;
        self.respond_from(&table, &request, keep_alive, out)
            .map(|()| None)
    }

    /// Writes the head of the answer quoting `name` after `before`, or
    /// nothing when the name is not a string a Rust `str` holds (the
    /// request is then answered, or refused, the usual way).
    fn start(
        &self,
        content: &[u8],
        before: &str,
        name: Range<usize>,
        keep_alive: bool,
        out: &mut Vec<u8>,
    ) -> Result<Option<Pending>, ProtoError> {
        let Some(name_len) = Raw(&content[name.clone()]).escaped_len() else {
            return Ok(None);
        };
        let quote = self.quote_style();
        let mut head = RESULT_OPEN.to_vec();
        json::write_escaped(&mut head, before);
        json::write_escaped(&mut head, quote.mark());
        let tail = tail(quote);
        let len = head.len() + name_len + tail.len();
        encode::header(out, CONTENT_TYPE_JSON, JSON_ENCODING, len, keep_alive)?;
        out.extend_from_slice(&head);
        Ok(Some(Pending { name, at: 0, tail }))
    }
}

/// The long name a request's answer quotes, with the text before it,
/// when the answer is certain to be that quote: a search for a name
/// longer than any key, or an action too long to be `search`.
fn long_name(table: &Table, frame: &Frame<'_>) -> Option<(&'static str, Range<usize>)> {
    let content = frame.content;
    if content.len() <= STREAM_ABOVE || !frame.header.is_json() {
        return None;
    }
    let (action, value) = fields(content)?;
    let action_body = &content[action.clone()];
    if action_body.len() > STREAM_ABOVE {
        return Some(("Error: invalid action ", action));
    }
    let action_text = std::str::from_utf8(action_body).ok()?;
    let is_search = if action_body.contains(&b'\\') {
        serde_json::from_str::<String>(&format!("\"{action_text}\"")).ok()? == SEARCH_ACTION
    } else {
        action_text == SEARCH_ACTION
    };
    // Every escaped byte decodes to at least a sixth of a byte
    // (`\u0041` is `A`), so a longer body cannot be any key.
    let no_key_that_long = table.longest_key().saturating_mul(6);
    let value = value?;
    (is_search && value.len() > STREAM_ABOVE.max(no_key_that_long))
        .then_some(("No match for ", value))
}

/// The closing mark, the period and the end of the result object.
fn tail(quote: QuoteStyle) -> &'static [u8] {
    match quote {
        QuoteStyle::Double => b"\\\".\"}",
        QuoteStyle::Single => b"'.\"}",
    }
}

/// Where the bodies of the `action` and (when it is a string) `value`
/// strings are in `content`, a JSON object.
fn fields(content: &[u8]) -> Option<(Range<usize>, Option<Range<usize>>)> {
    if let Some((action, value)) = fast::request(content) {
        return Some((
            within(content, action.as_bytes()),
            Some(within(content, value.as_bytes())),
        ));
    }
    let text = std::str::from_utf8(content).ok()?;
    let [action, value] = object::fields(text, ["action", "value"]).ok()?;
    let body = |raw: &str| {
        let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
        Some(within(content, inner.as_bytes()))
    };
    Some((body(action?)?, value.and_then(body)))
}

/// Where `part`, a slice of `whole`, lies in it.
fn within(whole: &[u8], part: &[u8]) -> Range<usize> {
    let start = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
    debug_assert!(start + part.len() <= whole.len(), "not a part of it");
    start..start + part.len()
}

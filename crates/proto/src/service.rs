//! The search service: a request in, a response out, no I/O.
//!
//! Owns what a request means and what the answer says, with the table as
//! data that can be replaced while the service runs ([`TableSwitch`]). It
//! does not own framing or connection lifetime (a session decides when to
//! close), nor how a table is held ([`Table`]).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};

use crate::encode::{self, BINARY_ENCODING, JSON_ENCODING, SEARCH_ACTION};
use crate::header::CONTENT_TYPE_JSON;
use crate::object::{self, ObjectError};
use crate::reply::ERROR_PREFIX;
use crate::{fast, json, Frame, ProtoError, Table};

/// Content type of the server's binary responses.
pub const SERVER_BINARY_TYPE: &str = "binary/custom-server-binary-type";
/// Text in front of the first bytes of a binary request, in its response.
const BINARY_PREFIX: &[u8] = b"First 10 bytes of request: ";
/// Room for everything in a "No match" answer but the quoted key: the
/// protoheader, the JSON header and the result's fixed text.
const ANSWER_OVERHEAD: usize = 256;
/// How many bytes of a binary request its response echoes.
const BINARY_ECHO_LEN: usize = 10;
/// What the content of every JSON answer starts with, before the escaped
/// result text.
pub(crate) const RESULT_OPEN: &[u8] = b"{\"result\": \"";
/// What it ends with, after the text.
const RESULT_CLOSE: &[u8] = b"\"}";

/// How a result text quotes the value or action it names (PROTOCOL.md,
/// section 3a); every other byte of a response is the same in both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum QuoteStyle {
    /// `No match for "V".`, `Error: invalid action "A".`: the reference
    /// programs of the original post, and sockmux's default.
    #[default]
    Double,
    /// `No match for 'V'.`, `Error: invalid action 'A'.`: the current
    /// version of the tutorial (since 2022).
    Single,
}

impl QuoteStyle {
    /// Both styles, the default first: what a verifier accepts.
    pub const ALL: [Self; 2] = [Self::Double, Self::Single];

    /// The quote mark.
    pub const fn mark(self) -> &'static str {
        match self {
            Self::Double => "\"",
            Self::Single => "'",
        }
    }

    /// Writes `before`, then `name` between quote marks, then a period.
    /// Plain writes, not `write!`: this is on the server's path for
    /// every miss.
    fn write(self, w: &mut json::EscapingWriter<'_>, before: &str, name: &str) -> std::fmt::Result {
        for part in [before, self.mark(), name, self.mark(), "."] {
            w.write_str(part)?;
        }
        Ok(())
    }
}

/// A request, borrowed from the frame it was decoded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request<'a> {
    /// `text/json` `{"action": "search", "value": V}`.
    Search {
        /// The key to look up.
        value: Cow<'a, str>,
    },
    /// `text/json` with an action other than `search`.
    OtherAction {
        /// The action named.
        action: Cow<'a, str>,
        /// The `value`, when it is a string (the search service ignores it;
        /// other services may not).
        value: Option<Cow<'a, str>>,
    },
    /// Any other content type.
    Binary {
        /// The content.
        content: &'a [u8],
    },
}

impl<'a> Request<'a> {
    /// Reads the request a frame carries, or says what is wrong with it.
    pub fn parse(frame: &Frame<'a>) -> Result<Self, ProtoError> {
        // Binary content of any length is a request, the empty one too
        // (PROTOCOL.md, section 3); empty JSON content is not JSON.
        if !frame.header.is_json() {
            return Ok(Self::Binary {
                content: frame.content,
            });
        }
        if frame.content.is_empty() {
            return Err(ProtoError::EmptyContent);
        }
        if let Some((action, value)) = fast::request(frame.content) {
            return Ok(if action == SEARCH_ACTION {
                Self::Search {
                    value: Cow::Borrowed(value),
                }
            } else {
                Self::OtherAction {
                    action: Cow::Borrowed(action),
                    value: Some(Cow::Borrowed(value)),
                }
            });
        }
        // The header check already refused every encoding but UTF-8.
        let text = std::str::from_utf8(frame.content).map_err(|_| ProtoError::ContentNotUtf8)?;
        // `null` counts as present: it is not a string, not missing.
        let [action, value] = object::fields(text, ["action", "value"]).map_err(|e| match e {
            ObjectError::NotObject => ProtoError::ContentNotObject,
            ObjectError::Json(detail) => ProtoError::ContentNotJson { detail },
        })?;
        let action = string_field(action, "action")?;
        if action != SEARCH_ACTION {
            let value = string_field(value, "value").ok();
            return Ok(Self::OtherAction { action, value });
        }
        let value = string_field(value, "value")?;
        Ok(Self::Search { value })
    }
}

fn string_field<'a>(raw: Option<&'a str>, field: &'static str) -> Result<Cow<'a, str>, ProtoError> {
    let raw = raw.ok_or(ProtoError::MissingField { field })?;
    object::string(raw).ok_or(ProtoError::FieldNotString { field })
}

/// The search service over one table, which can be replaced while it
/// answers (see [`SearchService::switch`]). Clones share the table.
#[derive(Debug, Clone)]
pub struct SearchService {
    table: Arc<ArcSwap<Table>>,
    quote: QuoteStyle,
}

/// Replaces the table a [`SearchService`] and all its clones answer from,
/// at once for every request that starts after it: each answer comes
/// wholly from the old table or wholly from the new one.
#[derive(Debug, Clone)]
pub struct TableSwitch(Arc<ArcSwap<Table>>);

impl TableSwitch {
    /// The table answering now.
    pub fn current(&self) -> Arc<Table> {
        self.0.load_full()
    }

    /// Makes `table` the one answering and hands back the one it replaces,
    /// so that the caller frees it (on its own thread, off the requests'
    /// path). A request still answering from the old table keeps it alive
    /// until it is done.
    pub fn replace(&self, table: Table) -> Arc<Table> {
        self.0.swap(Arc::new(table))
    }
}

impl SearchService {
    /// A service answering from `table`, quoting as the original reference
    /// server does.
    pub fn new(table: Table) -> Self {
        Self {
            table: Arc::new(ArcSwap::from_pointee(table)),
            quote: QuoteStyle::default(),
        }
    }

    /// A service answering from `table`, which others may share (no
    /// copy of it is made).
    pub fn new_shared(table: Arc<Table>) -> Self {
        Self {
            table: Arc::new(ArcSwap::new(table)),
            quote: QuoteStyle::default(),
        }
    }

    /// The same service, quoting names in its result texts as `quote`
    /// says.
    pub fn with_quote_style(self, quote: QuoteStyle) -> Self {
        Self { quote, ..self }
    }

    /// The table answers come from now.
    pub fn table(&self) -> Arc<Table> {
        self.table.load_full()
    }

    /// The handle that replaces this service's table (and its clones').
    pub fn switch(&self) -> TableSwitch {
        TableSwitch(Arc::clone(&self.table))
    }

    /// The table for one request: read once, so the whole answer comes
    /// from it. No allocation and no lock.
    pub(crate) fn current(&self) -> Guard<Arc<Table>> {
        self.table.load()
    }

    /// How result texts quote the names they repeat.
    pub fn quote_style(&self) -> QuoteStyle {
        self.quote
    }

    /// Appends the response to `request` to `out`, carrying `keep-alive`
    /// when `keep_alive` is set.
    pub fn respond(
        &self,
        request: &Request<'_>,
        keep_alive: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), ProtoError> {
        self.respond_from(&self.current(), request, keep_alive, out)
    }

    /// [`SearchService::respond`], from `table`.
    pub(crate) fn respond_from(
        &self,
        table: &Table,
        request: &Request<'_>,
        keep_alive: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), ProtoError> {
        let quote = self.quote;
        match request {
            Request::Search { value } => match table.answer_body(value) {
                Some(body) => encode::message(
                    out,
                    CONTENT_TYPE_JSON,
                    JSON_ENCODING,
                    &[RESULT_OPEN, body, RESULT_CLOSE],
                    keep_alive,
                ),
                None => {
                    // The answer quotes the whole key back: room for it at
                    // once, rather than doubling up to twice its size.
                    out.reserve(value.len() + ANSWER_OVERHEAD);
                    result_message(out, keep_alive, |w| quote.write(w, "No match for ", value))
                }
            },
            Request::OtherAction { action, .. } => result_message(out, keep_alive, |w| {
                w.write_str(ERROR_PREFIX)?;
                quote.write(w, "invalid action ", action)
            }),
            Request::Binary { content } => {
                let head = &content[..content.len().min(BINARY_ECHO_LEN)];
                encode::message(
                    out,
                    SERVER_BINARY_TYPE,
                    BINARY_ENCODING,
                    &[BINARY_PREFIX, head],
                    keep_alive,
                )
            }
        }
    }
}

/// Appends the error response for `err`: `{"result": "Error: <err>."}`,
/// without `keep-alive`, since the connection closes after it.
pub fn error_response(err: &dyn std::fmt::Display, out: &mut Vec<u8>) -> Result<(), ProtoError> {
    result_message(out, false, |w| write!(w, "{ERROR_PREFIX}{err}."))
}

/// Appends a `text/json` response `{"result": TEXT}` carrying `keep-alive`
/// when `keep_alive` is set, TEXT escaped as the reference server does.
pub fn result_response(
    text: impl std::fmt::Display,
    keep_alive: bool,
    out: &mut Vec<u8>,
) -> Result<(), ProtoError> {
    result_message(out, keep_alive, |w| write!(w, "{text}"))
}

/// Appends a `text/json` message `{"result": TEXT}`, TEXT formatted by
/// `text` straight into the buffer, escaped.
fn result_message(
    out: &mut Vec<u8>,
    keep_alive: bool,
    text: impl FnOnce(&mut json::EscapingWriter<'_>) -> std::fmt::Result,
) -> Result<(), ProtoError> {
    encode::json_message(out, keep_alive, |out| write_result(out, text))
}

/// Appends `{"result": TEXT}`, TEXT formatted by `text`, escaped.
fn write_result(
    out: &mut Vec<u8>,
    text: impl FnOnce(&mut json::EscapingWriter<'_>) -> std::fmt::Result,
) {
    out.extend_from_slice(RESULT_OPEN);
    // Writing into a Vec cannot fail.
    let _ = text(&mut json::EscapingWriter(out));
    out.extend_from_slice(RESULT_CLOSE);
}

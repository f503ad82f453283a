//! The app workload: search (or binary) requests rotating over the keys of
//! a table (the built-in one, or a sample of a large one) plus one key it
//! does not have, each response checked against what the protocol crate's
//! own search service answers from that table, or from any of the tables
//! the server may be reloading between.
//!
//! Owns the request set and the comparison. Expected responses are computed
//! once, up front, by running each request through
//! [`sockmux_proto::SearchService`] in both quote styles of PROTOCOL.md 3a
//! (the seed's and the current tutorial's); a response passes when its
//! content is byte-identical to either, or, for JSON, has the same `result`
//! as [`Reply`] reads it (another server may space its JSON differently and
//! still be right). A wrong answer is described with a short quote, its
//! length and a hash of the whole, however large it is.

use std::borrow::Cow;
use std::ops::ControlFlow;
use std::sync::Arc;

use sockmux_proto::{
    encode, Decoder, Frame, Limits, ProtoError, QuoteStyle, Reply, ReplyError, Request,
    SearchService, StreamDecoder, Table,
};

use super::config::{BenchConfig, BenchError};
use super::workload::{Fault, Verdict, Workload};
use crate::repr::PyBytes;

/// A key the built-in table does not have, so misses are exercised too.
const MISS_KEY: &str = "sockmux-bench-miss";
/// Action of binary requests (any action but `search` makes one).
const BINARY_ACTION: &str = "bin";
/// Bytes of a wrong answer quoted in a mismatch report, at most.
const QUOTE_MAX: usize = 200;
/// Keys of a given table searched, at most, spread evenly over it: enough
/// that a large table is not answered from one warm corner of its memory,
/// few enough that every expected answer is held.
const MAX_KEYS: usize = 65_536;

#[derive(Debug, Clone)]
struct Case {
    label: String,
    request: Vec<u8>,
    /// One per table and quote style, the first table's default style first.
    expected: Vec<Expected>,
}

/// What one generation of the reference server answers.
#[derive(Debug, Clone)]
struct Expected {
    content: Vec<u8>,
    /// The `result`, for a JSON response.
    result: Option<String>,
}

/// Search or binary requests with precomputed expected answers.
#[derive(Debug, Clone)]
pub(crate) struct AppWorkload {
    keep_alive: bool,
    limits: Limits,
    cases: Vec<Case>,
}

impl AppWorkload {
    /// Requests of one kind over the keys of the first of `tables` (the
    /// built-in table when there are none), right when they come from any
    /// of them, with `keep-alive` set as asked. A response
    /// announcing content above `max_response` bytes (default:
    /// [`BenchConfig::RESPONSE_SLACK`] over the largest expected answer)
    /// ends its connection as malformed before it is buffered.
    pub(crate) fn new(
        binary: bool,
        keep_alive: bool,
        max_response: Option<usize>,
        tables: &[Arc<Table>],
    ) -> Result<Self, BenchError> {
        let limits = Limits::default();
        let builtin = [Arc::new(Table::builtin())];
        let tables = if tables.is_empty() {
            &builtin[..]
        } else {
            tables
        };
        let first = &tables[0];
        let step = first.len().div_ceil(MAX_KEYS).max(1);
        let mut keys: Vec<&str> = first.iter().step_by(step).map(|(k, _)| k).collect();
        if tables.len() == 1 && first.len() <= MAX_KEYS {
            keys.sort_unstable();
        }
        keys.push(MISS_KEY);
        let services: Vec<SearchService> = tables
            .iter()
            .flat_map(|table| {
                let service = SearchService::new_shared(Arc::clone(table));
                QuoteStyle::ALL.map(|quote| service.clone().with_quote_style(quote))
            })
            .collect();
        let cases = keys
            .into_iter()
            .map(|key| case(&services, limits, binary, keep_alive, key))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| BenchError::Config(format!("cannot encode the requests: {e}")))?;
        let largest = cases
            .iter()
            .flat_map(|c| c.expected.iter().map(|e| e.content.len()))
            .max()
            .unwrap_or(0);
        let max_content = match max_response {
            None => largest.saturating_add(BenchConfig::RESPONSE_SLACK),
            Some(max) if max >= largest => max,
            Some(max) => {
                return Err(BenchError::Config(format!(
                    "the largest response accepted ({max} bytes) is below the largest right \
                     answer ({largest} bytes)"
                )))
            }
        };
        let limits = Limits {
            max_content,
            ..limits
        };
        Ok(Self {
            keep_alive,
            limits,
            cases,
        })
    }
}

/// Encodes one request and computes its expected responses, one per
/// service.
fn case(
    services: &[SearchService],
    limits: Limits,
    binary: bool,
    keep_alive: bool,
    key: &str,
) -> Result<Case, ProtoError> {
    let action = if binary {
        BINARY_ACTION
    } else {
        encode::SEARCH_ACTION
    };
    let mut request = Vec::new();
    encode::client_request(action, key, keep_alive, &mut request)?;
    let whole = |len| ProtoError::Truncated { buffered: len };
    let mut decoder = Decoder::new(limits);
    let frame = decoder.decode(&request)?.ok_or(whole(request.len()))?;
    let parsed = Request::parse(&frame)?;
    let mut expected = Vec::with_capacity(services.len());
    for service in services {
        let mut response = Vec::new();
        service.respond(&parsed, keep_alive, &mut response)?;
        let mut decoder = Decoder::new(limits);
        let frame = decoder.decode(&response)?.ok_or(whole(response.len()))?;
        // The service's own answers always read; a binary one has no result.
        let reply = Reply::parse(&frame).ok();
        expected.push(Expected {
            content: frame.content.to_vec(),
            result: reply.and_then(|r| r.result().map(str::to_owned)),
        });
    }
    Ok(Case {
        label: format!("{action} {key}"),
        request,
        expected,
    })
}

/// One connection's decoder and its place in the rotation.
#[derive(Debug)]
pub(crate) struct AppState {
    decoder: StreamDecoder,
    next_request: usize,
    next_response: usize,
}

impl Workload for AppWorkload {
    type State = AppState;

    fn state(&self, conn: usize) -> AppState {
        // Connections start at different keys so every key is in flight.
        let start = conn % self.cases.len();
        AppState {
            decoder: StreamDecoder::new(self.limits),
            next_request: start,
            next_response: start,
        }
    }

    fn reset(&self, state: &mut AppState, clean: bool) {
        if !clean || state.decoder.buffered() > 0 {
            state.decoder = StreamDecoder::new(self.limits);
        }
        state.next_response = state.next_request;
    }

    fn request(&self, state: &mut AppState, out: &mut Vec<u8>) {
        let case = &self.cases[state.next_request % self.cases.len()];
        out.extend_from_slice(&case.request);
        state.next_request = state.next_request.wrapping_add(1);
    }

    fn input(
        &self,
        state: &mut AppState,
        input: &[u8],
        detail: bool,
        verdict: &mut dyn FnMut(Verdict),
    ) -> Result<(), Fault> {
        let mut fault = None;
        let fed = state.decoder.feed(input, |frame| {
            if state.next_response == state.next_request {
                fault = Some(Fault::Unsolicited);
                return ControlFlow::Break(());
            }
            let case = &self.cases[state.next_response % self.cases.len()];
            state.next_response = state.next_response.wrapping_add(1);
            match verify(case, &frame) {
                Ok(()) => verdict(Verdict::Ok),
                Err(Ok(Reply::Error(error))) => {
                    fault = Some(Fault::ServerError(shorten(&error).into_owned()));
                    return ControlFlow::Break(());
                }
                Err(got) => verdict(Verdict::Mismatch(
                    detail.then(|| mismatch(case, &frame, got.err())),
                )),
            }
            if self.keep_alive && !frame.header.keep_alive {
                fault = Some(Fault::KeepAliveIgnored);
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        });
        match (fed, fault) {
            (_, Some(fault)) => Err(fault),
            (Err(e), None) => Err(Fault::Malformed(e)),
            (Ok(()), None) => Ok(()),
        }
    }
}

/// Checks a response against the expected ones; when it is none of them,
/// gives back what [`Reply`] made of it.
fn verify<'a>(case: &Case, frame: &Frame<'a>) -> Result<(), Result<Reply<'a>, ReplyError>> {
    let json_expected = case.expected.iter().any(|e| e.result.is_some());
    if frame.header.is_json() == json_expected
        && case.expected.iter().any(|e| e.content == frame.content)
    {
        return Ok(());
    }
    // Slow path, reached only when the bytes differ.
    let reply = Reply::parse(frame);
    let same_result = reply
        .as_ref()
        .ok()
        .and_then(Reply::result)
        .is_some_and(|got| {
            case.expected
                .iter()
                .any(|e| e.result.as_deref() == Some(got))
        });
    if same_result {
        return Ok(());
    }
    Err(reply)
}

/// At most [`QUOTE_MAX`] bytes of a server's answer, as Python shows bytes;
/// a longer one is cut, and its length and a hash of the whole tell two
/// long answers with the same beginning apart.
fn quote(bytes: &[u8]) -> String {
    match bytes.get(..QUOTE_MAX) {
        Some(head) if bytes.len() > QUOTE_MAX => format!(
            "{}... ({} bytes, FNV-1a {:016x})",
            PyBytes(head),
            bytes.len(),
            fnv1a(bytes)
        ),
        _ => PyBytes(bytes).to_string(),
    }
}

/// The 64-bit FNV-1a hash: enough to tell answers apart in a report (it is
/// no defence against a server that picks collisions, nor needs to be).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// At most about [`QUOTE_MAX`] bytes of a server's text.
fn shorten(text: &str) -> Cow<'_, str> {
    if text.len() <= QUOTE_MAX {
        return Cow::Borrowed(text);
    }
    let cut = (0..=QUOTE_MAX)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    Cow::Owned(format!("{}... ({} bytes)", &text[..cut], text.len()))
}

/// A mismatch told to a user: what came (at most a short quote of it), why
/// it does not read when it does not, and what was expected.
fn mismatch(case: &Case, frame: &Frame<'_>, unreadable: Option<ReplyError>) -> String {
    let why = unreadable.map(|e| format!(": {e}")).unwrap_or_default();
    format!(
        "{}: got {} ({}{why}), expected {}",
        case.label,
        quote(frame.content),
        shorten(&frame.header.content_type),
        PyBytes(&case.expected[0].content)
    )
}

#[cfg(test)]
mod tests;

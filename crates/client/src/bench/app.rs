//! The app workload: search (or binary) requests rotating over the keys of
//! the built-in table plus one key it does not have, each response checked
//! against what the protocol crate's own search service answers.
//!
//! Owns the request set and the comparison. Expected responses are computed
//! once, up front, by running each request through
//! [`sockmux_proto::SearchService`]; a response passes when its content is
//! byte-identical, or, for JSON, equal as JSON (another server may space
//! its JSON differently and still be right).

use std::borrow::Cow;
use std::ops::ControlFlow;

use sockmux_proto::{
    encode, Decoder, Limits, ProtoError, Request, SearchService, StreamDecoder, Table,
};

use super::workload::{Fault, Verdict, Workload};
use crate::repr::PyBytes;

/// A key the built-in table does not have, so misses are exercised too.
const MISS_KEY: &str = "sockmux-bench-miss";
/// Action of binary requests (any action but `search` makes one).
const BINARY_ACTION: &str = "bin";
/// Room for a response beyond the largest expected content (another server
/// may space its JSON differently): a server answering with megabytes is
/// refused as malformed once past this, not buffered.
const RESPONSE_SLACK: usize = 64 * 1024;
/// Bytes of a wrong answer quoted in a mismatch report, at most.
const QUOTE_MAX: usize = 200;

#[derive(Debug, Clone)]
struct Case {
    label: String,
    request: Vec<u8>,
    content: Vec<u8>,
    /// The expected content parsed, for JSON responses.
    json: Option<serde_json::Value>,
}

/// Search or binary requests with precomputed expected answers.
#[derive(Debug, Clone)]
pub(crate) struct AppWorkload {
    keep_alive: bool,
    limits: Limits,
    cases: Vec<Case>,
}

impl AppWorkload {
    /// Requests of one kind, with `keep-alive` set as asked.
    pub(crate) fn new(binary: bool, keep_alive: bool) -> Result<Self, ProtoError> {
        let limits = Limits::default();
        let table = Table::builtin();
        let mut keys: Vec<&str> = table.iter().map(|(k, _)| k).collect();
        keys.sort_unstable();
        keys.push(MISS_KEY);
        let service = SearchService::new(table.clone());
        let cases = keys
            .into_iter()
            .map(|key| case(&service, limits, binary, keep_alive, key))
            .collect::<Result<Vec<_>, _>>()?;
        let largest = cases.iter().map(|c| c.content.len()).max().unwrap_or(0);
        let limits = Limits {
            max_content: largest.saturating_add(RESPONSE_SLACK),
            ..limits
        };
        Ok(Self {
            keep_alive,
            limits,
            cases,
        })
    }
}

/// Encodes one request and computes its expected response.
fn case(
    service: &SearchService,
    limits: Limits,
    binary: bool,
    keep_alive: bool,
    key: &str,
) -> Result<Case, ProtoError> {
    let mut request = Vec::new();
    let label = if binary {
        encode::binary_request(BINARY_ACTION, key, keep_alive, &mut request)?;
        format!("{BINARY_ACTION} {key}")
    } else {
        encode::search_request(key, keep_alive, &mut request)?;
        format!("search {key}")
    };
    let whole = |len| ProtoError::Truncated { buffered: len };
    let mut decoder = Decoder::new(limits);
    let frame = decoder.decode(&request)?.ok_or(whole(request.len()))?;
    let mut response = Vec::new();
    service.respond(&Request::parse(&frame)?, keep_alive, &mut response)?;
    let mut decoder = Decoder::new(limits);
    let frame = decoder.decode(&response)?.ok_or(whole(response.len()))?;
    let json = if frame.header.is_json() {
        Some(
            serde_json::from_slice(frame.content).map_err(|e| ProtoError::ContentNotJson {
                detail: e.to_string(),
            })?,
        )
    } else {
        None
    };
    Ok(Case {
        label,
        content: frame.content.to_vec(),
        json,
        request,
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
            if matches(case, frame.header.is_json(), frame.content) {
                verdict(Verdict::Ok);
            } else if let Some(error) = error_result(frame.header.is_json(), frame.content) {
                fault = Some(Fault::ServerError(error));
                return ControlFlow::Break(());
            } else {
                verdict(Verdict::Mismatch(detail.then(|| {
                    format!(
                        "{}: got {} ({}), expected {}",
                        case.label,
                        quote(frame.content),
                        shorten(&frame.header.content_type),
                        PyBytes(&case.content)
                    )
                })));
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

/// Whether a response's content is the expected one.
fn matches(case: &Case, is_json: bool, content: &[u8]) -> bool {
    if is_json != case.json.is_some() {
        return false;
    }
    if content == case.content.as_slice() {
        return true;
    }
    // Slow path, reached only when the bytes differ.
    case.json.as_ref().is_some_and(|expected| {
        serde_json::from_slice::<serde_json::Value>(content).is_ok_and(|got| &got == expected)
    })
}

/// At most [`QUOTE_MAX`] bytes of a server's answer, as Python shows bytes.
fn quote(bytes: &[u8]) -> String {
    match bytes.get(..QUOTE_MAX) {
        Some(head) if bytes.len() > QUOTE_MAX => {
            format!("{}... ({} bytes)", PyBytes(head), bytes.len())
        }
        _ => PyBytes(bytes).to_string(),
    }
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

/// The `result` of a JSON response that reports an error.
fn error_result(is_json: bool, content: &[u8]) -> Option<String> {
    if !is_json {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(content).ok()?;
    let result = value.get("result")?.as_str()?;
    result
        .starts_with("Error: ")
        .then(|| shorten(result).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        workload: &AppWorkload,
        responses: &[u8],
        requests: usize,
    ) -> (Vec<Verdict>, Result<(), Fault>) {
        let mut state = workload.state(0);
        let mut sink = Vec::new();
        for _ in 0..requests {
            workload.request(&mut state, &mut sink);
        }
        let mut verdicts = Vec::new();
        let result = workload.input(&mut state, responses, true, &mut |v| verdicts.push(v));
        (verdicts, result)
    }

    /// The responses the reference server would give to `requests`
    /// requests of connection 0.
    fn served(workload: &AppWorkload, requests: usize, keep_alive: bool) -> Vec<u8> {
        let service = SearchService::new(Table::builtin());
        let mut out = Vec::new();
        for i in 0..requests {
            let case = &workload.cases[i % workload.cases.len()];
            let mut decoder = Decoder::new(Limits::default());
            let frame = decoder
                .decode(&case.request)
                .expect("valid")
                .expect("whole");
            let request = Request::parse(&frame).expect("valid");
            service
                .respond(&request, keep_alive, &mut out)
                .expect("encodes");
        }
        out
    }

    #[test]
    fn accepts_the_services_own_answers_pipelined() {
        let workload = AppWorkload::new(false, true).expect("builds");
        let responses = served(&workload, 9, true);
        let (verdicts, result) = run(&workload, &responses, 9);
        assert!(result.is_ok());
        assert_eq!(verdicts, vec![Verdict::Ok; 9]);
    }

    #[test]
    fn flags_a_wrong_byte_as_a_mismatch() {
        let workload = AppWorkload::new(true, false).expect("builds");
        let mut responses = served(&workload, 1, false);
        let last = responses.len() - 1;
        responses[last] ^= 0x20;
        let (verdicts, result) = run(&workload, &responses, 1);
        assert!(result.is_ok());
        assert!(matches!(verdicts.as_slice(), [Verdict::Mismatch(Some(_))]));
    }

    #[test]
    fn accepts_json_spaced_differently() {
        let workload = AppWorkload::new(false, false).expect("builds");
        let case = &workload.cases[0];
        let compact = serde_json::to_vec(case.json.as_ref().expect("json")).expect("json");
        assert_ne!(compact, case.content);
        assert!(matches(case, true, &compact));
    }

    #[test]
    fn a_response_without_keep_alive_ends_a_keep_alive_connection() {
        let workload = AppWorkload::new(false, true).expect("builds");
        let responses = served(&workload, 1, false);
        let (verdicts, result) = run(&workload, &responses, 2);
        assert_eq!(verdicts, vec![Verdict::Ok]);
        assert!(matches!(result, Err(Fault::KeepAliveIgnored)));
    }

    #[test]
    fn a_huge_wrong_answer_is_refused_or_quoted_short() {
        let workload = AppWorkload::new(false, true).expect("builds");
        let mut state = workload.state(0);
        workload.request(&mut state, &mut Vec::new());
        // Announces far more content than any expected answer: refused as
        // soon as the header is read, before the content is buffered.
        let mut huge = Vec::new();
        let content = vec![b'x'; 4 * 1024 * 1024];
        let header = format!(
            r#"{{"byteorder": "little", "content-type": "binary/custom-server-binary-type", "content-encoding": "binary", "content-length": {}, "keep-alive": true}}"#,
            content.len()
        );
        huge.extend_from_slice(&(header.len() as u16).to_be_bytes());
        huge.extend_from_slice(header.as_bytes());
        let result = workload.input(&mut state, &huge, true, &mut |_| {});
        assert!(matches!(result, Err(Fault::Malformed(_))), "{result:?}");
        assert!(state.decoder.buffered() < 1024);

        let quoted = quote(&content[..RESPONSE_SLACK]);
        assert!(quoted.len() < 2 * QUOTE_MAX, "{quoted}");
        assert!(quoted.ends_with("... (65536 bytes)"), "{quoted}");
        // Cut at a character boundary: byte 200 is inside an "é".
        let text = format!("a{}", "é".repeat(QUOTE_MAX));
        let short = shorten(&text);
        assert_eq!(short, format!("{}... (401 bytes)", &text[..199]));
    }
}

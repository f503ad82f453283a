//! One app-protocol response as the client keeps it: the bytes it came
//! in and what [`Reply::parse`] read from them. Owns the step from a
//! decoded frame to a kept [`Response`]; it does not read sockets (see
//! [`super::AppClient`]).

use std::ops::Range;
use std::sync::OnceLock;

use sockmux_proto::{Frame, Header, Reply, ReplyError};

/// One response, with the bytes it came in.
///
/// A `text/json` response is kept only when [`Reply::parse`] reads a
/// `result` string from it.
#[derive(Debug, Clone)]
pub struct Response {
    raw: Vec<u8>,
    header: Header,
    header_json: Range<usize>,
    content_start: usize,
    /// The `result` of a `text/json` response.
    result: Option<String>,
    is_error: bool,
    /// The content parsed, on first use.
    json: OnceLock<Option<serde_json::Value>>,
}

/// What a whole response's frame says, taken while the frame still borrows
/// the receive buffer.
pub(super) struct Head {
    header: Header,
    /// Bytes the whole message took.
    pub(super) len: usize,
    header_json: Range<usize>,
    content_start: usize,
    reply: Result<(Option<String>, bool), ReplyError>,
}

impl Head {
    pub(super) fn new(frame: &Frame<'_>) -> Self {
        // The frame ends with the content, which its JSON header precedes.
        let content_start = frame.len - frame.content.len();
        Self {
            header: frame.header.clone(),
            len: frame.len,
            header_json: content_start - frame.header_json.len()..content_start,
            content_start,
            reply: Reply::parse(frame)
                .map(|reply| (reply.result().map(str::to_owned), reply.is_error())),
        }
    }

    /// The response, now that its bytes, `raw`, can be kept.
    pub(super) fn into_response(self, raw: Vec<u8>) -> Result<Response, ReplyError> {
        let (result, is_error) = self.reply?;
        Ok(Response {
            raw,
            header: self.header,
            header_json: self.header_json,
            content_start: self.content_start,
            result,
            is_error,
            json: OnceLock::new(),
        })
    }
}

impl Response {
    /// The validated JSON header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The whole message as it arrived: protoheader, JSON header, content.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The JSON header's bytes as they arrived.
    pub fn header_json(&self) -> &[u8] {
        &self.raw[self.header_json.clone()]
    }

    /// The content's bytes.
    pub fn content(&self) -> &[u8] {
        &self.raw[self.content_start..]
    }

    /// The content parsed, for `text/json` responses.
    pub fn json(&self) -> Option<&serde_json::Value> {
        self.json
            .get_or_init(|| {
                // Read once already by `Reply::parse`, so this succeeds.
                self.header
                    .is_json()
                    .then(|| serde_json::from_slice(self.content()).ok())
                    .flatten()
            })
            .as_ref()
    }

    /// The `result` string of a `text/json` response.
    pub fn result(&self) -> Option<&str> {
        self.result.as_deref()
    }

    /// Whether the server answered with an error (`{"result": "Error: …"}`,
    /// as [`Reply`] classifies it).
    pub fn is_error(&self) -> bool {
        self.is_error
    }
}

#[cfg(test)]
mod tests {
    use sockmux_proto::{encode, Decoder, Limits, ProtoError};

    use super::*;

    /// The response `raw` holds, whole.
    fn response(raw: Vec<u8>) -> Result<Response, ReplyError> {
        let mut decoder = Decoder::new(Limits::default());
        let frame = decoder.decode(&raw).expect("valid").expect("whole");
        let head = Head::new(&frame);
        head.into_response(raw)
    }

    #[test]
    fn error_results_are_recognised() {
        let mut raw = Vec::new();
        sockmux_proto::error_response(&ProtoError::EmptyContent, &mut raw).expect("encodes");
        let response = response(raw).expect("valid");
        assert_eq!(
            response.result(),
            Some("Error: the request has no content.")
        );
        assert!(response.is_error());
        assert_eq!(
            response.json(),
            Some(&serde_json::json!({"result": "Error: the request has no content."}))
        );
    }

    #[test]
    fn keeps_the_header_and_content_bytes_apart() {
        let mut raw = Vec::new();
        encode::message(&mut raw, "binary/x", "binary", &[b"\xffab"], false).expect("encodes");
        let response = response(raw).expect("binary content is never malformed");
        let header = format!(
            r#"{{"byteorder": "{}", "content-type": "binary/x", "content-encoding": "binary", "content-length": 3}}"#,
            sockmux_proto::ByteOrder::native().as_str()
        );
        assert_eq!(response.header_json(), header.as_bytes());
        assert_eq!(response.content(), b"\xffab");
        assert_eq!((response.result(), response.is_error()), (None, false));
        assert_eq!(response.json(), None);
    }

    #[test]
    fn a_json_response_without_a_result_is_refused() {
        let mut raw = Vec::new();
        encode::message(
            &mut raw,
            "text/json",
            "utf-8",
            &[br#"{"answer": 1}"#],
            false,
        )
        .expect("encodes");
        assert_eq!(response(raw).err(), Some(ReplyError::MissingResult));
    }
}

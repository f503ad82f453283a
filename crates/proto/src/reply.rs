//! Reading a response the way a client reads it: the `result` text of a
//! `text/json` response, classified as an answer or an error, or the bytes
//! of a binary one.
//!
//! Owns the client's view of response content and the `Error: ` prefix
//! that marks an error result (the server's error encoder writes it from
//! here too). It does not own framing (a [`Frame`] comes from the
//! [`crate::Decoder`]) nor what a result should say (see
//! [`crate::service`]).
//!
//! Both generations of the reference server's result texts (PROTOCOL.md,
//! section 3a) are plain JSON strings that differ only in the quote marks
//! inside the text (`No match for "V".` or `No match for 'V'.`); both read
//! the same way here, and [`QuoteStyle`](crate::QuoteStyle) tells a
//! verifier what either generation would say.

use std::borrow::Cow;

use thiserror::Error;

use crate::object::{self, ObjectError};
use crate::{fast, Frame};

/// What every error result starts with: `{"result": "Error: …."}`.
pub const ERROR_PREFIX: &str = "Error: ";

/// One response's content, borrowed from its frame where it can be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<'a> {
    /// `text/json` content whose `result` does not start with
    /// [`ERROR_PREFIX`]: the answer.
    Answer(Cow<'a, str>),
    /// `text/json` content whose `result` starts with [`ERROR_PREFIX`]:
    /// the whole result, prefix included, as the user should read it.
    Error(Cow<'a, str>),
    /// Any other content type: the content as it came.
    Binary {
        /// The response's `content-type`, such as
        /// [`SERVER_BINARY_TYPE`](crate::service::SERVER_BINARY_TYPE).
        content_type: &'a str,
        /// The content.
        content: &'a [u8],
    },
}

/// Why a `text/json` response has no result a client can read. Checked in
/// this order.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// The content is not valid UTF-8.
    #[error("the response content is not valid UTF-8")]
    NotUtf8,
    /// The content does not parse as JSON.
    #[error("the response content is not valid JSON ({detail})")]
    NotJson {
        /// What the JSON parser reported.
        detail: String,
    },
    /// The content is valid JSON but not an object.
    #[error("the response content is not a JSON object")]
    NotObject,
    /// The object has no `result` key.
    #[error("the response has no \"result\"")]
    MissingResult,
    /// The object's `result` is not a string.
    #[error("the response's \"result\" is not a string")]
    ResultNotString,
}

impl<'a> Reply<'a> {
    /// Reads the content of a decoded response.
    ///
    /// The decoder has already refused `text/json` in any encoding but
    /// UTF-8. A result without escapes is borrowed from the frame; one
    /// with escapes (such as `No match for \"V\".`) is unescaped into a
    /// new string.
    ///
    /// ```
    /// use sockmux_proto::{encode, Decoder, Limits, Reply};
    ///
    /// // What the current tutorial's server answers to `search nobody`.
    /// let mut wire = Vec::new();
    /// let content = br#"{"result": "No match for 'nobody'."}"#;
    /// encode::message(&mut wire, "text/json", "utf-8", &[content], false)?;
    ///
    /// let mut decoder = Decoder::new(Limits::default());
    /// let frame = decoder.decode(&wire)?.expect("a whole message");
    /// let reply = Reply::parse(&frame)?;
    /// assert_eq!(reply, Reply::Answer("No match for 'nobody'.".into()));
    /// assert_eq!(reply.result(), Some("No match for 'nobody'."));
    /// assert!(!reply.is_error());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(frame: &Frame<'a>) -> Result<Self, ReplyError> {
        let header = frame.header;
        if !header.is_json() {
            return Ok(Self::Binary {
                content_type: &header.content_type,
                content: frame.content,
            });
        }
        let result = match fast::result(frame.content) {
            Some(result) => result,
            None => general_result(frame.content)?,
        };
        Ok(if result.starts_with(ERROR_PREFIX) {
            Self::Error(result)
        } else {
            Self::Answer(result)
        })
    }

    /// The `result` text of a `text/json` response, prefix and all.
    pub fn result(&self) -> Option<&str> {
        match self {
            Self::Answer(text) | Self::Error(text) => Some(text),
            Self::Binary { .. } => None,
        }
    }

    /// Whether the server answered with an error result.
    pub fn is_error(&self) -> bool {
        matches!(self, Self::Error(_))
    }
}

/// The `result` of any JSON text, every problem told apart.
fn general_result(content: &[u8]) -> Result<Cow<'_, str>, ReplyError> {
    let text = std::str::from_utf8(content).map_err(|_| ReplyError::NotUtf8)?;
    // The last `result` wins, as with Python's `json.loads`.
    let [result] = object::fields(text, ["result"]).map_err(|e| match e {
        ObjectError::NotObject => ReplyError::NotObject,
        ObjectError::Json(detail) => ReplyError::NotJson { detail },
    })?;
    let raw = result.ok_or(ReplyError::MissingResult)?;
    object::string(raw).ok_or(ReplyError::ResultNotString)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Decoder, Limits};

    /// The reply read from a `text/json` message with `content`, owned.
    fn json_reply(content: &[u8]) -> Result<Reply<'static>, ReplyError> {
        let mut wire = Vec::new();
        crate::encode::message(&mut wire, "text/json", "utf-8", &[content], false)
            .expect("encodes");
        let mut decoder = Decoder::new(Limits::default());
        let frame = decoder.decode(&wire).expect("valid").expect("whole");
        Reply::parse(&frame).map(|reply| match reply {
            Reply::Answer(text) => Reply::Answer(Cow::Owned(text.into_owned())),
            Reply::Error(text) => Reply::Error(Cow::Owned(text.into_owned())),
            Reply::Binary { .. } => unreachable!("text/json content is never binary"),
        })
    }

    fn answer(text: &str) -> Result<Reply<'static>, ReplyError> {
        Ok(Reply::Answer(Cow::Owned(text.to_owned())))
    }

    fn error(text: &str) -> Result<Reply<'static>, ReplyError> {
        Ok(Reply::Error(Cow::Owned(text.to_owned())))
    }

    #[test]
    fn reads_both_quote_styles_of_a_miss() {
        assert_eq!(
            json_reply(br#"{"result": "No match for \"nobody\"."}"#),
            answer("No match for \"nobody\".")
        );
        assert_eq!(
            json_reply(br#"{"result": "No match for 'nobody'."}"#),
            answer("No match for 'nobody'.")
        );
    }

    #[test]
    fn classifies_both_quote_styles_of_an_invalid_action_as_errors() {
        assert_eq!(
            json_reply(br#"{"result": "Error: invalid action \"frob\"."}"#),
            error("Error: invalid action \"frob\".")
        );
        assert_eq!(
            json_reply(br#"{"result": "Error: invalid action 'frob'."}"#),
            error("Error: invalid action 'frob'.")
        );
    }

    #[test]
    fn borrows_a_result_without_escapes() {
        let mut wire = Vec::new();
        let content = "{\"result\": \"Follow the white rabbit. \u{1f430}\"}";
        crate::encode::message(
            &mut wire,
            "text/json",
            "utf-8",
            &[content.as_bytes()],
            false,
        )
        .expect("encodes");
        let mut decoder = Decoder::new(Limits::default());
        let frame = decoder.decode(&wire).expect("valid").expect("whole");
        let reply = Reply::parse(&frame).expect("valid");
        assert!(matches!(reply, Reply::Answer(Cow::Borrowed(_))));
        assert_eq!(reply.result(), Some("Follow the white rabbit. \u{1f430}"));
    }

    #[test]
    fn reads_any_json_object_the_way_python_does() {
        assert_eq!(
            json_reply(b" {\"x\": [1, {\"result\": 2}],\n\"result\" : \"a\\u0062c\"} "),
            answer("abc")
        );
        assert_eq!(
            json_reply(br#"{"result": 1, "result": "last wins"}"#),
            answer("last wins")
        );
    }

    #[test]
    fn refuses_content_that_is_not_utf8() {
        assert_eq!(
            json_reply(b"{\"result\": \"\xff\"}"),
            Err(ReplyError::NotUtf8)
        );
    }

    #[test]
    fn refuses_content_that_is_not_json() {
        for content in [
            &b"{\"result\": 'single'}"[..],
            b"",
            b"{\"result\": \"a\"} x",
        ] {
            assert!(
                matches!(json_reply(content), Err(ReplyError::NotJson { .. })),
                "{}",
                content.escape_ascii()
            );
        }
    }

    #[test]
    fn refuses_json_that_is_not_an_object() {
        for content in [&b"[\"result\"]"[..], b"\"result\"", b"null"] {
            assert_eq!(json_reply(content), Err(ReplyError::NotObject));
        }
    }

    #[test]
    fn refuses_an_object_without_a_result() {
        assert_eq!(
            json_reply(br#"{"Result": "a", "answer": "b"}"#),
            Err(ReplyError::MissingResult)
        );
    }

    #[test]
    fn refuses_a_result_that_is_not_a_string() {
        for content in [&br#"{"result": null}"#[..], br#"{"result": ["a"]}"#] {
            assert_eq!(json_reply(content), Err(ReplyError::ResultNotString));
        }
    }

    #[test]
    fn exposes_binary_content_as_bytes() {
        let mut wire = Vec::new();
        crate::encode::message(
            &mut wire,
            crate::service::SERVER_BINARY_TYPE,
            "binary",
            &[b"First 10 bytes of request: \xff\x00"],
            false,
        )
        .expect("encodes");
        let mut decoder = Decoder::new(Limits::default());
        let frame = decoder.decode(&wire).expect("valid").expect("whole");
        let reply = Reply::parse(&frame).expect("binary content is never malformed");
        assert_eq!(
            reply,
            Reply::Binary {
                content_type: "binary/custom-server-binary-type",
                content: b"First 10 bytes of request: \xff\x00",
            }
        );
        assert_eq!(reply.result(), None);
        assert!(!reply.is_error());
    }

    proptest::proptest! {
        /// Both paths read every result the JSON writer writes, the same.
        #[test]
        fn fast_and_general_paths_agree(text in "\\PC{0,24}|[\"'\\\\\\x00-\\x1f a-z]{0,12}") {
            let mut content = b"{\"result\": ".to_vec();
            crate::json::write_str(&mut content, &text);
            content.push(b'}');
            let general = general_result(&content);
            proptest::prop_assert_eq!(general.as_deref(), Ok(text.as_str()));
            let fast = fast::result(&content);
            proptest::prop_assert_eq!(fast.as_deref(), Some(text.as_str()));
        }
    }

    #[test]
    fn an_error_needs_the_whole_prefix() {
        assert_eq!(json_reply(br#"{"result": "Error:x"}"#), answer("Error:x"));
        assert_eq!(json_reply(br#"{"result": "error: x"}"#), answer("error: x"));
    }
}

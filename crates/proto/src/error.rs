//! Everything that can be wrong with bytes a peer sends. Owns the causes and
//! the sentences a peer reads; it does not decide what happens next (the
//! session answers with an `Error: …` response and closes).

use thiserror::Error;

/// One cause of a malformed message (PROTOCOL.md, section 3).
///
/// The `Display` text is the sentence a peer reads after `Error: ` in its
/// response, without the final period.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProtoError {
    /// The protoheader announced a JSON header of zero bytes.
    #[error("the JSON header is empty")]
    EmptyHeader,
    /// The protoheader announced a JSON header above the limit, or an
    /// encoder was asked to write one longer than 65,535 bytes.
    #[error("the JSON header is {len} bytes, above the limit of {limit}")]
    HeaderTooLong {
        /// Announced or produced length.
        len: usize,
        /// The limit in force.
        limit: usize,
    },
    /// The JSON header is not valid UTF-8.
    #[error("the JSON header is not valid UTF-8")]
    HeaderNotUtf8,
    /// The JSON header does not parse as JSON.
    #[error("the JSON header is not valid JSON ({detail})")]
    HeaderNotJson {
        /// What the JSON parser reported.
        detail: String,
    },
    /// The JSON header is valid JSON but not an object.
    #[error("the JSON header is not a JSON object")]
    HeaderNotObject,
    /// A required JSON header key is absent.
    #[error("missing required header \"{key}\"")]
    MissingHeaderKey {
        /// The key.
        key: &'static str,
    },
    /// A JSON header key has a value of the wrong type.
    #[error("header \"{key}\" must be {expected}")]
    HeaderKeyType {
        /// The key.
        key: &'static str,
        /// What the value must be, as a phrase.
        expected: &'static str,
    },
    /// `content-length` is a negative number.
    #[error("header \"content-length\" is negative")]
    NegativeContentLength,
    /// `content-length` is a number but not an integer (or not a number).
    #[error("header \"content-length\" is not an integer")]
    ContentLengthNotInteger,
    /// `content-length` is above the limit.
    #[error("content-length {len} is above the limit of {limit} bytes")]
    ContentTooLong {
        /// Announced length (saturated at `u64::MAX`).
        len: u64,
        /// The limit in force.
        limit: usize,
    },
    /// `text/json` content with an encoding this implementation does not
    /// decode.
    #[error("unsupported content-encoding \"{encoding}\"")]
    UnsupportedEncoding {
        /// The encoding the peer named.
        encoding: String,
    },
    /// A `text/json` request with `content-length` 0: empty text is not
    /// JSON. (Empty binary content is a valid request.)
    #[error("the request has no content")]
    EmptyContent,
    /// `text/json` content that is not valid UTF-8.
    #[error("the content is not valid UTF-8")]
    ContentNotUtf8,
    /// `text/json` content that does not parse as JSON.
    #[error("the content is not valid JSON ({detail})")]
    ContentNotJson {
        /// What the JSON parser reported.
        detail: String,
    },
    /// `text/json` content that is valid JSON but not an object.
    #[error("the content is not a JSON object")]
    ContentNotObject,
    /// A request lacks `action` or `value`.
    #[error("the request has no \"{field}\"")]
    MissingField {
        /// The missing field.
        field: &'static str,
    },
    /// A request's `action` or `value` is not a string.
    #[error("\"{field}\" must be a string")]
    FieldNotString {
        /// The offending field.
        field: &'static str,
    },
    /// The peer closed or reset the connection in the middle of a message.
    #[error("the connection closed after {buffered} bytes of an unfinished message")]
    Truncated {
        /// Bytes of the unfinished message that had arrived.
        buffered: usize,
    },
    /// The server's budget for buffered bytes, shared by every connection,
    /// cannot hold a message this large now.
    #[error("the server has no room for a message of {len} bytes now; try again later")]
    OverBudget {
        /// The whole message's length.
        len: usize,
    },
}

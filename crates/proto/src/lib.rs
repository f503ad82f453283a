//! The sockmux wire protocol, with no sockets, threads or clocks.
//!
//! This crate owns the bytes: how a message is framed on the wire, which JSON
//! header keys are required, how a message is written so that it is
//! byte-identical to what the reference Python programs send, the pure
//! search service, and how a client reads a response ([`Reply`]). Both
//! directions live here, so a client never re-derives the wire layout. It
//! does not own I/O: callers feed it bytes they read and send the bytes it
//! writes into their buffers.
//!
//! ```text
//! +----------------+---------------------+-------------------------+
//! | protoheader    | JSON header         | content                 |
//! | u16 BE: N      | N bytes, UTF-8 JSON | content-length bytes    |
//! +----------------+---------------------+-------------------------+
//! ```
//!
//! # Example
//!
//! A search request goes through the encoder, the decoder and the service,
//! and the response comes back as the reference server would send it.
//!
//! ```
//! use sockmux_proto::{encode, Decoder, Limits, Request, SearchService, Table};
//!
//! let mut wire = Vec::new();
//! encode::search_request("morpheus", false, &mut wire)?;
//!
//! let mut decoder = Decoder::new(Limits::default());
//! let frame = decoder.decode(&wire)?.expect("a whole message");
//! assert_eq!(frame.len, wire.len());
//!
//! let service = SearchService::new(Table::builtin());
//! let request = Request::parse(&frame)?;
//! let mut response = Vec::new();
//! service.respond(&request, frame.header.keep_alive, &mut response)?;
//!
//! let mut decoder = Decoder::new(Limits::default());
//! let reply = decoder.decode(&response)?.expect("a whole message");
//! assert_eq!(
//!     reply.content,
//!     "{\"result\": \"Follow the white rabbit. 🐰\"}".as_bytes()
//! );
//! # Ok::<(), sockmux_proto::ProtoError>(())
//! ```
#![deny(missing_docs)]

pub mod decode;
pub mod encode;
mod error;
mod fast;
pub mod header;
pub mod json;
mod limits;
mod object;
pub mod reply;
mod requote;
pub mod service;
mod streamed;
mod table;

pub use decode::{Decoder, Frame, Stop, StreamDecoder, ANSWER_ROOM};
pub use error::ProtoError;
pub use header::{ByteOrder, Header, CONTENT_TYPE_JSON};
pub use limits::Limits;
pub use reply::{Reply, ReplyError, ERROR_PREFIX};
pub use service::{
    error_response, result_response, QuoteStyle, Request, SearchService, TableSwitch,
};
pub use streamed::{Pending, STREAM_ABOVE};
pub use table::{Table, TableBuilder, TableError};

//! The app protocol as a `tokio_util::codec` codec, and the per-connection
//! task that answers pipelined requests with one flush per batch.
//!
//! ```text
//! +----------------+---------------------+-------------------------+
//! | u16 BE: N      | N bytes JSON header | content-length bytes    |
//! +----------------+---------------------+-------------------------+
//! ```
//!
//! Headers and request bodies are parsed with serde_json, borrowing strings
//! where they have no escapes. Responses are written with
//! `sockmux_proto::SearchService::respond`, so they are byte-identical to
//! the reference server's (Python separators and key order).

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use futures::{FutureExt, SinkExt, StreamExt};
use serde::Deserialize;
use sockmux_proto::{encode, json, Request, SearchService};
use tokio::net::TcpStream;
use tokio_util::codec::{Decoder, Encoder, Framed};

/// Largest content accepted; a larger `content-length` is refused as soon
/// as the header is read.
pub const MAX_CONTENT: usize = 16 * 1024 * 1024;

/// One decoded message: just what answering it needs.
#[derive(Debug)]
pub struct Message {
    json: bool,
    keep_alive: bool,
    content: Bytes,
}

/// A response to encode.
#[derive(Debug)]
pub enum Reply<'a> {
    /// The service's answer to a request.
    Answer {
        request: Request<'a>,
        keep_alive: bool,
    },
    /// `{"result": "Error: <why>."}`, after which the connection closes.
    Error(&'a str),
}

/// Why a connection failed.
#[derive(Debug)]
pub enum CodecError {
    Io(io::Error),
    /// The peer sent something malformed; the text goes into the error
    /// response.
    Bad(String),
}

impl From<io::Error> for CodecError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => e.fmt(f),
            Self::Bad(why) => f.write_str(why),
        }
    }
}

fn bad(why: impl Into<String>) -> CodecError {
    CodecError::Bad(why.into())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ByteOrder {
    Little,
    Big,
}

#[derive(Debug, Deserialize)]
struct JsonHeader<'a> {
    /// Required and checked, otherwise informational.
    #[serde(rename = "byteorder")]
    _byteorder: ByteOrder,
    #[serde(rename = "content-type", borrow)]
    content_type: Cow<'a, str>,
    #[serde(rename = "content-encoding", borrow)]
    content_encoding: Cow<'a, str>,
    #[serde(rename = "content-length")]
    content_length: usize,
    #[serde(rename = "keep-alive", default)]
    keep_alive: bool,
}

/// A borrowed-when-possible string inside an `Option` (serde only borrows
/// a `Cow` field it can see directly).
#[derive(Debug, Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

#[derive(Debug, Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    action: Cow<'a, str>,
    #[serde(borrow, default)]
    value: Option<Text<'a>>,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Head,
    Content {
        json: bool,
        keep_alive: bool,
        len: usize,
    },
}

/// Decodes [`Message`]s and encodes [`Reply`]s.
#[derive(Debug)]
pub struct AppCodec {
    service: Arc<SearchService>,
    state: State,
    /// The encoder's reused output (sockmux-proto writes into a `Vec`).
    scratch: Vec<u8>,
}

impl AppCodec {
    pub fn new(service: Arc<SearchService>) -> Self {
        Self {
            service,
            state: State::Head,
            scratch: Vec::new(),
        }
    }
}

impl Decoder for AppCodec {
    type Item = Message;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, CodecError> {
        loop {
            match self.state {
                State::Head => {
                    let Some(&[hi, lo]) = src.get(..2) else {
                        return Ok(None);
                    };
                    let header_len = usize::from(u16::from_be_bytes([hi, lo]));
                    if header_len == 0 {
                        return Err(bad("the JSON header is empty"));
                    }
                    let end = 2 + header_len;
                    if src.len() < end {
                        src.reserve(end - src.len());
                        return Ok(None);
                    }
                    let header: JsonHeader<'_> = serde_json::from_slice(&src[2..end])
                        .map_err(|e| bad(format!("bad JSON header ({e})")))?;
                    if header.content_length > MAX_CONTENT {
                        return Err(bad(format!(
                            "content-length {} is above the limit of {MAX_CONTENT} bytes",
                            header.content_length
                        )));
                    }
                    let json = header.content_type == "text/json";
                    if json && !is_utf8_label(&header.content_encoding) {
                        return Err(bad(format!(
                            "unsupported content-encoding \"{}\"",
                            header.content_encoding
                        )));
                    }
                    let len = header.content_length;
                    self.state = State::Content {
                        json,
                        keep_alive: header.keep_alive,
                        len,
                    };
                    src.advance(end);
                    src.reserve(len.saturating_sub(src.len()));
                }
                State::Content {
                    json,
                    keep_alive,
                    len,
                } => {
                    if src.len() < len {
                        return Ok(None);
                    }
                    self.state = State::Head;
                    return Ok(Some(Message {
                        json,
                        keep_alive,
                        content: src.split_to(len).freeze(),
                    }));
                }
            }
        }
    }
}

impl Encoder<Reply<'_>> for AppCodec {
    type Error = CodecError;

    fn encode(&mut self, reply: Reply<'_>, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.scratch.clear();
        match reply {
            Reply::Answer {
                request,
                keep_alive,
            } => self
                .service
                .respond(&request, keep_alive, &mut self.scratch)
                .map_err(|e| bad(e.to_string()))?,
            Reply::Error(why) => encode::json_message(&mut self.scratch, false, |out| {
                out.extend_from_slice(b"{");
                json::write_key(out, "result");
                out.push(b'"');
                json::write_escaped(out, "Error: ");
                json::write_escaped(out, why);
                out.extend_from_slice(b".\"}");
            })
            .map_err(|e| bad(e.to_string()))?,
        }
        dst.extend_from_slice(&self.scratch);
        Ok(())
    }
}

/// Reads the request a message carries.
fn parse_request(message: &Message) -> Result<Request<'_>, String> {
    if !message.json {
        return Ok(Request::Binary {
            content: &message.content,
        });
    }
    let body: Body<'_> =
        serde_json::from_slice(&message.content).map_err(|e| format!("bad JSON content ({e})"))?;
    if body.action != "search" {
        return Ok(Request::OtherAction {
            action: body.action,
            value: body.value.map(|v| v.0),
        });
    }
    let value = body.value.ok_or("the request has no \"value\"")?;
    Ok(Request::Search { value: value.0 })
}

/// Serves one connection: answers requests in order, feeding every answer
/// already decodable before one flush, and closes after a request without
/// `keep-alive` or after an error response.
pub async fn serve(stream: TcpStream, service: Arc<SearchService>) -> Result<(), CodecError> {
    let mut framed = Framed::new(stream, AppCodec::new(service));
    while let Some(first) = framed.next().await {
        let mut item = Some(first);
        while let Some(decoded) = item.take() {
            let message = match decoded {
                Ok(message) => message,
                Err(CodecError::Bad(why)) => return framed.send(Reply::Error(&why)).await,
                Err(e) => return Err(e),
            };
            let keep_alive = message.keep_alive;
            match parse_request(&message) {
                Ok(request) => {
                    framed
                        .feed(Reply::Answer {
                            request,
                            keep_alive,
                        })
                        .await?
                }
                Err(why) => return framed.send(Reply::Error(&why)).await,
            }
            if !keep_alive {
                return framed.flush().await;
            }
            // Answer what is already buffered before paying for a flush;
            // `None` (pending or EOF) ends the batch.
            item = framed.next().now_or_never().flatten();
        }
        framed.flush().await?;
    }
    Ok(())
}

/// Whether `label` names UTF-8 in a spelling Python accepts.
fn is_utf8_label(label: &str) -> bool {
    ["utf-8", "utf8", "utf_8"]
        .iter()
        .any(|known| label.eq_ignore_ascii_case(known))
}

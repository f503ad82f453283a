//! Your own app-protocol service: a [`Handler`] answers one request at a
//! time; the library does the framing, keep-alive, pipelining, limits,
//! backpressure and errors (see [`crate::AppService`]).

use std::fmt::Display;

use sockmux_proto::{encode, result_response, Frame, Pending, ProtoError, Request, SearchService};

/// Answers app-protocol requests. One handler serves every connection of
/// every worker, so shared state needs its own synchronisation.
///
/// ```
/// use sockmux_engine::{Handler, Response};
/// use sockmux_proto::{ProtoError, Request};
///
/// /// Answers every action with its value in capitals.
/// struct Upper;
///
/// impl Handler for Upper {
///     fn handle(&self, request: &Request<'_>, response: Response<'_>) -> Result<(), ProtoError> {
///         match request {
///             Request::Search { value } | Request::OtherAction { value: Some(value), .. } => {
///                 response.result(value.to_uppercase())
///             }
///             _ => response.result("Error: nothing to shout."),
///         }
///     }
/// }
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Writes the answer to `request` through `response`. An `Err` is sent
    /// to the peer as an `Error: …` response, and the connection closes.
    fn handle(&self, request: &Request<'_>, response: Response<'_>) -> Result<(), ProtoError>;

    /// Answers the request `frame` carries. The default reads the request
    /// and calls [`Handler::handle`]; a handler whose answers can be as long
    /// as their requests overrides it to write them in pieces, from the
    /// request's own bytes, with [`Response::in_pieces`].
    fn handle_frame(&self, frame: &Frame<'_>, response: Response<'_>) -> Result<(), ProtoError> {
        self.handle(&Request::parse(frame)?, response)
    }
}

/// Where a [`Handler`] writes one answer. It carries `keep-alive` exactly
/// when the connection stays open, which the library decides.
#[derive(Debug)]
pub struct Response<'a> {
    out: &'a mut Vec<u8>,
    keep_alive: bool,
    rest: &'a mut Option<Pending>,
}

impl<'a> Response<'a> {
    pub(crate) fn new(
        out: &'a mut Vec<u8>,
        keep_alive: bool,
        rest: &'a mut Option<Pending>,
    ) -> Self {
        Self {
            out,
            keep_alive,
            rest,
        }
    }

    /// Answers `{"result": TEXT}` as `text/json`, the way the reference
    /// server writes its results.
    pub fn result(self, text: impl Display) -> Result<(), ProtoError> {
        result_response(text, self.keep_alive, self.out)
    }

    /// Answers with `content` (the concatenated `parts`) of `content_type`,
    /// encoded `binary`.
    pub fn binary(self, content_type: &str, parts: &[&[u8]]) -> Result<(), ProtoError> {
        encode::message(
            self.out,
            content_type,
            encode::BINARY_ENCODING,
            parts,
            self.keep_alive,
        )
    }

    /// Lets `write` append a whole message itself, given whether it must
    /// carry `keep-alive`: for services with answers encoded ahead of time.
    pub fn raw(
        self,
        write: impl FnOnce(&mut Vec<u8>, bool) -> Result<(), ProtoError>,
    ) -> Result<(), ProtoError> {
        write(self.out, self.keep_alive)
    }

    /// Lets `write` append a message, or only its head and return the
    /// [`Pending`] rest, which the session writes as the output drains,
    /// keeping the request until the answer is whole (see
    /// [`SearchService::respond_frame`]). Only from
    /// [`Handler::handle_frame`], whose frame the rest is written from.
    pub fn in_pieces(
        self,
        write: impl FnOnce(&mut Vec<u8>, bool) -> Result<Option<Pending>, ProtoError>,
    ) -> Result<(), ProtoError> {
        *self.rest = write(self.out, self.keep_alive)?;
        Ok(())
    }
}

/// The tutorial's `search` service, on the same trait as everyone else's.
impl Handler for SearchService {
    fn handle(&self, request: &Request<'_>, response: Response<'_>) -> Result<(), ProtoError> {
        // The search answers are rendered at table load: write them whole.
        response.raw(|out, keep_alive| self.respond(request, keep_alive, out))
    }

    /// A long name quoted back is written in pieces.
    fn handle_frame(&self, frame: &Frame<'_>, response: Response<'_>) -> Result<(), ProtoError> {
        response.in_pieces(|out, keep_alive| self.respond_frame(frame, keep_alive, out))
    }
}

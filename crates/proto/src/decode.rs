//! Incremental decoding of the byte stream into messages.
//!
//! Owns framing: the protoheader, the JSON header's extent, the content's
//! extent, and the limits on each. It does not own what a message means (see
//! [`crate::service`]) nor where bytes come from.
//!
//! ```text
//!  state:   Start ──2 bytes──> Header{end} ──N bytes──> Content{start,end} ──len bytes──> Start
//!  checks:  N != 0, N <= max_header   header valid,          (nothing buffered past
//!                                     len <= max_content      the content's end)
//! ```
//!
//! [`Decoder`] works on a slice the caller owns and remembers how far it got,
//! so feeding a message one byte at a time parses its header once.
//! [`StreamDecoder`] adds a buffer for the bytes of an unfinished message and
//! decodes straight out of the caller's chunk when it can.

use std::ops::ControlFlow;

use crate::{Header, Limits, ProtoError};

/// Length of the protoheader.
const PROTOHEADER_LEN: usize = 2;

/// One complete message, borrowed from the decoder (its header) and from the
/// bytes it was decoded from (its content).
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// The validated JSON header.
    pub header: &'a Header,
    /// The JSON header's bytes as they arrived (the protoheader excluded).
    pub header_json: &'a [u8],
    /// Exactly `header.content_length` bytes of content.
    pub content: &'a [u8],
    /// Bytes the whole message took on the wire, protoheader included.
    pub len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the 2-byte protoheader.
    Start,
    /// Waiting for the JSON header, which ends at `end`.
    Header { end: usize },
    /// Header parsed; waiting for content `start..end`.
    Content { start: usize, end: usize },
}

/// A sans-IO incremental decoder over a caller-owned byte slice.
///
/// Call [`Decoder::decode`] with the bytes received so far, starting at the
/// first byte of the current message; `Ok(None)` means "need more bytes".
/// After `Ok(Some(frame))`, drop `frame.len` bytes from the front and go on.
/// After an error the stream cannot be resynchronised: close it.
#[derive(Debug, Clone)]
pub struct Decoder {
    limits: Limits,
    state: State,
    header: Header,
}

impl Decoder {
    /// A decoder enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            state: State::Start,
            header: Header::default(),
        }
    }

    /// The limits this decoder enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Decodes the message at the front of `src`, if it is complete.
    ///
    /// The header is validated, and its `content-length` checked against
    /// the limit, as soon as the header's bytes are in `src`, whether or not
    /// any content has arrived.
    pub fn decode<'a>(&'a mut self, src: &'a [u8]) -> Result<Option<Frame<'a>>, ProtoError> {
        loop {
            match self.state {
                State::Start => match self.protoheader(src) {
                    Ok(Some(end)) => self.state = State::Header { end },
                    other => return other.map(|_| None),
                },
                State::Header { end } => {
                    let Some(bytes) = src.get(PROTOHEADER_LEN..end) else {
                        return Ok(None);
                    };
                    if let Err(e) = self.header.parse_into(bytes, &self.limits) {
                        self.state = State::Start;
                        return Err(e);
                    }
                    // The length was checked against the limit, so this
                    // cannot overflow on any platform that can hold it.
                    let content_end = end.saturating_add(self.header.content_length);
                    self.state = State::Content {
                        start: end,
                        end: content_end,
                    };
                }
                State::Content { start, end } => {
                    let (Some(header_json), Some(content)) =
                        (src.get(PROTOHEADER_LEN..start), src.get(start..end))
                    else {
                        return Ok(None);
                    };
                    self.state = State::Start;
                    return Ok(Some(Frame {
                        header: &self.header,
                        header_json,
                        content,
                        len: end,
                    }));
                }
            }
        }
    }

    /// Reads the protoheader: `Ok(Some(end of JSON header))` once it is in.
    fn protoheader(&self, src: &[u8]) -> Result<Option<usize>, ProtoError> {
        let Some(&[hi, lo]) = src.get(..PROTOHEADER_LEN) else {
            return Ok(None);
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len == 0 {
            return Err(ProtoError::EmptyHeader);
        }
        if len > self.limits.max_header {
            return Err(ProtoError::HeaderTooLong {
                len,
                limit: self.limits.max_header,
            });
        }
        Ok(Some(PROTOHEADER_LEN + len))
    }

    /// The whole length of the message being decoded, once its header is
    /// in (and its `content-length` checked against the limit).
    pub fn message_len(&self) -> Option<usize> {
        match self.state {
            State::Content { end, .. } => Some(end),
            State::Start | State::Header { .. } => None,
        }
    }

    /// Whether the decoder is partway through a message (it has seen at
    /// least its protoheader).
    pub fn is_mid_message(&self) -> bool {
        self.state != State::Start
    }
}

/// Room an answer may need beyond its request's length (its header is a
/// little longer than the request's, plus the result's fixed text). A
/// large message's buffer gets it, so that once freed it can hold the
/// answer and the allocator reuses it; sessions reserve it in their
/// output before answering.
pub const ANSWER_ROOM: usize = 512;

/// Where a [`StreamDecoder::feed_within`] callback stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// After this message: it is consumed.
    Consume,
    /// At this message: it stays buffered and the next feed hands it out
    /// again.
    Keep,
}

/// A [`Decoder`] with a buffer of its own for the bytes of a message that
/// has not fully arrived.
///
/// Complete messages are decoded straight out of the chunk passed to
/// [`StreamDecoder::feed`]; only an unfinished tail (or what the caller chose
/// not to process yet) is copied. The buffer never holds more than one
/// unfinished message (bounded by [`Limits::max_message`]) plus whatever the
/// caller declined to process.
#[derive(Debug, Clone)]
pub struct StreamDecoder {
    decoder: Decoder,
    buf: Vec<u8>,
    /// Bytes at the front of `buf` already decoded and handed out.
    start: usize,
}

impl StreamDecoder {
    /// A stream decoder enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            decoder: Decoder::new(limits),
            buf: Vec::new(),
            start: 0,
        }
    }

    /// The limits this decoder enforces.
    pub fn limits(&self) -> &Limits {
        self.decoder.limits()
    }

    /// Appends `chunk` to the stream and calls `on_frame` for each complete
    /// message, in order, until the bytes run out or `on_frame` returns
    /// `Break`. Bytes not yet decoded stay buffered for the next call; call
    /// with an empty chunk to resume after a `Break`.
    ///
    /// After an error the stream is dead and nothing stays buffered.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        mut on_frame: impl FnMut(Frame<'_>) -> ControlFlow<()>,
    ) -> Result<(), ProtoError> {
        self.feed_within(
            chunk,
            &mut (),
            |_, _| true,
            |_, frame| match on_frame(frame) {
                ControlFlow::Continue(()) => ControlFlow::Continue(()),
                ControlFlow::Break(()) => ControlFlow::Break(Stop::Consume),
            },
        )
    }

    /// [`StreamDecoder::feed`], with two more powers for a caller that
    /// bounds its memory:
    ///
    /// Both callbacks get `cx`, which they may share.
    ///
    /// - `may_grow(cx, bytes)` is asked before the buffer grows to `bytes`
    ///   to hold a large message whole (once its header is in); when it says
    ///   no, the feed fails with [`ProtoError::OverBudget`] and nothing is
    ///   taken;
    /// - `on_frame` may stop at a message without consuming it
    ///   ([`Stop::Keep`]): its bytes stay buffered, and the next feed
    ///   hands it out again, so an answer written over several calls can
    ///   read from its request all along.
    pub fn feed_within<C: ?Sized>(
        &mut self,
        chunk: &[u8],
        cx: &mut C,
        mut may_grow: impl FnMut(&mut C, usize) -> bool,
        mut on_frame: impl FnMut(&mut C, Frame<'_>) -> ControlFlow<Stop>,
    ) -> Result<(), ProtoError> {
        if self.buffered() == 0 {
            self.buf.clear();
            self.start = 0;
            let used = decode_all(&mut self.decoder, chunk, cx, &mut on_frame)?;
            if let Err(e) = self.make_room(chunk.len() - used, cx, &mut may_grow) {
                self.decoder = Decoder::new(*self.decoder.limits());
                return Err(e);
            }
            self.buf.extend_from_slice(&chunk[used..]);
            return Ok(());
        }
        if !chunk.is_empty() {
            self.buf.drain(..self.start);
            self.start = 0;
            if let Err(e) = self.make_room(chunk.len(), cx, &mut may_grow) {
                self.buf.clear();
                return Err(e);
            }
            self.buf.extend_from_slice(chunk);
        }
        let used = match decode_all(
            &mut self.decoder,
            &self.buf[self.start..],
            cx,
            &mut on_frame,
        ) {
            Ok(used) => used,
            Err(e) => {
                // The stream cannot be resynchronised, and the chunk just
                // appended may hold far more than one message: keep none
                // of it.
                self.buf.clear();
                self.start = 0;
                return Err(e);
            }
        };
        self.start += used;
        Ok(())
    }

    /// Makes room for `extra` bytes about to be appended, asking
    /// `may_grow` first whenever the buffer must grow. Once an unfinished
    /// message's length is known, the room is for exactly all of it (and
    /// the answer that may quote it), instead of doubling on the way, which
    /// leaves up to twice the message in memory; otherwise the buffer grows
    /// as a `Vec` does, or by exactly `extra` if the owner allows no more.
    fn make_room<C: ?Sized>(
        &mut self,
        extra: usize,
        cx: &mut C,
        may_grow: &mut impl FnMut(&mut C, usize) -> bool,
    ) -> Result<(), ProtoError> {
        let (len, capacity) = (self.buf.len(), self.buf.capacity());
        let needed = len + extra;
        let whole = self
            .decoder
            .message_len()
            .filter(|&message| message > needed)
            .map(|message| message + ANSWER_ROOM);
        if needed <= capacity && whole.is_none_or(|whole| whole <= capacity) {
            return Ok(());
        }
        let target = match whole {
            Some(whole) if may_grow(cx, whole) => whole,
            Some(whole) => {
                return Err(ProtoError::OverBudget {
                    len: whole - ANSWER_ROOM,
                })
            }
            None if may_grow(cx, needed.max(2 * capacity)) => needed.max(2 * capacity),
            None if may_grow(cx, needed) => needed,
            None => return Err(ProtoError::OverBudget { len: needed }),
        };
        self.buf.reserve_exact(target - len);
        Ok(())
    }

    /// Bytes received but not yet handed out as messages.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Whether the stream stopped inside a message, at EOF: an error naming
    /// how much of it had arrived.
    pub fn finish(&self) -> Result<(), ProtoError> {
        match self.buffered() {
            0 => Ok(()),
            buffered => Err(ProtoError::Truncated { buffered }),
        }
    }

    /// Frees the buffer when it is empty and larger than `keep` bytes, so an
    /// idle connection does not hold the memory of its largest message.
    pub fn release_idle(&mut self, keep: usize) {
        if self.buffered() == 0 && self.buf.capacity() > keep {
            self.buf = Vec::new();
            self.start = 0;
        }
    }

    /// Bytes of heap this decoder holds.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }
}

/// Decodes messages from the front of `src` until it runs out or `on_frame`
/// breaks; returns the bytes consumed.
fn decode_all<C: ?Sized>(
    decoder: &mut Decoder,
    src: &[u8],
    cx: &mut C,
    on_frame: &mut impl FnMut(&mut C, Frame<'_>) -> ControlFlow<Stop>,
) -> Result<usize, ProtoError> {
    let mut used = 0;
    while let Some(frame) = decoder.decode(&src[used..])? {
        let len = frame.len;
        match on_frame(cx, frame) {
            ControlFlow::Continue(()) => used += len,
            ControlFlow::Break(Stop::Consume) => return Ok(used + len),
            ControlFlow::Break(Stop::Keep) => break,
        }
    }
    Ok(used)
}

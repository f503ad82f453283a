//! Fuzzes `StreamDecoder` with small limits over arbitrary chunkings.
//!
//! Input layout: the first byte's low 3 bits give `n`, the number of chunk
//! sizes; the next `n` bytes are the sizes (0 feeds an empty chunk, which
//! resumes a stopped decode); the rest is the stream, fed in chunks of
//! those sizes, cycling. With `n == 0` the stream is fed whole.
//!
//! Checked after every feed, whatever it returned:
//! - `buffered()` never exceeds `limits.max_message()`;
//! - every frame's content is exactly `header.content_length` bytes, within
//!   the limit;
//! - every frame re-encodes with `encode::message` and decodes back to the
//!   same header values and content;
//! - every request the service understands gets a response that decodes.
#![no_main]

use std::ops::ControlFlow;

use libfuzzer_sys::fuzz_target;
use sockmux_proto::{encode, Decoder, Frame, Limits, Request, SearchService, StreamDecoder, Table};

/// Small enough that inputs hit every limit; large enough (128) that the
/// reference programs' headers (up to 127 bytes) pass.
const LIMITS: Limits = Limits {
    max_header: 128,
    max_content: 256,
};

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(first & 7).min(rest.len());
    let (sizes, stream) = rest.split_at(n);
    let service = SearchService::new(Table::builtin());

    let mut decoder = StreamDecoder::new(LIMITS);
    for chunk in chunks(stream, sizes) {
        let result = decoder.feed(chunk, |frame| {
            check_frame(&frame, &service);
            ControlFlow::Continue(())
        });
        assert!(
            decoder.buffered() <= LIMITS.max_message(),
            "{} bytes buffered, above {} ({result:?})",
            decoder.buffered(),
            LIMITS.max_message()
        );
        if result.is_err() {
            // A dead stream: a caller closes it here.
            return;
        }
    }
    let _ = decoder.finish();
});

/// Splits `stream` into chunks whose sizes cycle through `sizes`.
fn chunks<'a>(stream: &'a [u8], sizes: &[u8]) -> Vec<&'a [u8]> {
    if sizes.iter().all(|&s| s == 0) {
        // No sizes, or only empty chunks: feed it whole (after the empties).
        let mut out: Vec<&[u8]> = sizes.iter().map(|_| &stream[..0]).collect();
        out.push(stream);
        return out;
    }
    let mut out = Vec::new();
    let mut rest = stream;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(usize::from(size).min(rest.len()));
        out.push(chunk);
        rest = tail;
    }
    out
}

fn check_frame(frame: &Frame<'_>, service: &SearchService) {
    let header = frame.header;
    assert_eq!(frame.content.len(), header.content_length);
    assert!(header.content_length <= LIMITS.max_content);
    assert!(frame.len <= LIMITS.max_message());

    // Our header may be longer than the peer's (we add spaces), never
    // longer than 65,535 bytes for one that fit in 128.
    let mut wire = Vec::new();
    encode::message(
        &mut wire,
        &header.content_type,
        &header.content_encoding,
        &[frame.content],
        header.keep_alive,
    )
    .expect("a decoded header re-encodes");
    let relaxed = Limits {
        max_header: Limits::DEFAULT_MAX_HEADER,
        ..LIMITS
    };
    let mut decoder = Decoder::new(relaxed);
    let again = decoder
        .decode(&wire)
        .expect("our own encoding decodes")
        .expect("our own encoding is whole");
    assert_eq!(again.len, wire.len());
    assert_eq!(again.header.content_type, header.content_type);
    assert_eq!(again.header.content_encoding, header.content_encoding);
    assert_eq!(again.header.content_length, header.content_length);
    assert_eq!(again.header.keep_alive, header.keep_alive);
    assert_eq!(again.content, frame.content);

    if let Ok(request) = Request::parse(frame) {
        let mut response = Vec::new();
        service
            .respond(&request, header.keep_alive, &mut response)
            .expect("a response encodes");
        let mut decoder = Decoder::new(Limits {
            max_header: Limits::DEFAULT_MAX_HEADER,
            max_content: Limits::DEFAULT_MAX_CONTENT,
        });
        let reply = decoder
            .decode(&response)
            .expect("our response decodes")
            .expect("our response is whole");
        assert_eq!(reply.len, response.len());
        assert_eq!(reply.header.keep_alive, header.keep_alive);
    }
}

//! Codec micro-benchmarks (issue 5): what one message costs the protocol
//! crate, with no sockets involved.
//!
//! Groups, each over the four request kinds (search found, search miss,
//! another action as JSON, a small binary request) and 1 KiB, 64 KiB and
//! 1 MiB binary messages:
//!
//! - `decode_whole`: the whole message handed to a [`StreamDecoder`] in one
//!   chunk (the server's fast path: decoded straight out of the chunk), then
//!   [`Request::parse`].
//! - `decode_split`: the same through 1460-byte chunks (one loopback/Ethernet
//!   MSS); messages shorter than two chunks are split in half instead, so
//!   their header also straddles a chunk boundary.
//! - `encode`: writing the message into a reused buffer with `encode::*`.
//! - `header`: [`Header::parse_into`] alone on the header of each request
//!   kind, the part of `decode_*` that does not depend on the content.
//! - `respond`: the server's side, `SearchService::respond` into a reused
//!   buffer (the four request kinds only: a large binary request gets the
//!   same 10-byte answer as a small one).
//! - `reply`: the client's side, [`Reply::parse`] of the decoded response
//!   to each of the four request kinds (the decoding itself is in
//!   `decode_*`), plus the miss answered in the single-quote style and a
//!   result in JSON spaced unlike Python's (the general path).
//!
//! One iteration is one message, so the time criterion prints is ns per
//! message; throughput is in wire bytes of the message (of the response for
//! `respond`).
//!
//! Run: `cargo bench -p sockmux-proto --bench codec`.

use std::hint::black_box;
use std::ops::ControlFlow;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sockmux_proto::encode::{self, BINARY_ENCODING, CLIENT_BINARY_TYPE};
use sockmux_proto::{
    Decoder, Header, Limits, QuoteStyle, Reply, Request, SearchService, StreamDecoder, Table,
};

/// One TCP segment's payload on a 1500-byte MTU link.
const SPLIT_CHUNK: usize = 1460;

type EncodeFn = Box<dyn Fn(&mut Vec<u8>)>;

struct Case {
    name: &'static str,
    encode: EncodeFn,
    wire: Vec<u8>,
    /// Whether `respond` is benchmarked for it.
    respond: bool,
}

impl Case {
    fn new(name: &'static str, respond: bool, encode: EncodeFn) -> Self {
        let mut wire = Vec::new();
        encode(&mut wire);
        Self {
            name,
            encode,
            wire,
            respond,
        }
    }

    /// Chunk size for `decode_split`.
    fn split_chunk(&self) -> usize {
        if self.wire.len() >= 2 * SPLIT_CHUNK {
            SPLIT_CHUNK
        } else {
            self.wire.len().div_ceil(2)
        }
    }
}

fn binary_of(size: usize) -> EncodeFn {
    let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    Box::new(move |out| {
        encode::message(out, CLIENT_BINARY_TYPE, BINARY_ENCODING, &[&payload], false)
            .expect("encodes")
    })
}

fn cases() -> Vec<Case> {
    vec![
        Case::new(
            "search_found",
            true,
            Box::new(|out| encode::search_request("morpheus", false, out).expect("encodes")),
        ),
        Case::new(
            "search_miss",
            true,
            Box::new(|out| encode::search_request("nobody", false, out).expect("encodes")),
        ),
        Case::new(
            "other_action",
            true,
            Box::new(|out| {
                encode::json_request("frobnicate", "morpheus", false, out).expect("encodes")
            }),
        ),
        Case::new(
            "binary",
            true,
            Box::new(|out| {
                encode::binary_request("frob", "morpheus", false, out).expect("encodes")
            }),
        ),
        Case::new("binary_1KiB", false, binary_of(1024)),
        Case::new("binary_64KiB", false, binary_of(64 * 1024)),
        Case::new("binary_1MiB", false, binary_of(1024 * 1024)),
    ]
}

/// Feeds `chunks` to `decoder` and parses every request; returns how many
/// messages came out.
fn decode_chunks<'a>(decoder: &mut StreamDecoder, chunks: impl Iterator<Item = &'a [u8]>) -> usize {
    let mut messages = 0;
    for chunk in chunks {
        decoder
            .feed(chunk, |frame| {
                let request = Request::parse(&frame).expect("a valid request");
                black_box(&request);
                messages += 1;
                ControlFlow::Continue(())
            })
            .expect("decodes");
    }
    messages
}

fn bench_decode(c: &mut Criterion, cases: &[Case]) {
    let mut whole = c.benchmark_group("decode_whole");
    for case in cases {
        whole.throughput(Throughput::Bytes(case.wire.len() as u64));
        let mut decoder = StreamDecoder::new(Limits::default());
        whole.bench_function(case.name, |b| {
            b.iter(|| decode_chunks(&mut decoder, std::iter::once(black_box(&case.wire[..]))))
        });
    }
    whole.finish();

    let mut split = c.benchmark_group("decode_split");
    for case in cases {
        split.throughput(Throughput::Bytes(case.wire.len() as u64));
        let chunk = case.split_chunk();
        let mut decoder = StreamDecoder::new(Limits::default());
        split.bench_function(case.name, |b| {
            b.iter(|| decode_chunks(&mut decoder, black_box(&case.wire[..]).chunks(chunk)))
        });
    }
    split.finish();
}

fn bench_header(c: &mut Criterion, cases: &[Case]) {
    let mut group = c.benchmark_group("header");
    let limits = Limits::default();
    for case in cases.iter().filter(|case| case.respond) {
        let len = usize::from(u16::from_be_bytes([case.wire[0], case.wire[1]]));
        let bytes = &case.wire[2..2 + len];
        group.throughput(Throughput::Bytes(len as u64));
        let mut header = Header::default();
        group.bench_function(case.name, |b| {
            b.iter(|| {
                header
                    .parse_into(black_box(bytes), &limits)
                    .expect("a valid header");
                black_box(&header);
            })
        });
    }
    group.finish();
}

fn bench_encode(c: &mut Criterion, cases: &[Case]) {
    let mut group = c.benchmark_group("encode");
    for case in cases {
        group.throughput(Throughput::Bytes(case.wire.len() as u64));
        let mut out = Vec::with_capacity(case.wire.len());
        group.bench_function(case.name, |b| {
            b.iter(|| {
                out.clear();
                (case.encode)(&mut out);
                black_box(&out);
            })
        });
    }
    group.finish();
}

fn bench_respond(c: &mut Criterion, cases: &[Case]) {
    let service = SearchService::new(Table::builtin());
    let mut group = c.benchmark_group("respond");
    for case in cases.iter().filter(|case| case.respond) {
        let mut decoder = Decoder::new(Limits::default());
        let frame = decoder.decode(&case.wire).expect("decodes").expect("whole");
        let request = Request::parse(&frame).expect("a valid request");
        let mut out = Vec::new();
        service
            .respond(&request, false, &mut out)
            .expect("responds");
        group.throughput(Throughput::Bytes(out.len() as u64));
        group.bench_function(case.name, |b| {
            b.iter(|| {
                out.clear();
                service
                    .respond(black_box(&request), false, &mut out)
                    .expect("responds");
                black_box(&out);
            })
        });
    }
    group.finish();
}

fn bench_reply(c: &mut Criterion, cases: &[Case]) {
    let double = SearchService::new(Table::builtin());
    let single = double.clone().with_quote_style(QuoteStyle::Single);
    let mut responses: Vec<(String, Vec<u8>)> = Vec::new();
    for case in cases.iter().filter(|case| case.respond) {
        let mut decoder = Decoder::new(Limits::default());
        let frame = decoder.decode(&case.wire).expect("decodes").expect("whole");
        let request = Request::parse(&frame).expect("a valid request");
        let mut out = Vec::new();
        double.respond(&request, false, &mut out).expect("responds");
        responses.push((case.name.to_owned(), out));
        if case.name == "search_miss" {
            let mut out = Vec::new();
            single.respond(&request, false, &mut out).expect("responds");
            responses.push(("search_miss_single".to_owned(), out));
        }
    }
    let mut spaced = Vec::new();
    let content: &[u8] = b"{ \"result\" : \"Follow the white rabbit.\" }";
    encode::message(&mut spaced, "text/json", "utf-8", &[content], false).expect("encodes");
    responses.push(("json_spaced".to_owned(), spaced));

    let mut group = c.benchmark_group("reply");
    for (name, wire) in &responses {
        let mut decoder = Decoder::new(Limits::default());
        let frame = decoder.decode(wire).expect("decodes").expect("whole");
        group.throughput(Throughput::Bytes(frame.content.len() as u64));
        group.bench_function(name.as_str(), |b| {
            b.iter(|| {
                let reply = Reply::parse(black_box(&frame)).expect("a valid reply");
                black_box(&reply);
            })
        });
    }
    group.finish();
}

fn codec(c: &mut Criterion) {
    let cases = cases();
    // Each case decodes to exactly one message, whole or split.
    for case in &cases {
        let mut decoder = StreamDecoder::new(Limits::default());
        assert_eq!(
            decode_chunks(&mut decoder, std::iter::once(&case.wire[..])),
            1
        );
        assert_eq!(
            decode_chunks(&mut decoder, case.wire.chunks(case.split_chunk())),
            1,
            "{}",
            case.name
        );
    }
    bench_decode(c, &cases);
    bench_header(c, &cases);
    bench_encode(c, &cases);
    bench_respond(c, &cases);
    bench_reply(c, &cases);
}

criterion_group!(benches, codec);
criterion_main!(benches);

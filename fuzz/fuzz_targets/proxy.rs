//! Fuzzes `ProxyLayer` against one call to `parse`.
//!
//! Input layout: the first byte picks the v2 length limit (from 16, which
//! refuses every v2 header, up to 65,551, the most the length field can
//! say); the second picks where the stream is split in two reads; the
//! rest is the stream.
//!
//! Checked, beyond "no panic":
//! - the layer fed two reads ends exactly where one `parse` of the whole
//!   stream says: the same error (as text), or no error and nothing up
//!   while incomplete, or the bytes after the header passed up byte for
//!   byte, with the header's source as the peer;
//! - an undecided parse never holds `preamble_cap` bytes or more, and the
//!   layer never holds more than that;
//! - whatever a prefix of the stream decides, the whole stream decides too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockmux_engine::Layer;
use sockmux_proxy::{parse, Limits, Parsed, ProxyLayer};

fuzz_target!(|data: &[u8]| {
    let [limit, split, stream @ ..] = data else {
        return;
    };
    let limits = Limits {
        max_v2_len: 16 + usize::from(*limit) * 257,
    };
    let cut = usize::from(*split) % (stream.len() + 1);
    let cap = limits.preamble_cap();

    let whole = parse(stream, &limits);
    if whole == Ok(Parsed::Incomplete) {
        assert!(stream.len() < cap, "undecided after {} bytes", stream.len());
    }
    let first = parse(&stream[..cut], &limits);
    if first != Ok(Parsed::Incomplete) {
        assert_eq!(first, whole, "the first {cut} bytes decided otherwise");
    }

    let mut layer = ProxyLayer::new(limits);
    let mut up = Vec::new();
    let mut error = None;
    for read in [&stream[..cut], &stream[cut..]] {
        if let Err(e) = layer.handle_input(read, |b| up.extend_from_slice(b)) {
            error = Some(e.0);
            break;
        }
        assert!(layer.buffered() < cap);
    }

    match whole {
        Err(e) => {
            assert_eq!(error, Some(e.to_string()));
            assert!(up.is_empty(), "bytes went up before a bad header");
            assert_eq!(layer.peer(), None);
        }
        Ok(Parsed::Incomplete) => {
            assert_eq!(error, None);
            assert!(up.is_empty());
            assert!(layer.is_mid_message());
            assert_eq!(layer.buffered(), stream.len());
        }
        Ok(Parsed::Done { header, len }) => {
            assert_eq!(error, None);
            assert_eq!(up, &stream[len..]);
            assert_eq!(layer.header(), Some(&header));
            assert_eq!(layer.peer(), header.source());
            assert!(!layer.is_mid_message());
            assert_eq!(layer.buffer_capacity(), 0);
        }
    }
});

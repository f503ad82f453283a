//! `ProxyLayer` as the engine drives it: the header is stripped, every
//! byte after it goes up exactly once and in order, the peer is the
//! header's source, a bad header fails the connection, and the preamble
//! buffer stays bounded and is freed.

mod common;

use std::net::SocketAddr;

use common::{inet_block, tlv, v2, v2_with_crc};
use sockmux_engine::{Layer, Layers, Output, Plain, Stacked};
use sockmux_proxy::{Limits, ProxyError, ProxyLayer, ProxyLayers};

const TCP4: &[u8] = b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n";

fn client() -> Option<SocketAddr> {
    Some("192.0.2.1:56324".parse().unwrap())
}

/// Feeds `chunks` and returns what went up, stopping at the first error.
fn feed(layer: &mut ProxyLayer, chunks: &[&[u8]]) -> Result<Vec<u8>, String> {
    let mut up = Vec::new();
    for chunk in chunks {
        layer
            .handle_input(chunk, |b| up.extend_from_slice(b))
            .map_err(|e| e.0)?;
    }
    Ok(up)
}

#[test]
fn bytes_after_the_header_in_the_same_read_go_up() {
    let mut layer = ProxyLayer::new(Limits::default());
    let first = [TCP4, b"hello"].concat();
    assert_eq!(feed(&mut layer, &[&first]).unwrap(), b"hello");
    assert_eq!(layer.peer(), client());
    assert_eq!(
        feed(&mut layer, &[b" world", b"", b"!"]).unwrap(),
        b" world!"
    );
}

#[test]
fn a_header_split_anywhere_gives_the_same_header_and_bytes() {
    let stream = [
        v2_with_crc(0x21, 0x11, &inet_block(), &tlv(0x01, b"h2")),
        b"payload".to_vec(),
    ]
    .concat();
    for cut in 0..=stream.len() {
        let mut layer = ProxyLayer::new(Limits::default());
        let up = feed(&mut layer, &[&stream[..cut], &stream[cut..]]).unwrap();
        assert_eq!(up, b"payload", "cut at {cut}");
        assert_eq!(layer.peer(), client());
        assert_eq!(layer.buffer_capacity(), 0, "the preamble buffer is freed");
    }
}

#[test]
fn a_header_fed_one_byte_at_a_time_gives_the_same_header_and_bytes() {
    let stream = [TCP4, b"xyz"].concat();
    let mut layer = ProxyLayer::new(Limits::default());
    let mut up = Vec::new();
    for (i, b) in stream.iter().enumerate() {
        assert_eq!(layer.is_mid_message(), i < TCP4.len());
        up.extend(feed(&mut layer, &[std::slice::from_ref(b)]).unwrap());
        assert!(layer.buffered() < TCP4.len());
    }
    assert_eq!(up, b"xyz");
    assert_eq!(layer.header().map(|h| h.source()), Some(client()));
}

#[test]
fn is_mid_message_from_the_start_until_the_header_is_whole() {
    let mut layer = ProxyLayer::new(Limits::default());
    assert!(layer.is_mid_message(), "a silent peer makes no progress");
    feed(&mut layer, &[&TCP4[..10]]).unwrap();
    assert!(layer.is_mid_message());
    assert_eq!(layer.peer(), None);
    feed(&mut layer, &[&TCP4[10..]]).unwrap();
    assert!(!layer.is_mid_message());
}

#[test]
fn peer_is_none_when_the_header_says_to_use_the_socket() {
    for header in [
        b"PROXY UNKNOWN\r\n".to_vec(),
        v2(0x20, 0x11, &inet_block()),
        v2(0x21, 0x00, &[]),
    ] {
        let mut layer = ProxyLayer::new(Limits::default());
        assert_eq!(feed(&mut layer, &[&header, b"x"]).unwrap(), b"x");
        assert!(layer.header().is_some());
        assert_eq!(layer.peer(), None);
    }
}

#[test]
fn a_malformed_header_fails_the_layer_and_nothing_goes_up() {
    let mut layer = ProxyLayer::new(Limits::default());
    let e = feed(&mut layer, &[b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"]).unwrap_err();
    assert_eq!(e, ProxyError::V1BareLf.to_string());
    // A later read fails the same way, and passes nothing up either.
    assert_eq!(feed(&mut layer, &[b"more"]).unwrap_err(), e);
    assert_eq!(layer.peer(), None);

    let mut layer = ProxyLayer::new(Limits::default());
    let e = feed(&mut layer, &[b"PROXY TCP4 1.2.3.4 ", b"5.6.7.888"]).unwrap_err();
    assert!(e.contains("destination address"), "{e}");
    let mut layer = ProxyLayer::new(Limits::default());
    assert!(feed(&mut layer, &[b"GET / HTTP/1.0\r\n\r\n"]).is_err());
}

#[test]
fn holds_nothing_when_the_header_comes_in_one_read() {
    let mut layer = ProxyLayer::new(Limits::default());
    feed(&mut layer, &[&[TCP4, b"body"].concat()]).unwrap();
    assert_eq!((layer.buffered(), layer.buffer_capacity()), (0, 0));
}

#[test]
fn never_holds_more_than_the_preamble_cap() {
    let limits = Limits { max_v2_len: 300 };
    let cap = limits.preamble_cap();
    assert_eq!(cap, 300);
    // The longest header the limit allows, then data, a byte at a time.
    let header = v2(0x21, 0x11, &[inet_block(), tlv(0x04, &[0; 269])].concat());
    assert_eq!(header.len(), 300);
    let stream = [header, vec![9; 50]].concat();
    let mut layer = ProxyLayer::new(limits);
    let mut up = Vec::new();
    for b in &stream {
        up.extend(feed(&mut layer, &[std::slice::from_ref(b)]).unwrap());
        assert!(layer.buffered() < cap);
        assert!(layer.buffer_capacity() <= 2 * cap);
    }
    assert_eq!(up, vec![9; 50]);
    // One byte more than the limit is refused as soon as the length is read.
    let mut layer = ProxyLayer::new(limits);
    let long = v2(0x21, 0x11, &[inet_block(), tlv(0x04, &[0; 270])].concat());
    let e = feed(&mut layer, &[&long[..15], &long[15..16]]).unwrap_err();
    assert_eq!(e, ProxyError::V2TooLong { len: 301, max: 300 }.to_string());
    // v1 lines keep their own bound even under a smaller v2 limit.
    assert_eq!(Limits { max_v2_len: 16 }.preamble_cap(), 107);
}

#[test]
fn transmit_passes_the_output_from_above_through() {
    let mut layer = ProxyLayer::new(Limits::default());
    let mut above = Output::new(64);
    above.buf_mut().extend_from_slice(b"reply");
    let below = layer.transmit(&mut above);
    assert_eq!(below.pending(), b"reply");
}

#[test]
fn layers_give_each_connection_a_fresh_layer_with_the_limits() {
    let layers = ProxyLayers::new(Limits { max_v2_len: 64 });
    let socket: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let mut first = layers.layer(socket);
    feed(&mut first, &[TCP4]).unwrap();
    let second = layers.layer(socket);
    assert!(second.is_mid_message() && second.header().is_none());
    let mut third = layers.layer(socket);
    let e = feed(&mut third, &[&v2(0x21, 0x11, &[0; 60])[..16]]).unwrap_err();
    assert!(e.contains("above the limit of 64"), "{e}");
}

#[test]
fn the_peer_shows_through_a_stack() {
    let layers = Stacked {
        lower: ProxyLayers::default(),
        upper: Plain,
    };
    let mut stack = layers.layer("127.0.0.1:9".parse().unwrap());
    let mut up = Vec::new();
    stack
        .handle_input(&[TCP4, b"hi"].concat(), |b| up.extend_from_slice(b))
        .unwrap();
    assert_eq!((up.as_slice(), stack.peer()), (&b"hi"[..], client()));
    assert!(!stack.is_mid_message());
}

//! The result depends on the bytes, never on how they were split: a prefix
//! that decides (error or header) decides the same as the whole input, a
//! valid header fed in any pieces gives the same header, and `ProxyLayer`
//! fed any chunking agrees with one call to `parse`.

mod common;

use common::gen::{near_header, v1_line, v2_header};
use proptest::prelude::*;
use sockmux_engine::Layer;
use sockmux_proxy::{parse, Limits, Parsed, ProxyLayer};

/// Small enough that generated v2 headers with TLVs hit it.
const LIMITS: Limits = Limits { max_v2_len: 100 };

/// Feeds `input` to a layer in pieces of `sizes` (cycling; 0 feeds an
/// empty read) and returns what went up and the first error.
fn through_layer(input: &[u8], sizes: &[usize]) -> (ProxyLayer, Vec<u8>, Option<String>) {
    let mut layer = ProxyLayer::new(LIMITS);
    let mut up = Vec::new();
    let mut rest = input;
    let mut sizes = sizes.iter().cycle();
    while !rest.is_empty() {
        let n = sizes.next().map_or(rest.len(), |&n| n.min(rest.len()));
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        if let Err(e) = layer.handle_input(chunk, |b| up.extend_from_slice(b)) {
            return (layer, up, Some(e.0));
        }
    }
    (layer, up, None)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn a_prefix_that_decides_decides_as_the_whole_input(input in near_header(), k in any::<prop::sample::Index>()) {
        let whole = parse(&input, &LIMITS);
        let cut = k.index(input.len() + 1);
        let part = parse(&input[..cut], &LIMITS);
        if part != Ok(Parsed::Incomplete) {
            prop_assert_eq!(&part, &whole, "prefix of {} bytes", cut);
        }
        // Undecided means fewer bytes than the preamble cap.
        if whole == Ok(Parsed::Incomplete) {
            prop_assert!(input.len() < LIMITS.preamble_cap());
        }
    }

    #[test]
    fn the_layer_agrees_with_one_parse_for_any_chunking(
        input in near_header(),
        sizes in proptest::collection::vec(0usize..20, 1..5),
    ) {
        let sizes: Vec<usize> = if sizes.iter().all(|&s| s == 0) { vec![1] } else { sizes };
        let (layer, up, error) = through_layer(&input, &sizes);
        match parse(&input, &LIMITS) {
            Err(e) => {
                prop_assert_eq!(error, Some(e.to_string()));
                prop_assert!(up.is_empty());
            }
            Ok(Parsed::Incomplete) => {
                prop_assert_eq!(error, None);
                prop_assert!(up.is_empty() && layer.is_mid_message());
                prop_assert_eq!(layer.buffered(), input.len());
            }
            Ok(Parsed::Done { header, len }) => {
                prop_assert_eq!(error, None);
                prop_assert_eq!(&up[..], &input[len..]);
                prop_assert_eq!(layer.header(), Some(&header));
                prop_assert_eq!(layer.peer(), header.source());
                prop_assert_eq!(layer.buffer_capacity(), 0);
            }
        }
    }

    #[test]
    fn a_valid_header_split_at_every_byte_parses_the_same(
        header in prop_oneof![v1_line(), v2_header()],
        tail in proptest::collection::vec(any::<u8>(), 0..16),
    ) {
        let limits = Limits { max_v2_len: 1024 };
        let input = [header.clone(), tail.clone()].concat();
        let Ok(Parsed::Done { header: want, len }) = parse(&input, &limits) else {
            panic!("a generated header did not parse: {}", common::show(&header));
        };
        prop_assert_eq!(len, header.len());
        for cut in 0..input.len() {
            let part = parse(&input[..cut], &limits);
            if cut < len {
                prop_assert_eq!(part, Ok(Parsed::Incomplete));
            } else {
                prop_assert_eq!(part, Ok(Parsed::Done { header: want, len }));
            }
            // Two reads, split here.
            let mut layer = ProxyLayer::new(limits);
            let mut up = Vec::new();
            for chunk in [&input[..cut], &input[cut..]] {
                layer.handle_input(chunk, |b| up.extend_from_slice(b)).unwrap();
            }
            prop_assert_eq!(&up, &tail);
            prop_assert_eq!(layer.header(), Some(&want));
        }
        // And one byte at a time.
        let mut layer = ProxyLayer::new(limits);
        let mut up = Vec::new();
        for b in &input {
            layer.handle_input(std::slice::from_ref(b), |b| up.extend_from_slice(b)).unwrap();
        }
        prop_assert_eq!(&up, &tail);
        prop_assert_eq!(layer.header(), Some(&want));
    }
}

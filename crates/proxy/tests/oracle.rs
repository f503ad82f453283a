//! `ppp` (an independent parser of the same specification) as an oracle.
//!
//! Valid headers, written by hand (v1) or by ppp's own builder (v2), must
//! parse to the same command, addresses and length in both. On bytes near
//! headers, the two must agree on every complete header, except where the
//! specification lets or makes them differ. Each such case is named here
//! and checked precisely, so a new kind of disagreement fails the test:
//!
//! Where ppp accepts and this crate refuses:
//! - `P1` a port with a `+` sign: ppp parses ports with `u16::from_str`,
//!   which takes one; the specification says a decimal number.
//! - `P2` a lone LF in the ignored tail of `UNKNOWN`: ppp only looks for
//!   CR; the specification says a lone CR or LF must not be tolerated.
//! - `P3` a v2 PROXY command over a datagram transport: a stream server
//!   cannot stand in for a UDP flow; the specification lets a receiver
//!   refuse protocols it does not implement.
//! - `P4` TLVs that run past the header (ppp only finds out when its TLV
//!   iterator is walked, which its parse does not do).
//! - `P5` a CRC32C TLV that is not 4 bytes, appears twice, or does not
//!   match (ppp does not verify checksums; the specification says the
//!   receiver MUST).
//!
//! Where this crate accepts and ppp refuses:
//! - `Q1` an `UNKNOWN` tail that is not UTF-8: ppp decodes the whole line
//!   as UTF-8; the specification says the tail is ignored.
//! - `Q2` an `UNKNOWN` tail with five or more spaces: ppp splits the line
//!   into at most seven parts and then misses the CRLF.
//! - `Q3` a v2 header under transport UNSPEC whose body is shorter than
//!   the family's addresses: the addresses are to be ignored, so their
//!   length is not checked.
//!
//! And on addresses: ppp reports the addresses of a transport-UNSPEC or
//! AF_UNIX header, and of a LOCAL one; this crate reports none, because
//! the specification says to use the socket's endpoints then.

mod common;

use std::net::{IpAddr, SocketAddr};

use common::gen::{near_header, v1_line};
use common::{crc32c_bitwise, show};
use ppp::v2::{Builder, Protocol, Type};
use ppp::{v1, v2, HeaderResult, PartialResult};
use proptest::prelude::*;
use sockmux_proxy::{parse, Command, Limits, Parsed, ProxyError, ProxyHeader};

/// No length limit: ppp has none, so this crate's would be one more
/// difference to account for.
const NO_LIMIT: Limits = Limits {
    max_v2_len: usize::MAX,
};

fn pair(src: IpAddr, sp: u16, dst: IpAddr, dp: u16) -> Option<(SocketAddr, SocketAddr)> {
    Some((SocketAddr::new(src, sp), SocketAddr::new(dst, dp)))
}

/// The endpoints ppp says to use (None: the socket's), and the header's
/// length.
fn ppp_view(result: &HeaderResult<'_>) -> Option<(Option<(SocketAddr, SocketAddr)>, usize)> {
    match result {
        HeaderResult::V1(Ok(h)) => Some((
            match h.addresses {
                v1::Addresses::Tcp4(a) => pair(
                    a.source_address.into(),
                    a.source_port,
                    a.destination_address.into(),
                    a.destination_port,
                ),
                v1::Addresses::Tcp6(a) => pair(
                    a.source_address.into(),
                    a.source_port,
                    a.destination_address.into(),
                    a.destination_port,
                ),
                v1::Addresses::Unknown => None,
            },
            h.header.len(),
        )),
        HeaderResult::V2(Ok(h)) => {
            let used = h.command == v2::Command::Proxy && h.protocol != Protocol::Unspecified;
            let addresses = match h.addresses {
                v2::Addresses::IPv4(a) if used => pair(
                    a.source_address.into(),
                    a.source_port,
                    a.destination_address.into(),
                    a.destination_port,
                ),
                v2::Addresses::IPv6(a) if used => pair(
                    a.source_address.into(),
                    a.source_port,
                    a.destination_address.into(),
                    a.destination_port,
                ),
                _ => None,
            };
            Some((addresses, h.len()))
        }
        _ => None,
    }
}

fn ours_view(header: &ProxyHeader) -> Option<(SocketAddr, SocketAddr)> {
    header.addresses.map(|a| (a.source, a.destination))
}

/// The documented case, if any, that explains ppp accepting what this
/// crate refused with `error`.
fn why_we_refuse(input: &[u8], ppp: &HeaderResult<'_>, error: &ProxyError) -> Option<&'static str> {
    match (ppp, error) {
        (HeaderResult::V1(Ok(h)), ProxyError::V1Port(_)) => {
            let ports = h
                .header
                .trim_end()
                .rsplitn(3, ' ')
                .take(2)
                .collect::<Vec<_>>();
            ports.iter().any(|p| p.starts_with('+')).then_some("P1")
        }
        (HeaderResult::V1(Ok(h)), ProxyError::V1BareLf) => {
            let body = &h.header[..h.header.len() - 2];
            (h.addresses == v1::Addresses::Unknown && body.contains('\n')).then_some("P2")
        }
        (HeaderResult::V2(Ok(h)), ProxyError::V2Datagram) => {
            (h.command == v2::Command::Proxy && h.protocol == Protocol::Datagram).then_some("P3")
        }
        (HeaderResult::V2(Ok(h)), ProxyError::V2Tlv { .. }) => {
            h.tlvs().any(|t| t.is_err()).then_some("P4")
        }
        (HeaderResult::V2(Ok(h)), ProxyError::V2CrcLength(_) | ProxyError::V2CrcTwice) => {
            let crcs = h
                .tlvs()
                .flatten()
                .filter(|t| t.kind == Type::CRC32C as u8)
                .collect::<Vec<_>>();
            (crcs.len() > 1 || crcs.iter().any(|t| t.value.len() != 4)).then_some("P5")
        }
        (HeaderResult::V2(Ok(h)), ProxyError::V2CrcMismatch { found, computed }) => {
            let bytes = h.as_bytes();
            let tlv = h.tlvs().flatten().find(|t| t.kind == Type::CRC32C as u8)?;
            let at = bytes.len() - h.tlv_bytes().len()
                + (tlv.value.as_ptr() as usize - h.tlv_bytes().as_ptr() as usize);
            let zeroed = [&bytes[..at], &[0; 4], &bytes[at + 4..]].concat();
            let sum = crc32c_bitwise(&zeroed);
            let carried = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
            (sum == *computed && carried == *found && sum != carried).then_some("P5")
        }
        _ => {
            let _ = input;
            None
        }
    }
}

/// The documented case, if any, that explains this crate accepting what
/// ppp refused or still waits on.
fn why_we_accept(input: &[u8], header: &ProxyHeader, len: usize) -> Option<&'static str> {
    let line = &input[..len];
    if line.starts_with(b"PROXY UNKNOWN") {
        let tail = &line[13..len - 2];
        if std::str::from_utf8(line).is_err() {
            return Some("Q1");
        }
        if tail.iter().filter(|&&b| b == b' ').count() >= 5 {
            return Some("Q2");
        }
        return None;
    }
    let fam = *input.get(13)?;
    let body = usize::from(u16::from_be_bytes([input[14], input[15]]));
    let family_bytes = [0, 12, 36, 216][usize::from(fam >> 4).min(3)];
    (header.addresses.is_none() && fam & 0x0f == 0 && body < family_bytes).then_some("Q3")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn valid_v1_lines_agree_with_ppp(line in v1_line(), tail in proptest::collection::vec(any::<u8>(), 0..8)) {
        let input = [line.clone(), tail].concat();
        let Ok(Parsed::Done { header, len }) = parse(&input, &NO_LIMIT) else {
            panic!("ours refused {}", show(&line));
        };
        let ppp = HeaderResult::parse(&input);
        let Some((addresses, ppp_len)) = ppp_view(&ppp) else {
            // Only the documented cases let ppp refuse a valid line.
            let why = why_we_accept(&input, &header, len);
            prop_assert_eq!(why, Some("Q2"), "ppp refused {}: {:?}", show(&line), ppp);
            return Ok(());
        };
        prop_assert_eq!(len, line.len());
        prop_assert_eq!(ppp_len, line.len());
        prop_assert_eq!(ours_view(&header), addresses);
        prop_assert_eq!(header.command, Command::Proxy);
    }

    #[test]
    fn headers_built_by_ppp_parse_the_same(
        ipv6 in any::<bool>(),
        (src, dst) in any::<(u128, u128)>(),
        (sp, dp) in any::<(u16, u16)>(),
        local in any::<bool>(),
        tlvs in proptest::collection::vec((prop_oneof![Just(Type::ALPN), Just(Type::Authority), Just(Type::NoOp), Just(Type::UniqueId), Just(Type::NetworkNamespace)], proptest::collection::vec(any::<u8>(), 0..20)), 0..4),
    ) {
        let (source, destination): (SocketAddr, SocketAddr) = if ipv6 {
            ((std::net::Ipv6Addr::from(src), sp).into(), (std::net::Ipv6Addr::from(dst), dp).into())
        } else {
            ((std::net::Ipv4Addr::from(src as u32), sp).into(), (std::net::Ipv4Addr::from(dst as u32), dp).into())
        };
        let command = if local { v2::Command::Local } else { v2::Command::Proxy };
        let mut builder = Builder::with_addresses(v2::Version::Two | command, Protocol::Stream, (source, destination));
        for (kind, value) in &tlvs {
            builder = builder.write_tlv(*kind, value).unwrap();
        }
        let wire = builder.build().unwrap();
        let Ok(Parsed::Done { header, len }) = parse(&wire, &NO_LIMIT) else {
            panic!("ours refused {}: {:?}", show(&wire), parse(&wire, &NO_LIMIT));
        };
        let ppp = HeaderResult::parse(&wire);
        prop_assert_eq!(ppp_view(&ppp), Some((ours_view(&header), len)));
        prop_assert_eq!(len, wire.len());
        let want = if local { None } else { Some((source, destination)) };
        prop_assert_eq!(ours_view(&header), want);
    }

    #[test]
    fn bytes_near_headers_agree_with_ppp_but_for_the_documented_cases(input in near_header()) {
        let ours = parse(&input, &NO_LIMIT);
        let ppp = HeaderResult::parse(&input);
        match (&ours, ppp_view(&ppp)) {
            (Ok(Parsed::Done { header, len }), Some((addresses, ppp_len))) => {
                prop_assert_eq!(*len, ppp_len, "{}", show(&input));
                prop_assert_eq!(ours_view(header), addresses, "{}", show(&input));
            }
            (Ok(Parsed::Done { header, len }), None) => {
                let why = why_we_accept(&input, header, *len);
                prop_assert!(why.is_some(), "ours took {} as {:?}, ppp: {:?}", show(&input), header, ppp);
            }
            (Ok(Parsed::Incomplete), view) => {
                prop_assert!(view.is_none(), "ppp took {} before ours decided", show(&input));
            }
            (Err(e), Some(_)) => {
                let why = why_we_refuse(&input, &ppp, e);
                prop_assert!(why.is_some(), "ours refused {} ({e}), ppp took it: {:?}", show(&input), ppp);
            }
            (Err(_), None) => {
                // Both refuse, or ours refused earlier than ppp could.
                let _ = ppp.is_incomplete();
            }
        }
    }
}

#[test]
fn the_documented_cases_are_real() {
    let cases: [(&[u8], &str); 4] = [
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 +80 443\r\n", "P1"),
        (b"PROXY UNKNOWN a\nb\r\n", "P2"),
        (b"PROXY UNKNOWN 1 2 3 4 5\r\n", "Q2"),
        (b"PROXY UNKNOWN \xff\r\n", "Q1"),
    ];
    for (input, case) in cases {
        let ppp = HeaderResult::parse(input);
        match parse(input, &NO_LIMIT) {
            Err(e) => assert_eq!(
                why_we_refuse(input, &ppp, &e),
                Some(case),
                "{}",
                show(input)
            ),
            Ok(Parsed::Done { header, len }) => {
                assert!(ppp_view(&ppp).is_none());
                assert_eq!(
                    why_we_accept(input, &header, len),
                    Some(case),
                    "{}",
                    show(input)
                );
            }
            other => panic!("{other:?}"),
        }
    }
    let dgram = common::v2(0x21, 0x12, &common::inet_block());
    let ppp = HeaderResult::parse(&dgram);
    assert!(ppp_view(&ppp).is_some());
    assert_eq!(
        why_we_refuse(&dgram, &ppp, &ProxyError::V2Datagram),
        Some("P3")
    );
}

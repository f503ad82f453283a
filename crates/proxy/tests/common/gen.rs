//! proptest strategies: valid headers of both versions, and bytes near
//! them (valid headers with a few bytes changed, cut or extended), which
//! reach far more rules than uniformly random bytes would.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::{tlv, v2, v2_with_crc};

/// An IPv6 address in one of the text forms the specification allows.
fn ipv6_text() -> impl Strategy<Value = String> {
    (any::<u128>(), 0..4u8, any::<[u8; 4]>()).prop_map(|(bits, style, v4)| {
        let ip = Ipv6Addr::from(bits);
        let groups = ip.segments();
        match style {
            0 => ip.to_string(),
            1 => groups.map(|g| format!("{g:x}")).join(":"),
            2 => groups.map(|g| format!("{g:04X}")).join(":"),
            _ => Ipv4Addr::from(v4).to_ipv6_mapped().to_string(),
        }
    })
}

/// A valid v1 line: TCP4, TCP6, or UNKNOWN with an ignored tail.
pub fn v1_line() -> impl Strategy<Value = Vec<u8>> {
    let tcp4 = (
        any::<[u8; 4]>(),
        any::<[u8; 4]>(),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(|(s, d, sp, dp)| {
            format!(
                "PROXY TCP4 {} {} {sp} {dp}\r\n",
                Ipv4Addr::from(s),
                Ipv4Addr::from(d)
            )
        });
    let tcp6 = (ipv6_text(), ipv6_text(), any::<u16>(), any::<u16>())
        .prop_map(|(s, d, sp, dp)| format!("PROXY TCP6 {s} {d} {sp} {dp}\r\n"));
    let unknown = prop_oneof![
        Just(String::new()),
        "[ -~]{0,91}".prop_map(|t| format!(" {t}"))
    ]
    .prop_map(|tail| format!("PROXY UNKNOWN{tail}\r\n"));
    prop_oneof![tcp4, tcp6, unknown].prop_map(String::into_bytes)
}

/// TLVs other than CRC32C, small.
fn tlvs() -> impl Strategy<Value = Vec<u8>> {
    let one = (
        any::<u8>().prop_filter("not CRC32C", |&k| k != 0x03),
        proptest::collection::vec(any::<u8>(), 0..12),
    )
        .prop_map(|(kind, value)| tlv(kind, &value));
    proptest::collection::vec(one, 0..4).prop_map(|all| all.concat())
}

/// A valid v2 header, with or without TLVs and a CRC32C, built by hand.
pub fn v2_header() -> impl Strategy<Value = Vec<u8>> {
    let shape = prop_oneof![
        (
            Just(0x21u8),
            Just(0x11u8),
            proptest::collection::vec(any::<u8>(), 12)
        ),
        (
            Just(0x21u8),
            Just(0x21u8),
            proptest::collection::vec(any::<u8>(), 36)
        ),
        (
            Just(0x21u8),
            Just(0x31u8),
            proptest::collection::vec(any::<u8>(), 216)
        ),
        (
            Just(0x20u8),
            Just(0x12u8),
            proptest::collection::vec(any::<u8>(), 12)
        ),
        (
            Just(0x20u8),
            Just(0x11u8),
            proptest::collection::vec(any::<u8>(), 12)
        ),
    ];
    let opaque = (
        prop_oneof![Just(0x20u8), Just(0x21)],
        prop_oneof![Just(0x00u8), Just(0x01), Just(0x10), Just(0x20)],
        proptest::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(ver_cmd, fam, body)| v2(ver_cmd, fam, &body));
    let walked = (shape, tlvs(), any::<bool>()).prop_map(|((ver_cmd, fam, block), tlvs, crc)| {
        if crc {
            v2_with_crc(ver_cmd, fam, &block, &tlvs)
        } else {
            v2(ver_cmd, fam, &[block, tlvs].concat())
        }
    });
    prop_oneof![3 => walked, 1 => opaque]
}

/// Bytes near a header: a valid one of either version, with up to three
/// bytes changed, maybe cut short, followed by some other bytes.
pub fn near_header() -> impl Strategy<Value = Vec<u8>> {
    let interesting = prop_oneof![
        Just(b' '),
        Just(b'\r'),
        Just(b'\n'),
        Just(b'0'),
        Just(b'.'),
        Just(b':'),
        Just(b'+'),
        Just(0x03),
        Just(0x00),
        Just(0xff),
        any::<u8>(),
    ];
    let edits = proptest::collection::vec((any::<prop::sample::Index>(), interesting), 0..4);
    let base = prop_oneof![v1_line(), v2_header()];
    let tail = proptest::collection::vec(any::<u8>(), 0..8);
    (
        base,
        edits,
        proptest::option::weighted(0.25, any::<prop::sample::Index>()),
        tail,
    )
        .prop_map(|(mut bytes, edits, cut, tail)| {
            for (at, b) in edits {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut.index(bytes.len() + 1));
            }
            bytes.extend(tail);
            bytes
        })
}

//! Every rule of the v2 binary header, each error path, and where each
//! error is decided.

mod common;

use common::{
    crc32c_bitwise, done, done_with, error, error_with, fails_at_last_byte, inet6_block,
    inet_block, tlv, v2, v2_with_crc, SIG,
};
use sockmux_proxy::{parse, Command, Limits, Parsed, ProxyError, Version, V2_SIGNATURE};

fn sa(s: &str) -> Option<std::net::SocketAddr> {
    Some(s.parse().unwrap())
}

#[test]
fn the_signature_is_the_one_the_specification_spells_out() {
    assert_eq!(V2_SIGNATURE, SIG);
}

#[test]
fn parses_tcp_over_ipv4_and_stops_at_its_length() {
    let mut wire = v2(0x21, 0x11, &inet_block());
    wire.extend_from_slice(b"hello");
    let (header, len) = done(&wire);
    assert_eq!(len, 28);
    assert_eq!(&wire[len..], b"hello");
    assert_eq!(header.version, Version::V2);
    assert_eq!(header.command, Command::Proxy);
    assert_eq!(header.source(), sa("192.0.2.1:56324"));
    assert_eq!(header.destination(), sa("198.51.100.7:443"));
}

#[test]
fn parses_tcp_over_ipv6_with_tlvs() {
    let mut body = inet6_block();
    body.extend(tlv(0x01, b"h2"));
    body.extend(tlv(0x04, b""));
    body.extend(tlv(0x20, &[1, 0, 0, 0, 0]));
    let wire = v2(0x21, 0x21, &body);
    let (header, len) = done(&wire);
    assert_eq!(len, wire.len());
    assert_eq!(header.source(), sa("[2001:db8::1]:56324"));
    assert_eq!(header.destination(), sa("[2001:db8::2]:443"));
}

#[test]
fn local_uses_the_socket_whatever_the_family_says() {
    for (fam, body) in [
        (0x00, Vec::new()),
        (0x11, inet_block()),
        (0x21, inet6_block()),
        (0x12, inet_block()),
        (0x02, Vec::new()),
    ] {
        let (header, len) = done(&v2(0x20, fam, &body));
        assert_eq!(len, 16 + body.len());
        assert_eq!((header.command, header.addresses), (Command::Local, None));
    }
}

#[test]
fn families_and_transports_it_does_not_model_use_the_socket() {
    // AF_UNSPEC, AF_UNIX stream, and INET/INET6 with transport UNSPEC: the
    // specification says to ignore the address information.
    for (fam, body) in [
        (0x00, inet_block()),
        (0x01, Vec::new()),
        (0x31, vec![0; 216]),
        (0x30, vec![0; 216]),
        (0x10, inet_block()),
        (0x20, inet6_block()),
    ] {
        let (header, _) = done(&v2(0x21, fam, &body));
        assert_eq!(header.command, Command::Proxy);
        assert_eq!(header.addresses, None, "family {fam:#04x}");
    }
}

#[test]
fn rejects_a_wrong_signature_at_the_first_differing_byte() {
    for offset in 1..12 {
        let mut wire = SIG[..=offset].to_vec();
        wire[offset] ^= 0x40;
        let byte = wire[offset];
        fails_at_last_byte(&wire, ProxyError::NotProxy { offset, byte });
    }
}

#[test]
fn rejects_versions_other_than_2_and_unassigned_commands_at_byte_13() {
    for (ver_cmd, want) in [
        (0x11, ProxyError::V2Version(1)),
        (0x31, ProxyError::V2Version(3)),
        (0x01, ProxyError::V2Version(0)),
        (0x22, ProxyError::V2Command(2)),
        (0x2F, ProxyError::V2Command(0xF)),
    ] {
        let mut wire = SIG.to_vec();
        wire.push(ver_cmd);
        fails_at_last_byte(&wire, want);
    }
}

#[test]
fn rejects_unassigned_families_transports_and_proxied_datagrams_at_byte_14() {
    for (ver_cmd, fam, want) in [
        (0x21, 0x41, ProxyError::V2Family(4)),
        (0x20, 0xF1, ProxyError::V2Family(0xF)),
        (0x21, 0x13, ProxyError::V2Transport(3)),
        (0x20, 0x0F, ProxyError::V2Transport(0xF)),
        (0x21, 0x12, ProxyError::V2Datagram),
        (0x21, 0x22, ProxyError::V2Datagram),
        (0x21, 0x32, ProxyError::V2Datagram),
        (0x21, 0x02, ProxyError::V2Datagram),
    ] {
        let mut wire = SIG.to_vec();
        wire.extend([ver_cmd, fam]);
        fails_at_last_byte(&wire, want);
    }
}

#[test]
fn rejects_a_length_above_the_limit_before_its_body_arrives() {
    let wire = v2(0x21, 0x11, &[0; 497]);
    let want = ProxyError::V2TooLong { len: 513, max: 512 };
    fails_at_last_byte(&wire[..16], want.clone());
    assert_eq!(error(&wire), want);
    // Exactly the limit is fine, and the limit is the caller's to set.
    let fits = v2(0x21, 0x11, &[inet_block(), tlv(0x04, &[0; 481])].concat());
    assert_eq!(fits.len(), 512);
    assert_eq!(done(&fits).1, 512);
    let small = Limits { max_v2_len: 28 };
    assert_eq!(done_with(&v2(0x21, 0x11, &inet_block()), &small).1, 28);
    assert_eq!(
        error_with(&v2(0x20, 0x00, &[0; 13]), &small),
        ProxyError::V2TooLong { len: 29, max: 28 }
    );
}

#[test]
fn accepts_the_longest_header_the_length_field_allows_when_the_limit_does() {
    let body = [inet_block(), tlv(0x04, &[7; 65520])].concat();
    assert_eq!(body.len(), 65535);
    let wire = v2(0x21, 0x11, &body);
    let limits = Limits {
        max_v2_len: usize::MAX,
    };
    assert_eq!(limits.preamble_cap(), 16 + 65535);
    assert_eq!(done_with(&wire, &limits).1, 16 + 65535);
}

#[test]
fn rejects_an_address_block_shorter_than_its_family_at_byte_16() {
    for (fam, need) in [(0x11, 12), (0x21, 36), (0x31, 216)] {
        for ver_cmd in [0x21, 0x20] {
            let wire = v2(ver_cmd, fam, &vec![0; need - 1]);
            let want = ProxyError::V2ShortAddresses {
                len: need - 1,
                need,
            };
            fails_at_last_byte(&wire[..16], want.clone());
            assert_eq!(error(&wire), want);
        }
    }
}

#[test]
fn rejects_tlvs_that_do_not_fit_once_the_header_is_whole() {
    let bad = |tail: &[u8]| v2(0x21, 0x11, &[inet_block(), tail.to_vec()].concat());
    // One or two bytes left over: not even a TLV's type and length.
    for tail in [&[0x04][..], &[0x04, 0x00]] {
        let wire = bad(tail);
        fails_at_last_byte(&wire, ProxyError::V2Tlv { offset: 28 });
    }
    // A value longer than what is left, after a good TLV.
    let wire = bad(&[tlv(0x01, b"h2"), vec![0x02, 0x00, 0x05, b'a']].concat());
    fails_at_last_byte(&wire, ProxyError::V2Tlv { offset: 33 });
    // Under UNIX stream they start after the 216 bytes of addresses.
    let wire = v2(0x21, 0x31, &[vec![0; 216], vec![0x04, 0x00, 0x09]].concat());
    assert_eq!(error(&wire), ProxyError::V2Tlv { offset: 232 });
}

#[test]
fn skips_the_body_whole_when_the_family_or_transport_is_unspecified() {
    // Where the addresses end is unknown, so nothing is read as a TLV, not
    // even a CRC32C with a wrong sum.
    for fam in [0x00, 0x01, 0x10, 0x20, 0x30] {
        for ver_cmd in [0x20, 0x21] {
            let body = [0x04, 0x00, 0x09, 0x03, 0x00, 0x04, 1, 2, 3, 4];
            let (header, len) = done(&v2(ver_cmd, fam, &body));
            assert_eq!((header.addresses, len), (None, 26));
        }
    }
}

#[test]
fn accepts_a_header_whose_crc32c_matches() {
    let extra = tlv(0x05, b"conn-42");
    for (ver_cmd, fam, block) in [
        (0x21, 0x11, inet_block()),
        (0x21, 0x21, inet6_block()),
        (0x20, 0x00, Vec::new()),
    ] {
        let wire = v2_with_crc(ver_cmd, fam, &block, &extra);
        assert_eq!(done(&wire).1, wire.len());
    }
}

#[test]
fn rejects_a_header_whose_crc32c_does_not_match() {
    let good = v2_with_crc(0x21, 0x11, &inet_block(), &tlv(0x05, b"id"));
    // Flipping a bit anywhere after the fixed part, except in the CRC32C
    // TLV's own type and length, is caught; in the addresses and in the
    // other TLV's type and value only the sum can catch it.
    let n = good.len();
    assert_eq!(n, 16 + 12 + 5 + 7);
    for at in 16..n - 7 {
        let mut wire = good.clone();
        wire[at] ^= 0x01;
        let result = parse(&wire, &Limits::default());
        match at {
            16..=28 | 31..=32 => assert!(
                matches!(result, Err(ProxyError::V2CrcMismatch { .. })),
                "bit flipped at {at}: {result:?}"
            ),
            _ => assert!(result.is_err(), "bit flipped at {at}: {result:?}"),
        }
    }
    let mut wire = good.clone();
    let n = wire.len();
    wire[n - 1] ^= 0xff;
    let sum = crc32c_bitwise(&[&good[..n - 4], &[0; 4][..]].concat());
    assert_eq!(
        error(&wire),
        ProxyError::V2CrcMismatch {
            found: sum ^ 0xff,
            computed: sum
        }
    );
}

#[test]
fn rejects_a_crc32c_tlv_of_the_wrong_size_or_a_second_one() {
    let wire = v2(0x21, 0x11, &[inet_block(), tlv(0x03, &[0; 2])].concat());
    assert_eq!(error(&wire), ProxyError::V2CrcLength(2));
    let wire = v2(0x21, 0x11, &[inet_block(), tlv(0x03, &[0; 5])].concat());
    assert_eq!(error(&wire), ProxyError::V2CrcLength(5));
    let twice = v2_with_crc(0x21, 0x11, &inet_block(), &tlv(0x03, &[0; 4]));
    assert_eq!(error(&twice), ProxyError::V2CrcTwice);
}

#[test]
fn every_prefix_of_a_valid_header_is_incomplete() {
    let wire = v2_with_crc(0x21, 0x21, &inet6_block(), &tlv(0x02, b"example.com"));
    for k in 0..wire.len() {
        assert_eq!(
            parse(&wire[..k], &Limits::default()),
            Ok(Parsed::Incomplete)
        );
    }
}

#[test]
fn error_messages_say_what_is_wrong() {
    let wire = v2(0x21, 0x11, &[0; 600]);
    assert_eq!(
        error(&wire).to_string(),
        "the PROXY v2 header is 616 bytes, above the limit of 512"
    );
    let wire = v2(0x21, 0x21, &[0; 12]);
    assert_eq!(
        error(&wire).to_string(),
        "the PROXY v2 header has 12 bytes after the fixed part; its address family needs 36"
    );
}

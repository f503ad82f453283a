//! Every rule of the v1 text line, each error path, and where each error
//! is decided.

mod common;

use common::{done, error, fails_at_last_byte};
use sockmux_proxy::{parse, Command, Field, IpFamily, Limits, Parsed, ProxyError, Version};

fn sa(s: &str) -> Option<std::net::SocketAddr> {
    Some(s.parse().unwrap())
}

#[test]
fn parses_a_tcp4_line_and_stops_at_its_crlf() {
    let wire = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n";
    let (header, len) = done(wire);
    assert_eq!(len, 47);
    assert_eq!(&wire[len..], b"GET / HTTP/1.1\r\n");
    assert_eq!(header.version, Version::V1);
    assert_eq!(header.command, Command::Proxy);
    assert_eq!(header.source(), sa("192.168.0.1:56324"));
    assert_eq!(header.destination(), sa("192.168.0.11:443"));
}

#[test]
fn parses_tcp6_lines_in_every_text_form_of_an_address() {
    for (text, ip) in [
        ("2001:db8::1", "2001:db8::1"),
        ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("::", "::"),
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
    ] {
        let line = format!("PROXY TCP6 {text} ::1 0 65535\r\n");
        let (header, len) = done(line.as_bytes());
        assert_eq!(len, line.len());
        assert_eq!(header.source(), sa(&format!("[{ip}]:0")), "{line}");
        assert_eq!(header.destination(), sa("[::1]:65535"));
    }
}

#[test]
fn accepts_the_longest_lines_the_specification_names() {
    let f = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    let tcp6 = format!("PROXY TCP6 {f} {f} 65535 65535\r\n");
    assert_eq!(tcp6.len(), 104);
    assert!(done(tcp6.as_bytes()).0.source().is_some());
    let worst = format!("PROXY UNKNOWN {f} {f} 65535 65535\r\n");
    assert_eq!(worst.len(), 107);
    assert_eq!(done(worst.as_bytes()), (done(b"PROXY UNKNOWN\r\n").0, 107));
}

#[test]
fn rejects_a_line_without_crlf_in_107_bytes() {
    let f = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    let long = format!("PROXY UNKNOWN {f} {f} 65535 655355\r\n");
    assert_eq!(long.len(), 108);
    fails_at_last_byte(&long.as_bytes()[..107], ProxyError::V1TooLong { max: 107 });
    // A CR as the 107th byte cannot be followed by an LF in time.
    let cr_last = format!("{}\r\n", &long[..106]);
    assert_eq!(
        error(cr_last.as_bytes()),
        ProxyError::V1TooLong { max: 107 }
    );
}

#[test]
fn unknown_means_use_the_socket_and_its_tail_is_ignored() {
    for line in [
        &b"PROXY UNKNOWN\r\n"[..],
        b"PROXY UNKNOWN \r\n",
        b"PROXY UNKNOWN 1.2.3.4 whatever\xff\x00 at all\r\n",
    ] {
        let (header, len) = done(line);
        assert_eq!(len, line.len());
        assert_eq!(header.command, Command::Proxy);
        assert_eq!(header.addresses, None);
    }
    assert_eq!(error(b"PROXY UNKNOWN a\nb\r\n"), ProxyError::V1BareLf);
    assert_eq!(error(b"PROXY UNKNOWN a\rb\r\n"), ProxyError::V1BareCr);
    assert_eq!(error(b"PROXY UNKNOWNX\r\n"), ProxyError::V1Protocol);
}

#[test]
fn rejects_anything_but_proxy_space_at_the_first_differing_byte() {
    let not = |offset, byte| ProxyError::NotProxy { offset, byte };
    fails_at_last_byte(b"G", not(0, b'G'));
    fails_at_last_byte(b"PROXX", not(4, b'X'));
    fails_at_last_byte(b"PROXY\r", not(5, b'\r'));
    fails_at_last_byte(b"p", not(0, b'p'));
    fails_at_last_byte(b"\x16", not(0, 0x16));
}

#[test]
fn every_prefix_of_a_valid_line_is_incomplete() {
    let line = b"PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 1 65535\r\n";
    for k in 0..line.len() {
        assert_eq!(
            parse(&line[..k], &Limits::default()),
            Ok(Parsed::Incomplete)
        );
    }
}

#[test]
fn rejects_a_protocol_other_than_tcp4_tcp6_or_unknown_as_soon_as_it_diverges() {
    fails_at_last_byte(b"PROXY UD", ProxyError::V1Protocol);
    fails_at_last_byte(b"PROXY TCP5", ProxyError::V1Protocol);
    fails_at_last_byte(b"PROXY t", ProxyError::V1Protocol);
    fails_at_last_byte(b"PROXY TCP ", ProxyError::V1Protocol);
    fails_at_last_byte(b"PROXY TCP44", ProxyError::V1Protocol);
}

#[test]
fn rejects_empty_fields() {
    fails_at_last_byte(b"PROXY  ", ProxyError::V1Separator);
    fails_at_last_byte(b"PROXY \r", ProxyError::V1Separator);
    fails_at_last_byte(b"PROXY TCP4  ", ProxyError::V1Separator);
    fails_at_last_byte(b"PROXY TCP4 1.2.3.4 5.6.7.8  ", ProxyError::V1Separator);
    fails_at_last_byte(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 \r", ProxyError::V1Separator);
}

#[test]
fn rejects_a_line_that_ends_before_its_fields() {
    let missing = ProxyError::V1Missing;
    fails_at_last_byte(b"PROXY TCP4\r", missing(Field::SourceAddress));
    fails_at_last_byte(b"PROXY TCP6 ::1\r", missing(Field::DestinationAddress));
    fails_at_last_byte(b"PROXY TCP4 1.2.3.4 5.6.7.8\r", missing(Field::SourcePort));
    fails_at_last_byte(
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r",
        missing(Field::DestinationPort),
    );
}

#[test]
fn rejects_more_after_the_destination_port() {
    fails_at_last_byte(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 ", ProxyError::V1Trailing);
}

#[test]
fn rejects_addresses_not_in_the_protocols_family_at_the_first_wrong_byte() {
    let v4 = |field| ProxyError::V1Address {
        field,
        family: IpFamily::V4,
    };
    let v6 = |field| ProxyError::V1Address {
        field,
        family: IpFamily::V6,
    };
    fails_at_last_byte(b"PROXY TCP4 256", v4(Field::SourceAddress));
    fails_at_last_byte(b"PROXY TCP4 01", v4(Field::SourceAddress));
    fails_at_last_byte(b"PROXY TCP4 1.2.3.4.", v4(Field::SourceAddress));
    fails_at_last_byte(b"PROXY TCP4 1..", v4(Field::SourceAddress));
    fails_at_last_byte(b"PROXY TCP4 1.2.3 ", v4(Field::SourceAddress));
    fails_at_last_byte(b"PROXY TCP4 1.2.3.4 :", v4(Field::DestinationAddress));
    fails_at_last_byte(
        b"PROXY TCP4 1.2.3.4 5.6.7.08",
        v4(Field::DestinationAddress),
    );
    fails_at_last_byte(b"PROXY TCP6 1.2.3.4 ", v6(Field::SourceAddress));
    fails_at_last_byte(b"PROXY TCP6 1:::2 ", v6(Field::SourceAddress));
    fails_at_last_byte(b"PROXY TCP6 fe80::1%", v6(Field::SourceAddress));
    fails_at_last_byte(b"PROXY TCP6 ::1 g", v6(Field::DestinationAddress));
    let long = format!("PROXY TCP6 {}", "0".repeat(46));
    fails_at_last_byte(long.as_bytes(), v6(Field::SourceAddress));
}

#[test]
fn rejects_ports_with_signs_leading_zeros_or_above_65535() {
    let base = "PROXY TCP4 1.2.3.4 5.6.7.8 ";
    let line = |rest: &str| format!("{base}{rest}").into_bytes();
    fails_at_last_byte(&line("65536"), ProxyError::V1Port(Field::SourcePort));
    fails_at_last_byte(&line("08"), ProxyError::V1Port(Field::SourcePort));
    fails_at_last_byte(&line("00"), ProxyError::V1Port(Field::SourcePort));
    fails_at_last_byte(&line("+"), ProxyError::V1Port(Field::SourcePort));
    fails_at_last_byte(&line("-"), ProxyError::V1Port(Field::SourcePort));
    fails_at_last_byte(&line("1 99999"), ProxyError::V1Port(Field::DestinationPort));
    fails_at_last_byte(&line("1 0x"), ProxyError::V1Port(Field::DestinationPort));
    let (header, _) = done(&line("0 65535\r\n"));
    assert_eq!(header.source(), sa("1.2.3.4:0"));
    assert_eq!(header.destination(), sa("5.6.7.8:65535"));
}

#[test]
fn rejects_a_lone_cr_or_lf() {
    let ok = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2";
    fails_at_last_byte(format!("{ok}\rX").as_bytes(), ProxyError::V1BareCr);
    fails_at_last_byte(format!("{ok}\r\r").as_bytes(), ProxyError::V1BareCr);
    fails_at_last_byte(format!("{ok}\n").as_bytes(), ProxyError::V1BareLf);
    fails_at_last_byte(b"PROXY TCP4\n", ProxyError::V1BareLf);
    fails_at_last_byte(b"PROXY TCP4 1.2.3.4\n", ProxyError::V1BareLf);
}

#[test]
fn error_messages_name_the_field_and_the_rule() {
    let e = error(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n");
    assert_eq!(
        e.to_string(),
        "the PROXY v1 destination port is not a decimal number 0-65535 without leading zeros"
    );
    let e = error(b"PROXY TCP6 1.2.3.4 ");
    assert_eq!(
        e.to_string(),
        "the PROXY v1 source address is not a valid IPv6 address"
    );
    let e = error(b"HELLO");
    assert_eq!(
        e.to_string(),
        "the connection does not open with a PROXY protocol header (byte 0x48 at offset 0)"
    );
}

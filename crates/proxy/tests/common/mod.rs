//! Helpers shared by the integration tests: header builders written from
//! the specification, and a bit-at-a-time CRC32C that checks the crate's
//! table-driven one.
#![allow(dead_code)]

use sockmux_proxy::{parse, Limits, Parsed, ProxyError, ProxyHeader};

/// The v2 signature, spelled out as the specification does.
pub const SIG: [u8; 12] = [
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
];

/// A v2 header: signature, version/command, family/transport, the body's
/// length, the body.
pub fn v2(ver_cmd: u8, fam: u8, body: &[u8]) -> Vec<u8> {
    let mut out = SIG.to_vec();
    out.push(ver_cmd);
    out.push(fam);
    out.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// One TLV.
pub fn tlv(kind: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&u16::try_from(value.len()).unwrap().to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// IPv4 TCP addresses: 192.0.2.1:56324 -> 198.51.100.7:443.
pub fn inet_block() -> Vec<u8> {
    vec![192, 0, 2, 1, 198, 51, 100, 7, 0xDC, 0x04, 0x01, 0xBB]
}

/// IPv6 TCP addresses: [2001:db8::1]:56324 -> [2001:db8::2]:443.
pub fn inet6_block() -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(
        &"2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    out.extend_from_slice(
        &"2001:db8::2"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    out.extend_from_slice(&[0xDC, 0x04, 0x01, 0xBB]);
    out
}

/// CRC32C one bit at a time, straight from the definition (reflected
/// Castagnoli polynomial, all-ones start and end).
pub fn crc32c_bitwise(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let lsb = crc & 1;
            crc >>= 1;
            if lsb == 1 {
                crc ^= 0x82F6_3B78;
            }
        }
    }
    !crc
}

/// A v2 header with a CRC32C TLV (after `tlvs`), its checksum filled in.
pub fn v2_with_crc(ver_cmd: u8, fam: u8, addresses: &[u8], tlvs: &[u8]) -> Vec<u8> {
    let mut body = addresses.to_vec();
    body.extend_from_slice(tlvs);
    body.extend_from_slice(&tlv(0x03, &[0; 4]));
    let mut header = v2(ver_cmd, fam, &body);
    let field = header.len() - 4;
    let sum = crc32c_bitwise(&header);
    header[field..].copy_from_slice(&sum.to_be_bytes());
    header
}

/// Parses with the default limits and expects a whole header.
pub fn done(input: &[u8]) -> (ProxyHeader, usize) {
    done_with(input, &Limits::default())
}

/// Parses with `limits` and expects a whole header.
pub fn done_with(input: &[u8], limits: &Limits) -> (ProxyHeader, usize) {
    match parse(input, limits) {
        Ok(Parsed::Done { header, len }) => (header, len),
        other => panic!("expected a header from {:?}, got {other:?}", show(input)),
    }
}

/// Parses with the default limits and expects an error.
pub fn error(input: &[u8]) -> ProxyError {
    error_with(input, &Limits::default())
}

/// Parses with `limits` and expects an error.
pub fn error_with(input: &[u8], limits: &Limits) -> ProxyError {
    match parse(input, limits) {
        Err(e) => e,
        other => panic!("expected an error from {:?}, got {other:?}", show(input)),
    }
}

/// Expects every strict prefix of `input` to be incomplete, and `input`
/// itself to be the error `want`: the error comes at the first byte that
/// settles it, not later.
pub fn fails_at_last_byte(input: &[u8], want: ProxyError) {
    for k in 0..input.len() {
        assert_eq!(
            parse(&input[..k], &Limits::default()),
            Ok(Parsed::Incomplete),
            "prefix {:?} of {:?}",
            show(&input[..k]),
            show(input)
        );
    }
    assert_eq!(error(input), want, "{:?}", show(input));
}

/// Bytes as text, escapes and all, for messages.
pub fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}
pub mod gen;

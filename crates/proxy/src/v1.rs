//! The v1 text line. Owns its grammar and the order its rules are checked
//! in; it does not own the line's length bound (`header`) or what a caller
//! does with the result.
//!
//! ```text
//! PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n
//! PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n
//! PROXY UNKNOWN[ anything but CR and LF]\r\n
//! └─┬─┘ └┬─┘ └───┬───┘ └────┬─────┘ └─┬─┘ └┬┘
//!  tag  proto  source  destination  sport dport    at most 107 bytes
//! ```
//!
//! The line is read left to right and every rule is checked at the first
//! byte that settles it, using only the bytes before it: a field is checked
//! as a prefix while it is still arriving (so `PROXY TCP4 256` fails at the
//! `6`), and whole at the space or CR that ends it. That is what makes the
//! result the same however the bytes were split.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::header::{Addresses, Command, Parsed, ProxyHeader, Version, V1_MAX_LEN};
use crate::{Field, IpFamily, ProxyError};

const TAG: &[u8] = b"PROXY ";
const PROTOCOLS: [&[u8]; 3] = [b"TCP4", b"TCP6", b"UNKNOWN"];
const FIELDS: [Field; 4] = [
    Field::SourceAddress,
    Field::DestinationAddress,
    Field::SourcePort,
    Field::DestinationPort,
];
/// The longest IPv6 text: six groups and an embedded dotted quad.
const IPV6_MAX_TEXT: usize = 45;

/// Parses a v1 line at the start of `input` (whose first byte is `P`).
pub(crate) fn parse(input: &[u8]) -> Result<Parsed, ProxyError> {
    let window = &input[..input.len().min(V1_MAX_LEN)];
    for (offset, &want) in TAG.iter().enumerate() {
        match window.get(offset) {
            None => return Ok(Parsed::Incomplete),
            Some(&byte) if byte != want => return Err(ProxyError::NotProxy { offset, byte }),
            Some(_) => {}
        }
    }
    let mut line = Cursor {
        window,
        at: TAG.len(),
    };

    let (protocol, end) = line.token();
    if !PROTOCOLS.iter().any(|p| p.starts_with(protocol)) {
        return Err(ProxyError::V1Protocol);
    }
    let family = match end {
        End::More => return line.incomplete(),
        End::Lf => return Err(ProxyError::V1BareLf),
        _ if protocol.is_empty() => return Err(ProxyError::V1Separator),
        _ => match protocol {
            b"TCP4" => IpFamily::V4,
            b"TCP6" => IpFamily::V6,
            b"UNKNOWN" => return line.unknown(end),
            _ => return Err(ProxyError::V1Protocol),
        },
    };
    if end == End::Cr {
        return Err(ProxyError::V1Missing(Field::SourceAddress));
    }

    let mut ips = [IpAddr::V4(Ipv4Addr::UNSPECIFIED); 2];
    let mut ports = [0u16; 2];
    for (i, &field) in FIELDS.iter().enumerate() {
        let (text, end) = line.token();
        check_prefix(field, family, text)?;
        match end {
            End::More => return line.incomplete(),
            End::Lf => return Err(ProxyError::V1BareLf),
            _ if text.is_empty() => return Err(ProxyError::V1Separator),
            _ => {}
        }
        match i {
            0 | 1 => ips[i] = whole_address(field, family, text)?,
            _ => ports[i - 2] = whole_port(field, text)?,
        }
        match (end, FIELDS.get(i + 1)) {
            (End::Space, None) => return Err(ProxyError::V1Trailing),
            (End::Cr, Some(&next)) => return Err(ProxyError::V1Missing(next)),
            _ => {}
        }
    }
    let addresses = Addresses {
        source: SocketAddr::new(ips[0], ports[0]),
        destination: SocketAddr::new(ips[1], ports[1]),
    };
    line.line_feed(Some(addresses))
}

/// What ended a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// A space: another field follows.
    Space,
    /// A CR: the line ends, if an LF follows.
    Cr,
    /// An LF with no CR before it.
    Lf,
    /// Nothing yet: the bytes so far end inside the token.
    More,
}

/// A read position in the (at most 107-byte) window of the line.
struct Cursor<'a> {
    window: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// The next token and what ended it; moves past the delimiter.
    fn token(&mut self) -> (&'a [u8], End) {
        let rest = &self.window[self.at..];
        match rest.iter().position(|&b| matches!(b, b' ' | b'\r' | b'\n')) {
            None => {
                self.at = self.window.len();
                (rest, End::More)
            }
            Some(n) => {
                self.at += n + 1;
                let end = match rest[n] {
                    b' ' => End::Space,
                    b'\r' => End::Cr,
                    _ => End::Lf,
                };
                (&rest[..n], end)
            }
        }
    }

    /// The window ended before the line did: wait, unless the window is
    /// already as long as a line may be.
    fn incomplete(&self) -> Result<Parsed, ProxyError> {
        if self.window.len() >= V1_MAX_LEN {
            Err(ProxyError::V1TooLong { max: V1_MAX_LEN })
        } else {
            Ok(Parsed::Incomplete)
        }
    }

    /// Just past a CR: the LF that must follow, and the header.
    fn line_feed(&self, addresses: Option<Addresses>) -> Result<Parsed, ProxyError> {
        match self.window.get(self.at) {
            Some(b'\n') => Ok(Parsed::Done {
                header: ProxyHeader {
                    version: Version::V1,
                    command: Command::Proxy,
                    addresses,
                },
                len: self.at + 1,
            }),
            Some(_) => Err(ProxyError::V1BareCr),
            None => self.incomplete(),
        }
    }

    /// After `UNKNOWN`: anything up to the CRLF is ignored, as the
    /// specification asks, except a lone CR or LF.
    fn unknown(&mut self, end: End) -> Result<Parsed, ProxyError> {
        if end == End::Space {
            let rest = &self.window[self.at..];
            match rest.iter().position(|&b| matches!(b, b'\r' | b'\n')) {
                None => return self.incomplete(),
                Some(n) if rest[n] == b'\n' => return Err(ProxyError::V1BareLf),
                Some(n) => self.at += n + 1,
            }
        }
        self.line_feed(None)
    }
}

/// Checks that `text` can still become a valid `field`.
fn check_prefix(field: Field, family: IpFamily, text: &[u8]) -> Result<(), ProxyError> {
    let ok = match (field, family) {
        (Field::SourcePort | Field::DestinationPort, _) => decimal(text, 65535, false).is_some(),
        (_, IpFamily::V4) => ipv4(text, false).is_some(),
        (_, IpFamily::V6) => {
            text.len() <= IPV6_MAX_TEXT
                && text
                    .iter()
                    .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        }
    };
    if ok {
        Ok(())
    } else {
        Err(field_error(field, family))
    }
}

fn whole_address(field: Field, family: IpFamily, text: &[u8]) -> Result<IpAddr, ProxyError> {
    let ip = match family {
        IpFamily::V4 => ipv4(text, true).map(IpAddr::V4),
        // check_prefix let only ASCII through, so this is UTF-8.
        IpFamily::V6 => std::str::from_utf8(text)
            .ok()
            .and_then(|s| s.parse::<Ipv6Addr>().ok())
            .map(IpAddr::V6),
    };
    ip.ok_or(field_error(field, family))
}

fn whole_port(field: Field, text: &[u8]) -> Result<u16, ProxyError> {
    decimal(text, 65535, true)
        .and_then(|n| u16::try_from(n).ok())
        .ok_or(ProxyError::V1Port(field))
}

fn field_error(field: Field, family: IpFamily) -> ProxyError {
    match field {
        Field::SourcePort | Field::DestinationPort => ProxyError::V1Port(field),
        _ => ProxyError::V1Address { field, family },
    }
}

/// A dotted quad of decimal octets without leading zeros; when `whole` is
/// false, any prefix of one (its value then means nothing).
fn ipv4(text: &[u8], whole: bool) -> Option<Ipv4Addr> {
    let parts = text.iter().filter(|&&b| b == b'.').count() + 1;
    if parts > 4 || (whole && parts != 4) {
        return None;
    }
    let mut octets = [0u8; 4];
    for (i, part) in text.split(|&b| b == b'.').enumerate() {
        let complete = whole || i + 1 < parts;
        octets[i] = u8::try_from(decimal(part, 255, complete)?).ok()?;
    }
    Some(Ipv4Addr::from(octets))
}

/// A decimal number at most `max`, without leading zeros (`0` itself is
/// fine); when `complete` is false, any prefix of one.
fn decimal(digits: &[u8], max: u32, complete: bool) -> Option<u32> {
    if digits.is_empty() {
        return (!complete).then_some(0);
    }
    if digits[0] == b'0' && digits.len() > 1 {
        return None;
    }
    let mut value = 0u32;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        // Checked after every digit, so `value` stays below 10 * max.
        value = value * 10 + u32::from(d - b'0');
        if value > max {
            return None;
        }
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_rejects_leading_zeros_signs_and_values_above_max() {
        assert_eq!(decimal(b"0", 255, true), Some(0));
        assert_eq!(decimal(b"255", 255, true), Some(255));
        assert_eq!(decimal(b"256", 255, true), None);
        assert_eq!(decimal(b"01", 255, true), None);
        assert_eq!(decimal(b"+1", 255, true), None);
        assert_eq!(decimal(b"", 255, true), None);
        assert_eq!(decimal(b"", 255, false), Some(0));
        assert_eq!(decimal(b"99999999999999", 65535, false), None);
    }

    #[test]
    fn ipv4_prefixes_are_accepted_only_while_they_can_still_be_valid() {
        for prefix in ["", "1", "1.", "10.0.0", "255.255.255.25", "0.0.0."] {
            assert!(ipv4(prefix.as_bytes(), false).is_some(), "{prefix}");
        }
        for bad in ["256", "1..", "01", "1.2.3.4.", "1.2.3.4.5", "a", "1.2.3.-"] {
            assert!(ipv4(bad.as_bytes(), false).is_none(), "{bad}");
        }
        assert_eq!(ipv4(b"192.0.2.1", true), Some(Ipv4Addr::new(192, 0, 2, 1)));
        for bad in ["1.2.3", "1.2.3.", "1.2.3.04", "1.2.3.4.5", "1.2.3.256"] {
            assert!(ipv4(bad.as_bytes(), true).is_none(), "{bad}");
        }
    }
}

//! The v2 binary header. Owns its layout and rules; the limit on its
//! length comes from [`Limits`].
//!
//! ```text
//! offset 0          12        13        14       16            16+len
//!        ┌──────────┬─────────┬─────────┬────────┬────────────┬──────┐
//!        │ signature│ ver|cmd │fam|proto│ len BE │ addresses  │ TLVs │
//!        │ 12 bytes │ 2 | 0-1 │ 0-3|0-2 │ u16    │ 0/12/36/216│      │
//!        └──────────┴─────────┴─────────┴────────┴────────────┴──────┘
//! TLV: type u8, length u16 BE, value
//! ```
//!
//! Each rule is checked as soon as its byte arrives: the signature byte by
//! byte, version and command at byte 13, family and transport at byte 14,
//! the length against the limit and the family at byte 16, and the TLVs
//! (and a CRC32C among them) once the whole header is here. TLVs are
//! walked only where the family and transport fix where they start
//! (TCP/UDP over IPv4 or IPv6, UNIX stream or datagram); an AF_UNSPEC or
//! transport-UNSPEC body is skipped whole, as the specification asks. The
//! values of TLVs other than CRC32C are not looked into.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::crc32c::Crc32c;
use crate::header::{Addresses, Command, Limits, Parsed, ProxyHeader, Version};
use crate::ProxyError;

/// The 12 bytes every v2 header starts with.
pub const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// The signature, version/command, family/transport and length.
const FIXED: usize = 16;
/// The longest header the 16-bit length field can announce.
pub(crate) const MAX_LEN: usize = FIXED + u16::MAX as usize;
/// The TLV type of a CRC32C of the header.
const PP2_TYPE_CRC32C: u8 = 0x03;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Unspec,
    Inet,
    Inet6,
    Unix,
}

impl Family {
    /// Bytes of addresses (and ports) the family puts after the fixed part.
    fn address_len(self) -> usize {
        match self {
            Family::Unspec => 0,
            Family::Inet => 12,
            Family::Inet6 => 36,
            Family::Unix => 216,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Unspec,
    Stream,
    Dgram,
}

/// Parses a v2 header at the start of `input` (whose first byte is CR).
pub(crate) fn parse(input: &[u8], limits: &Limits) -> Result<Parsed, ProxyError> {
    let signed = input.len().min(SIGNATURE.len());
    if let Some(offset) = (0..signed).find(|&i| input[i] != SIGNATURE[i]) {
        let byte = input[offset];
        return Err(ProxyError::NotProxy { offset, byte });
    }
    let Some(&ver_cmd) = input.get(12) else {
        return Ok(Parsed::Incomplete);
    };
    if ver_cmd >> 4 != 2 {
        return Err(ProxyError::V2Version(ver_cmd >> 4));
    }
    let command = match ver_cmd & 0x0f {
        0 => Command::Local,
        1 => Command::Proxy,
        other => return Err(ProxyError::V2Command(other)),
    };

    let Some(&fam) = input.get(13) else {
        return Ok(Parsed::Incomplete);
    };
    let family = match fam >> 4 {
        0 => Family::Unspec,
        1 => Family::Inet,
        2 => Family::Inet6,
        3 => Family::Unix,
        other => return Err(ProxyError::V2Family(other)),
    };
    let transport = match fam & 0x0f {
        0 => Transport::Unspec,
        1 => Transport::Stream,
        2 => Transport::Dgram,
        other => return Err(ProxyError::V2Transport(other)),
    };
    // LOCAL ignores the family, so a health check may carry any.
    if command == Command::Proxy && transport == Transport::Dgram {
        return Err(ProxyError::V2Datagram);
    }

    let Some(&[hi, lo]) = input.get(14..FIXED) else {
        return Ok(Parsed::Incomplete);
    };
    let body = usize::from(u16::from_be_bytes([hi, lo]));
    let len = FIXED + body;
    if len > limits.max_v2_len {
        let max = limits.max_v2_len;
        return Err(ProxyError::V2TooLong { len, max });
    }
    // Only a listed family and transport pair fixes where the addresses
    // end and the TLVs start. Under AF_UNSPEC or transport UNSPEC the
    // whole body is opaque: the specification lets a sender put address
    // information there that a receiver must ignore (and must accept, for
    // LOCAL over \x00).
    let known = family != Family::Unspec && transport != Transport::Unspec;
    let need = if known { family.address_len() } else { 0 };
    if body < need {
        return Err(ProxyError::V2ShortAddresses { len: body, need });
    }

    let Some(header) = input.get(..len) else {
        return Ok(Parsed::Incomplete);
    };
    if known {
        check_tlvs(header, FIXED + need)?;
    }
    let addresses = match (command, transport) {
        (Command::Proxy, Transport::Stream) => addresses(family, &header[FIXED..]),
        _ => None,
    };
    Ok(Parsed::Done {
        header: ProxyHeader {
            version: Version::V2,
            command,
            addresses,
        },
        len,
    })
}

/// The endpoints of an INET or INET6 address block; `None` for the
/// families whose addresses the server does not use.
fn addresses(family: Family, block: &[u8]) -> Option<Addresses> {
    let (source, destination, ports) = match family {
        Family::Inet => {
            let ip = |at: usize| IpAddr::V4(Ipv4Addr::from(array::<4>(block, at)));
            (ip(0), ip(4), 8)
        }
        Family::Inet6 => {
            let ip = |at: usize| IpAddr::V6(Ipv6Addr::from(array::<16>(block, at)));
            (ip(0), ip(16), 32)
        }
        Family::Unspec | Family::Unix => return None,
    };
    let port = |at: usize| u16::from_be_bytes(array::<2>(block, at));
    Some(Addresses {
        source: SocketAddr::new(source, port(ports)),
        destination: SocketAddr::new(destination, port(ports + 2)),
    })
}

/// `N` bytes of `block` from `at`; the caller checked the block's length
/// against the family.
fn array<const N: usize>(block: &[u8], at: usize) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&block[at..at + N]);
    out
}

/// Walks the TLVs from `start` to the end of `header`, checking that each
/// fits, and verifies a CRC32C TLV if there is one.
fn check_tlvs(header: &[u8], start: usize) -> Result<(), ProxyError> {
    let mut at = start;
    let mut crc_field = None;
    while at < header.len() {
        let Some(&[kind, hi, lo]) = header.get(at..at + 3) else {
            return Err(ProxyError::V2Tlv { offset: at });
        };
        let value = at + 3;
        let end = value + usize::from(u16::from_be_bytes([hi, lo]));
        if end > header.len() {
            return Err(ProxyError::V2Tlv { offset: at });
        }
        if kind == PP2_TYPE_CRC32C {
            if end - value != 4 {
                return Err(ProxyError::V2CrcLength(end - value));
            }
            if crc_field.replace(value).is_some() {
                return Err(ProxyError::V2CrcTwice);
            }
        }
        at = end;
    }
    let Some(field) = crc_field else {
        return Ok(());
    };
    let found = u32::from_be_bytes(array::<4>(header, field));
    let computed = Crc32c::new()
        .update(&header[..field])
        .update(&[0; 4])
        .update(&header[field + 4..])
        .finish();
    if found == computed {
        Ok(())
    } else {
        Err(ProxyError::V2CrcMismatch { found, computed })
    }
}

//! Why a PROXY protocol header was rejected. Owns the causes and their
//! sentences; it does not decide what happens next (the layer fails, and
//! the connection closes).

use std::fmt;

use sockmux_engine::LayerError;
use thiserror::Error;

/// One cause of a malformed or refused PROXY protocol header.
///
/// Every variant is final: more bytes never turn it into a valid header,
/// and the same bytes give the same error however they were split.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The first bytes are neither `PROXY ` (v1) nor the v2 signature.
    #[error("the connection does not open with a PROXY protocol header (byte {byte:#04x} at offset {offset})")]
    NotProxy {
        /// Where the first unexpected byte is.
        offset: usize,
        /// The unexpected byte.
        byte: u8,
    },
    /// No CRLF within the first 107 bytes of a v1 line.
    #[error("the PROXY v1 line has no CRLF within {max} bytes")]
    V1TooLong {
        /// The longest line allowed, CRLF included.
        max: usize,
    },
    /// A CR in a v1 line is not followed by LF.
    #[error("the PROXY v1 line has a CR that is not followed by LF")]
    V1BareCr,
    /// An LF in a v1 line does not follow a CR.
    #[error("the PROXY v1 line has an LF that does not follow a CR")]
    V1BareLf,
    /// The v1 protocol is not `TCP4`, `TCP6` or `UNKNOWN`.
    #[error("the PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN")]
    V1Protocol,
    /// A v1 field is empty: two spaces in a row, or a space before the CRLF.
    #[error("the PROXY v1 fields are not separated by exactly one space")]
    V1Separator,
    /// The v1 line ends before one of its fields.
    #[error("the PROXY v1 line ends before the {0}")]
    V1Missing(Field),
    /// The v1 line goes on after the destination port.
    #[error("the PROXY v1 line goes on after the destination port")]
    V1Trailing,
    /// A v1 address is not in the form its protocol dictates.
    #[error("the PROXY v1 {field} is not a valid {family} address")]
    V1Address {
        /// Which address.
        field: Field,
        /// The family the protocol (`TCP4` or `TCP6`) dictates.
        family: IpFamily,
    },
    /// A v1 port is not a decimal number 0-65535 without leading zeros.
    #[error("the PROXY v1 {0} is not a decimal number 0-65535 without leading zeros")]
    V1Port(Field),
    /// The v2 version nibble is not 2.
    #[error("the PROXY v2 version is {0}, not 2")]
    V2Version(u8),
    /// The v2 command is neither LOCAL (0) nor PROXY (1).
    #[error("the PROXY v2 command {0:#x} is neither LOCAL (0) nor PROXY (1)")]
    V2Command(u8),
    /// The v2 address family is not one the specification assigns.
    #[error("the PROXY v2 address family {0:#x} is unassigned")]
    V2Family(u8),
    /// The v2 transport protocol is not one the specification assigns.
    #[error("the PROXY v2 transport protocol {0:#x} is unassigned")]
    V2Transport(u8),
    /// A v2 PROXY command forwards a datagram (UDP) connection, which a
    /// stream server cannot stand in for.
    #[error("the PROXY v2 header forwards a datagram connection to a stream server")]
    V2Datagram,
    /// The v2 header announces more bytes than [`Limits::max_v2_len`](crate::Limits::max_v2_len).
    #[error("the PROXY v2 header is {len} bytes, above the limit of {max}")]
    V2TooLong {
        /// Announced length of the whole header, the 16 fixed bytes included.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// The v2 header is too short to hold the addresses its family needs.
    #[error(
        "the PROXY v2 header has {len} bytes after the fixed part; its address family needs {need}"
    )]
    V2ShortAddresses {
        /// Bytes announced after the 16 fixed bytes.
        len: usize,
        /// Bytes the address family takes.
        need: usize,
    },
    /// A v2 TLV does not fit in the rest of the header.
    #[error("the PROXY v2 TLV at offset {offset} runs past the end of the header")]
    V2Tlv {
        /// Where the TLV starts, from the start of the header.
        offset: usize,
    },
    /// A v2 CRC32C TLV whose value is not 4 bytes.
    #[error("the PROXY v2 CRC32C TLV has {0} bytes of value, not 4")]
    V2CrcLength(usize),
    /// More than one v2 CRC32C TLV.
    #[error("the PROXY v2 header has more than one CRC32C TLV")]
    V2CrcTwice,
    /// The v2 CRC32C TLV does not match the header.
    #[error(
        "the PROXY v2 header's CRC32C is {found:#010x}, but the header sums to {computed:#010x}"
    )]
    V2CrcMismatch {
        /// The checksum the header carries.
        found: u32,
        /// The checksum of the header with that field zeroed.
        computed: u32,
    },
}

impl From<ProxyError> for LayerError {
    fn from(e: ProxyError) -> Self {
        LayerError(e.to_string())
    }
}

/// A field of a v1 line, to say which one is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The layer 3 source address.
    SourceAddress,
    /// The layer 3 destination address.
    DestinationAddress,
    /// The TCP source port.
    SourcePort,
    /// The TCP destination port.
    DestinationPort,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::SourceAddress => "source address",
            Field::DestinationAddress => "destination address",
            Field::SourcePort => "source port",
            Field::DestinationPort => "destination port",
        })
    }
}

/// An IP address family, as a v1 protocol names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpFamily {
    /// `TCP4`.
    V4,
    /// `TCP6`.
    V6,
}

impl fmt::Display for IpFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IpFamily::V4 => "IPv4",
            IpFamily::V6 => "IPv6",
        })
    }
}

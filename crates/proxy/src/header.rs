//! What a PROXY protocol header says, the limits a parser enforces, and the
//! one entry point that tells v1 from v2 by the first byte. Owns the
//! result types; the version-specific rules live in `v1` and `v2`.

use std::net::SocketAddr;

use crate::{v1, v2, ProxyError};

/// Bounds a parser enforces before its caller buffers anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest v2 header accepted, in bytes, the 16 fixed bytes included.
    /// Default: 512, room for IPv6 addresses (36 bytes) or UNIX ones (216)
    /// with a few hundred bytes of TLVs. A header announcing more is
    /// rejected as soon as its length field arrives, before its body is
    /// buffered. (v1 lines have their own bound, [`V1_MAX_LEN`], fixed by
    /// the specification.)
    pub max_v2_len: usize,
}

impl Limits {
    /// Default for [`Limits::max_v2_len`].
    pub const DEFAULT_MAX_V2_LEN: usize = 512;

    /// The most bytes a caller ever holds before [`parse`] decides: a
    /// parse of this many bytes is never [`Parsed::Incomplete`].
    pub fn preamble_cap(&self) -> usize {
        self.max_v2_len.clamp(V1_MAX_LEN, v2::MAX_LEN)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_v2_len: Self::DEFAULT_MAX_V2_LEN,
        }
    }
}

/// The longest v1 line, CRLF included (`PROXY UNKNOWN` with two IPv6
/// addresses and two ports, in the specification's words).
pub const V1_MAX_LEN: usize = 107;

/// Which version of the protocol the header used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// The text line, `PROXY TCP4 …\r\n`.
    V1,
    /// The binary header with the 12-byte signature.
    V2,
}

/// What the proxy says the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// v2 LOCAL: the proxy opened the connection itself (a health check);
    /// the socket's endpoints are the real ones.
    Local,
    /// The proxy relays a connection on behalf of a client (every v1
    /// line, and v2 PROXY).
    Proxy,
}

/// The original endpoints of a relayed connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addresses {
    /// The client, as the proxy saw it.
    pub source: SocketAddr,
    /// The address the client connected to.
    pub destination: SocketAddr,
}

/// A whole, valid PROXY protocol header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyHeader {
    /// v1 or v2.
    pub version: Version,
    /// LOCAL or PROXY.
    pub command: Command,
    /// The original endpoints, or `None` when the socket's own endpoints
    /// are the ones to use: a v2 LOCAL command, a v1 `UNKNOWN` line, or a
    /// v2 family or transport the server does not model (AF_UNSPEC,
    /// AF_UNIX, transport UNSPEC), whose addresses the specification says
    /// to ignore.
    pub addresses: Option<Addresses>,
}

impl ProxyHeader {
    /// The client's address, when the header gives one.
    pub fn source(&self) -> Option<SocketAddr> {
        self.addresses.map(|a| a.source)
    }

    /// The address the client connected to, when the header gives one.
    pub fn destination(&self) -> Option<SocketAddr> {
        self.addresses.map(|a| a.destination)
    }
}

/// The outcome of [`parse`] on the bytes so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// Every byte so far can start a valid header; more are needed.
    Incomplete,
    /// A whole header.
    Done {
        /// What it says.
        header: ProxyHeader,
        /// Its length in bytes: what follows belongs to the connection.
        len: usize,
    },
}

/// Parses the PROXY protocol header at the start of `input`.
///
/// Decides as early as the bytes allow and never guesses: an input that
/// cannot be the start of a valid header is an error at once, and one that
/// still can is [`Parsed::Incomplete`]. The result depends only on the
/// bytes, never on how they were split: if a prefix of `input` gives an
/// error or a header, `input` gives the same one. At most
/// [`Limits::preamble_cap`] bytes are ever looked at.
///
/// ```
/// use sockmux_proxy::{parse, Limits, Parsed};
///
/// let wire = b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\nhello";
/// let Parsed::Done { header, len } = parse(wire, &Limits::default())? else {
///     panic!("a whole header");
/// };
/// assert_eq!(header.source(), Some("192.0.2.1:56324".parse().unwrap()));
/// assert_eq!(&wire[len..], b"hello");
///
/// assert_eq!(parse(b"PROXY TC", &Limits::default())?, Parsed::Incomplete);
/// assert!(parse(b"GET / HTTP/1.1\r\n", &Limits::default()).is_err());
/// # Ok::<(), sockmux_proxy::ProxyError>(())
/// ```
pub fn parse(input: &[u8], limits: &Limits) -> Result<Parsed, ProxyError> {
    match input.first() {
        None => Ok(Parsed::Incomplete),
        Some(b'P') => v1::parse(input),
        Some(&b) if b == v2::SIGNATURE[0] => v2::parse(input, limits),
        Some(&byte) => Err(ProxyError::NotProxy { offset: 0, byte }),
    }
}

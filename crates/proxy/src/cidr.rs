//! IP networks in CIDR notation and lists of them: which peers may send a
//! PROXY header (`--proxy-from`) or connect at all (`--allow`). Owns the
//! notation and the membership test; it does not decide what a caller does
//! with a peer that is not in the list.
//!
//! An IPv4-mapped IPv6 address (`::ffff:10.1.2.3`, what a dual-stack socket
//! reports for an IPv4 peer) is the same host as its IPv4 address, so it
//! matches IPv4 networks, and an IPv4 address matches IPv6 networks that
//! contain its mapped form.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use thiserror::Error;

/// Why a network or a list of networks did not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CidrError {
    /// The part before `/` is not an IP address.
    #[error("{0:?} is not an IP address")]
    Address(String),
    /// The prefix length is not a decimal number within the family's bits.
    #[error("{text:?} is not a prefix length from 0 to {max}")]
    Prefix {
        /// The text after `/`.
        text: String,
        /// 32 for IPv4, 128 for IPv6.
        max: u8,
    },
    /// The address has bits set past the prefix (`10.1.0.0/8`): a typo for
    /// a longer prefix or for the network address, and this does not guess.
    #[error("{0} has host bits set; write the network address")]
    HostBits(String),
    /// A list with an empty item (`a,,b`, or nothing at all).
    #[error("the network list has an empty item")]
    Empty,
}

/// An IPv4 or IPv6 network: an address and a prefix length.
///
/// Parses from `10.0.0.0/8`, `2001:db8::/32`, or a bare address, which is
/// a single host (`/32` or `/128`).
///
/// ```
/// use sockmux_proxy::Cidr;
///
/// let net: Cidr = "10.0.0.0/8".parse()?;
/// assert!(net.contains("10.200.0.1".parse().unwrap()));
/// assert!(net.contains("::ffff:10.200.0.1".parse().unwrap()));
/// assert!(!net.contains("11.0.0.1".parse().unwrap()));
/// # Ok::<(), sockmux_proxy::CidrError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// The network with the given address and prefix length, if the
    /// prefix fits the family and no host bit is set.
    pub fn new(network: IpAddr, prefix: u8) -> Option<Self> {
        let max = max_prefix(network);
        let fits = prefix <= max && bits(network) & !mask(prefix, max) == 0;
        fits.then_some(Self { network, prefix })
    }

    /// The network address.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length in bits.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is in this network (an IPv4-mapped IPv6 address counts
    /// as its IPv4 address, and the other way round).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match (self.network, ip) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            (IpAddr::V6(_), IpAddr::V4(v4)) => IpAddr::V6(v4.to_ipv6_mapped()),
            _ => ip,
        };
        let max = max_prefix(self.network);
        bits(ip) & mask(self.prefix, max) == bits(self.network)
    }
}

fn max_prefix(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// The address as a number, right-aligned.
fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// The network mask of `prefix` bits in an address of `max` bits.
fn mask(prefix: u8, max: u8) -> u128 {
    let all = u128::MAX >> (128 - u32::from(max));
    let host = all.checked_shr(u32::from(prefix)).unwrap_or(0);
    all & !host
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (address, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| CidrError::Address(address.to_string()))?;
        let max = max_prefix(network);
        let prefix = match prefix {
            None => max,
            Some(text) => parse_prefix(text, max).ok_or_else(|| CidrError::Prefix {
                text: text.to_string(),
                max,
            })?,
        };
        Cidr::new(network, prefix).ok_or_else(|| CidrError::HostBits(s.to_string()))
    }
}

/// A decimal prefix length without sign or leading zeros, at most `max`.
fn parse_prefix(text: &str, max: u8) -> Option<u8> {
    let digits_only = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits_only || (text.len() > 1 && text.starts_with('0')) || text.len() > 3 {
        return None;
    }
    text.parse::<u8>().ok().filter(|&p| p <= max)
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl From<Ipv4Addr> for Cidr {
    /// The single host.
    fn from(ip: Ipv4Addr) -> Self {
        Self {
            network: IpAddr::V4(ip),
            prefix: 32,
        }
    }
}

impl From<Ipv6Addr> for Cidr {
    /// The single host.
    fn from(ip: Ipv6Addr) -> Self {
        Self {
            network: IpAddr::V6(ip),
            prefix: 128,
        }
    }
}

/// A set of networks; an address is in the list when any network holds it.
///
/// Parses from a comma-separated list (`10.0.0.0/8, ::1`); spaces around
/// items are ignored. Lists are short (a few trusted proxies), so
/// membership is a linear scan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CidrList {
    nets: Vec<Cidr>,
}

impl CidrList {
    /// The empty list, which holds no address.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a network.
    pub fn push(&mut self, net: Cidr) {
        self.nets.push(net);
    }

    /// Whether any network in the list holds `ip`.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|net| net.contains(ip))
    }

    /// The networks, in the order they were given.
    pub fn networks(&self) -> &[Cidr] {
        &self.nets
    }

    /// Whether the list has no network.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }
}

impl FromIterator<Cidr> for CidrList {
    fn from_iter<I: IntoIterator<Item = Cidr>>(iter: I) -> Self {
        Self {
            nets: iter.into_iter().collect(),
        }
    }
}

impl Extend<Cidr> for CidrList {
    fn extend<I: IntoIterator<Item = Cidr>>(&mut self, iter: I) {
        self.nets.extend(iter);
    }
}

impl FromStr for CidrList {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split(',')
            .map(|item| match item.trim() {
                "" => Err(CidrError::Empty),
                item => item.parse(),
            })
            .collect()
    }
}

impl fmt::Display for CidrList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, net) in self.nets.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{net}")?;
        }
        Ok(())
    }
}

//! The HOST argument: checking it on the command line and resolving it
//! (with the port) to the addresses a server binds or a client connects
//! to. Owns name resolution and the choice among several addresses; the
//! client library takes `SocketAddr`s and never resolves names.

use std::fmt;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use sockmux_client::ClientError;

/// A host name or IP literal given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host(String);

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// clap value parser for HOST. A lone number is refused: the resolver would
/// read `43500` as the IPv4 address 0.0.169.236, when the user meant a port.
pub fn parse(text: &str) -> Result<Host, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "a lone number is not a host; to use port {text}, give the host first: \
             127.0.0.1 {text}"
        ));
    }
    Ok(Host(text.to_owned()))
}

impl Host {
    /// The name without the brackets of an IPv6 literal: what is resolved,
    /// and what a TLS client checks the server's certificate against.
    pub fn bare(&self) -> &str {
        self.0.trim_start_matches('[').trim_end_matches(']')
    }
}

impl From<std::net::IpAddr> for Host {
    fn from(ip: std::net::IpAddr) -> Self {
        Self(ip.to_string())
    }
}

/// A server's first argument: a host, or (a lone number) the port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostOrPort {
    /// A host name or IP literal.
    Host(Host),
    /// A port, on the default address.
    Port(u16),
}

/// clap value parser for a server's first argument: a lone number is the
/// port (`sockmux app-server 43500`), anything else a host.
pub fn parse_or_port(text: &str) -> Result<HostOrPort, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return crate::parse::server_port(text).map(HostOrPort::Port);
    }
    parse(text).map(HostOrPort::Host)
}

/// Every address `host` resolves to, in the resolver's order. An IP
/// literal (IPv6 with or without brackets) resolves to itself without
/// asking the resolver.
pub fn resolve(host: &Host, port: u16) -> Result<Vec<SocketAddr>, ClientError> {
    let name = host.0.as_str();
    if let Ok(ip) = host.bare().parse() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> = (name, port)
        .to_socket_addrs()
        .map_err(|source| ClientError::Resolve {
            host: name.to_owned(),
            source,
        })?
        .collect();
    if addrs.is_empty() {
        return Err(ClientError::NoAddress {
            host: name.to_owned(),
        });
    }
    Ok(addrs)
}

/// The one address a many-connection client should use for `host`.
///
/// A name such as `localhost` often resolves to `::1` and `127.0.0.1` while
/// the server listens on only one of them, so when there are several
/// addresses each is tried with one short connection, and the first that
/// accepts wins. A single address is returned as is, without a connection:
/// the caller's own connections report whether it works.
pub fn resolve_one(host: &Host, port: u16, timeout: Duration) -> Result<SocketAddr, ClientError> {
    let addrs = resolve(host, port)?;
    if let [only] = addrs.as_slice() {
        return Ok(*only);
    }
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(_) => return Ok(addr),
            Err(source) => last = Some(ClientError::Connect { addr, source }),
        }
    }
    // `resolve` never returns an empty list, and one address returned above.
    Err(last.unwrap_or_else(|| ClientError::NoAddress {
        host: host.0.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(text: &str) -> Host {
        parse(text).expect("a valid host")
    }

    #[test]
    fn ip_literals_resolve_to_themselves() {
        assert_eq!(
            resolve(&host("127.0.0.1"), 7).expect("literal"),
            [SocketAddr::from(([127, 0, 0, 1], 7))]
        );
        assert_eq!(
            resolve(&host("[::1]"), 7).expect("literal"),
            ["[::1]:7".parse::<SocketAddr>().expect("addr")]
        );
    }

    #[test]
    fn a_lone_number_is_refused_with_a_hint() {
        let err = parse("43500").expect_err("a port, not a host");
        assert!(err.contains("127.0.0.1 43500"), "{err}");
        assert!(parse("host1").is_ok());
        assert!(parse("::1").is_ok());
    }
}

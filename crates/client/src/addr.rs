//! Turning a host and a port into the address a client connects to. Owns
//! name resolution and the choice among several addresses; it does not
//! keep connections (the clients do).

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::ClientError;

/// Every address `host` resolves to, in the resolver's order. An IP
/// literal (IPv6 with or without brackets) resolves to itself without
/// asking the resolver.
pub fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, ClientError> {
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|source| ClientError::Resolve {
            host: host.to_owned(),
            source,
        })?
        .collect();
    if addrs.is_empty() {
        return Err(ClientError::NoAddress {
            host: host.to_owned(),
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
pub fn resolve_one(host: &str, port: u16, timeout: Duration) -> Result<SocketAddr, ClientError> {
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
    // `addrs` had at least two entries, so `last` is set.
    Err(last.unwrap_or_else(|| ClientError::NoAddress {
        host: host.to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_literals_resolve_to_themselves() {
        assert_eq!(
            resolve("127.0.0.1", 7).expect("literal"),
            [SocketAddr::from(([127, 0, 0, 1], 7))]
        );
        assert_eq!(
            resolve("[::1]", 7).expect("literal"),
            ["[::1]:7".parse::<SocketAddr>().expect("addr")]
        );
    }
}

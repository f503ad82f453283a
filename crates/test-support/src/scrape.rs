//! Reading a server's `--metrics` endpoint from a test: its address (the
//! line after `listening on`), a plain HTTP/1.1 GET, and one sample of the
//! Prometheus text.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use crate::{Server, WAIT};

/// The metrics address `server` printed as its second line.
pub fn metrics_addr(server: &mut Server) -> SocketAddr {
    let line = server.next_stdout_line().expect("a second line");
    line.strip_prefix("metrics on ")
        .unwrap_or_else(|| panic!("unexpected second line {line:?}"))
        .parse()
        .expect("an address")
}

/// `GET path` over HTTP/1.1; the status line and the body.
pub fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("reply");
    let (head, body) = reply.split_once("\r\n\r\n").expect("a head and a body");
    (
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    )
}

/// The value of the sample named exactly `sample` (labels included).
pub fn value(body: &str, sample: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
}

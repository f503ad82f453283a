//! Plain sockets for tests: a connected stream whose reads and writes cannot
//! hang, and a port nothing listens on. Knows nothing of any protocol.

use std::net::{SocketAddr, TcpListener, TcpStream};

use crate::WAIT;

/// Connects to `addr`, with [`WAIT`] as the connect, read and write timeout.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, WAIT)
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream.set_read_timeout(Some(WAIT)).expect("read timeout");
    stream.set_write_timeout(Some(WAIT)).expect("write timeout");
    stream
}

/// A port on 127.0.0.1 that nothing listened on a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

//! One TCP stream with its readiness: reads and writes that say what
//! happened instead of returning `WouldBlock` errors to sort out.

use std::io;
use std::net::{Shutdown, SocketAddr};

use mio::event::Event;
use mio::net::TcpStream;

/// Whether a short read proves the socket drained. With epoll and kqueue
/// (edge-triggered, mio's selectors on these systems) it does, which saves
/// the read that would only say `WouldBlock`; level-triggered or emulated
/// selectors give no such guarantee. The same platforms tokio trusts.
const SHORT_READ_DRAINS: bool = cfg!(any(
    target_os = "android",
    target_os = "illumos",
    target_os = "linux",
    target_os = "redox",
    target_os = "dragonfly",
    target_os = "freebsd",
    target_os = "ios",
    target_os = "macos",
    target_os = "netbsd",
    target_os = "openbsd",
));

/// What one read or write did.
#[derive(Debug)]
pub enum Io {
    /// This many bytes (never 0) were read or written.
    Data(usize),
    /// The peer closed its side: nothing more will be read.
    Eof,
    /// The socket has nothing to read, or no room to write, until its next
    /// readiness event.
    Blocked,
    /// The socket failed (reset, broken pipe, ...): drop it.
    Failed(io::Error),
}

/// A non-blocking TCP stream and the readiness not yet used up by a
/// `WouldBlock`.
///
/// Readiness is edge-triggered: an event says "something changed", and the
/// flags stay set until a read or write finds the socket blocked. Calls
/// return [`Io::Blocked`] without a syscall while the flag is clear.
#[derive(Debug)]
pub struct Stream {
    socket: TcpStream,
    readable: bool,
    writable: bool,
    /// The peer hung up: read until EOF even after a short read, since no
    /// further event will come.
    read_hup: bool,
    connecting: bool,
}

impl Stream {
    /// A stream just accepted. It is taken as readable (the request usually
    /// arrives with the handshake, so reading before registering often
    /// serves it at once) and writable (its send buffer is empty).
    pub fn accepted(socket: TcpStream) -> Self {
        Self {
            socket,
            readable: true,
            writable: true,
            read_hup: false,
            connecting: false,
        }
    }

    /// Starts a non-blocking connect to `addr`; [`Stream::poll_connect`]
    /// says when it completed.
    pub fn connect(addr: SocketAddr) -> io::Result<Self> {
        Ok(Self {
            socket: TcpStream::connect(addr)?,
            readable: false,
            writable: false,
            read_hup: false,
            connecting: true,
        })
    }

    /// The socket, to register with a `Poll`.
    pub fn socket_mut(&mut self) -> &mut TcpStream {
        &mut self.socket
    }

    /// The socket, for options and addresses.
    pub fn socket(&self) -> &TcpStream {
        &self.socket
    }

    /// Folds a readiness event for this stream into its flags.
    /// (`|`, not `||`: each test is one bit of the event, cheaper to read
    /// than to branch on, and this runs for every event.)
    #[inline]
    pub fn on_event(&mut self, event: &Event) {
        let (error, read_closed) = (event.is_error(), event.is_read_closed());
        self.readable |= event.is_readable() | read_closed | error;
        self.writable |= event.is_writable() | event.is_write_closed() | error;
        self.read_hup |= read_closed | error;
    }

    /// Whether a read may find data (or EOF) without waiting for an event.
    pub fn is_readable(&self) -> bool {
        self.readable
    }

    /// Whether a write may find room without waiting for an event.
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// Completes a non-blocking connect: `None` while it is in progress,
    /// `Some(Ok(()))` once connected (at once for an accepted stream), or
    /// the error that ended it. Small request-response traffic should not
    /// wait for Nagle, so a connected stream gets `TCP_NODELAY`.
    pub fn poll_connect(&mut self) -> Option<io::Result<()>> {
        if !self.connecting {
            return Some(Ok(()));
        }
        if !self.readable && !self.writable {
            return None;
        }
        match self.socket.take_error() {
            Ok(Some(e)) | Err(e) => return Some(Err(e)),
            Ok(None) => {}
        }
        // A spurious wake-up before the handshake finished: wait for the
        // next event (mio's documented way to tell).
        match self.socket.peer_addr() {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                self.readable = false;
                self.writable = false;
                return None;
            }
            Err(e) => return Some(Err(e)),
        }
        self.connecting = false;
        Some(self.socket.set_nodelay(true))
    }

    /// One read into `buf` (not empty), retrying `EINTR`.
    pub fn read(&mut self, buf: &mut [u8]) -> Io {
        if !self.readable || self.connecting {
            return Io::Blocked;
        }
        loop {
            match rustix::net::recv(&self.socket, &mut *buf, rustix::net::RecvFlags::empty()) {
                Ok((0, _)) => {
                    self.readable = false;
                    return Io::Eof;
                }
                Ok((n, _)) => {
                    if SHORT_READ_DRAINS && n < buf.len() && !self.read_hup {
                        self.readable = false;
                    }
                    return Io::Data(n);
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::WOULDBLOCK) => {
                    self.readable = false;
                    return Io::Blocked;
                }
                Err(e) => return Io::Failed(e.into()),
            }
        }
    }

    /// One write of `data` (not empty), retrying `EINTR`. A peer that went
    /// away is an error, never a `SIGPIPE` (`MSG_NOSIGNAL`), even in a host
    /// program that did not ignore the signal.
    pub fn write(&mut self, data: &[u8]) -> Io {
        if !self.writable || self.connecting {
            return Io::Blocked;
        }
        loop {
            match rustix::net::send(&self.socket, data, rustix::net::SendFlags::NOSIGNAL) {
                Ok(0) => return Io::Failed(io::ErrorKind::WriteZero.into()),
                Ok(n) => return Io::Data(n),
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::WOULDBLOCK) => {
                    self.writable = false;
                    return Io::Blocked;
                }
                Err(e) => return Io::Failed(e.into()),
            }
        }
    }

    /// Sends a FIN: the peer reads EOF after what was written.
    pub fn shutdown_write(&self) -> io::Result<()> {
        self.socket.shutdown(Shutdown::Write)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    /// A connected pair: our `Stream` (accepted side) and a blocking peer.
    fn pair() -> (Stream, std::net::TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (socket, _) = listener.accept().unwrap();
        socket.set_nonblocking(true).unwrap();
        (Stream::accepted(TcpStream::from_std(socket)), peer)
    }

    #[test]
    fn reads_data_then_blocks_then_sees_eof() {
        let (mut stream, mut peer) = pair();
        let mut buf = [0u8; 64];
        // Nothing sent yet: the first read finds the socket empty and
        // clears readiness, so the next call makes no syscall.
        assert!(matches!(stream.read(&mut buf), Io::Blocked));
        assert!(!stream.is_readable());
        assert!(matches!(stream.read(&mut buf), Io::Blocked));

        peer.write_all(b"hello").unwrap();
        peer.shutdown(Shutdown::Write).unwrap();
        // As a readiness event would: hung up, so read on to EOF.
        stream.readable = true;
        stream.read_hup = true;
        let mut got = Vec::new();
        loop {
            match stream.read(&mut buf) {
                Io::Data(n) => got.extend_from_slice(&buf[..n]),
                Io::Eof => break,
                Io::Blocked => std::thread::yield_now(),
                Io::Failed(e) => panic!("{e}"),
            }
        }
        assert_eq!(got, b"hello");
    }

    #[test]
    fn short_read_clears_readiness_when_the_platform_allows() {
        let (mut stream, mut peer) = pair();
        peer.write_all(b"abc").unwrap();
        let mut buf = [0u8; 64];
        let mut n = 0;
        while n == 0 {
            stream.readable = true;
            if let Io::Data(k) = stream.read(&mut buf) {
                n = k;
            }
        }
        assert_eq!(&buf[..n], &b"abc"[..n]);
        assert_eq!(stream.is_readable(), !SHORT_READ_DRAINS);
    }

    #[test]
    fn writes_until_the_peer_stops_reading_then_blocks() {
        let (mut stream, mut peer) = pair();
        let chunk = vec![7u8; 64 * 1024];
        let mut sent = 0usize;
        while let Io::Data(n) = stream.write(&chunk) {
            sent += n;
            assert!(sent < 1 << 30, "the socket never filled");
        }
        assert!(!stream.is_writable());
        let mut got = vec![0u8; sent];
        peer.read_exact(&mut got).unwrap();
        assert!(got.iter().all(|&b| b == 7));
    }

    #[test]
    fn a_write_to_a_reset_peer_fails_without_sigpipe() {
        let (mut stream, peer) = pair();
        rustix::net::sockopt::set_socket_linger(&peer, Some(std::time::Duration::ZERO)).unwrap();
        drop(peer);
        let data = [1u8; 1024];
        let failed = (0..1000).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(1));
            stream.writable = true;
            matches!(stream.write(&data), Io::Failed(_))
        });
        assert!(failed, "writing to a reset connection never failed");
    }
}

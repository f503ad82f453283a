//! One simulated TCP connection: two bounded byte queues standing for the
//! kernel's send and receive buffers (so a peer that does not read pushes
//! back on the server), FIN and RST in either direction, and the server
//! side's edge-triggered readiness, modelled on `sockmux_net::Stream`.
//! [`ServerSocket`] is the server's view, the engine's [`Socket`]; the
//! peer's side is the `peer_*` methods. It owns no policy.

use std::collections::VecDeque;

use sockmux_engine::{Socket, Transfer};

use crate::rng::Rng;

/// One direction's bytes in flight, bounded like a kernel buffer.
#[derive(Debug)]
pub struct Pipe {
    data: VecDeque<u8>,
    cap: usize,
    /// The writer shut its side down: EOF after `data`.
    fin: bool,
}

impl Pipe {
    fn new(cap: usize) -> Self {
        Self {
            data: VecDeque::new(),
            cap,
            fin: false,
        }
    }

    fn push(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(self.cap - self.data.len());
        self.data.extend(&bytes[..n]);
        n
    }

    fn pop_into(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.data.len());
        for (slot, byte) in buf.iter_mut().zip(self.data.drain(..n)) {
            *slot = byte;
        }
        n
    }

    /// Bytes waiting to be read.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// What a peer's read found.
#[derive(Debug, PartialEq, Eq)]
pub enum PeerRead {
    /// Bytes from the server.
    Data(Vec<u8>),
    /// Nothing yet.
    Nothing,
    /// The server closed cleanly: everything it sent has been read.
    Eof,
    /// The connection was reset; what was unread is lost.
    Reset,
}

/// Both directions of one connection and the server side's readiness.
#[derive(Debug)]
pub struct Link {
    /// Peer to server.
    pub up: Pipe,
    /// Server to peer.
    pub down: Pipe,
    /// The peer reset the connection.
    peer_reset: bool,
    /// The peer is gone (closed its socket).
    peer_gone: bool,
    /// The server dropped its socket.
    pub server_closed: bool,
    /// The server's close (or a write to it after) reset the connection.
    server_reset: bool,
    readable: bool,
    writable: bool,
    read_hup: bool,
    /// Readiness changes not yet reported to the server (epoll events).
    read_edge: bool,
    write_edge: bool,
    /// Reads the server made in the current turn.
    pub reads: usize,
}

impl Link {
    /// A just-accepted connection: readable and writable, as
    /// `Stream::accepted` takes it.
    pub fn new(up_cap: usize, down_cap: usize) -> Self {
        Self {
            up: Pipe::new(up_cap.max(1)),
            down: Pipe::new(down_cap.max(1)),
            peer_reset: false,
            peer_gone: false,
            server_closed: false,
            server_reset: false,
            readable: true,
            writable: true,
            read_hup: false,
            read_edge: false,
            write_edge: false,
            reads: 0,
        }
    }

    fn is_reset(&self) -> bool {
        self.peer_reset || self.server_reset
    }

    /// The peer writes what fits of `bytes`; `None` if the connection is
    /// reset (writing to a closed server resets it, as TCP does).
    pub fn peer_write(&mut self, bytes: &[u8]) -> Option<usize> {
        if self.server_closed {
            self.server_reset = true;
        }
        if self.is_reset() || self.up.fin {
            return None;
        }
        let n = self.up.push(bytes);
        self.read_edge |= n > 0;
        Some(n)
    }

    /// The peer reads up to `max` bytes.
    pub fn peer_read(&mut self, max: usize) -> PeerRead {
        if self.is_reset() {
            return PeerRead::Reset;
        }
        if !self.down.is_empty() {
            let mut buf = vec![0; max.min(self.down.len())];
            let n = self.down.pop_into(&mut buf);
            buf.truncate(n);
            self.write_edge |= !self.writable;
            return PeerRead::Data(buf);
        }
        if self.down.fin || self.server_closed {
            PeerRead::Eof
        } else {
            PeerRead::Nothing
        }
    }

    /// The peer half-closes: the server reads EOF after what was sent.
    pub fn peer_fin(&mut self) {
        self.up.fin = true;
        self.read_edge = true;
    }

    /// The peer resets the connection.
    pub fn peer_reset(&mut self) {
        self.peer_reset = true;
        self.read_edge = true;
        self.write_edge = true;
    }

    /// The peer closes its socket. Unread bytes from the server turn the
    /// close into a reset, as they do in TCP.
    pub fn peer_close(&mut self) {
        self.peer_gone = true;
        if self.down.is_empty() {
            self.peer_fin();
        } else {
            self.peer_reset();
        }
    }

    /// Delivers pending readiness to the server side, as an epoll event
    /// folded by `Stream::on_event`; `false` if there was none.
    pub fn take_event(&mut self) -> bool {
        if !(self.read_edge || self.write_edge) {
            return false;
        }
        self.readable |= self.read_edge || self.peer_reset;
        self.writable |= self.write_edge || self.peer_reset;
        self.read_hup |= self.up.fin || self.peer_reset;
        self.read_edge = false;
        self.write_edge = false;
        true
    }

    /// Whether the server could read something now if it tried, and knows
    /// it (readiness reported and not used up).
    pub fn has_ready_input(&self) -> bool {
        self.readable && (!self.up.is_empty() || self.up.fin || self.peer_reset)
    }

    /// The server dropped its socket. Unread input turns the close into a
    /// reset, which destroys what the peer has not read yet: the reason
    /// the engine lingers.
    pub fn server_close(&mut self) {
        self.server_closed = true;
        if !self.up.is_empty() {
            self.server_reset = true;
        }
    }
}

/// The server side of a [`Link`], as the engine's scheduling sees it.
#[derive(Debug)]
pub struct ServerSocket<'a> {
    /// The connection.
    pub link: &'a mut Link,
    /// Draws partial writes.
    pub rng: &'a mut Rng,
}

impl Socket for ServerSocket<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Transfer {
        let link = &mut *self.link;
        if !link.readable {
            return Transfer::Blocked;
        }
        link.reads += 1;
        if link.is_reset() {
            return Transfer::Failed;
        }
        let n = link.up.pop_into(buf);
        if n == 0 {
            link.readable = false;
            return if link.up.fin {
                Transfer::Eof
            } else {
                Transfer::Blocked
            };
        }
        // A short read drained the socket (the kernel returns what it
        // has), so readiness is used up unless the peer hung up.
        if n < buf.len() && !link.read_hup {
            link.readable = false;
        }
        Transfer::Data(n)
    }

    fn write(&mut self, data: &[u8]) -> Transfer {
        let link = &mut *self.link;
        if link.is_reset() || link.peer_gone {
            return Transfer::Failed;
        }
        if !link.writable {
            return Transfer::Blocked;
        }
        // The kernel may take less than there is room for.
        let offer = if self.rng.one_in(4) {
            self.rng.range(1, data.len())
        } else {
            data.len()
        };
        let n = link.down.push(&data[..offer]);
        if n == 0 {
            link.writable = false;
            return Transfer::Blocked;
        }
        Transfer::Data(n)
    }

    fn is_readable(&self) -> bool {
        self.link.readable
    }

    fn shutdown_write(&mut self) -> bool {
        if self.link.is_reset() {
            return false;
        }
        self.link.down.fin = true;
        true
    }
}

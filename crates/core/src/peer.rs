//! One accepted connection's socket as the engine's scheduling sees it: a
//! `sockmux-net` [`Stream`] adapted to [`Socket`] (the net crate knows
//! nothing of the engine), with the peer's address for the log lines a
//! failing socket gets. It owns no policy: `sockmux_engine::drive` does.

use std::net::SocketAddr;

use sockmux_engine::{Socket, Transfer};
use sockmux_net::{Io, Stream};

/// An accepted stream and who is on the other end.
#[derive(Debug)]
pub(crate) struct Peer {
    pub(crate) stream: Stream,
    pub(crate) addr: SocketAddr,
}

impl Peer {
    /// On the hot path for every read and write: the failure, with its
    /// log line, is kept out of line.
    #[inline(always)]
    fn transfer(&self, io: Io, what: &str) -> Transfer {
        match io {
            Io::Data(n) => Transfer::Data(n),
            Io::Eof => Transfer::Eof,
            Io::Blocked => Transfer::Blocked,
            Io::Failed(e) => self.failed(what, &e),
        }
    }

    #[cold]
    #[inline(never)]
    fn failed(&self, what: &str, e: &std::io::Error) -> Transfer {
        tracing::debug!("{what} {}: {e}", self.addr);
        Transfer::Failed
    }
}

impl Socket for Peer {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> Transfer {
        let io = self.stream.read(buf);
        self.transfer(io, "read from")
    }

    #[inline]
    fn write(&mut self, data: &[u8]) -> Transfer {
        let io = self.stream.write(data);
        self.transfer(io, "write to")
    }

    #[inline]
    fn is_readable(&self) -> bool {
        self.stream.is_readable()
    }

    fn shutdown_write(&mut self) -> bool {
        match self.stream.shutdown_write() {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!("shutdown write to {}: {e}", self.addr);
                false
            }
        }
    }
}

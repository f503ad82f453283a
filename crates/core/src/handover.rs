//! Restarts that refuse and reset nothing: a running server hands its
//! listening sockets to the process replacing it, as HAProxy's seamless
//! reload does (`-x`), by `SCM_RIGHTS` over a unix socket.
//!
//! ```text
//!  old server                         new server (--takeover)
//!  control socket (--control PATH) <── connect
//!  "sockmux listeners" + N fds     ──> serves on the same kernel sockets
//!                                  <── "ready"
//!  stops accepting, drains, exits      (connections queued in the accept
//!                                       queues are the new one's)
//! ```
//!
//! The sockets are the same kernel objects, accept queues included, so a
//! connection that arrives during the switch waits in a queue one of the
//! two processes drains: nothing is refused, nothing reset. Closing a
//! `SO_REUSEPORT` listener instead resets what waits in its queue.

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::mem::MaybeUninit;
use std::net::TcpListener;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::net::{
    recvmsg, sendmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use thiserror::Error;

use crate::Shutdown;

/// What the old server sends with the sockets.
const HELLO: &[u8] = b"sockmux listeners v1";
/// What the new server answers once it serves on them.
const READY: u8 = b'R';
/// Most listening sockets handed over at once (one per worker).
pub const MAX_LISTENERS: usize = 256;
/// How long the old server waits for the new one to say it is ready.
const READY_WAIT: Duration = Duration::from_secs(60);

/// Why a takeover failed.
#[derive(Debug, Error)]
pub enum HandoverError {
    /// The control socket could not be reached or used.
    #[error("control socket {path}")]
    Control {
        /// Its path.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// The peer on the control socket is not a sockmux server handing
    /// over sockets.
    #[error("control socket {path}: {what}")]
    Protocol {
        /// Its path.
        path: PathBuf,
        /// What was wrong.
        what: &'static str,
    },
}

/// The running server's end: hands its listeners to whoever connects to
/// `path`, then stops it once the newcomer is ready.
#[derive(Debug)]
pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl ControlSocket {
    /// Listens on `path`. A socket file left by a server that is gone is
    /// replaced; one a live server answers on is an error, unless this
    /// server is `taking_over` from it.
    pub fn bind(path: &Path, taking_over: bool) -> Result<Self, HandoverError> {
        let control = |source| HandoverError::Control {
            path: path.to_owned(),
            source,
        };
        if !taking_over && UnixStream::connect(path).is_ok() {
            return Err(control(io::Error::new(
                io::ErrorKind::AddrInUse,
                "a server is listening on it (start the new one with --takeover)",
            )));
        }
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(control(e)),
            _ => {}
        }
        let listener = UnixListener::bind(path).map_err(control)?;
        Ok(Self {
            listener,
            path: path.to_owned(),
        })
    }

    /// Serves takeovers on a thread of its own: each newcomer gets
    /// `listeners`; the first that says it is ready makes `on_ready` run
    /// and `shutdown` trigger (this server then drains). A newcomer that
    /// fails before it is ready changes nothing.
    pub fn serve(
        self,
        listeners: Vec<TcpListener>,
        shutdown: Shutdown,
        on_ready: impl FnOnce() + Send + 'static,
    ) -> io::Result<()> {
        std::thread::Builder::new()
            .name("sockmux-control".into())
            .spawn(move || {
                for stream in self.listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    match hand_over(stream, &listeners) {
                        Ok(()) => {
                            tracing::info!(
                                "handed the listening sockets to a new server: draining"
                            );
                            on_ready();
                            shutdown.trigger();
                            return;
                        }
                        Err(e) => tracing::warn!("takeover on {} failed: {e}", self.path.display()),
                    }
                }
            })?;
        Ok(())
    }
}

/// Sends `listeners` and waits for the newcomer's `ready`.
fn hand_over(mut stream: UnixStream, listeners: &[TcpListener]) -> io::Result<()> {
    let fds: Vec<_> = listeners.iter().map(AsFd::as_fd).collect();
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(fds.len()))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(io::Error::other("too many sockets for one message"));
    }
    sendmsg(
        &stream,
        &[IoSlice::new(HELLO)],
        &mut control,
        SendFlags::empty(),
    )?;
    stream.set_read_timeout(Some(READY_WAIT))?;
    let mut answer = [0u8; 1];
    stream.read_exact(&mut answer)?;
    if answer[0] != READY {
        return Err(io::Error::other("the newcomer did not say ready"));
    }
    Ok(())
}

/// The new server's end of a takeover: it holds the connection until the
/// new server serves, then says so with [`Takeover::ready`].
#[derive(Debug)]
pub struct Takeover {
    stream: UnixStream,
}

impl Takeover {
    /// Connects to the server on `path` and receives its listening
    /// sockets.
    pub fn connect(path: &Path) -> Result<(Self, Vec<TcpListener>), HandoverError> {
        let control = |source| HandoverError::Control {
            path: path.to_owned(),
            source,
        };
        let protocol = |what| HandoverError::Protocol {
            path: path.to_owned(),
            what,
        };
        let stream = UnixStream::connect(path).map_err(control)?;
        stream.set_read_timeout(Some(READY_WAIT)).map_err(control)?;
        let mut hello = [0u8; 64];
        let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_LISTENERS))];
        let mut ancillary = RecvAncillaryBuffer::new(&mut space);
        let got = recvmsg(
            &stream,
            &mut [IoSliceMut::new(&mut hello)],
            &mut ancillary,
            RecvFlags::CMSG_CLOEXEC,
        )
        .map_err(|e| control(e.into()))?;
        let fds: Vec<OwnedFd> = ancillary
            .drain()
            .filter_map(|message| match message {
                RecvAncillaryMessage::ScmRights(fds) => Some(fds),
                _ => None,
            })
            .flatten()
            .collect();
        if hello.get(..got.bytes) != Some(HELLO) {
            return Err(protocol("not a sockmux server handing over its sockets"));
        }
        if fds.is_empty() {
            return Err(protocol("no sockets came with the hand-over"));
        }
        let listeners = fds.into_iter().map(TcpListener::from).collect();
        Ok((Self { stream }, listeners))
    }

    /// Tells the old server this one serves: it stops accepting and
    /// drains.
    pub fn ready(mut self) -> io::Result<()> {
        self.stream.write_all(&[READY])
    }
}

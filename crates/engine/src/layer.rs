//! Transport layers: what sits between the socket and the session.
//!
//! ```text
//! socket ──> [preamble: PROXY v1/v2] ──> [transform: TLS] ──> session
//!        <──                         <──                  <──
//! ```
//!
//! A layer turns bytes from below into bytes for above (and may learn facts
//! about the peer on the way, such as its real address), and turns the
//! output from above into bytes for below. Layers are sans-IO and stack
//! with [`Stacked`], so a new one is added by choosing a different
//! [`Layers`] for the server, without touching the event loop or any
//! session. [`Plain`] passes bytes through untouched and compiles to
//! nothing.

use std::net::SocketAddr;

use thiserror::Error;

use crate::Output;

/// Why a layer gave up on a connection (which then closes).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct LayerError(pub String);

/// One transport layer of one connection.
///
/// ```
/// use sockmux_engine::{Layer, LayerError, Output};
///
/// /// Counts the bytes that pass up, and changes nothing.
/// #[derive(Default)]
/// struct Meter(u64);
///
/// impl Layer for Meter {
///     fn handle_input(&mut self, input: &[u8], mut up: impl FnMut(&[u8])) -> Result<(), LayerError> {
///         self.0 += input.len() as u64;
///         up(input);
///         Ok(())
///     }
///
///     fn transmit<'a>(&'a mut self, above: &'a mut Output) -> &'a mut Output {
///         above
///     }
/// }
///
/// let mut meter = Meter::default();
/// let mut seen = Vec::new();
/// meter.handle_input(b"hello", |bytes| seen.extend_from_slice(bytes))?;
/// assert_eq!((meter.0, seen.as_slice()), (5, &b"hello"[..]));
/// # Ok::<(), LayerError>(())
/// ```
pub trait Layer: Send + 'static {
    /// Handles bytes from below, calling `up` with the bytes for the layer
    /// above (any number of times, possibly none).
    fn handle_input(&mut self, input: &[u8], up: impl FnMut(&[u8])) -> Result<(), LayerError>;

    /// Moves the output from above (`above`) through this layer and returns
    /// the output whose pending bytes go below. A pass-through layer
    /// returns `above` itself.
    fn transmit<'a>(&'a mut self, above: &'a mut Output) -> &'a mut Output;

    /// Whether the layer holds part of a unit of its own (a preamble, a
    /// record): such bytes are not progress for the idle rules.
    fn is_mid_message(&self) -> bool {
        false
    }

    /// Whether the layer is still setting up (a TLS handshake), which may
    /// cost a public-key operation per read: a loop serves only so many
    /// of those per turn, so that a flood of new connections cannot hold
    /// up the established ones.
    fn is_handshaking(&self) -> bool {
        false
    }

    /// The peer's address as this layer knows it, when it knows better
    /// than the socket (a PROXY protocol header).
    fn peer(&self) -> Option<SocketAddr> {
        None
    }

    /// The connection is closing: the session said its last word (or the
    /// idle timer spoke for it) and what is owed is being flushed. A layer
    /// with a closing message of its own (TLS `close_notify`) sends it
    /// from [`Layer::transmit`] once the output from above is through.
    /// Called once, when the connection leaves [`crate::Phase::Open`].
    fn handle_close(&mut self) {}

    /// Whether the peer closed its side within this layer (a TLS
    /// `close_notify`): nothing more will come up through it, so the
    /// connection treats it as the peer's EOF.
    fn is_peer_closed(&self) -> bool {
        false
    }
}

/// Makes the layer stack of each new connection.
pub trait Layers: Send + Sync + 'static {
    /// The stack one connection gets.
    type Layer: Layer;

    /// The stack for a connection from `peer`.
    fn layer(&self, peer: SocketAddr) -> Self::Layer;

    /// Whether a connection from `peer` may be served at all: checked
    /// before a byte is read (a PROXY protocol layer trusts only its
    /// balancers). The connection is closed otherwise.
    fn admits(&self, _peer: SocketAddr) -> bool {
        true
    }

    /// Whether the layers name each connection's real client themselves
    /// (and then enforce any per-address limit): the socket's address is
    /// only the balancer's.
    fn names_peer(&self) -> bool {
        false
    }
}

/// No layer at all: bytes pass straight between socket and session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Plain;

impl Layer for Plain {
    #[inline]
    fn handle_input(&mut self, input: &[u8], mut up: impl FnMut(&[u8])) -> Result<(), LayerError> {
        up(input);
        Ok(())
    }

    #[inline]
    fn transmit<'a>(&'a mut self, above: &'a mut Output) -> &'a mut Output {
        above
    }
}

impl Layers for Plain {
    type Layer = Plain;

    fn layer(&self, _peer: SocketAddr) -> Plain {
        Plain
    }
}

/// Two layers, `Lower` nearer the socket and `Upper` nearer the session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stacked<Lower, Upper> {
    /// Nearer the socket.
    pub lower: Lower,
    /// Nearer the session.
    pub upper: Upper,
}

impl<Lower: Layer, Upper: Layer> Layer for Stacked<Lower, Upper> {
    fn handle_input(&mut self, input: &[u8], mut up: impl FnMut(&[u8])) -> Result<(), LayerError> {
        let upper = &mut self.upper;
        let mut failure = None;
        self.lower.handle_input(input, |middle| {
            if failure.is_none() {
                if let Err(e) = upper.handle_input(middle, &mut up) {
                    failure = Some(e);
                }
            }
        })?;
        failure.map_or(Ok(()), Err)
    }

    fn transmit<'a>(&'a mut self, above: &'a mut Output) -> &'a mut Output {
        let middle = self.upper.transmit(above);
        self.lower.transmit(middle)
    }

    fn is_mid_message(&self) -> bool {
        self.lower.is_mid_message() || self.upper.is_mid_message()
    }

    fn is_handshaking(&self) -> bool {
        self.lower.is_handshaking() || self.upper.is_handshaking()
    }

    fn peer(&self) -> Option<SocketAddr> {
        self.upper.peer().or_else(|| self.lower.peer())
    }

    fn handle_close(&mut self) {
        self.upper.handle_close();
        self.lower.handle_close();
    }

    fn is_peer_closed(&self) -> bool {
        self.lower.is_peer_closed() || self.upper.is_peer_closed()
    }
}

impl<Lower: Layers, Upper: Layers> Layers for Stacked<Lower, Upper> {
    type Layer = Stacked<Lower::Layer, Upper::Layer>;

    fn layer(&self, peer: SocketAddr) -> Self::Layer {
        Stacked {
            lower: self.lower.layer(peer),
            upper: self.upper.layer(peer),
        }
    }

    fn admits(&self, peer: SocketAddr) -> bool {
        self.lower.admits(peer) && self.upper.admits(peer)
    }

    fn names_peer(&self) -> bool {
        self.lower.names_peer() || self.upper.names_peer()
    }
}

//! The PROXY protocol as a transport layer: strips the header from the
//! start of a connection and reports the client it names. Owns the
//! preamble buffer and the per-connection state; the header rules are
//! [`parse`]'s, and which peers may send a header is the caller's choice
//! of where to install the layer.
//!
//! ```text
//! socket ──> ProxyLayer ──> (next layer or session)
//!            Reading: hold ≤ Limits::preamble_cap bytes until parse decides
//!            Done:    every byte passes up untouched, no copy, no allocation
//!            Failed:  the connection closes
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use sockmux_engine::{AddressTicket, Layer, LayerError, Layers, Output, PerAddress};

use crate::{parse, CidrList, Limits, Parsed, ProxyError, ProxyHeader};

/// One connection's PROXY protocol layer.
///
/// The header usually arrives in one read, and is then parsed straight
/// from that read with nothing copied or allocated. Only a header split
/// across reads is held, in a buffer that never grows past
/// [`Limits::preamble_cap`] bytes and is freed when the header is done.
///
/// ```
/// use sockmux_engine::Layer;
/// use sockmux_proxy::{Limits, ProxyLayer};
///
/// let mut layer = ProxyLayer::new(Limits::default());
/// let mut up = Vec::new();
/// layer.handle_input(b"PROXY TCP4 192.0.2.1 198.51.100.7 5", |b| up.extend_from_slice(b))?;
/// assert!(layer.is_mid_message() && up.is_empty());
/// layer.handle_input(b"6324 443\r\nhello", |b| up.extend_from_slice(b))?;
/// assert_eq!(layer.peer(), Some("192.0.2.1:56324".parse().unwrap()));
/// assert_eq!(up, b"hello");
/// # Ok::<(), sockmux_engine::LayerError>(())
/// ```
#[derive(Debug)]
pub struct ProxyLayer {
    limits: Limits,
    state: State,
    /// The balancer the connection came through, for the log.
    via: Option<SocketAddr>,
    /// The per-address limit the named client counts against.
    per_address: Option<Arc<PerAddress>>,
    /// The clients allowed, when only some are.
    allow: Option<Arc<CidrList>>,
    /// The client's place in it, held for the connection's life.
    ticket: Option<AddressTicket>,
}

#[derive(Debug)]
enum State {
    /// Before the header is whole: the bytes so far, when they came in
    /// more than one read (empty otherwise).
    Reading(Vec<u8>),
    /// The header, and from here on a pass-through.
    Done(ProxyHeader),
    /// The header was rejected; the connection is closing.
    Failed(ProxyError),
}

impl ProxyLayer {
    /// A layer that expects a header within `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            state: State::Reading(Vec::new()),
            via: None,
            per_address: None,
            allow: None,
            ticket: None,
        }
    }

    /// Once the header is whole: logs whom the connection is for, and
    /// counts the client against the per-address limit (a client over it
    /// is closed before its first byte reaches the session).
    fn admit_client(&mut self) -> Result<(), LayerError> {
        let Some(client) = self.peer() else {
            return Ok(());
        };
        if let Some(via) = self.via {
            tracing::debug!("connection from {via} is for client {client}");
        }
        if self
            .allow
            .as_ref()
            .is_some_and(|allow| !allow.contains(client.ip()))
        {
            tracing::debug!("refusing client {client}: not in --allow");
            return Err(LayerError(format!("client {client} is not allowed")));
        }
        if let Some(limit) = &self.per_address {
            match limit.try_admit(client.ip()) {
                Ok(ticket) => self.ticket = Some(ticket),
                Err(refused) => {
                    tracing::debug!("refusing client {client}: {refused}");
                    return Err(LayerError(refused.to_string()));
                }
            }
        }
        Ok(())
    }

    /// The header, once it is whole.
    pub fn header(&self) -> Option<&ProxyHeader> {
        match &self.state {
            State::Done(header) => Some(header),
            _ => None,
        }
    }

    /// Bytes held while the header is incomplete (0 once it is done).
    pub fn buffered(&self) -> usize {
        match &self.state {
            State::Reading(held) => held.len(),
            _ => 0,
        }
    }

    /// Bytes of heap the layer holds (0 once the header is done).
    pub fn buffer_capacity(&self) -> usize {
        match &self.state {
            State::Reading(held) => held.capacity(),
            _ => 0,
        }
    }

    /// Reads on towards the header. Returns how many bytes of `input`
    /// belong to it once it is whole, or `None` while it is not.
    fn read_header(&mut self, input: &[u8]) -> Result<Option<usize>, ProxyError> {
        let State::Reading(held) = &mut self.state else {
            unreachable!("read_header is only called while reading");
        };
        let cap = self.limits.preamble_cap();
        let before = held.len();
        let parsed = if before == 0 {
            parse(input, &self.limits)?
        } else {
            let take = input.len().min(cap - before);
            held.extend_from_slice(&input[..take]);
            parse(held, &self.limits)?
        };
        match parsed {
            Parsed::Incomplete => {
                // parse decides within `cap` bytes, so all of `input` fit.
                debug_assert!(before + input.len() < cap);
                if before == 0 {
                    held.extend_from_slice(&input[..input.len().min(cap)]);
                }
                Ok(None)
            }
            Parsed::Done { header, len } => {
                // Frees the preamble buffer, if there was one.
                self.state = State::Done(header);
                Ok(Some(len - before))
            }
        }
    }
}

impl Layer for ProxyLayer {
    #[inline]
    fn handle_input(&mut self, input: &[u8], mut up: impl FnMut(&[u8])) -> Result<(), LayerError> {
        match &self.state {
            State::Done(_) => {
                up(input);
                return Ok(());
            }
            State::Failed(e) => return Err(e.clone().into()),
            State::Reading(_) => {}
        }
        match self.read_header(input) {
            Ok(None) => Ok(()),
            Ok(Some(header_bytes)) => {
                self.admit_client()?;
                let rest = &input[header_bytes..];
                if !rest.is_empty() {
                    up(rest);
                }
                Ok(())
            }
            Err(e) => {
                self.state = State::Failed(e.clone());
                Err(e.into())
            }
        }
    }

    #[inline]
    fn transmit<'a>(&'a mut self, above: &'a mut Output) -> &'a mut Output {
        above
    }

    /// True until the header is whole, from the first byte on: a
    /// connection that never finishes its header makes no progress, so the
    /// idle timeout closes it.
    fn is_mid_message(&self) -> bool {
        !matches!(self.state, State::Done(_))
    }

    /// The source address a PROXY header named; `None` before the header
    /// is whole and for a header that says to use the socket's endpoints
    /// (LOCAL, `UNKNOWN`, AF_UNSPEC, AF_UNIX).
    fn peer(&self) -> Option<SocketAddr> {
        self.header().and_then(ProxyHeader::source)
    }
}

/// Gives every connection from a trusted balancer a [`ProxyLayer`] with
/// the same limits; connections from anywhere else are refused before a
/// byte is read.
#[derive(Debug, Clone, Default)]
pub struct ProxyLayers {
    /// The limits each connection's layer enforces.
    pub limits: Limits,
    /// The addresses allowed to send a header (none by default).
    pub trusted: CidrList,
    /// The per-address limit clients count against, if any.
    pub per_address: Option<Arc<PerAddress>>,
    /// The clients allowed (by the address the header names), if not all.
    pub allow: Option<Arc<CidrList>>,
}

impl ProxyLayers {
    /// Layers enforcing `limits`, trusting no one yet.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// The same layers, accepting connections from `trusted` only.
    pub fn trusting(self, trusted: CidrList) -> Self {
        Self { trusted, ..self }
    }

    /// The same layers, serving only the named clients in `allow`.
    pub fn allowing(self, allow: CidrList) -> Self {
        Self {
            allow: Some(Arc::new(allow)),
            ..self
        }
    }

    /// The same layers, counting each named client against `limit`.
    pub fn limiting(self, limit: Arc<PerAddress>) -> Self {
        Self {
            per_address: Some(limit),
            ..self
        }
    }
}

impl Layers for ProxyLayers {
    type Layer = ProxyLayer;

    fn layer(&self, peer: SocketAddr) -> ProxyLayer {
        ProxyLayer {
            via: Some(peer),
            per_address: self.per_address.clone(),
            allow: self.allow.clone(),
            ..ProxyLayer::new(self.limits)
        }
    }

    fn admits(&self, peer: SocketAddr) -> bool {
        self.trusted.contains(peer.ip())
    }

    fn names_peer(&self) -> bool {
        true
    }
}

/// Any layers, serving only peers whose socket address is in a list
/// (`--allow` without the PROXY protocol): others are closed before a byte
/// is read.
#[derive(Debug, Clone)]
pub struct Allow<T> {
    /// The layers for the peers allowed.
    pub layers: T,
    /// The peers allowed.
    pub allow: CidrList,
}

impl<T: Layers> Layers for Allow<T> {
    type Layer = T::Layer;

    fn layer(&self, peer: SocketAddr) -> T::Layer {
        self.layers.layer(peer)
    }

    fn admits(&self, peer: SocketAddr) -> bool {
        self.allow.contains(peer.ip()) && self.layers.admits(peer)
    }

    fn names_peer(&self) -> bool {
        self.layers.names_peer()
    }
}

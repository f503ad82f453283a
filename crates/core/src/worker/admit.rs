//! Admitting an accepted socket: the trust and per-address checks, the
//! connection limit, the refusal when one bites, and the first turn of a
//! new connection before it is registered.

use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Interest, Token};
use sockmux_engine::{Connection, Layers, Lease, PolicyError, Service};
use sockmux_net::Stream;

use super::{Entry, Worker, FIRST_CONN};
use crate::peer::Peer;
use crate::warn::Limit;

impl<V: Service, T: Layers> Worker<V, T> {
    /// Admits the sockets the acceptor thread handed over.
    pub(super) fn take_handoffs(&mut self) {
        while let Some(Ok((socket, peer))) = self.handoff.as_ref().map(|rx| rx.try_recv()) {
            self.admit(socket, peer);
        }
    }

    pub(super) fn admit(&mut self, socket: TcpStream, peer: SocketAddr) {
        if !self.layers.admits(peer) {
            self.shared.warnings.note(
                Limit::Untrusted,
                format_args!("refusing a connection from {peer}: not in --allow or --proxy-from"),
            );
            self.stats.refused += 1;
            self.stats.refused_untrusted += 1;
            return;
        }
        let now = Instant::now();
        let session = self.service.session();
        let layer = self.layers.layer(peer);
        let address = match (&self.shared.per_address, self.layers.names_peer()) {
            (Some(limit), false) => Some(limit.try_admit(peer.ip())),
            _ => None,
        };
        let (address, admitted) = match address {
            Some(Err(reason)) => {
                self.shared.warnings.note(
                    Limit::PerAddress,
                    format_args!("max-connections-per-ip reached by {}: refusing", peer.ip()),
                );
                (None, Err(reason))
            }
            address => (
                address.and_then(Result::ok),
                self.shared.admission.try_admit(),
            ),
        };
        let (conn, ticket) = match admitted {
            Ok(ticket) => {
                tracing::debug!("accepted connection from {peer}");
                self.stats.connections += 1;
                let lease = Lease::new(&self.shared.budget);
                let conn =
                    Connection::new(session, layer, self.config.max_output, now).with_lease(lease);
                (conn, Some(ticket))
            }
            Err(reason @ PolicyError::TooManyFromAddress { .. }) => {
                self.stats.refused += 1;
                self.stats.refused_per_address += 1;
                let mut refusal = Vec::new();
                self.service.refusal(&reason, &mut refusal);
                (Connection::refused(session, layer, &refusal, now), None)
            }
            Err(reason) => {
                self.shared.warnings.note(
                    Limit::MaxConnections,
                    format_args!(
                        "max-connections ({}) reached: refusing new connections",
                        self.config.max_connections
                    ),
                );
                self.stats.refused += 1;
                let mut refusal = Vec::new();
                self.service.refusal(&reason, &mut refusal);
                (Connection::refused(session, layer, &refusal, now), None)
            }
        };
        let key = self.conns.insert(Entry {
            peer: Peer {
                stream: Stream::accepted(socket),
                addr: peer,
            },
            conn,
            _ticket: ticket,
            _address: address,
        });
        if self.drain_deadline.is_some() {
            if let Some(entry) = self.conns.get_mut(key) {
                entry.conn.handle_shutdown(now, &mut self.stats);
            }
        }
        // Most clients send their request with the handshake, so it is
        // usually waiting already: serve it before registering. A
        // one-request connection is then read, answered and closed with no
        // epoll or socket-option calls at all.
        // The slot may be one a closed connection left in the ready queue,
        // whose turn (maybe this one) then reads it instead.
        let budget = if self.ready.is_queued(key) {
            0
        } else {
            self.config.read_budget
        };
        self.drive(key, None, now, budget);
        let Some(entry) = self.conns.get_mut(key) else {
            return;
        };
        // Responses on a connection that stays must not wait for Nagle.
        if let Err(e) = entry.peer.stream.socket().set_nodelay(true) {
            tracing::debug!("set TCP_NODELAY for {peer}: {e}");
        }
        // Edge-triggered registration reports readiness that is already
        // there, so nothing that arrived since the last read is missed.
        if let Err(e) = self.poll.registry().register(
            entry.peer.stream.socket_mut(),
            Token(key + FIRST_CONN),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            tracing::warn!("register connection from {peer}: {e}");
            self.close(key);
        }
    }
}

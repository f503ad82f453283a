//! The client's session cache: what rustls remembers of the servers it
//! talked to, so that the next connection resumes. Owns the bound on it;
//! what a session holds is rustls's.
//!
//! rustls's own `ClientSessionMemoryCache` keeps at most 8 TLS 1.3
//! tickets per server. Tickets are used once each, so a load generator
//! with 50 connections reconnecting to one server runs out of them
//! whenever the server hands out fewer than one per connection at the
//! right moment (HAProxy on OpenSSL 3.0 resumed only 61–77% of 50
//! connections' handshakes that way; sockmux, which sends one ticket per
//! handshake, about all). This store keeps as many tickets per server as
//! it is told, newest used first, for a few servers.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rustls::client::{ClientSessionStore, Tls12ClientSessionValue, Tls13ClientSessionValue};
use rustls::pki_types::ServerName;
use rustls::NamedGroup;

/// Servers remembered; a connector talks to one, so a few are plenty.
const SERVERS: usize = 16;

/// Sessions of up to [`SERVERS`] servers, up to `tickets` TLS 1.3 tickets
/// each.
#[derive(Debug)]
pub(crate) struct Sessions {
    tickets: usize,
    /// Oldest first; the oldest goes when a new server comes.
    servers: Mutex<Vec<(ServerName<'static>, Server)>>,
}

#[derive(Debug, Default)]
struct Server {
    kx_hint: Option<NamedGroup>,
    tls12: Option<Tls12ClientSessionValue>,
    /// Oldest first.
    tls13: VecDeque<Tls13ClientSessionValue>,
}

impl Sessions {
    /// A store keeping up to `tickets` tickets per server (at least one).
    pub(crate) fn new(tickets: usize) -> Self {
        Self {
            tickets: tickets.max(1),
            servers: Mutex::default(),
        }
    }

    fn servers(&self) -> MutexGuard<'_, Vec<(ServerName<'static>, Server)>> {
        // A panic elsewhere while holding it leaves the data usable.
        self.servers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What is known of `name`, made if need be.
    fn with<T>(&self, name: ServerName<'static>, f: impl FnOnce(&mut Server) -> T) -> T {
        let mut servers = self.servers();
        let at = match servers.iter().position(|(known, _)| *known == name) {
            Some(at) => at,
            None => {
                if servers.len() == SERVERS {
                    servers.remove(0);
                }
                servers.push((name, Server::default()));
                servers.len() - 1
            }
        };
        f(&mut servers[at].1)
    }

    /// What is known of `name`, if anything.
    fn find<T>(
        &self,
        name: &ServerName<'_>,
        f: impl FnOnce(&mut Server) -> Option<T>,
    ) -> Option<T> {
        let mut servers = self.servers();
        let (_, server) = servers.iter_mut().find(|(known, _)| known == name)?;
        f(server)
    }
}

impl ClientSessionStore for Sessions {
    fn set_kx_hint(&self, name: ServerName<'static>, group: NamedGroup) {
        self.with(name, |server| server.kx_hint = Some(group));
    }

    fn kx_hint(&self, name: &ServerName<'_>) -> Option<NamedGroup> {
        self.find(name, |server| server.kx_hint)
    }

    fn set_tls12_session(&self, name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.with(name, |server| server.tls12 = Some(value));
    }

    fn tls12_session(&self, name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.find(name, |server| server.tls12.clone())
    }

    fn remove_tls12_session(&self, name: &ServerName<'static>) {
        self.find(name, |server| server.tls12.take());
    }

    fn insert_tls13_ticket(&self, name: ServerName<'static>, value: Tls13ClientSessionValue) {
        let cap = self.tickets;
        self.with(name, |server| {
            if server.tls13.len() == cap {
                server.tls13.pop_front();
            }
            server.tls13.push_back(value);
        });
    }

    fn take_tls13_ticket(&self, name: &ServerName<'static>) -> Option<Tls13ClientSessionValue> {
        self.find(name, |server| server.tls13.pop_back())
    }
}

//! Counters a worker keeps, publishes for scrapes, and the server sums at
//! shutdown. The fields are listed once; the plain, shared and summing
//! forms follow from the list.

use std::ops::AddAssign;
use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// What a worker (or the whole server) has done.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct Stats {
            $($(#[$doc])* pub $name: u64,)*
        }

        impl AddAssign for Stats {
            fn add_assign(&mut self, other: Self) {
                $(self.$name += other.$name;)*
            }
        }

        /// One worker's [`Stats`] as last published: the worker stores
        /// (relaxed, once per loop turn, never per message), a metrics
        /// scrape loads, and neither waits for the other.
        #[derive(Debug, Default)]
        pub struct SharedStats {
            $($name: AtomicU64,)*
        }

        impl SharedStats {
            /// Publishes `stats`.
            #[inline]
            pub fn publish(&self, stats: &Stats) {
                $(self.$name.store(stats.$name, Ordering::Relaxed);)*
            }

            /// The counters as last published.
            pub fn read(&self) -> Stats {
                Stats { $($name: self.$name.load(Ordering::Relaxed),)* }
            }
        }
    };
}

counters! {
    /// Connections accepted and served.
    connections,
    /// Connections refused, for any reason (the next two included).
    refused,
    /// Of those, refused by `max_connections_per_ip`.
    refused_per_address,
    /// Of those, refused because the peer is not a trusted balancer.
    refused_untrusted,
    /// Requests answered (app) or reads echoed (echo).
    requests,
    /// Error responses sent, and connections closed for an error.
    errors,
    /// Open connections closed by the idle timeout.
    idle_timeouts,
    /// Connections a transport layer (PROXY protocol, TLS) gave up on.
    transport_errors,
    /// Times a connection's handshake waited for the next loop turn
    /// because the turn's handshake budget was spent.
    handshakes_deferred,
    /// Bytes read from peers.
    bytes_in,
    /// Bytes written to peers.
    bytes_out,
}

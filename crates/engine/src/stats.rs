//! Counters a worker keeps and the server sums at shutdown.

use std::ops::AddAssign;

/// What a worker (or the whole server) has done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted and served.
    pub connections: u64,
    /// Connections refused because `max_connections` was reached.
    pub refused: u64,
    /// Requests answered (app) or reads echoed (echo).
    pub requests: u64,
    /// Error responses sent, and connections closed for an error.
    pub errors: u64,
    /// Bytes read from peers.
    pub bytes_in: u64,
    /// Bytes written to peers.
    pub bytes_out: u64,
}

impl AddAssign for Stats {
    fn add_assign(&mut self, other: Self) {
        self.connections += other.connections;
        self.refused += other.refused;
        self.requests += other.requests;
        self.errors += other.errors;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
    }
}

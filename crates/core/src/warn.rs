//! Limit warnings: each limit logs once per server, the first time it
//! bites, so a flood cannot turn the log into a second flood.

use std::sync::atomic::{AtomicBool, Ordering};

/// A limit that logs when it first bites.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Limit {
    MaxConnections,
    Accept,
    IdleTimeout,
    Untrusted,
    PerAddress,
}

/// Which limits have logged, shared by a server's loops.
#[derive(Debug, Default)]
pub(crate) struct Warnings([AtomicBool; 5]);

impl Warnings {
    /// Logs `message` at warn level if `limit` has not logged yet.
    pub(crate) fn once(&self, limit: Limit, message: std::fmt::Arguments<'_>) {
        if !self.0[limit as usize].swap(true, Ordering::Relaxed) {
            tracing::warn!("{message} (logged once)");
        }
    }
}

//! How connections reach a worker, and what a server's loops share.

use std::net::SocketAddr;
use std::sync::{mpsc, Arc, Mutex, PoisonError};

use mio::net::{TcpListener, TcpStream};
use sockmux_engine::{Admission, Budget, PerAddress};

use crate::metrics::Published;
use crate::warn::Warnings;

/// State shared by all loops of one server.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) admission: Arc<Admission>,
    pub(crate) budget: Arc<Budget>,
    /// `max_connections_per_ip`, for connections whose socket address is
    /// the client's.
    pub(crate) per_address: Option<Arc<PerAddress>>,
    pub(crate) warnings: Warnings,
    /// `max_connections`, for the metrics.
    pub(crate) max_connections: usize,
    /// Budget refusals already logged (their count when last looked at).
    pub(crate) budget_refusals_seen: std::sync::atomic::AtomicU64,
    /// Each worker's published counters.
    pub(crate) workers: Mutex<Vec<Arc<Published>>>,
}

impl Shared {
    /// A new worker's place for its published counters.
    pub(crate) fn register(&self) -> Arc<Published> {
        let published = Arc::default();
        self.workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&published));
        published
    }

    /// Every worker's published counters.
    pub(crate) fn published(&self) -> Vec<Arc<Published>> {
        self.workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A socket accepted by the acceptor thread, on its way to a worker.
pub(crate) type Handoff = (TcpStream, SocketAddr);

/// Where a worker's connections come from.
#[derive(Debug)]
pub(crate) enum Intake {
    /// Its own listener, one of a SO_REUSEPORT group.
    Listener(TcpListener),
    /// The acceptor thread, through a channel and the worker's waker.
    Handoff(mpsc::Receiver<Handoff>),
}

//! Server configuration as plain data. Owns the knobs and their defaults;
//! the CLI maps flags onto it, tests build it directly.

use std::net::SocketAddr;
use std::time::Duration;

use sockmux_engine::Timers;
use sockmux_proto::Limits;

/// How connections reach the workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AcceptMode {
    /// Each worker has its own listener on the shared port (SO_REUSEPORT)
    /// and accepts for itself; the kernel spreads connections. No thread
    /// hop, and a new connection's first request is served by the thread
    /// that accepted it.
    #[default]
    ReusePort,
    /// One acceptor thread accepts and deals connections round-robin to
    /// the workers through channels, waking each with its `Waker`.
    Handoff,
}

/// Everything a [`crate::Server`] needs to know, with sane defaults.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to bind. Default: 127.0.0.1:65432 (the protocol has no
    /// authentication, so the default is loopback only).
    pub addr: SocketAddr,
    /// Worker threads, each with its own event loop and listener
    /// (SO_REUSEPORT). Default: the machine's available parallelism.
    pub workers: usize,
    /// How connections reach the workers. Default: SO_REUSEPORT listeners.
    pub accept: AcceptMode,
    /// Connections open at once across all workers. Default: 10,000. The
    /// next one is accepted, sent the service's refusal and closed.
    pub max_connections: usize,
    /// Connections open at once from one client address, when limited.
    /// Behind a balancer speaking the PROXY protocol, the address is the
    /// one the header names, and the layers enforce it. Default: no limit.
    pub max_connections_per_ip: Option<usize>,
    /// A connection that makes no progress (no byte read or written) for
    /// this long is closed. Default: 30 s.
    pub idle_timeout: Duration,
    /// On shutdown, how long owed responses may take before the remaining
    /// connections are closed anyway. Default: 5 s.
    pub drain_timeout: Duration,
    /// Outgoing bytes held for one connection before the server stops
    /// reading from it (backpressure). Default: 1 MiB.
    pub max_output: usize,
    /// Bytes all connections together may hold in their input and output
    /// buffers beyond a per-connection allowance (see
    /// [`sockmux_engine::Budget`]): a large message the budget cannot
    /// hold is refused with an error, and an answer written in pieces
    /// slows to the allowance. Default: 1 GiB.
    pub max_buffered: usize,
    /// Bytes read from a socket per `read` call (one buffer per worker).
    /// Default: 64 KiB.
    pub read_chunk: usize,
    /// Protocol limits (JSON header and content sizes) for the app service.
    pub limits: Limits,
    /// Listen backlog. Default: 1024.
    pub backlog: i32,
    /// Connections accepted per loop turn before the loop serves the ones
    /// it has. Default: 64.
    pub accept_batch: usize,
    /// Reads of `read_chunk` bytes one connection gets per loop turn
    /// before the others have theirs (fairness: a client pipelining
    /// without pause cannot starve its worker's other connections).
    /// Default: 1 (a busy peer then adds at most one 64 KiB read of work
    /// to everyone else's wait per turn).
    pub read_budget: usize,
}

impl ServerConfig {
    /// The default port of the reference programs.
    pub const DEFAULT_PORT: u16 = 65432;

    /// The clock rules connections live by.
    pub fn timers(&self) -> Timers {
        Timers::new(self.idle_timeout)
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], Self::DEFAULT_PORT)),
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            accept: AcceptMode::default(),
            max_connections: 10_000,
            max_connections_per_ip: None,
            idle_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(5),
            max_output: 1024 * 1024,
            max_buffered: 1024 * 1024 * 1024,
            read_chunk: 64 * 1024,
            limits: Limits::default(),
            backlog: 1024,
            accept_batch: 64,
            read_budget: 1,
        }
    }
}

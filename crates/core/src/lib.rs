//! The sockmux server: one mio event loop per worker thread, the sockets
//! and threads, binding, hand-off and graceful shutdown.
//!
//! Everything above the socket is sans-IO and lives in `sockmux-engine`
//! (connections, sessions, transport layers, policy), re-exported here so
//! that an embedder needs one crate. Socket I/O goes through
//! `sockmux-net`, the driver the clients use too.
//!
//! ```no_run
//! use sockmux_core::{AppService, Server, ServerConfig, Shutdown};
//! use sockmux_proto::{Limits, SearchService, Table};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ServerConfig {
//!     addr: "127.0.0.1:0".parse()?,
//!     ..ServerConfig::default()
//! };
//! let service = AppService::new(SearchService::new(Table::builtin()), Limits::default());
//! let server = Server::bind(config, service)?;
//! println!("listening on {}", server.local_addr());
//! let shutdown = Shutdown::new();
//! // Call `shutdown.trigger()` from another thread (or a signal handler)
//! // to drain and stop.
//! let stats = server.run(shutdown)?;
//! println!("{} requests", stats.requests);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod accept;
mod acceptor;
mod config;
mod handover;
mod intake;
mod metrics;
mod metrics_http;
mod peer;
mod server;
mod shutdown;
mod supervise;
mod warn;
mod worker;

pub use config::{AcceptMode, ServerConfig};
pub use handover::{ControlSocket, HandoverError, Takeover, MAX_LISTENERS};
pub use metrics::{metric, Metrics, Source};
pub use metrics_http::MetricsServer;
pub use server::{Server, ServerError};
pub use shutdown::Shutdown;
pub use sockmux_engine::{
    AppService, AppSession, Connection, EchoService, EchoSession, Handler, Layer, Layers,
    PerAddress, Plain, Response, Service, Session, Stats,
};

//! The sockmux server core: one mio event loop per worker thread, the
//! connections each worker owns, their limits and timers, and graceful
//! shutdown.
//!
//! Bytes flow one way: the worker moves bytes between sockets and
//! [`Connection`]s; a connection hands them to its [`Session`] (echo or app),
//! which alone knows what they mean. Sessions never touch sockets, so they
//! are tested without any (see the session tests), and the loop is written
//! once for every service.
#![deny(missing_docs)]

mod acceptor;
mod app;
mod config;
pub mod conn;
mod echo;
mod server;
mod session;
mod shutdown;
mod stats;
mod worker;

pub use app::{AppService, AppSession};
pub use config::{AcceptMode, ServerConfig};
pub use conn::Connection;
pub use echo::{EchoService, EchoSession};
pub use server::{Server, ServerError};
pub use session::{Output, Service, Session, Step};
pub use shutdown::Shutdown;
pub use stats::Stats;

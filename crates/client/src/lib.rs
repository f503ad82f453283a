//! sockmux clients: the app-protocol client, the echo client and the load
//! generator.
//!
//! Everything on the wire goes through `sockmux-proto`, the crate the
//! server uses too: requests are encoded by its encoder, responses decoded
//! by its decoder, and the load generator's expected answers come from its
//! search service. This crate owns connections, timing and verification;
//! printing belongs to the caller (the `sockmux` binary).
//!
//! - [`app_client`]: one request at a time over a blocking socket, with
//!   keep-alive and reconnection.
//! - [`echo_client`]: many echo connections, run on the load generator's
//!   event loop.
//! - [`mod@bench`]: the load generator, one mio event loop per thread.
//!
//! # Examples
//!
//! Ask a server (here a sockmux server started in-process on a free port)
//! to search, then load it for a thousand requests, every answer verified:
//!
//! ```
//! use std::sync::atomic::AtomicBool;
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use sockmux_client::{bench, AppClient, AppClientConfig, AppRequest, BenchConfig, Limit, Target};
//! use sockmux_core::{AppService, Server, ServerConfig, Shutdown};
//! use sockmux_proto::{Limits, SearchService, Table};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let config = ServerConfig { addr: "127.0.0.1:0".parse()?, workers: 1, ..ServerConfig::default() };
//! # let service = AppService::new(SearchService::new(Table::builtin()), Limits::default());
//! # let server = Server::bind(config, service)?;
//! # let addr = server.local_addr();
//! # let shutdown = Shutdown::new();
//! # let running = { let s = shutdown.clone(); std::thread::spawn(move || server.run(s)) };
//! let mut client = AppClient::new(AppClientConfig::new(vec![addr]));
//! let response = client.request(&AppRequest::new("search", "morpheus"), &mut |_| {})?;
//! assert_eq!(response.result(), Some("Follow the white rabbit. \u{1f430}"));
//!
//! let mut load = BenchConfig::new(addr, Target::App { binary: false, keep_alive: true });
//! load.conns = 4;
//! load.limit = Limit::Requests(1000);
//! let stop = Arc::new(AtomicBool::new(false));
//! let report = bench::run(&load, stop, Duration::from_secs(1), &mut |_| {})?;
//! assert_eq!(report.counts.requests, 1000);
//! assert_eq!(report.counts.mismatches, 0);
//! # shutdown.trigger();
//! # running.join().unwrap()?;
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod app_client;
pub mod bench;
pub mod echo_client;
mod error;
mod pattern;
mod repr;
mod tls;

pub use app_client::{AppClient, AppClientConfig, AppRequest, Event, Response};
pub use bench::{BenchConfig, BenchError, Limit, Progress, Report, Target};
pub use echo_client::{EchoClientConfig, EchoFailure, EchoPayload, EchoSummary};
pub use error::{describe_io, ClientError};
pub use repr::PyBytes;
pub use tls::TlsFailure;

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
#![deny(missing_docs)]

pub mod app_client;
pub mod bench;
pub mod echo_client;
mod error;
mod pattern;
mod repr;

pub use app_client::{AppClient, AppClientConfig, AppRequest, Event, Response};
pub use bench::{BenchConfig, BenchError, Limit, Progress, Report, Target};
pub use echo_client::{EchoClientConfig, EchoFailure, EchoPayload, EchoSummary};
pub use error::{describe_io, ClientError};
pub use repr::PyBytes;

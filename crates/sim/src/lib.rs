//! A deterministic network simulator for the sockmux server engine, in
//! the manner of FoundationDB's simulation testing, TigerBeetle's VOPR and
//! tokio's turmoil.
//!
//! One simulated worker runs the engine's real code, not a copy: the
//! [`Connection`](sockmux_engine::Connection)s with their app or echo
//! sessions, [`Admission`](sockmux_engine::Admission), the
//! [`Timers`](sockmux_engine::Timers), and the scheduling the mio worker
//! uses ([`drive`](sockmux_engine::drive()) and
//! [`ReadyQueue`](sockmux_engine::ReadyQueue)). Its sockets are bounded
//! in-memory buffers with edge-triggered readiness; its clock is an
//! `Instant` plus simulated time. Against it, seeded random peers
//! (well-behaved pipelining clients, one-shot clients, echo streamers that
//! half-close, slow readers, never-reading flooders, resetters, garbage,
//! huge bodies, slow-loris) come and go. After every step it checks:
//!
//! - every connection's buffers within a bound derived from the config,
//!   and the admitted connections' sum within `max_connections` of them;
//! - no connection reads more than its read budget in one turn, and none
//!   with input ready waits more than one turn;
//! - every complete valid request answered exactly once and in order, and
//!   every echoed byte returned (each peer checks what it received);
//! - no panic; at the end, every connection closed and every admission
//!   place released.
//!
//! A seed replays exactly: a failure names the one line that reproduces
//! it. It owns nothing the server uses; it is a test.
#![deny(missing_docs)]

mod expect;
mod link;
mod peer;
mod rng;
mod server;
mod world;

pub use world::{run_seed, Failure, Report, SimConfig};

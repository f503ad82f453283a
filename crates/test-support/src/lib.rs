//! Helpers shared by the sockmux integration tests; a dev-dependency only.
//!
//! Owns what more than one test binary needs: running the real `sockmux`
//! binary as a server or a one-shot command ([`Sockmux`], [`Server`],
//! [`run_bounded`]), talking the app protocol to it ([`app`]), doubles that
//! stand in for a server ([`doubles`]), and the reference Python programs as
//! peers ([`Seed`], [`ReferenceServer`]). It does not own any test's
//! expectations, and it never guesses where the binary under test is: a
//! test passes `env!("CARGO_BIN_EXE_sockmux")` to [`Sockmux::new`].
//!
//! The reference programs live outside the repository. Whether a test that
//! needs them skips or fails when they are missing is decided in one place,
//! [`Seed::find`] (and [`python3`]): set [`REQUIRE_SEED`]`=1` to make a
//! missing program a failure, as CI does.
//!
//! Every wait in here is bounded by [`WAIT`].
#![deny(missing_docs)]

pub mod alloc;
pub mod app;
pub mod doubles;
mod net;
mod process;
pub mod scrape;
mod seed;
pub mod tls;

use std::time::Duration;

pub use net::{connect, free_port};
pub use process::{run_bounded, run_bounded_with_input, wait_timeout, Server, Sockmux};
pub use seed::{python3, Python3, ReferenceServer, Seed, REQUIRE_SEED};

/// Upper bound on any single wait in the tests: a hang guard, never a
/// measure of speed.
pub const WAIT: Duration = Duration::from_secs(20);

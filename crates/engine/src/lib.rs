//! sockmux's server engine, sans-IO: everything above the socket.
//!
//! ```text
//!  driver (sockmux-core: mio, sockets, threads, clock reads)
//!     │ bytes read, bytes written, EOF, now          ▲ bytes to write, deadlines
//!     ▼                                              │
//!  Connection ── phases, timers, linger, backpressure, counters
//!     │ Layer stack: socket → [preamble] → [transform] → session
//!     ▼
//!  Session (EchoSession, AppSession<H: Handler>)
//!     │ requests in, responses out
//!     ▼
//!  sockmux-proto (framing, header rules, encoder, search)
//! ```
//!
//! Nothing here reads a clock, touches a socket or starts a thread: inputs
//! are handled (`handle_*`), outputs are polled (`poll_*`), time is passed
//! in. The same code the event loop drives is driven byte for byte by the
//! tests and the fuzzer, on a fake clock.
//!
//! Server policy lives here too: admission against a connection limit
//! ([`Admission`]), the clock rules ([`Timers`]), and scheduling: one
//! connection's turn ([`drive()`]) and fairness across turns ([`ReadyQueue`]).
#![deny(missing_docs)]

mod app;
mod budget;
pub mod conn;
pub mod drive;
mod echo;
mod handler;
pub mod layer;
mod output;
mod policy;
mod session;
mod stats;

pub use app::{AppService, AppSession};
pub use budget::{Budget, Lease};
pub use conn::{Connection, Phase};
pub use drive::{drive, Outcome, ReadyQueue, Socket, Sweep, Transfer, Turn};
pub use echo::{EchoService, EchoSession};
pub use handler::{Handler, Response};
pub use layer::{Layer, LayerError, Layers, Plain, Stacked};
pub use output::Output;
pub use policy::{deadline, AddressTicket, Admission, PerAddress, PolicyError, Ticket, Timers};
pub use session::{Handled, Service, Session, Step};
pub use stats::{SharedStats, Stats};

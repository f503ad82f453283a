//! The one mio driver every sockmux event loop uses: the server workers,
//! the load generator and the echo client.
//!
//! It owns what mio leaves to its callers and what is easy to get subtly
//! wrong: folding edge-triggered readiness into per-socket flags, repeating
//! reads and writes until `WouldBlock` (with the short-read shortcut gated
//! the way tokio gates it), retrying `EINTR`, completing non-blocking
//! connects, and accepting in capped batches that back off when the process
//! runs out of descriptors. It does not own buffers, timers or what the
//! bytes mean: callers hand it slices and get back what happened.
//!
//! ```no_run
//! use sockmux_net::{Io, Stream};
//!
//! # fn main() -> std::io::Result<()> {
//! let mut stream = Stream::connect("127.0.0.1:65432".parse().unwrap())?;
//! // ...register `stream.socket_mut()` with a mio `Poll`, and for each event:
//! # let events = mio::Events::with_capacity(1);
//! for event in events.iter() {
//!     stream.on_event(event);
//!     if let Some(Ok(())) = stream.poll_connect() {
//!         let mut buf = [0u8; 4096];
//!         while let Io::Data(n) = stream.read(&mut buf) {
//!             println!("{n} bytes");
//!         }
//!     }
//! }
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod accept;
mod stream;

pub use accept::{accept_batch, AcceptOutcome};
pub use stream::{Io, Stream};

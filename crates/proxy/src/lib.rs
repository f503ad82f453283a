//! The PROXY protocol (HAProxy's `proxy-protocol.txt`, versions 1 and 2),
//! sans-IO: a load balancer in front of the server opens each connection
//! with a header naming the client it relays, and the server must read
//! that header before anything else.
//!
//! ```text
//! v1: PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n          (≤ 107 bytes)
//! v2: \r\n\r\n\0\r\nQUIT\n | 0x21 | 0x11 | len u16 | addresses | TLVs
//!     then the connection's own bytes, untouched
//! ```
//!
//! - [`parse`]: an incremental parser that decides as early as the bytes
//!   allow and never guesses; every rule has a [`ProxyError`].
//! - [`ProxyLayer`] / [`ProxyLayers`]: a [`sockmux_engine::Layer`] that
//!   holds at most [`Limits::preamble_cap`] bytes until the header is
//!   whole, then passes everything up and reports the client as
//!   [`Layer::peer`](sockmux_engine::Layer::peer).
//! - [`Cidr`] / [`CidrList`]: the networks trusted to send a header.
//!
//! The specification forbids guessing whether a header is there: a
//! server either requires it on a listener or does not read it. It also
//! asks that only trusted proxies may send one; the layer does not know
//! who is trusted, the server does (and installs the layer accordingly).
//!
//! The CRC32C of the v2 `PP2_TYPE_CRC32C` TLV is implemented here
//! (table-driven, tested against RFC 3720's vectors), not taken from a
//! crate.
#![deny(missing_docs)]

mod cidr;
mod crc32c;
mod error;
mod header;
mod layer;
mod v1;
mod v2;

pub use cidr::{Cidr, CidrError, CidrList};
pub use error::{Field, IpFamily, ProxyError};
pub use header::{parse, Addresses, Command, Limits, Parsed, ProxyHeader, Version, V1_MAX_LEN};
pub use layer::{Allow, ProxyLayer, ProxyLayers};
pub use v2::SIGNATURE as V2_SIGNATURE;

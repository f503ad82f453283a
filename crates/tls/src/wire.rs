//! The sans-IO steps both sides take with a rustls connection, so that the
//! server's [`crate::TlsLayer`] and the client's [`crate::TlsClient`]
//! drive rustls the one same way (its `tlsserver-mio` example's order):
//!
//! ```text
//! records in:  read_tls ─> process_new_packets ─> reader ─> plaintext up
//! plaintext:   writer (≤ room left in out) ─> write_tls ─> out
//! ```
//!
//! Owns no state: each side keeps its connection, its output and what it
//! has learnt (a peer's `close_notify`, a completed handshake).

use std::io::{BufRead, Write};

use rustls::ConnectionCommon;
use sockmux_engine::Output;

/// Feeds `input`, the peer's next bytes, to `conn`, handing every byte
/// of plaintext they carry to `up` without copying it. Stops at the
/// peer's `close_notify` (bytes after it are ignored, as TLS says) and
/// returns whether it came.
pub(crate) fn receive<D>(
    conn: &mut ConnectionCommon<D>,
    mut input: &[u8],
    up: &mut impl FnMut(&[u8]),
) -> Result<bool, rustls::Error> {
    while !input.is_empty() {
        let read = conn
            .read_tls(&mut input)
            // Only a full record buffer fails a read from memory.
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        if read == 0 {
            break;
        }
        let state = conn.process_new_packets()?;
        if state.plaintext_bytes_to_read() > 0 {
            drain(conn, up);
        }
        if state.peer_has_closed() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Hands all decrypted plaintext to `up`.
fn drain<D>(conn: &mut ConnectionCommon<D>, up: &mut impl FnMut(&[u8])) {
    let mut reader = conn.reader();
    while let Ok(plain) = reader.fill_buf() {
        if plain.is_empty() {
            break;
        }
        let n = plain.len();
        up(plain);
        reader.consume(n);
    }
}

/// Encrypts as much of `plain` as `out` has room for below its cap
/// (records are written into it at once); returns the bytes taken.
pub(crate) fn encrypt<D>(
    conn: &mut ConnectionCommon<D>,
    mut plain: &[u8],
    out: &mut Output,
) -> usize {
    let mut taken = 0;
    loop {
        let held = out.pending().len();
        if plain.is_empty() || held >= out.cap() {
            return taken;
        }
        let take = plain.len().min(out.cap() - held);
        match conn.writer().write(&plain[..take]) {
            Ok(n) if n > 0 => {
                taken += n;
                plain = &plain[n..];
            }
            // Before the handshake completes rustls holds plaintext up
            // to its own limit; past it nothing more is taken.
            _ => return taken,
        }
        records(conn, out);
    }
}

/// Moves every record rustls has ready into `out`.
pub(crate) fn records<D>(conn: &mut ConnectionCommon<D>, out: &mut Output) {
    while conn.wants_write() {
        // Writing into a Vec cannot fail, and always makes progress.
        if conn.write_tls(out.buf_mut()).is_err() {
            break;
        }
    }
}

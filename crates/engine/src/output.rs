//! A connection's outgoing bytes, the backpressure cap on them, and the
//! connection's share of the memory budget.

use crate::Lease;

/// Outgoing bytes of one connection.
///
/// Producers append through [`Output::buf_mut`] and stop once
/// [`Output::is_full`]; the driver writes [`Output::pending`] and reports
/// what went with [`Output::consume`]. Reading from the peer stops while
/// the output is full, so a peer that does not read cannot make the server
/// buffer without bound.
///
/// It also carries the connection's [`Lease`] on the memory budget, since
/// every session sees its output: past the budget's allowance, the output
/// is full while the budget is spent, and [`Output::room`] says how much
/// an answer written in pieces may add.
///
/// ```
/// use sockmux_engine::Output;
///
/// let mut out = Output::new(4);
/// out.buf_mut().extend_from_slice(b"hello");
/// assert!(out.is_full());
/// out.consume(3);
/// assert_eq!(out.pending(), b"lo");
/// assert!(!out.is_full());
/// ```
#[derive(Debug)]
pub struct Output {
    buf: Vec<u8>,
    /// Bytes at the front of `buf` already written.
    sent: usize,
    cap: usize,
    /// The cap or the lease's allowance, whichever is lower: below it the
    /// output is never full, which is all the hot path checks.
    watch: usize,
    lease: Lease,
}

impl Output {
    /// An empty output that reports full at `cap` pending bytes.
    pub fn new(cap: usize) -> Self {
        Self::with_lease(cap, Lease::default())
    }

    /// An empty output that reports full at `cap` pending bytes, or
    /// sooner when `lease`'s budget is spent.
    pub fn with_lease(cap: usize, lease: Lease) -> Self {
        Self {
            buf: Vec::new(),
            sent: 0,
            cap,
            watch: cap.min(lease.allowance()),
            lease,
        }
    }

    /// The connection's lease on the memory budget (a session asks it
    /// before its input buffers grow large).
    pub fn lease_mut(&mut self) -> &mut Lease {
        &mut self.lease
    }

    /// The buffer to append to (pending bytes are its tail).
    #[inline]
    pub fn buf_mut(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Bytes not yet written.
    #[inline]
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.sent..]
    }

    /// Whether the pending bytes reached the cap, or the allowance while
    /// the memory budget is spent.
    #[inline]
    pub fn is_full(&self) -> bool {
        let pending = self.buf.len() - self.sent;
        pending >= self.watch && (pending >= self.cap || self.lease.is_spent())
    }

    /// How many bytes a session may append now: up to the cap, as far as
    /// the budget covers them, and never less than what the allowance
    /// leaves, so an answer written in pieces always goes on once the
    /// output drains. Room is made in the buffer for them.
    pub fn room(&mut self) -> usize {
        let want = self.cap.saturating_sub(self.buf.len() - self.sent);
        let room = if self
            .lease
            .try_cover_output(self.buf.len().saturating_add(want))
        {
            want
        } else {
            let covered = self.lease.output_covered();
            covered.saturating_sub(self.buf.len()).min(want)
        };
        // An escape at the end of a piece may run a few bytes over.
        self.buf.reserve_exact(room.saturating_add(8));
        room
    }

    /// Makes room for `extra` bytes about to be appended. Growth past the
    /// allowance asks the budget first for the usual doubling, and takes
    /// exactly what the bytes need when it says no: the output never
    /// doubles unasked, so a connection overshoots the budget by at most
    /// one append.
    #[inline]
    pub fn make_room(&mut self, extra: usize) {
        let needed = self.buf.len().saturating_add(extra);
        if needed > self.buf.capacity() {
            self.grow(needed);
        }
    }

    #[cold]
    fn grow(&mut self, needed: usize) {
        let doubled = needed.max(self.buf.capacity().saturating_mul(2));
        let target = if self.lease.try_cover_output(doubled) {
            doubled
        } else {
            needed
        };
        self.buf.reserve_exact(target - self.buf.len());
    }

    /// Makes the lease's charges match what the buffers hold now: this
    /// output, and `input_held` bytes of input.
    #[inline]
    pub fn settle(&mut self, input_held: usize) {
        self.lease.settle(input_held, self.buf.capacity());
    }

    /// Whether the lease has anything charged (buffers that only shrank
    /// need settling only then).
    #[inline]
    pub fn is_charged(&self) -> bool {
        self.lease.is_charged()
    }

    /// Marks `n` pending bytes as written.
    ///
    /// The written prefix is reclaimed once it outweighs what is still
    /// pending, so the buffer stays within twice the pending bytes and
    /// each byte is moved at most once on average.
    #[inline]
    pub fn consume(&mut self, n: usize) {
        self.sent = (self.sent + n).min(self.buf.len());
        if self.sent == self.buf.len() {
            self.buf.clear();
            self.sent = 0;
        } else if self.sent >= self.buf.len() - self.sent {
            self.buf.drain(..self.sent);
            self.sent = 0;
        }
    }

    /// Frees the buffer when it is empty and larger than `keep` bytes.
    pub fn release_idle(&mut self, keep: usize) {
        if self.buf.is_empty() && self.buf.capacity() > keep {
            self.buf = Vec::new();
        }
    }

    /// Pending bytes at which the output is full.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Bytes of heap held.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_writes_keep_order_and_reclaim_the_written_prefix() {
        let mut out = Output::new(1 << 20);
        out.buf_mut().extend_from_slice(b"abcdefgh");
        out.consume(2);
        assert_eq!(out.pending(), b"cdefgh");
        out.consume(3);
        // The written prefix (5) outweighs the pending 3: reclaimed.
        assert_eq!(out.pending(), b"fgh");
        assert_eq!(out.buf.len(), 3);
        out.buf_mut().extend_from_slice(b"ij");
        assert_eq!(out.pending(), b"fghij");
        out.consume(99);
        assert!(out.pending().is_empty());
    }
}

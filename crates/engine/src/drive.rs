//! Scheduling, sans-IO: what one connection does with its socket in one
//! loop turn ([`drive`]), and the fair queue of connections that have
//! input left over for the next turn ([`ReadyQueue`]).
//!
//! The socket is a [`Socket`]: the mio worker adapts its streams to it,
//! the deterministic simulator (`crates/sim`) implements it over simulated
//! kernel buffers, and both run this code. It owns the order of a turn
//! (flush, shut down the write side when the connection says so, read up
//! to the read budget) and fairness across turns. It does not own what the
//! bytes mean or any phase change: [`Connection`] decides those.
//!
//! ```text
//!  turn:  ┌─> flush ─> poll_shutdown (FIN?) ─> wants read and readable? ─no─> Idle / Done
//!         │                                         │ yes
//!         │                          budget used? ──┼─yes─> Requeue (back of the ReadyQueue)
//!         └──────── handle_input / handle_eof <─ read
//! ```

use std::collections::VecDeque;
use std::time::Instant;

use crate::{Connection, Layer, Session, Stats};

/// What one read or write on a [`Socket`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// This many bytes (never 0) were read or written.
    Data(usize),
    /// The peer closed its side: nothing more will be read.
    Eof,
    /// Nothing to read, or no room to write, until the next readiness.
    Blocked,
    /// The socket failed (reset, broken pipe, ...); the implementation
    /// logged why. The connection is dropped.
    Failed,
}

/// The socket side of one connection, as [`drive`] sees it.
pub trait Socket {
    /// One read into `buf` (not empty).
    fn read(&mut self, buf: &mut [u8]) -> Transfer;

    /// One write of `data` (not empty).
    fn write(&mut self, data: &[u8]) -> Transfer;

    /// Whether a read may find data (or EOF) without waiting for readiness.
    fn is_readable(&self) -> bool;

    /// Sends a FIN: the peer reads EOF after what was written. `false` if
    /// the socket failed (the implementation logged why).
    fn shutdown_write(&mut self) -> bool;
}

/// What [`drive`] left the connection as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Waiting for the socket's next readiness (or a timer).
    Idle,
    /// The read budget ran out with input left: drive it again next turn
    /// (put it on the [`ReadyQueue`]), since edge-triggered readiness will
    /// not report it again.
    Requeue,
    /// Nothing left to do: drop the connection (and its socket).
    Done,
}

/// Does the I/O the socket's readiness allows for one connection, with at
/// most `budget` reads of up to `scratch.len()` bytes, so that one peer
/// cannot starve the others of its loop. A loop gives each connection one
/// budget per turn: a second drive in the same turn (a timer that fired,
/// the start of a drain) passes 0, which flushes and requeues a connection
/// that has input waiting instead of reading it.
#[inline]
pub fn drive<S: Session, L: Layer>(
    conn: &mut Connection<S, L>,
    socket: &mut impl Socket,
    scratch: &mut [u8],
    budget: usize,
    now: Instant,
    stats: &mut Stats,
) -> Outcome {
    let mut reads = 0;
    let outcome = loop {
        flush(conn, socket, now, stats);
        // Unread input may be queued. A FIN tells the peer we are done
        // while we read and discard it, so that closing does not reset the
        // connection and destroy the response.
        if conn.poll_shutdown(now, socket.is_readable()) && !socket.shutdown_write() {
            conn.abort();
        }
        if !(conn.wants_read() && socket.is_readable()) {
            break Outcome::Idle;
        }
        if reads == budget {
            break Outcome::Requeue;
        }
        reads += 1;
        match socket.read(scratch) {
            Transfer::Data(n) => {
                conn.handle_input(&scratch[..n], now, stats);
            }
            Transfer::Eof => conn.handle_eof(now, stats),
            Transfer::Blocked => {}
            Transfer::Failed => conn.abort(),
        }
    };
    if conn.is_done() {
        Outcome::Done
    } else {
        outcome
    }
}

/// Writes what the connection owes until it is all sent or the socket is
/// full.
#[inline]
fn flush<S: Session, L: Layer>(
    conn: &mut Connection<S, L>,
    socket: &mut impl Socket,
    now: Instant,
    stats: &mut Stats,
) {
    while !conn.is_done() {
        let pending = conn.poll_transmit();
        if pending.is_empty() {
            return;
        }
        match socket.write(pending) {
            Transfer::Data(n) => conn.handle_sent(n, now, stats),
            Transfer::Blocked => return,
            Transfer::Eof | Transfer::Failed => conn.abort(),
        }
    }
}

/// Connections that used up their read budget with input left, served
/// round-robin: each turn serves only those already waiting when it
/// starts, so one that uses up its budget again goes behind everyone else.
///
/// A connection is queued at most once: pushing one that already waits
/// does nothing, and a loop skips a readiness event for a queued
/// connection (see [`ReadyQueue::is_queued`]), since its queued turn will
/// serve it. So no connection gets more than one read budget per turn,
/// however often it is pushed or reported ready.
///
/// ```
/// use sockmux_engine::ReadyQueue;
///
/// let mut ready = ReadyQueue::default();
/// ready.push(1);
/// ready.push(2);
/// ready.push(1); // already waiting: still one place
/// let mut turn = ready.turn();
/// let first = ready.next(&mut turn).unwrap();
/// ready.push(first); // still has input: back of the queue
/// assert_eq!(ready.next(&mut turn), Some(2));
/// assert_eq!(ready.next(&mut turn), None); // 1 waits for the next turn
/// assert_eq!(ready.len(), 1);
/// ```
#[derive(Debug, Default)]
pub struct ReadyQueue {
    waiting: VecDeque<usize>,
    /// `queued[key]`: whether `key` is in `waiting` (keys are slab
    /// indices, so this stays as long as the most connections held).
    queued: Vec<bool>,
}

/// One turn of a [`ReadyQueue`]: how many of its connections are left to
/// serve in it.
#[derive(Debug)]
pub struct Turn(usize);

impl ReadyQueue {
    /// Queues connection `key` for the next turn, unless it already waits.
    #[inline]
    pub fn push(&mut self, key: usize) {
        if key >= self.queued.len() {
            self.queued.resize(key + 1, false);
        }
        if !std::mem::replace(&mut self.queued[key], true) {
            self.waiting.push_back(key);
        }
    }

    /// Whether `key` waits for a turn: a loop folds in its readiness
    /// event but leaves the driving to that turn.
    #[inline]
    pub fn is_queued(&self, key: usize) -> bool {
        self.queued.get(key).copied().unwrap_or(false)
    }

    /// Starts a turn over the connections waiting now. Take it before the
    /// turn's readiness events, so that a connection requeued by its event
    /// waits for the next turn.
    #[inline]
    pub fn turn(&self) -> Turn {
        Turn(self.waiting.len())
    }

    /// The next connection to serve this turn, or `None` once everyone
    /// who was waiting at its start had theirs.
    #[inline]
    pub fn next(&mut self, turn: &mut Turn) -> Option<usize> {
        turn.0 = turn.0.checked_sub(1)?;
        let key = self.waiting.pop_front()?;
        self.queued[key] = false;
        Some(key)
    }

    /// Whether nothing waits (the loop may then sleep).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// How many wait.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }
}

/// When a loop next checks its connections' timers.
#[derive(Debug, Clone, Copy)]
pub struct Sweep {
    next: Instant,
}

impl Sweep {
    /// The first sweep is due at `now`.
    pub fn new(now: Instant) -> Self {
        Self { next: now }
    }

    /// When the next sweep is due (for the loop's sleep).
    pub fn next(&self) -> Instant {
        self.next
    }

    /// Whether a sweep is due at `now`; if so, schedules the one after it
    /// (see [`crate::Timers::sweep_interval`]).
    pub fn due(&mut self, now: Instant, timers: &crate::Timers) -> bool {
        if now < self.next {
            return false;
        }
        self.next = crate::deadline(now, timers.sweep_interval());
        true
    }
}

//! One load-generator thread: a mio event loop around its slots.
//!
//! Owns the sockets (one [`Link`] per slot that wants a connection: a
//! `sockmux_net::Stream`, with TLS over it if the run asks), the poll,
//! the timer heap that wakes slots on schedule, the timeout sweep and
//! publishing the counts. Everything a connection
//! decides (what to send, when, what a byte or a close means, back-off,
//! timeouts, counting) is the [`Slot`]'s; what a request is belongs to the
//! [`Workload`].
//!
//! When the run stops, no request starts any more and the loop waits a
//! little for the responses still in flight; what is still owed then is
//! counted as unanswered.
//!
//! In the steady state nothing is allocated per request: write buffers,
//! the in-flight queues, the decoder and the read buffer are reused, and
//! the latency histogram has a fixed size (over TLS, rustls's buffered
//! API allocates per record, as it does on the server).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use sockmux_net::Io;
use sockmux_tls::TlsConnector;

use super::alarm::Alarm;
use super::books::{Books, Rules};
use super::counters::{Live, Totals};
use super::link::Link;
use super::schedule::{Pace, Schedule};
use super::slot::{Next, Phase, Send, Slot};
use super::workload::Workload;

/// The alarm's token; connections use their slot index.
const ALARM: Token = Token(usize::MAX);
/// How often timeouts are checked, and the longest sleep of the loop (so a
/// stop request is seen promptly).
const SWEEP: Duration = Duration::from_millis(50);
/// Bytes read per `read` call.
const READ_CHUNK: usize = 64 * 1024;
/// How long the end of a run waits for the responses still in flight
/// (or the timeout, if shorter); those that do not come are unanswered.
const DRAIN: Duration = Duration::from_secs(1);

/// What one thread does, decided by its caller.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) addr: SocketAddr,
    /// Run-wide number of this thread's first connection.
    pub(crate) first_conn: usize,
    pub(crate) conns: usize,
    pub(crate) rules: Rules,
    /// Open loop; closed loop without.
    pub(crate) pace: Option<Pace>,
    pub(crate) start: Instant,
    /// TLS for every connection, one session cache for all of them.
    pub(crate) tls: Option<TlsConnector>,
}

struct Worker<W: Workload> {
    workload: Arc<W>,
    addr: SocketAddr,
    tls: Option<TlsConnector>,
    rules: Rules,
    books: Books,
    stop: Arc<AtomicBool>,
    live: Arc<Live>,
    poll: Poll,
    /// Open loop only: wakes the loop on time for the next due request.
    alarm: Option<Alarm>,
    slots: Vec<Slot<W::State>>,
    /// The connection of each slot that has one.
    links: Vec<Option<Link>>,
    timers: Timers,
    scratch: Vec<u8>,
}

/// Runs one thread's share of the load until the plan's end, the quota,
/// every single slot's end, or `stop`.
pub(crate) fn run<W: Workload>(
    workload: Arc<W>,
    plan: Plan,
    stop: Arc<AtomicBool>,
    live: Arc<Live>,
) -> io::Result<Totals> {
    let poll = Poll::new()?;
    let alarm = match plan.pace {
        Some(_) => Some(Alarm::new(poll.registry(), ALARM)?),
        None => None,
    };
    let slots = (plan.first_conn..plan.first_conn + plan.conns)
        .map(|conn| {
            let schedule = Schedule::new(plan.pace, plan.start, conn);
            Slot::new(&*workload, conn, schedule, &plan.rules, plan.start)
        })
        .collect();
    let worker = Worker {
        workload,
        addr: plan.addr,
        tls: plan.tls,
        rules: plan.rules,
        books: Books::new(),
        stop,
        live,
        poll,
        alarm,
        slots,
        links: (0..plan.conns).map(|_| None).collect(),
        timers: Timers::new(plan.conns),
        scratch: vec![0; READ_CHUNK],
    };
    worker.run()
}

impl<W: Workload> Worker<W> {
    fn run(mut self) -> io::Result<Totals> {
        let mut events = Events::with_capacity(1024);
        let now = Instant::now();
        for i in 0..self.slots.len() {
            self.pump(i, now);
        }
        let mut next_sweep = now + SWEEP;
        let mut drain_until = None;
        loop {
            let now = Instant::now();
            if self.stop.load(Ordering::Relaxed) {
                self.books.stop();
            }
            if self.books.finished(&self.rules, self.slots.len(), now) {
                // No request starts from now on; the ones out may still
                // be answered, for a while.
                self.books.stop();
                // The echo client's one exchange per slot has nothing to
                // wait for: it reports each connection as it ends.
                let drain = if self.rules.single {
                    Duration::ZERO
                } else {
                    self.rules.timeout.min(DRAIN)
                };
                let until = *drain_until.get_or_insert(now + drain);
                if now >= until || !self.slots.iter().any(Slot::awaiting) {
                    break;
                }
            }
            while let Some(i) = self.timers.pop_due(now) {
                self.pump(i, now);
            }
            if now >= next_sweep {
                self.sweep(now);
                next_sweep = now + SWEEP;
            }
            self.live.publish(&self.books.totals.counts);

            let mut wake = next_sweep;
            if let Some(at) = self.timers.next() {
                wake = wake.min(at);
                if let Some(alarm) = self.alarm.as_mut() {
                    alarm.arm(at, now)?;
                }
            }
            if let Some(end) = self.rules.end.filter(|&end| end > now) {
                wake = wake.min(end);
            }
            if let Some(until) = drain_until {
                wake = wake.min(until);
            }
            match self
                .poll
                .poll(&mut events, Some(wake.saturating_duration_since(now)))
            {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            for event in events.iter() {
                if event.token() == ALARM {
                    if let Some(alarm) = self.alarm.as_mut() {
                        alarm.on_fire();
                    }
                    continue;
                }
                let i = event.token().0;
                if let Some(Some(link)) = self.links.get_mut(i) {
                    link.on_event(event);
                    self.drive(i);
                }
            }
        }
        let unanswered: u64 = self.slots.iter().map(Slot::unanswered).sum();
        self.books.totals.counts.unanswered += unanswered;
        self.live.publish(&self.books.totals.counts);
        Ok(self.books.totals)
    }

    /// Does all the I/O slot `i`'s readiness allows, then sends what its
    /// schedule allows.
    fn drive(&mut self, i: usize) {
        let now = Instant::now();
        let Self {
            workload,
            rules,
            books,
            slots,
            links,
            scratch,
            ..
        } = self;
        let (slot, workload) = (&mut slots[i], &**workload);
        let Some(link) = links[i].as_mut() else {
            return;
        };
        if slot.phase() == Phase::Connecting {
            match link.poll_connect(scratch) {
                None => return,
                Some(Ok(how)) => {
                    books.established(how, rules, now);
                    slot.connected(rules, books, now);
                }
                Some(Err(e)) => slot.connect_failed(workload, e, books, now),
            }
        }
        while slot.has_connection() {
            let io = link.read(scratch, |plain| {
                // A fault in one piece ends the connection: no more input.
                if slot.has_connection() {
                    slot.input(workload, plain, rules, books, now);
                }
            });
            match io {
                Io::Data(_) => {}
                Io::Eof => slot.eof(workload, books),
                Io::Blocked => break,
                Io::Failed(e) => slot.io_failed(workload, e, books),
            }
        }
        self.pump(i, now);
    }

    /// Lets slot `i` queue requests (connecting first if it must), then
    /// writes what it queued.
    fn pump(&mut self, i: usize, now: Instant) {
        loop {
            self.release(i);
            let slot = &mut self.slots[i];
            match slot.pump(&*self.workload, &self.rules, &mut self.books, now) {
                Next::Connect => match self.connect(i) {
                    Ok(link) => self.links[i] = Some(link),
                    Err(e) => {
                        let books = &mut self.books;
                        self.slots[i].connect_failed(&*self.workload, e, books, now);
                    }
                },
                Next::Wait(at) => {
                    if let Some(at) = at {
                        self.timers.schedule(i, at);
                    }
                    break;
                }
            }
        }
        self.flush(i, now);
    }

    /// Drops slot `i`'s socket once the slot no longer has a connection.
    fn release(&mut self, i: usize) {
        if self.slots[i].has_connection() {
            return;
        }
        if let Some(mut link) = self.links[i].take() {
            let _ = self.poll.registry().deregister(link.socket_mut());
        }
    }

    fn connect(&self, i: usize) -> io::Result<Link> {
        let mut link = Link::connect(self.addr, self.tls.as_ref())?;
        let interest = Interest::READABLE | Interest::WRITABLE;
        self.poll
            .registry()
            .register(link.socket_mut(), Token(i), interest)?;
        Ok(link)
    }

    /// Writes what slot `i` has to send until it is all sent or the socket
    /// is full. A failure drops the connection; the slot is pumped again on
    /// the loop's next turn.
    fn flush(&mut self, i: usize, now: Instant) {
        let (slot, workload) = (&mut self.slots[i], &*self.workload);
        let Some(link) = self.links[i].as_mut() else {
            return;
        };
        loop {
            match slot.poll_send(workload) {
                Send::Bytes(bytes) => match link.write(bytes) {
                    Io::Data(n) => slot.sent(n, &self.rules, &mut self.books, now),
                    Io::Blocked => return,
                    Io::Failed(e) => break slot.io_failed(workload, e, &mut self.books),
                    Io::Eof => {
                        let e = io::ErrorKind::WriteZero.into();
                        break slot.io_failed(workload, e, &mut self.books);
                    }
                },
                Send::ShutWrite => match link.shutdown_write() {
                    Ok(true) => slot.write_shut(),
                    Ok(false) => return,
                    Err(e) => break slot.io_failed(workload, e, &mut self.books),
                },
                // What TLS still holds for the socket (plaintext: nothing).
                Send::Nothing => match link.flush() {
                    Io::Failed(e) => break slot.io_failed(workload, e, &mut self.books),
                    _ => return,
                },
            }
        }
        self.release(i);
        self.timers.schedule(i, now);
    }

    /// Ends the waits that lasted past the timeout.
    fn sweep(&mut self, now: Instant) {
        for i in 0..self.slots.len() {
            let slot = &mut self.slots[i];
            if slot.check_timeout(&*self.workload, &self.rules, &mut self.books, now) {
                self.pump(i, now);
            }
        }
    }
}

/// When slots want pumping again: a heap of `(time, slot)`, with each
/// slot's earliest wanted time, so a slot asking again for a later time
/// adds nothing.
#[derive(Debug)]
struct Timers {
    heap: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Each slot's entry in the heap, if it has one.
    at: Vec<Option<Instant>>,
}

impl Timers {
    fn new(slots: usize) -> Self {
        Self {
            heap: BinaryHeap::new(),
            at: vec![None; slots],
        }
    }

    fn schedule(&mut self, i: usize, at: Instant) {
        if self.at[i].is_some_and(|t| t <= at) {
            return;
        }
        self.at[i] = Some(at);
        self.heap.push(Reverse((at, i)));
    }

    /// A slot whose time has come, if any; stale entries are skipped.
    fn pop_due(&mut self, now: Instant) -> Option<usize> {
        while let Some(&Reverse((at, i))) = self.heap.peek() {
            if at > now {
                return None;
            }
            self.heap.pop();
            if self.at[i] == Some(at) {
                self.at[i] = None;
                return Some(i);
            }
        }
        None
    }

    fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|&Reverse((at, _))| at)
    }
}

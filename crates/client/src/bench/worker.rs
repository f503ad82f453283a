//! One load-generator thread: a mio event loop that drives its share of the
//! connections, edge-triggered (every read and write goes on until
//! `WouldBlock`).
//!
//! Owns sockets, the connection lifecycle (connect, send, receive, close,
//! reconnect with back-off), the request schedule (closed loop, or open
//! loop at a fixed rate, where latency counts from the intended send time),
//! timeouts, and the counting. What a request is and whether a response is
//! right belong to the [`Workload`].
//!
//! In the steady state nothing is allocated per request: write buffers,
//! the in-flight queue, the decoder and the read buffer are reused, and the
//! latency histogram has a fixed size.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use super::alarm::Alarm;
use super::workload::{Fault, Verdict, Workload};
use crate::error::seconds;

/// The alarm's token; connections use their slot index.
const ALARM: Token = Token(usize::MAX);
/// How often timeouts are checked, and the longest sleep of the loop (so a
/// stop request is seen promptly).
const SWEEP: Duration = Duration::from_millis(50);
/// Bytes read per `read` call.
const READ_CHUNK: usize = 64 * 1024;
/// First wait before reconnecting after a failed connect; doubles up to
/// [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Latency histogram range: 1 ns to 10 minutes, 3 significant digits.
const MAX_LATENCY_NS: u64 = 600_000_000_000;

/// What one thread does, decided by [`super::run`].
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) addr: SocketAddr,
    /// Run-wide number of this thread's first connection.
    pub(crate) first_conn: usize,
    pub(crate) conns: usize,
    /// Requests in flight per connection (1 when `one_shot`).
    pub(crate) depth: usize,
    /// Refill a connection only once all its requests are answered.
    pub(crate) batch: bool,
    /// One connection per request: send, read the response, wait for the
    /// server to close, connect again.
    pub(crate) one_shot: bool,
    /// Open loop: each connection sends one request per interval.
    pub(crate) interval: Option<Duration>,
    /// Open loop: connection `n` starts `n * stagger` after the start, so
    /// requests are spread evenly.
    pub(crate) stagger: Duration,
    pub(crate) timeout: Duration,
    pub(crate) start: Instant,
    /// Responses to requests sent before this are not counted (warm-up).
    pub(crate) measure_start: Instant,
    /// Duration mode: when to stop.
    pub(crate) end: Option<Instant>,
    /// Request mode: this thread's share of the requests.
    pub(crate) quota: Option<u64>,
}

/// Run-wide state the threads share with the caller.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) first_connect_error: Mutex<Option<io::Error>>,
}

/// One thread's running counters, for the progress display. Written with
/// relaxed stores once per loop turn; read whenever.
#[derive(Debug, Default)]
pub(crate) struct Live {
    pub(crate) requests: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) bytes_received: AtomicU64,
    pub(crate) mismatches: AtomicU64,
    pub(crate) protocol_errors: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) connect_errors: AtomicU64,
    pub(crate) opened: AtomicU64,
}

/// What one thread did.
#[derive(Debug)]
pub(crate) struct Totals {
    pub(crate) requests: u64,
    pub(crate) bytes_sent: u64,
    pub(crate) bytes_received: u64,
    pub(crate) mismatches: u64,
    pub(crate) protocol_errors: u64,
    pub(crate) timeouts: u64,
    pub(crate) connect_errors: u64,
    pub(crate) opened: u64,
    /// Nanoseconds from intended send to whole, verified response.
    pub(crate) latency: Histogram<u64>,
    pub(crate) last_completion: Option<Instant>,
    pub(crate) first_mismatch: Option<String>,
    pub(crate) first_error: Option<String>,
}

impl Totals {
    pub(crate) fn new() -> Self {
        Self {
            requests: 0,
            bytes_sent: 0,
            bytes_received: 0,
            mismatches: 0,
            protocol_errors: 0,
            timeouts: 0,
            connect_errors: 0,
            opened: 0,
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3)
                .unwrap_or_else(|_| unreachable!("constant, valid bounds")),
            last_completion: None,
            first_mismatch: None,
            first_error: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No socket.
    Idle,
    Connecting,
    Open,
    /// One-shot: the response is in; waiting for the server to close.
    Finishing,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    /// When the request was meant to go out (open loop) or went out.
    intended: Instant,
    /// Sent after the warm-up, so it counts.
    counted: bool,
}

#[derive(Debug)]
struct Slot<S> {
    stream: Option<TcpStream>,
    phase: Phase,
    out: Vec<u8>,
    out_pos: usize,
    readable: bool,
    writable: bool,
    /// The peer hung up: read until EOF even after a short read.
    read_hup: bool,
    in_flight: VecDeque<Pending>,
    last_progress: Instant,
    next_due: Instant,
    retry_at: Instant,
    backoff: Duration,
    /// When this slot's entry in the timer heap fires, if it has one.
    timer_at: Option<Instant>,
    state: S,
}

/// How a burst of reads ended, when it ended the connection.
enum Ending {
    Eof,
    Fault(Fault),
}

struct Worker<W: Workload> {
    workload: Arc<W>,
    plan: Plan,
    shared: Arc<Shared>,
    live: Arc<Live>,
    poll: Poll,
    /// Open loop only: wakes the loop on time for the next due request.
    alarm: Option<Alarm>,
    slots: Vec<Slot<W::State>>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    totals: Totals,
    scratch: Vec<u8>,
    /// Counted requests sent.
    issued: u64,
    /// Counted requests answered, or lost with their connection.
    settled: u64,
}

/// Runs one thread's share of the load until the plan's end, the quota or
/// a stop request.
pub(crate) fn run<W: Workload>(
    workload: Arc<W>,
    plan: Plan,
    shared: Arc<Shared>,
    live: Arc<Live>,
) -> io::Result<Totals> {
    let poll = Poll::new()?;
    let alarm = match plan.interval {
        Some(_) => Some(Alarm::new(poll.registry(), ALARM)?),
        None => None,
    };
    let slots = (0..plan.conns)
        .map(|i| {
            let conn = plan.first_conn + i;
            Slot {
                stream: None,
                phase: Phase::Idle,
                out: Vec::new(),
                out_pos: 0,
                readable: false,
                writable: false,
                read_hup: false,
                in_flight: VecDeque::with_capacity(plan.depth),
                last_progress: plan.start,
                next_due: plan.start + plan.stagger.saturating_mul(conn as u32),
                retry_at: plan.start,
                backoff: FIRST_BACKOFF,
                timer_at: None,
                state: workload.state(conn),
            }
        })
        .collect();
    let worker = Worker {
        workload,
        plan,
        shared,
        live,
        poll,
        alarm,
        slots,
        timers: BinaryHeap::new(),
        totals: Totals::new(),
        scratch: vec![0; READ_CHUNK],
        issued: 0,
        settled: 0,
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
        loop {
            let now = Instant::now();
            if self.finished(now) {
                break;
            }
            while let Some(&Reverse((at, i))) = self.timers.peek() {
                if at > now {
                    break;
                }
                self.timers.pop();
                if self.slots[i].timer_at == Some(at) {
                    self.slots[i].timer_at = None;
                    self.pump(i, now);
                    self.flush(i, now);
                }
            }
            if now >= next_sweep {
                self.sweep(now);
                next_sweep = now + SWEEP;
            }
            self.publish();

            let mut wake = next_sweep;
            if let Some(&Reverse((at, _))) = self.timers.peek() {
                wake = wake.min(at);
                if let Some(alarm) = self.alarm.as_mut() {
                    alarm.arm(at, now)?;
                }
            }
            if let Some(end) = self.plan.end {
                wake = wake.min(end);
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
                let Some(slot) = self.slots.get_mut(i) else {
                    continue;
                };
                slot.readable |= event.is_readable() || event.is_read_closed() || event.is_error();
                slot.writable |= event.is_writable() || event.is_write_closed() || event.is_error();
                slot.read_hup |= event.is_read_closed() || event.is_error();
                self.drive(i);
            }
        }
        self.publish();
        Ok(self.totals)
    }

    /// Whether this thread is done.
    fn finished(&self, now: Instant) -> bool {
        self.stopping(now) || self.plan.quota.is_some_and(|quota| self.settled >= quota)
    }

    /// Whether no new request may start.
    fn stopping(&self, now: Instant) -> bool {
        self.shared.stop.load(Ordering::Relaxed) || self.plan.end.is_some_and(|end| now >= end)
    }

    fn publish(&self) {
        let (t, l) = (&self.totals, &self.live);
        l.requests.store(t.requests, Ordering::Relaxed);
        l.bytes_sent.store(t.bytes_sent, Ordering::Relaxed);
        l.bytes_received.store(t.bytes_received, Ordering::Relaxed);
        l.mismatches.store(t.mismatches, Ordering::Relaxed);
        l.protocol_errors
            .store(t.protocol_errors, Ordering::Relaxed);
        l.timeouts.store(t.timeouts, Ordering::Relaxed);
        l.connect_errors.store(t.connect_errors, Ordering::Relaxed);
        l.opened.store(t.opened, Ordering::Relaxed);
    }

    /// Does all the I/O slot `i`'s readiness allows, then sends what its
    /// schedule allows.
    fn drive(&mut self, i: usize) {
        let now = Instant::now();
        match self.slots[i].phase {
            Phase::Idle => return,
            Phase::Connecting => match self.check_connected(i, now) {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => return self.connect_failed(i, e, now),
            },
            Phase::Open | Phase::Finishing => {}
        }
        if let Some(ending) = self.read_all(i, now) {
            match ending {
                Ending::Eof if self.slots[i].in_flight.is_empty() => self.close(i, true),
                Ending::Eof => {
                    let unanswered = self.slots[i].in_flight.len();
                    self.fault(i, Fault::Closed(unanswered));
                }
                Ending::Fault(fault) => self.fault(i, fault),
            }
        }
        self.pump(i, now);
        self.flush(i, now);
    }

    /// Whether a connecting socket is now connected.
    fn check_connected(&mut self, i: usize, now: Instant) -> io::Result<bool> {
        let slot = &mut self.slots[i];
        if !slot.readable && !slot.writable {
            return Ok(false);
        }
        let Some(stream) = slot.stream.as_ref() else {
            return Ok(false);
        };
        if let Some(e) = stream.take_error()? {
            return Err(e);
        }
        match stream.peer_addr() {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                slot.readable = false;
                slot.writable = false;
                return Ok(false);
            }
            Err(e) => return Err(e),
        }
        // Requests are small: Nagle would only add latency.
        stream.set_nodelay(true)?;
        slot.phase = Phase::Open;
        slot.last_progress = now;
        slot.backoff = FIRST_BACKOFF;
        self.totals.opened += 1;
        Ok(true)
    }

    /// Reads until `WouldBlock`, handing the bytes to the workload.
    fn read_all(&mut self, i: usize, now: Instant) -> Option<Ending> {
        let Self {
            workload,
            slots,
            totals,
            scratch,
            settled,
            plan,
            ..
        } = self;
        let slot = &mut slots[i];
        let one_shot = plan.one_shot;
        let measuring = now >= plan.measure_start;
        while slot.readable {
            let stream = slot.stream.as_mut()?;
            let n = match stream.read(scratch) {
                Ok(0) => return Some(Ending::Eof),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    slot.readable = false;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Some(Ending::Fault(Fault::Io(e))),
            };
            if measuring {
                totals.bytes_received += n as u64;
            }
            slot.last_progress = now;
            let mut unsolicited = false;
            let in_flight = &mut slot.in_flight;
            let detail = totals.first_mismatch.is_none();
            let result = workload.input(&mut slot.state, &scratch[..n], detail, &mut |verdict| {
                let Some(pending) = in_flight.pop_front() else {
                    unsolicited = true;
                    return;
                };
                complete(totals, settled, pending, verdict, now);
            });
            if let Err(fault) = result {
                return Some(Ending::Fault(fault));
            }
            if unsolicited {
                return Some(Ending::Fault(Fault::Unsolicited));
            }
            if one_shot && slot.phase == Phase::Open && slot.in_flight.is_empty() {
                slot.phase = Phase::Finishing;
            }
            // A short read emptied the socket; with edge-triggered
            // readiness more bytes bring a new event, so skip the read that
            // would only say `WouldBlock`.
            if n < scratch.len() && !slot.read_hup {
                slot.readable = false;
            }
        }
        None
    }

    /// Queues as many requests on slot `i` as its schedule, depth and the
    /// quota allow, connecting first when it has no connection.
    fn pump(&mut self, i: usize, now: Instant) {
        let cap = if self.plan.one_shot {
            1
        } else {
            self.plan.depth
        };
        if self.plan.batch && !self.slots[i].in_flight.is_empty() {
            return;
        }
        loop {
            if self.stopping(now) {
                return;
            }
            let slot = &mut self.slots[i];
            if slot.phase == Phase::Finishing || slot.in_flight.len() >= cap {
                return;
            }
            let intended = match self.plan.interval {
                Some(_) if slot.next_due > now => {
                    let due = slot.next_due;
                    return self.schedule(i, due);
                }
                Some(_) => slot.next_due,
                None => now,
            };
            let counted = intended >= self.plan.measure_start;
            if counted && self.plan.quota.is_some_and(|quota| self.issued >= quota) {
                return;
            }
            if slot.phase == Phase::Idle {
                if slot.retry_at > now {
                    let at = slot.retry_at;
                    return self.schedule(i, at);
                }
                if !self.connect(i, now) {
                    return;
                }
            }
            let slot = &mut self.slots[i];
            if slot.in_flight.is_empty() {
                // The timeout counts from here, not from the last response.
                slot.last_progress = now;
            }
            self.workload.request(&mut slot.state, &mut slot.out);
            slot.in_flight.push_back(Pending { intended, counted });
            if let Some(interval) = self.plan.interval {
                slot.next_due += interval;
            }
            if counted {
                self.issued += 1;
            }
        }
    }

    /// Asks the loop to pump slot `i` again at `at`.
    fn schedule(&mut self, i: usize, at: Instant) {
        let slot = &mut self.slots[i];
        if slot.timer_at.is_some_and(|t| t <= at) {
            return;
        }
        slot.timer_at = Some(at);
        self.timers.push(Reverse((at, i)));
    }

    /// Starts connecting slot `i`; false when that failed at once.
    fn connect(&mut self, i: usize, now: Instant) -> bool {
        let attempt = TcpStream::connect(self.plan.addr).and_then(|mut stream| {
            self.poll.registry().register(
                &mut stream,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            Ok(stream)
        });
        match attempt {
            Ok(stream) => {
                let slot = &mut self.slots[i];
                slot.stream = Some(stream);
                slot.phase = Phase::Connecting;
                slot.last_progress = now;
                true
            }
            Err(e) => {
                self.connect_failed(i, e, now);
                false
            }
        }
    }

    fn connect_failed(&mut self, i: usize, e: io::Error, now: Instant) {
        self.totals.connect_errors += 1;
        if let Ok(mut first) = self.shared.first_connect_error.lock() {
            first.get_or_insert(e);
        }
        self.close(i, true);
        let slot = &mut self.slots[i];
        slot.retry_at = now + slot.backoff;
        slot.backoff = (slot.backoff * 2).min(MAX_BACKOFF);
        let at = slot.retry_at;
        self.schedule(i, at);
    }

    /// Counts a fault and replaces the connection (on the loop's next turn,
    /// whatever the caller does next).
    fn fault(&mut self, i: usize, fault: Fault) {
        self.totals.protocol_errors += 1;
        if self.totals.first_error.is_none() {
            self.totals.first_error = Some(fault.to_string());
        }
        self.close(i, false);
        self.schedule(i, Instant::now());
    }

    /// Drops slot `i`'s connection and whatever it had in flight.
    fn close(&mut self, i: usize, clean: bool) {
        let slot = &mut self.slots[i];
        if let Some(mut stream) = slot.stream.take() {
            let _ = self.poll.registry().deregister(&mut stream);
        }
        for pending in slot.in_flight.drain(..) {
            if pending.counted {
                self.settled += 1;
            }
        }
        slot.out.clear();
        slot.out_pos = 0;
        slot.readable = false;
        slot.writable = false;
        slot.read_hup = false;
        slot.phase = Phase::Idle;
        self.workload.reset(&mut slot.state, clean);
    }

    /// Writes queued requests until they are all sent or the socket is full.
    fn flush(&mut self, i: usize, now: Instant) {
        let measuring = now >= self.plan.measure_start;
        let slot = &mut self.slots[i];
        if slot.phase != Phase::Open {
            return;
        }
        while slot.writable && slot.out_pos < slot.out.len() {
            let Some(stream) = slot.stream.as_mut() else {
                return;
            };
            match stream.write(&slot.out[slot.out_pos..]) {
                Ok(n) => {
                    slot.out_pos += n;
                    if measuring {
                        self.totals.bytes_sent += n as u64;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => slot.writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.fault(i, Fault::Io(e)),
            }
        }
        if slot.out_pos == slot.out.len() {
            slot.out.clear();
            slot.out_pos = 0;
        }
    }

    /// Fails connections that made no progress within the timeout.
    fn sweep(&mut self, now: Instant) {
        let timeout = self.plan.timeout;
        for i in 0..self.slots.len() {
            let slot = &self.slots[i];
            if now.saturating_duration_since(slot.last_progress) < timeout {
                continue;
            }
            let (phase, idle) = (slot.phase, slot.in_flight.is_empty());
            match phase {
                Phase::Idle => {}
                Phase::Connecting => {
                    self.connect_failed(i, io::ErrorKind::TimedOut.into(), now);
                }
                Phase::Open if idle => {}
                Phase::Open | Phase::Finishing => {
                    self.totals.timeouts += 1;
                    if self.totals.first_error.is_none() {
                        let what = if phase == Phase::Finishing {
                            "the server to close the connection after its response"
                        } else {
                            "a response"
                        };
                        self.totals.first_error =
                            Some(format!("waited more than {} for {what}", seconds(timeout)));
                    }
                    self.close(i, false);
                    self.pump(i, now);
                    self.flush(i, now);
                }
            }
        }
    }
}

/// Counts one answered request.
fn complete(
    totals: &mut Totals,
    settled: &mut u64,
    pending: Pending,
    verdict: Verdict,
    now: Instant,
) {
    match verdict {
        Verdict::Ok if pending.counted => {
            totals.requests += 1;
            let nanos = now.saturating_duration_since(pending.intended).as_nanos();
            totals
                .latency
                .saturating_record(u64::try_from(nanos).unwrap_or(u64::MAX));
            totals.last_completion = Some(now);
        }
        Verdict::Ok => {}
        Verdict::Mismatch(detail) => {
            totals.mismatches += 1;
            if totals.first_mismatch.is_none() {
                totals.first_mismatch = detail;
            }
        }
    }
    if pending.counted {
        *settled += 1;
    }
}

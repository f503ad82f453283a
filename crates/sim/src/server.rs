//! The simulated worker: the engine's real [`Connection`]s, sessions,
//! [`Admission`], [`Timers`], [`drive`] and [`ReadyQueue`], looped the way
//! `sockmux-core`'s mio worker loops them (events, then the ready queue,
//! then accepts, then timers), over [`Link`]s instead of sockets. After
//! every turn it checks the invariants the engine promises the server:
//! bounded memory and fair turns.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use sockmux_engine::{
    drive, Admission, Budget, Connection, Lease, Outcome, Plain, ReadyQueue, Service, Session,
    Stats, Sweep, Ticket, Timers,
};

use crate::link::{Link, ServerSocket};
use crate::rng::Rng;
use crate::SimConfig;

/// A ready connection may wait at most this many turns before it is
/// driven: the ready queue serves everyone already waiting in the next
/// turn.
pub const MAX_WAIT_TURNS: u32 = 1;

struct Conn<S> {
    conn: Connection<S, Plain>,
    /// Its admission place; `None` for a refused connection.
    ticket: Option<Ticket>,
    /// Turns it had input ready and was not driven.
    waited: u32,
    /// Its last turn ended with reading paused by the spent memory budget
    /// (output past the allowance): it reads again on its next write
    /// event, not as soon as the budget frees, so it is not waiting.
    paused: bool,
}

/// One worker's loop over simulated connections; keys are peer ids.
pub struct SimServer<V: Service> {
    service: V,
    config: SimConfig,
    admission: Arc<Admission>,
    budget: Arc<Budget>,
    timers: Timers,
    conns: BTreeMap<usize, Conn<V::Session>>,
    /// Connections made by peers, not yet accepted.
    backlog: VecDeque<usize>,
    ready: ReadyQueue,
    sweep: Sweep,
    scratch: Vec<u8>,
    /// Driven this turn.
    driven: BTreeSet<usize>,
    /// Connections that ended in an error response since the last look.
    failed: Vec<usize>,
    /// What the connections did.
    pub stats: Stats,
}

impl<V: Service> SimServer<V> {
    /// A worker serving `service` under `config`, starting at `now`.
    pub fn new(service: V, config: SimConfig, now: Instant) -> Self {
        Self {
            service,
            admission: Admission::new(config.max_connections),
            budget: Budget::with_allowance(config.budget, config.allowance),
            timers: config.timers,
            conns: BTreeMap::new(),
            backlog: VecDeque::new(),
            ready: ReadyQueue::default(),
            sweep: Sweep::new(now),
            scratch: vec![0; config.read_chunk],
            driven: BTreeSet::new(),
            failed: Vec::new(),
            stats: Stats::default(),
            config,
        }
    }

    /// Peer `key` connects; the worker accepts it on a later turn.
    pub fn connect(&mut self, key: usize) {
        self.backlog.push_back(key);
    }

    /// Connections holding an admission place.
    pub fn active(&self) -> usize {
        self.admission.active()
    }

    /// The connections that ended in an error response since the last
    /// call.
    pub fn take_failed(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.failed)
    }

    /// Bytes charged to the memory budget.
    pub fn budget_used(&self) -> usize {
        self.budget.used()
    }

    /// Whether no connection is open or waiting to be accepted.
    pub fn is_idle(&self) -> bool {
        self.conns.is_empty() && self.backlog.is_empty()
    }

    /// When the earliest connection timer fires (to skip idle time).
    pub fn next_timer(&self) -> Option<Instant> {
        let timers = &self.timers;
        self.conns
            .values()
            .map(|c| c.conn.poll_timeout(timers))
            .min()
    }

    /// One loop turn at `now`, then the invariants. `refused` learns the
    /// peers turned away by admission.
    pub fn turn(
        &mut self,
        now: Instant,
        links: &mut [Link],
        rng: &mut Rng,
        refused: &mut Vec<usize>,
    ) -> Result<(), String> {
        self.driven.clear();
        for link in links.iter_mut() {
            link.reads = 0;
        }
        let budget = self.config.read_budget;
        let mut turn = self.ready.turn();
        let keys: Vec<usize> = self.conns.keys().copied().collect();
        for key in keys {
            // A queued connection's readiness is folded in (the link
            // keeps it); its queued turn drives it.
            if links[key].take_event() && !self.ready.is_queued(key) {
                self.drive(key, budget, now, links, rng)?;
            }
        }
        while let Some(key) = self.ready.next(&mut turn) {
            self.drive(key, budget, now, links, rng)?;
        }
        for _ in 0..self.config.accept_batch {
            let Some(key) = self.backlog.pop_front() else {
                break;
            };
            self.admit(key, now, links, rng, refused)?;
        }
        if self.sweep.due(now, &self.timers) {
            let mut fired = Vec::new();
            for (&key, c) in &mut self.conns {
                let errors = self.stats.errors;
                if c.conn.handle_timeout(now, &self.timers, &mut self.stats) {
                    fired.push(key);
                }
                if self.stats.errors > errors {
                    self.failed.push(key);
                }
            }
            for key in fired {
                self.drive(key, 0, now, links, rng)?;
            }
        }
        self.check(links)
    }

    fn admit(
        &mut self,
        key: usize,
        now: Instant,
        links: &mut [Link],
        rng: &mut Rng,
        refused: &mut Vec<usize>,
    ) -> Result<(), String> {
        let session = self.service.session();
        let (conn, ticket) = match self.admission.try_admit() {
            Ok(ticket) => {
                self.stats.connections += 1;
                let conn = Connection::new(session, Plain, self.config.max_output, now)
                    .with_lease(Lease::new(&self.budget));
                (conn, Some(ticket))
            }
            Err(reason) => {
                self.stats.refused += 1;
                refused.push(key);
                let mut refusal = Vec::new();
                self.service.refusal(&reason, &mut refusal);
                (Connection::refused(session, Plain, &refusal, now), None)
            }
        };
        let entry = Conn {
            conn,
            ticket,
            waited: 0,
            paused: false,
        };
        self.conns.insert(key, entry);
        self.drive(key, self.config.read_budget, now, links, rng)
    }

    fn drive(
        &mut self,
        key: usize,
        budget: usize,
        now: Instant,
        links: &mut [Link],
        rng: &mut Rng,
    ) -> Result<(), String> {
        let Some(c) = self.conns.get_mut(&key) else {
            return Ok(());
        };
        self.driven.insert(key);
        let mut socket = ServerSocket {
            link: &mut links[key],
            rng,
        };
        let errors = self.stats.errors;
        let outcome = drive(
            &mut c.conn,
            &mut socket,
            &mut self.scratch,
            budget,
            now,
            &mut self.stats,
        );
        if self.stats.errors > errors {
            self.failed.push(key);
        }
        c.paused = self.budget.is_spent() && c.conn.poll_transmit().len() >= self.config.allowance;
        match outcome {
            Outcome::Idle => {}
            Outcome::Requeue => self.ready.push(key),
            Outcome::Done => {
                self.conns.remove(&key);
                links[key].server_close();
            }
        }
        Ok(())
    }

    /// Memory within budget for every connection, no connection read more
    /// than its read budget in the turn (however many times it was driven),
    /// and no connection with input ready left waiting longer than
    /// [`MAX_WAIT_TURNS`].
    fn check(&mut self, links: &[Link]) -> Result<(), String> {
        let (per_conn, max_pending) = (self.config.held_bound(), self.config.pending_bound());
        let mut admitted = 0;
        for (key, link) in links.iter().enumerate() {
            if link.reads > self.config.read_budget {
                return Err(format!(
                    "fairness: connection {key} got {} reads in one turn, budget {}",
                    link.reads, self.config.read_budget
                ));
            }
        }
        for (&key, c) in &mut self.conns {
            let held = c.conn.buffer_capacity() + c.conn.session().held();
            if c.ticket.is_some() {
                admitted += held;
            }
            if held > per_conn {
                return Err(format!(
                    "budget: connection {key} holds {held} bytes, bound {per_conn}"
                ));
            }
            let pending = c.conn.poll_transmit().len();
            if pending > max_pending {
                return Err(format!(
                    "budget: connection {key} has {pending} bytes of output pending, \
                     bound {max_pending}"
                ));
            }
            let ready = links[key].has_ready_input() && c.conn.wants_read() && !c.paused;
            c.waited = if ready && !self.driven.contains(&key) {
                c.waited + 1
            } else {
                0
            };
            if c.waited > MAX_WAIT_TURNS {
                return Err(format!(
                    "fairness: connection {key} had input ready for {} turns without a turn",
                    c.waited
                ));
            }
        }
        // The memory budget caps what they hold together, up to a
        // constant per connection.
        let bound = self.config.budget + self.conns.len() * self.config.budget_slack();
        if admitted > bound {
            return Err(format!(
                "budget: {} connections hold {admitted} bytes, bound {bound} \
                 (budget {}, {} charged)",
                self.conns.len(),
                self.config.budget,
                self.budget.used()
            ));
        }
        Ok(())
    }
}

//! One seeded run: draws a server config and a crowd of peers from the
//! seed, steps the simulated clock, the peers and the simulated worker in
//! turn, and checks at every step (the worker's invariants, each peer's
//! expectation when its connection ends) and at the end (every connection
//! closed, every admission place released). An app world and an echo
//! world run per seed.

use std::fmt;
use std::time::{Duration, Instant};

use sockmux_engine::{AppService, EchoService, Service, Timers};
use sockmux_proto::{Limits, SearchService, Table};

use crate::link::Link;
use crate::peer::{search_keys, Kind, Peer};
use crate::rng::Rng;
use crate::server::SimServer;

/// The largest response the search service gives the simulated peers'
/// requests (answers, error texts and binary heads are all far smaller).
const MAX_RESPONSE: usize = 4096;
/// New peers arrive during this many steps.
const ARRIVALS: u64 = 3_000;
/// Peers still connected at this step leave (every one that can finish
/// has finished long before: the slowest gives up at the idle timeout).
const LEAVE_AT: u64 = 40_000;
/// After the last peer left, the server's timers close what is left
/// within this many steps.
const WIND_DOWN: u64 = 10_000;

/// The server config of one world, drawn small so that limits bite.
#[derive(Debug, Clone, Copy)]
pub struct SimConfig {
    /// Admission limit.
    pub max_connections: usize,
    /// Output bytes before reading stops.
    pub max_output: usize,
    /// Bytes per read.
    pub read_chunk: usize,
    /// Reads per connection per turn.
    pub read_budget: usize,
    /// Accepts per turn.
    pub accept_batch: usize,
    /// Protocol limits.
    pub limits: Limits,
    /// Idle timeout and linger.
    pub timers: Timers,
    /// The memory budget, past the allowances.
    pub budget: usize,
    /// Input bytes, and as many output bytes, each connection holds free.
    pub allowance: usize,
}

impl SimConfig {
    fn draw(rng: &mut Rng) -> Self {
        let idle = Duration::from_millis(rng.range(1000, 4000) as u64);
        let linger = Duration::from_millis(rng.range(20, 1000) as u64);
        Self {
            max_connections: rng.range(4, 32),
            max_output: rng.range(1024, 32 * 1024),
            read_chunk: rng.range(512, 16 * 1024),
            read_budget: rng.range(1, 8),
            accept_batch: rng.range(1, 16),
            limits: Limits {
                max_header: rng.range(256, 4096),
                max_content: rng.range(1024, 256 * 1024),
            },
            timers: Timers { idle, linger },
            budget: rng.range(16 * 1024, 512 * 1024),
            allowance: rng.range(512, 8 * 1024),
        }
    }

    /// Heap one connection may hold beyond its charge to the budget: its
    /// two allowances, and what one event adds without asking once the
    /// budget is spent (an echo or a read's answers, doubled by a `Vec`'s
    /// growth, and a header with a read chunk of input likewise).
    pub fn budget_slack(&self) -> usize {
        let output = 2 * (self.allowance + self.read_chunk.max(MAX_RESPONSE) + MAX_RESPONSE);
        let input = 2 * (self.limits.max_header + 2 + self.read_chunk);
        2 * self.allowance + output + input
    }

    /// Output one connection may have pending: the cap, plus the last
    /// read's echo or the last response appended before the cap was
    /// seen, plus a last word (the idle timeout's error) after it.
    pub fn pending_bound(&self) -> usize {
        self.max_output + self.read_chunk.max(MAX_RESPONSE) + MAX_RESPONSE
    }

    /// Heap one connection may hold: its output (the written prefix is
    /// reclaimed once it outweighs the pending bytes, and a `Vec` at most
    /// doubles what it needs), and its input buffer (one unfinished
    /// message and one read chunk, doubled likewise).
    pub fn held_bound(&self) -> usize {
        4 * self.pending_bound() + 2 * (self.limits.max_message() + self.read_chunk)
    }
}

/// What a passing seed did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Report {
    /// Simulation steps, both worlds.
    pub steps: u64,
    /// Peers, both worlds.
    pub peers: u64,
    /// Of which admission refused.
    pub refused: u64,
    /// Requests answered (app) and reads echoed (echo).
    pub requests: u64,
    /// Bytes the server read.
    pub bytes_in: u64,
}

/// A broken invariant, with the line that replays it.
#[derive(Debug)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// Which world (app or echo).
    pub world: &'static str,
    /// The step it was found at.
    pub step: u64,
    /// What broke.
    pub what: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sockmux-sim: {} world, step {}: {} -- reproduce: SOCKMUX_SIM_SEED={} cargo test -p sockmux-sim",
            self.world, self.step, self.what, self.seed
        )
    }
}

/// Runs seed `seed`: an app world, then an echo world.
pub fn run_seed(seed: u64) -> Result<Report, Failure> {
    let mut rng = Rng::new(seed);
    let mut report = Report::default();
    let limits_rng = &mut rng.fork();
    let config = SimConfig::draw(limits_rng);
    let app = AppService::new(SearchService::new(Table::builtin()), config.limits);
    run_world(
        seed,
        "app",
        app,
        config,
        &Kind::APP,
        rng.fork(),
        &mut report,
    )?;
    let config = SimConfig::draw(limits_rng);
    run_world(
        seed,
        "echo",
        EchoService,
        config,
        &Kind::ECHO,
        rng.fork(),
        &mut report,
    )?;
    Ok(report)
}

fn run_world<V: Service>(
    seed: u64,
    world: &'static str,
    service: V,
    config: SimConfig,
    kinds: &[Kind],
    mut rng: Rng,
    report: &mut Report,
) -> Result<(), Failure> {
    let table = Table::builtin();
    let keys = search_keys(&table);
    let mut now = Instant::now();
    let mut server = SimServer::new(service, config, now);
    let crowd = rng.range(8, 64);
    let arrive_one_in = (ARRIVALS / crowd as u64) as u32;
    let (mut peers, mut links) = (Vec::<Peer>::new(), Vec::<Link>::new());
    let mut refused = Vec::new();
    let mut step = 0;
    let fail = |step, what| Failure {
        seed,
        world,
        step,
        what,
    };
    loop {
        step += 1;
        let busy = peers.len() < crowd || peers.iter().any(|p| !p.done);
        now += if busy {
            Duration::from_micros(rng.range(0, 3000) as u64)
        } else {
            // Nothing but timers left: skip to the next one.
            let next = server.next_timer().unwrap_or(now);
            next.saturating_duration_since(now)
                .max(Duration::from_millis(1))
        };
        if peers.len() < crowd && rng.one_in(arrive_one_in) {
            let kind = *rng.pick(kinds);
            let peer = Peer::new(kind, rng.fork(), &keys, &config.limits, world == "app");
            let least = peer.least_buffer();
            links.push(Link::new(
                rng.range(least, 64 * 1024),
                rng.range(least, 64 * 1024),
            ));
            server.connect(peers.len());
            peers.push(peer);
        }
        for (peer, link) in peers.iter_mut().zip(&mut links) {
            peer.act(link, &table).map_err(|e| fail(step, e))?;
        }
        server
            .turn(now, &mut links, &mut rng, &mut refused)
            .map_err(|e| fail(step, e))?;
        for id in refused.drain(..) {
            peers[id].refused = true;
        }
        for id in server.take_failed() {
            peers[id].failed = true;
        }
        if step == LEAVE_AT {
            for (peer, link) in peers.iter_mut().zip(&mut links) {
                peer.leave(link).map_err(|e| fail(step, e))?;
            }
        }
        if peers.len() == crowd && !busy && server.is_idle() {
            break;
        }
        if step > LEAVE_AT + WIND_DOWN {
            return Err(fail(step, "liveness: connections never closed".into()));
        }
    }
    if server.budget_used() != 0 {
        let what = format!(
            "budget: {} bytes still charged after the end",
            server.budget_used()
        );
        return Err(fail(step, what));
    }
    if server.active() != 0 {
        let what = format!(
            "slots: {} admission places held after the end",
            server.active()
        );
        return Err(fail(step, what));
    }
    report.steps += step;
    report.peers += peers.len() as u64;
    report.refused += server.stats.refused;
    report.requests += server.stats.requests;
    report.bytes_in += server.stats.bytes_in;
    Ok(())
}

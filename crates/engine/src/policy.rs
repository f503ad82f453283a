//! Server policy, sans-IO: who is admitted, and the clock rules every
//! connection lives by. The driver asks; nothing here reads a clock or
//! touches a socket.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use thiserror::Error;

/// Why server policy refused or ended a connection. The `Display` text is
/// the sentence the peer reads (the app protocol sends it after `Error: `).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    /// The server is at its connection limit.
    #[error("the server is at its limit of {limit} connections, try again later")]
    TooManyConnections {
        /// The limit in force.
        limit: usize,
    },
    /// One client address holds as many connections as it may.
    #[error("{ip} has {limit} connections open, the most one address may have")]
    TooManyFromAddress {
        /// The client's address.
        ip: IpAddr,
        /// The limit in force.
        limit: usize,
    },
    /// The peer sent part of a message and then nothing whole for too long.
    #[error("no complete message within the idle timeout of {secs} s")]
    Stalled {
        /// The idle timeout, in seconds.
        secs: u64,
    },
}

/// Counts connections open across all workers against a limit.
///
/// ```
/// use sockmux_engine::Admission;
///
/// let admission = Admission::new(1);
/// let first = admission.try_admit().expect("room for one");
/// assert!(admission.try_admit().is_err());
/// drop(first);
/// assert!(admission.try_admit().is_ok());
/// ```
#[derive(Debug)]
pub struct Admission {
    active: AtomicUsize,
    max: usize,
}

/// One admitted connection's place; dropping it frees the place.
#[derive(Debug)]
pub struct Ticket(Arc<Admission>);

impl Admission {
    /// Room for `max` connections at once.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            active: AtomicUsize::new(0),
            max,
        })
    }

    /// A place for one more connection, or why there is none.
    pub fn try_admit(self: &Arc<Self>) -> Result<Ticket, PolicyError> {
        let admitted = self
            .active
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.max).then_some(n + 1)
            })
            .is_ok();
        if admitted {
            Ok(Ticket(Arc::clone(self)))
        } else {
            Err(PolicyError::TooManyConnections { limit: self.max })
        }
    }

    /// Connections holding a place now.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts connections per client address against a limit, across all
/// workers: behind a balancer, with the address the PROXY protocol names.
///
/// Taken once per connection, never per message, so one lock serves.
///
/// ```
/// use sockmux_engine::PerAddress;
///
/// let limit = PerAddress::new(1);
/// let ip = "192.0.2.1".parse().unwrap();
/// let first = limit.try_admit(ip).expect("room for one");
/// assert!(limit.try_admit(ip).is_err());
/// assert!(limit.try_admit("192.0.2.2".parse().unwrap()).is_ok());
/// drop(first);
/// assert!(limit.try_admit(ip).is_ok());
/// ```
#[derive(Debug)]
pub struct PerAddress {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in its address's count; dropping it frees it.
#[derive(Debug)]
pub struct AddressTicket {
    limit: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    /// Room for `max` connections from each address.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A place for one more connection from `ip`, or why there is none.
    pub fn try_admit(self: &Arc<Self>, ip: IpAddr) -> Result<AddressTicket, PolicyError> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(ip).or_insert(0);
        if *count >= self.max {
            return Err(PolicyError::TooManyFromAddress {
                ip,
                limit: self.max,
            });
        }
        *count += 1;
        Ok(AddressTicket {
            limit: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for AddressTicket {
    fn drop(&mut self) {
        let mut open = self
            .limit
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// `now + after`, or a moment so far ahead it never comes when the sum
/// would overflow (an operator's `--idle-timeout 1e19` means "never", not
/// a panic).
pub fn deadline(now: Instant, after: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 86_400);
    now.checked_add(after.min(CENTURY))
        .or_else(|| now.checked_add(Duration::from_secs(86_400)))
        .unwrap_or(now)
}

/// The clock rules of every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// A connection that makes no progress for this long is closed (with a
    /// last word if it is mid-message). Progress is starting or finishing a
    /// message, or writing bytes.
    pub idle: Duration,
    /// How long a closing connection keeps reading (and discarding) after
    /// its last response, so that unread input does not turn the close
    /// into a reset that destroys the response in flight. Capped by `idle`.
    pub linger: Duration,
}

impl Timers {
    /// Default for [`Timers::linger`].
    pub const DEFAULT_LINGER: Duration = Duration::from_secs(2);
    /// Longest time between two sweeps of the timers.
    const MAX_SWEEP: Duration = Duration::from_secs(1);
    /// Shortest time between two sweeps of the timers.
    const MIN_SWEEP: Duration = Duration::from_millis(10);

    /// Rules with the given idle timeout and the default linger.
    pub fn new(idle: Duration) -> Self {
        Self {
            idle,
            linger: Self::DEFAULT_LINGER,
        }
    }

    /// How often a driver should check its connections' timers: an eighth
    /// of the idle timeout, within 10 ms and 1 s, so a timer fires at most
    /// that late and a worker with many connections does not sweep them
    /// all on every wake-up.
    pub fn sweep_interval(&self) -> Duration {
        (self.idle / 8).clamp(Self::MIN_SWEEP, Self::MAX_SWEEP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_never_exceeds_its_limit_and_tickets_free_places() {
        let admission = Admission::new(2);
        let a = admission.try_admit().unwrap();
        let b = admission.try_admit().unwrap();
        assert_eq!(
            admission.try_admit().unwrap_err(),
            PolicyError::TooManyConnections { limit: 2 }
        );
        assert_eq!(admission.active(), 2);
        drop(a);
        assert_eq!(admission.active(), 1);
        let _c = admission.try_admit().unwrap();
        drop(b);
        assert_eq!(admission.active(), 1);
    }

    #[test]
    fn deadlines_saturate_instead_of_overflowing() {
        let now = Instant::now();
        assert!(deadline(now, Duration::MAX) > now + Duration::from_secs(86_400));
        assert_eq!(
            deadline(now, Duration::from_secs(3)),
            now + Duration::from_secs(3)
        );
    }

    #[test]
    fn sweep_interval_is_bounded_for_any_idle_timeout() {
        assert_eq!(
            Timers::new(Duration::ZERO).sweep_interval(),
            Timers::MIN_SWEEP
        );
        assert_eq!(
            Timers::new(Duration::MAX).sweep_interval(),
            Timers::MAX_SWEEP
        );
        assert_eq!(
            Timers::new(Duration::from_secs(4)).sweep_interval(),
            Duration::from_millis(500)
        );
    }
}

//! Limit warnings: each limit logs when it bites, at most once per
//! [`INTERVAL`], saying how many more times it bit in between, so a flood
//! cannot turn the log into a second flood and an operator still sees
//! every limit that is in play.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Shortest time between two log lines of one limit.
pub(crate) const INTERVAL: Duration = Duration::from_secs(10);

/// A limit that logs when it bites.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Limit {
    MaxConnections,
    Accept,
    IdleTimeout,
    Untrusted,
    PerAddress,
    Budget,
}

const LIMITS: usize = 6;

/// One limit's log state: when it last logged (ms since the server's
/// epoch, plus one, so 0 means never) and the bites since.
#[derive(Debug, Default)]
struct Slot {
    logged_at: AtomicU64,
    unlogged: AtomicU64,
}

/// The limits' log state, shared by a server's loops.
#[derive(Debug, Default)]
pub(crate) struct Warnings {
    epoch: OnceLock<Instant>,
    slots: [Slot; LIMITS],
}

impl Warnings {
    /// `limit` bit `times` times: logs `message` at warn level unless it
    /// logged within [`INTERVAL`] (then counts them for its next line).
    pub(crate) fn bite(&self, limit: Limit, times: u64, message: std::fmt::Arguments<'_>) {
        let slot = &self.slots[limit as usize];
        let epoch = *self.epoch.get_or_init(Instant::now);
        let now = u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1;
        let last = slot.logged_at.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= INTERVAL.as_millis() as u64;
        if !due
            || slot
                .logged_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            slot.unlogged.fetch_add(times, Ordering::Relaxed);
            return;
        }
        let before = slot.unlogged.swap(0, Ordering::Relaxed);
        if before == 0 {
            tracing::warn!("{message}");
        } else {
            tracing::warn!("{message} ({before} more times since the last such line)");
        }
    }

    /// `limit` bit once.
    pub(crate) fn note(&self, limit: Limit, message: std::fmt::Arguments<'_>) {
        self.bite(limit, 1, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_logs_at_once_then_counts_until_the_interval_passes() {
        let warnings = Warnings::default();
        warnings.note(Limit::Accept, format_args!("first"));
        let slot = &warnings.slots[Limit::Accept as usize];
        let logged = slot.logged_at.load(Ordering::Relaxed);
        assert_ne!(logged, 0);
        warnings.note(Limit::Accept, format_args!("second"));
        warnings.bite(Limit::Accept, 5, format_args!("third"));
        assert_eq!(slot.unlogged.load(Ordering::Relaxed), 6);
        assert_eq!(slot.logged_at.load(Ordering::Relaxed), logged);
        // Another limit has its own interval.
        warnings.note(Limit::Budget, format_args!("other"));
        assert_eq!(
            warnings.slots[Limit::Budget as usize]
                .unlogged
                .load(Ordering::Relaxed),
            0
        );
    }
}

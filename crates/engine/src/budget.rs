//! The memory budget every connection's buffers share, in the manner of
//! Redis's `maxmemory-clients`.
//!
//! Each connection holds its input and its output buffers free up to an
//! allowance each ([`Budget::ALLOWANCE`]), which covers every ordinary
//! request and answer. Beyond that, bytes are charged to one [`Budget`]
//! shared by all connections of all workers:
//!
//! - the big growths ask first: a large message's buffer
//!   ([`Lease::try_cover_input`]) and an answer written in pieces
//!   ([`crate::Output::room`]); when the budget cannot cover them, the
//!   message is refused with an `Error: …` response, or the answer goes
//!   on in allowance-sized pieces;
//! - small growths are charged after the fact ([`Lease::settle`]), and a
//!   connection whose output is past its allowance stops reading while the
//!   budget is spent.
//!
//! So all connections together hold at most the budget plus a constant
//! per connection (the two allowances and one read or answer's worth).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Bytes all connections together may hold beyond their allowances.
///
/// ```
/// use sockmux_engine::{Budget, Lease};
///
/// let budget = Budget::new(1 << 20);
/// let mut lease = Lease::new(&budget);
/// // A 64 KiB input buffer is within the allowance: nothing is charged.
/// assert!(lease.try_cover_input(Budget::ALLOWANCE));
/// assert_eq!(budget.used(), 0);
/// // A 1 MiB one needs all but the allowance from the budget.
/// assert!(lease.try_cover_input((1 << 20) + Budget::ALLOWANCE));
/// assert_eq!(budget.used(), 1 << 20);
/// assert!(!Lease::new(&budget).try_cover_input(Budget::ALLOWANCE + 1));
/// drop(lease);
/// assert_eq!(budget.used(), 0);
/// ```
#[derive(Debug)]
pub struct Budget {
    limit: usize,
    allowance: usize,
    used: AtomicUsize,
    /// Growths that asked and were refused.
    refusals: AtomicU64,
}

impl Budget {
    /// Bytes of input, and as many of output, each connection holds
    /// without charge, by default.
    pub const ALLOWANCE: usize = 64 * 1024;

    /// A budget of `limit` bytes, with the default allowance.
    pub fn new(limit: usize) -> Arc<Self> {
        Self::with_allowance(limit, Self::ALLOWANCE)
    }

    /// A budget of `limit` bytes, each connection holding `allowance`
    /// bytes of input and as many of output free.
    pub fn with_allowance(limit: usize, allowance: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            allowance,
            used: AtomicUsize::new(0),
            refusals: AtomicU64::new(0),
        })
    }

    /// Bytes of input, and as many of output, each connection holds
    /// without charge.
    pub fn allowance(&self) -> usize {
        self.allowance
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes charged now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Whether nothing more can be charged.
    pub fn is_spent(&self) -> bool {
        self.used() >= self.limit
    }

    /// Growths refused so far (a large message refused, or an answer
    /// slowed to its allowance).
    pub fn refusals(&self) -> u64 {
        self.refusals.load(Ordering::Relaxed)
    }

    fn try_take(&self, n: usize) -> bool {
        let taken = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|&total| total <= self.limit)
            })
            .is_ok();
        if !taken {
            self.refusals.fetch_add(1, Ordering::Relaxed);
        }
        taken
    }

    fn take(&self, n: usize) {
        self.used.fetch_add(n, Ordering::AcqRel);
    }

    fn give_back(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }
}

/// One connection's charges against a [`Budget`]; dropping it gives them
/// back. A lease without a budget covers everything.
#[derive(Debug)]
pub struct Lease {
    budget: Option<Arc<Budget>>,
    /// The budget's allowance, or everything without one: read on every
    /// event, so kept here rather than behind the `Arc`.
    allowance: usize,
    input: usize,
    output: usize,
}

impl Default for Lease {
    fn default() -> Self {
        Self {
            budget: None,
            allowance: usize::MAX,
            input: 0,
            output: 0,
        }
    }
}

impl Lease {
    /// A lease on `budget`, charging nothing yet.
    pub fn new(budget: &Arc<Budget>) -> Self {
        Self {
            allowance: budget.allowance,
            budget: Some(Arc::clone(budget)),
            input: 0,
            output: 0,
        }
    }

    /// Asks, before taking the memory, whether the input buffers may hold
    /// `held` bytes; `true` once the charge is made.
    pub fn try_cover_input(&mut self, held: usize) -> bool {
        try_cover(self.budget.as_deref(), &mut self.input, held)
    }

    /// Asks whether the output buffer may hold `held` bytes.
    pub fn try_cover_output(&mut self, held: usize) -> bool {
        try_cover(self.budget.as_deref(), &mut self.output, held)
    }

    /// Bytes the output may hold with what is charged now.
    pub fn output_covered(&self) -> usize {
        self.allowance().saturating_add(self.output)
    }

    /// Bytes of each kind held free (everything, without a budget).
    #[inline]
    pub fn allowance(&self) -> usize {
        self.allowance
    }

    /// Whether anything is charged.
    #[inline]
    pub fn is_charged(&self) -> bool {
        (self.input | self.output) != 0
    }

    /// Whether the budget is spent (never, without one).
    pub fn is_spent(&self) -> bool {
        self.budget.as_deref().is_some_and(Budget::is_spent)
    }

    /// Makes the charges match what the buffers hold now: gives back what
    /// they freed, and charges growth that did not ask (small by
    /// construction).
    #[inline]
    pub fn settle(&mut self, input_held: usize, output_held: usize) {
        // Nearly always: within the allowances (`a | b` is at least the
        // larger of the two), nothing charged.
        if ((input_held | output_held) <= self.allowance) & !self.is_charged() {
            return;
        }
        self.settle_charges(input_held, output_held);
    }

    #[cold]
    fn settle_charges(&mut self, input_held: usize, output_held: usize) {
        if let Some(budget) = self.budget.as_deref() {
            settle(budget, &mut self.input, input_held);
            settle(budget, &mut self.output, output_held);
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.settle(0, 0);
    }
}

fn try_cover(budget: Option<&Budget>, charged: &mut usize, held: usize) -> bool {
    let Some(budget) = budget else {
        return true;
    };
    let need = held.saturating_sub(budget.allowance);
    if need <= *charged {
        return true;
    }
    if !budget.try_take(need - *charged) {
        return false;
    }
    *charged = need;
    true
}

fn settle(budget: &Budget, charged: &mut usize, held: usize) {
    let need = held.saturating_sub(budget.allowance);
    if need < *charged {
        budget.give_back(*charged - need);
    } else if need > *charged {
        budget.take(need - *charged);
    }
    *charged = need;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settling_gives_back_what_was_freed_and_counts_what_slipped_in() {
        let budget = Budget::new(1000);
        let mut lease = Lease::new(&budget);
        assert!(lease.try_cover_input(Budget::ALLOWANCE + 600));
        assert!(!Lease::new(&budget).try_cover_output(Budget::ALLOWANCE + 500));
        lease.settle(Budget::ALLOWANCE + 100, 0);
        assert_eq!(budget.used(), 100);
        // Growth that did not ask is still counted, even past the limit.
        lease.settle(Budget::ALLOWANCE + 100, Budget::ALLOWANCE + 1000);
        assert_eq!(budget.used(), 1100);
        assert!(budget.is_spent() && lease.is_spent());
        lease.settle(0, 0);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn a_lease_without_a_budget_covers_everything() {
        let mut lease = Lease::default();
        assert!(lease.try_cover_input(usize::MAX));
        assert_eq!(lease.output_covered(), usize::MAX);
        assert!(!lease.is_spent());
    }
}

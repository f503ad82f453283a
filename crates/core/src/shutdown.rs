//! A shutdown signal passed in as a value, so tests and embedders can stop a
//! server without sending it a Unix signal.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use mio::Waker;

/// A cloneable handle: [`Shutdown::trigger`] asks every worker to stop
/// accepting, finish what it owes and exit.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    triggered: AtomicBool,
    wakers: Mutex<Vec<Arc<Waker>>>,
}

impl Shutdown {
    /// A handle that has not been triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a graceful shutdown. Safe to call more than once and from any
    /// thread.
    pub fn trigger(&self) {
        self.inner.triggered.store(true, Ordering::SeqCst);
        let wakers = self
            .inner
            .wakers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for waker in wakers.iter() {
            // A worker that already exited has no loop to wake.
            let _ = waker.wake();
        }
    }

    /// Whether [`Shutdown::trigger`] was called.
    pub fn is_triggered(&self) -> bool {
        self.inner.triggered.load(Ordering::SeqCst)
    }

    /// Registers a worker's waker, waking it at once if shutdown already
    /// started.
    pub(crate) fn register(&self, waker: Arc<Waker>) {
        let mut wakers = self
            .inner
            .wakers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if self.is_triggered() {
            let _ = waker.wake();
        }
        wakers.push(waker);
    }
}

//! Supervision of a server's loop threads: whichever thread ends first is
//! noticed at once, in any order. A loop that fails or panics stops the
//! whole server promptly (the others drain and exit), so a supervisor
//! above the process sees it die and restarts it; there is never a
//! half-dead server whose dead worker is still dealt connections.

use std::any::Any;
use std::io;
use std::sync::mpsc;
use std::thread;

use sockmux_engine::Stats;

use crate::{ServerError, Shutdown};

/// Sends the thread's index when dropped: on return and on panic alike.
struct Exited {
    tx: mpsc::Sender<usize>,
    index: usize,
}

impl Drop for Exited {
    fn drop(&mut self) {
        let _ = self.tx.send(self.index);
    }
}

type Handle = thread::JoinHandle<io::Result<Stats>>;

/// A server's running loop threads.
pub(crate) struct Supervisor {
    tx: mpsc::Sender<usize>,
    rx: mpsc::Receiver<usize>,
    threads: Vec<(String, Option<Handle>)>,
}

impl Supervisor {
    pub(crate) fn new() -> Self {
        let (tx, rx) = mpsc::channel();
        Self {
            tx,
            rx,
            threads: Vec::new(),
        }
    }

    /// Starts `run` on a thread named `name`.
    pub(crate) fn spawn(
        &mut self,
        name: String,
        run: impl FnOnce() -> io::Result<Stats> + Send + 'static,
    ) -> io::Result<()> {
        let exited = Exited {
            tx: self.tx.clone(),
            index: self.threads.len(),
        };
        let handle = thread::Builder::new().name(name.clone()).spawn(move || {
            let _exited = exited;
            run()
        })?;
        self.threads.push((name, Some(handle)));
        Ok(())
    }

    /// Waits for every thread, in the order they end. The first failure
    /// triggers `shutdown` for the rest and is returned after they end.
    pub(crate) fn wait(mut self, shutdown: &Shutdown) -> Result<Stats, ServerError> {
        let mut total = Stats::default();
        let mut failure = None;
        for _ in 0..self.threads.len() {
            let Ok(index) = self.rx.recv() else { break };
            let Some((name, handle)) = self.threads.get_mut(index) else {
                continue;
            };
            let Some(handle) = handle.take() else {
                continue;
            };
            let error = match handle.join() {
                Ok(Ok(stats)) => {
                    total += stats;
                    continue;
                }
                Ok(Err(e)) => ServerError::EventLoop(e),
                Err(payload) => ServerError::WorkerPanicked {
                    thread: name.clone(),
                    message: panic_message(&*payload),
                },
            };
            tracing::error!("{error}: stopping the server");
            shutdown.trigger();
            failure.get_or_insert(error);
        }
        failure.map_or(Ok(total), Err)
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

//! Live table reloads for `app-server --table FILE`: on SIGHUP, and with
//! `--table-watch SECS` when the file has changed and then stayed the same
//! for one more look, the file is read again on a thread of its own (never
//! a worker's), with the checks of start-up, and the new table replaces the
//! old one for every worker at once. Connections go on; each answer comes
//! wholly from one table. A file that fails a check leaves the old table
//! answering and is logged in one line; a good one is logged with its
//! entry count.
//!
//! Reloads never overlap, so at most the old table and one new one are
//! held at a time; the old one is freed here, once the swap is done.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;
use sockmux_proto::TableSwitch;

use crate::signals::OnHangup;
use crate::table_file::{self, Stamp};

/// Reads the table file again and swaps it in.
#[derive(Debug)]
pub struct Reloader {
    path: PathBuf,
    max_bytes: usize,
    switch: TableSwitch,
    /// The stamp of the file as the last load attempt found it (good or
    /// bad): the watcher does not try one version twice. Held for the
    /// whole of a reload, which makes reloads take turns.
    tried: Mutex<Option<Stamp>>,
    /// Reloads done and failed, for the metrics.
    done: AtomicU64,
    failed: AtomicU64,
}

impl Reloader {
    /// A reloader of `path` into `switch`, whose table was loaded from the
    /// file when it had `stamp`.
    pub fn new(path: PathBuf, max_bytes: usize, switch: TableSwitch, stamp: Option<Stamp>) -> Self {
        Self {
            path,
            max_bytes,
            switch,
            tried: Mutex::new(stamp),
            done: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    /// Loads the file and swaps it in, or logs why not and keeps the table
    /// answering now. `why` says what asked (for the log line). Whether the
    /// new table is in.
    pub fn reload(&self, why: &str) -> bool {
        let mut tried = self.tried.lock().unwrap_or_else(PoisonError::into_inner);
        // Taken before reading: a change made while reading is seen next time.
        *tried = table_file::stamp(&self.path);
        let started = Instant::now();
        match table_file::load(&self.path, self.max_bytes) {
            Ok(table) => {
                let entries = table.len();
                let old = self.switch.replace(table);
                tracing::info!(
                    "reloaded the table ({why}): {entries} entries from {} in {:.2} s, \
                     replacing {} entries",
                    self.path.display(),
                    started.elapsed().as_secs_f64(),
                    old.len()
                );
                // Freed here rather than by the last request to hold it,
                // unless one still does.
                drop(old);
                self.done.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(e) => {
                tracing::error!(
                    "table reload failed ({why}), still answering from the previous {} entries: \
                     {e:#}",
                    self.switch.current().len()
                );
                self.failed.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Reloads done and reloads failed so far.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.done.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }

    /// Whether the file's stamp differs from the one last tried.
    fn changed(&self, now: Option<Stamp>) -> bool {
        *self.tried.lock().unwrap_or_else(PoisonError::into_inner) != now
    }
}

/// Watches the file when `watch` is set (reloading when it changes), and
/// gives the SIGHUP action that reloads it.
pub fn start(reloader: Arc<Reloader>, watch: Option<Duration>) -> anyhow::Result<OnHangup> {
    if let Some(every) = watch {
        let watcher = Arc::clone(&reloader);
        thread::Builder::new()
            .name("sockmux-watch".into())
            .spawn(move || watch_file(&watcher, every))
            .context("cannot start the table watcher")?;
    }
    Ok(Box::new(move || {
        reloader.reload("SIGHUP");
    }))
}

/// Looks at the file every `every`; reloads once a change has held still
/// for one look, so that a file being written in place is read when the
/// writing has stopped (replacing it by a rename is atomic and better).
fn watch_file(reloader: &Reloader, every: Duration) {
    let mut seen = table_file::stamp(&reloader.path);
    loop {
        thread::sleep(every);
        let now = table_file::stamp(&reloader.path);
        if now != seen {
            seen = now;
            continue;
        }
        if reloader.changed(now) {
            reloader.reload("the file changed");
        }
    }
}

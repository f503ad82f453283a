//! Log set-up: `tracing` to stderr, level from -v/-q (or `RUST_LOG`).
//!
//! Logging never fails or stalls a caller. Each line goes into a bounded
//! queue that one thread writes to stderr: when stderr is slow or full the
//! queue fills and new lines are dropped (and counted); when stderr is
//! closed the writes fail and the lines are dropped (and counted). No
//! worker ever blocks on, or panics over, a log line.

use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// Lines waiting for stderr before new ones are dropped.
const QUEUE_LINES: usize = 4096;
/// How long [`flush`] waits for the queue to drain at exit.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

/// The queue and its counters.
#[derive(Debug)]
struct Sink {
    tx: SyncSender<Vec<u8>>,
    /// Lines queued and not yet written (or dropped by the writer).
    queued: AtomicUsize,
    dropped: AtomicU64,
}

static SINK: OnceLock<Arc<Sink>> = OnceLock::new();

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `TIMESTAMP LEVEL message`, for people.
    Text,
    /// One JSON object per line (`timestamp`, `level`, `fields.message`).
    Json,
}

/// Installs the global subscriber. `RUST_LOG`, when set, wins over flags.
pub fn init(verbose: u8, quiet: u8, format: Format) {
    let level = match (verbose, quiet) {
        (0, 0) => "info",
        (1, _) => "debug",
        (v, _) if v >= 2 => "trace",
        (_, 1) => "warn",
        _ => "error",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let sink = start(io::stderr());
    let _ = SINK.set(Arc::clone(&sink));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Lines(sink))
        .with_target(false)
        // Its own report of a failed write goes to `eprintln!`, which
        // panics when stderr is gone: the sink counts failures instead.
        .log_internal_errors(false);
    match format {
        Format::Text => builder.with_ansi(io::stderr().is_terminal()).init(),
        Format::Json => builder.json().with_ansi(false).init(),
    }
}

/// Log lines dropped so far (stderr closed, full or slow).
pub fn dropped() -> u64 {
    SINK.get()
        .map_or(0, |sink| sink.dropped.load(Ordering::Relaxed))
}

/// Waits (briefly) until queued lines are written, so the last lines of a
/// run are not lost at exit; says how many lines were dropped, if any.
pub fn flush() {
    let Some(sink) = SINK.get() else { return };
    wait_drained(sink, FLUSH_WAIT);
    let dropped = sink.dropped.load(Ordering::Relaxed);
    if dropped > 0 {
        let _ = writeln!(io::stderr(), "sockmux: {dropped} log lines dropped");
    }
}

/// Starts the thread writing queued lines to `out`.
fn start(mut out: impl Write + Send + 'static) -> Arc<Sink> {
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(QUEUE_LINES);
    let sink = Arc::new(Sink {
        tx,
        queued: AtomicUsize::new(0),
        dropped: AtomicU64::new(0),
    });
    let writer = Arc::clone(&sink);
    let spawned = thread::Builder::new()
        .name("sockmux-log".into())
        .spawn(move || {
            for line in rx {
                if out.write_all(&line).is_err() {
                    writer.dropped.fetch_add(1, Ordering::Relaxed);
                }
                writer.queued.fetch_sub(1, Ordering::Release);
            }
        });
    if spawned.is_err() {
        // No thread: every line will find the queue full and be counted.
        sink.dropped.fetch_add(1, Ordering::Relaxed);
    }
    sink
}

fn wait_drained(sink: &Sink, wait: Duration) {
    let until = Instant::now() + wait;
    while sink.queued.load(Ordering::Acquire) > 0 && Instant::now() < until {
        thread::sleep(Duration::from_millis(1));
    }
}

/// Makes one [`Line`] per event.
struct Lines(Arc<Sink>);

impl<'a> MakeWriter<'a> for Lines {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line {
            buf: Vec::new(),
            sink: Arc::clone(&self.0),
        }
    }
}

/// One event's text, queued whole when the event is done with it.
struct Line {
    buf: Vec<u8>,
    sink: Arc<Sink>,
}

impl Write for Line {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        self.sink.queued.fetch_add(1, Ordering::Release);
        match self.sink.tx.try_send(std::mem::take(&mut self.buf)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.sink.queued.fetch_sub(1, Ordering::Release);
                self.sink.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::Receiver;
    use std::sync::Mutex;

    use super::*;

    /// A writer that fails every write, as a closed stderr does.
    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A writer that blocks until told to go on, as a full pipe does.
    struct Stuck(Mutex<Receiver<()>>);

    impl Write for Stuck {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let _ = self.0.lock().unwrap().recv();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn log(sink: &Arc<Sink>, text: &str) {
        let mut line = Lines(Arc::clone(sink)).make_writer();
        line.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn a_closed_stderr_drops_and_counts_lines_without_failing_the_caller() {
        let sink = start(Closed);
        for _ in 0..10 {
            log(&sink, "hello\n");
        }
        wait_drained(&sink, Duration::from_secs(10));
        assert_eq!(sink.dropped.load(Ordering::Relaxed), 10);
    }

    #[test]
    fn a_stuck_stderr_never_blocks_the_caller_and_the_overflow_is_counted() {
        let (go, wait) = mpsc::channel();
        let sink = start(Stuck(Mutex::new(wait)));
        // One line is held by the stuck writer, QUEUE_LINES wait; the rest
        // are dropped at once instead of blocking this thread.
        let extra = 100;
        for _ in 0..QUEUE_LINES + 1 + extra {
            log(&sink, "x\n");
        }
        let dropped = sink.dropped.load(Ordering::Relaxed);
        assert!(
            (extra as u64..=extra as u64 + 1).contains(&dropped),
            "{dropped} dropped"
        );
        drop(go);
    }
}

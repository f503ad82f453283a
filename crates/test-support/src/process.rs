//! Child processes under test: the `sockmux` binary run as a server (its
//! port read from the first line it prints, killed on drop) or as a command
//! run to completion, every wait bounded. What a test expects of their
//! output is the test's business.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStderr, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::WAIT;

/// The `sockmux` binary under test.
///
/// Cargo tells only the binary's own package where it is built, so a test
/// in `crates/cli` makes one with
/// `Sockmux::new(env!("CARGO_BIN_EXE_sockmux"))`.
#[derive(Debug, Clone, Copy)]
pub struct Sockmux {
    bin: &'static str,
}

impl Sockmux {
    /// The binary at `bin`.
    pub const fn new(bin: &'static str) -> Self {
        Self { bin }
    }

    /// Path of the binary.
    pub fn bin(&self) -> &'static str {
        self.bin
    }

    /// A command running the binary, to add arguments to.
    pub fn command(&self) -> Command {
        Command::new(self.bin)
    }

    /// Runs `sockmux ARGS…` to completion within [`WAIT`]: status, stdout
    /// and stderr.
    pub fn run<I, S>(&self, args: I) -> (ExitStatus, String, String)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        run_bounded(self.command().args(args), WAIT)
    }

    /// Starts `sockmux ARGS… 127.0.0.1 0`: `args` is the subcommand and its
    /// flags, the host and port are added.
    pub fn start(&self, args: &[&str]) -> Server {
        self.start_raw(&with_loopback(args))
    }

    /// Starts `sockmux ARGS…` exactly as given.
    pub fn start_raw(&self, args: &[&str]) -> Server {
        Server::start_with(self.command().args(args))
    }

    /// Starts `sockmux ARGS… 127.0.0.1 0` with its open-file limit set to
    /// `limit` (through the shell's `ulimit -n`).
    pub fn start_with_fd_limit(&self, limit: u64, args: &[&str]) -> Server {
        Server::start_with(
            Command::new("sh")
                .args(["-c", r#"ulimit -n "$0" && exec "$@""#])
                .arg(limit.to_string())
                .arg(self.bin)
                .args(with_loopback(args)),
        )
    }
}

fn with_loopback<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut full = args.to_vec();
    full.extend(["127.0.0.1", "0"]);
    full
}

/// A running `sockmux` server process, killed on drop.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    /// The address it printed it listens on.
    pub addr: SocketAddr,
    stdout: mpsc::Receiver<String>,
    stderr: Option<mpsc::Receiver<String>>,
    /// Log lines received so far.
    log: String,
}

impl Server {
    /// Starts a prepared command whose first stdout line is
    /// `listening on ADDR`, and waits (bounded) for that line.
    pub fn start_with(cmd: &mut Command) -> Server {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let rx = stdout_lines(child.stdout.take().expect("stdout"));
        let stderr = child.stderr.take().map(collect_lines);
        let line = rx.recv_timeout(WAIT).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("server did not print its address within {WAIT:?}")
        });
        let addr = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .expect("address");
        Server {
            child: Some(child),
            addr,
            stdout: rx,
            stderr,
            log: String::new(),
        }
    }

    /// The next line the server prints on stdout after `listening on`
    /// (waited for, bounded).
    pub fn next_stdout_line(&mut self) -> Option<String> {
        self.stdout.recv_timeout(WAIT).ok()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Whether the process is still running.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Sends signal `sig` (`HUP`, `INT`, ...) to the running process.
    pub fn signal(&self, sig: &str) {
        let child = self.child.as_ref().expect("running");
        assert!(signal(child, sig), "kill -{sig} {}", child.id());
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let child = self.child.as_mut().expect("running");
        assert!(signal(child, "TERM"), "kill -TERM {}", child.id());
        let status = wait_timeout(child, WAIT).expect("server exits after SIGTERM");
        self.child = None;
        status
    }

    /// Waits (bounded) for the process to exit on its own.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let child = self.child.as_mut().expect("running");
        let status = wait_timeout(child, WAIT).expect("server exits");
        self.child = None;
        status
    }

    /// Waits (bounded) until the server's stderr has a line containing
    /// `needle`; returns whether it came.
    pub fn wait_for_log(&mut self, needle: &str) -> bool {
        let start = Instant::now();
        while start.elapsed() < WAIT {
            if let Some(rx) = &self.stderr {
                while let Ok(line) = rx.try_recv() {
                    self.log.push_str(&line);
                    self.log.push('\n');
                }
            }
            if self.log.contains(needle) {
                return true;
            }
            thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// How many lines of the server's stderr so far contain `needle`.
    pub fn log_lines(&mut self, needle: &str) -> usize {
        if let Some(rx) = &self.stderr {
            while let Ok(line) = rx.try_recv() {
                self.log.push_str(&line);
                self.log.push('\n');
            }
        }
        self.log.lines().filter(|l| l.contains(needle)).count()
    }

    /// Every stderr line received so far, once the stream has ended (after
    /// [`Server::terminate`] or [`Server::wait_exit`]) or within a bounded
    /// wait.
    pub fn log(&mut self) -> String {
        if let Some(rx) = &self.stderr {
            let until = Instant::now() + WAIT;
            while let Some(left) = until.checked_duration_since(Instant::now()) {
                match rx.recv_timeout(left) {
                    Ok(line) => {
                        self.log.push_str(&line);
                        self.log.push('\n');
                    }
                    Err(_) => break,
                }
            }
        }
        self.log.clone()
    }

    /// Open file descriptors of the server process.
    pub fn fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Resident memory of the server process, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// Connects to it, every wait bounded (see [`crate::connect`]).
    pub fn connect(&self) -> TcpStream {
        crate::connect(self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The first line a child prints, delivered on a channel; the rest of its
/// output is drained, so a chatty child never blocks on a full pipe.
pub(crate) fn first_line(stdout: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        for _ in lines {}
    });
    rx
}

/// Every line of a server's stdout, as it comes; the rest is drained when
/// nobody listens any more.
fn stdout_lines(stdout: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
        for line in lines.by_ref() {
            if tx.send(line).is_err() {
                break;
            }
        }
        lines.for_each(drop);
    });
    rx
}

fn collect_lines(stderr: ChildStderr) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Sends `SIG` to `child`; whether `kill` succeeded.
fn signal(child: &Child, sig: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .is_ok_and(|s| s.success())
}

/// Waits for `child` to exit, at most `limit`.
pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        thread::sleep(Duration::from_millis(10));
    }
    None
}

/// Runs a command to completion within `limit`: status, stdout and stderr
/// (lossy UTF-8). Its standard input is empty.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> (ExitStatus, String, String) {
    let output = run_bounded_with_input(cmd, b"", limit);
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs a command with `input` on its standard input, to completion within
/// `limit`. When it overruns, it gets SIGTERM (so it can stop what it
/// started), then SIGKILL two seconds later, and the caller panics.
pub fn run_bounded_with_input(cmd: &mut Command, input: &[u8], limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    // Feed and drain the pipes on threads so a chatty child never blocks.
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let feeder = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out_reader = drain(child.stdout.take().expect("stdout"));
    let err_reader = drain(child.stderr.take().expect("stderr"));
    let Some(status) = wait_timeout(&mut child, limit) else {
        if !signal(&child, "TERM") || wait_timeout(&mut child, Duration::from_secs(2)).is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("{cmd:?} did not finish within {limit:?}");
    };
    let _ = feeder.join();
    Output {
        status,
        stdout: out_reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

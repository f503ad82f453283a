//! Test helpers shared by the integration tests: run the real `sockmux`
//! binary, read the port from its first line, kill it on drop; find the
//! reference Python programs.
#![allow(dead_code)] // Each test binary uses its own subset.

pub mod app;
pub mod doubles;
pub mod python;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Upper bound on any single wait in these tests.
pub const WAIT: Duration = Duration::from_secs(20);

/// Path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sockmux")
}

/// A running `sockmux` server process, killed on drop.
pub struct Server {
    child: Option<Child>,
    pub addr: SocketAddr,
    stderr: Option<mpsc::Receiver<String>>,
    /// Log lines received so far.
    log: String,
}

impl Server {
    /// Starts `sockmux ARGS… 127.0.0.1 0` and waits for `listening on`.
    /// `args` is the subcommand and its flags (host and port are added).
    pub fn start(args: &[&str]) -> Server {
        let mut full: Vec<&str> = args.to_vec();
        full.extend(["127.0.0.1", "0"]);
        Self::start_raw(&full)
    }

    /// Starts `sockmux ARGS…` exactly as given.
    pub fn start_raw(args: &[&str]) -> Server {
        Self::start_with(Command::new(bin()).args(args))
    }

    /// Starts a prepared command whose first stdout line is
    /// `listening on ADDR`.
    pub fn start_with(cmd: &mut Command) -> Server {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sockmux");
        let rx = first_line(child.stdout.take().expect("stdout"));
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
            stderr,
            log: String::new(),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Whether the process is still running.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let child = self.child.as_mut().expect("running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
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

    /// Connects with timeouts set.
    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect_timeout(&self.addr, WAIT).expect("connect");
        stream.set_read_timeout(Some(WAIT)).expect("timeout");
        stream.set_write_timeout(Some(WAIT)).expect("timeout");
        stream
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
pub fn first_line(stdout: impl Read + Send + 'static) -> mpsc::Receiver<String> {
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

/// Runs a command to completion within `limit`, returning status, stdout
/// and stderr; kills it and panics when it overruns.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> (ExitStatus, String, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let Some(status) = wait_timeout(&mut child, limit) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{cmd:?} did not finish within {limit:?}");
    };
    let stdout = out_reader.join().expect("stdout reader");
    let stderr = err_reader.join().expect("stderr reader");
    (status, stdout, stderr)
}

/// The reference Python programs, when this checkout sits beside them.
/// Prints why and returns `None` when they are absent, so callers skip.
pub fn seed_python() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/seed/python");
    let python_ok = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if dir.join("app-server.py").exists() && python_ok {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: reference programs not found at {} (or no python3); interop not checked",
            dir.display()
        );
        None
    }
}

//! The reference Python programs (`../shared/seed/python` beside the
//! repository) as test peers: find them, start a reference server on a free
//! port (killed on drop), run a reference client.
//!
//! They live outside the repository, so a checkout may lack them, or
//! python3. [`unavailable`] is the one place that decides what a test does
//! then: skip, saying so, or fail when [`REQUIRE_SEED`]`=1`. It does not own
//! what the tests expect of the reference programs.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::process::first_line;
use crate::{free_port, run_bounded, WAIT};

/// Set to `1`, a test that needs the reference programs (or python3) fails
/// when they are missing instead of skipping; CI sets it.
pub const REQUIRE_SEED: &str = "SOCKMUX_REQUIRE_SEED";

/// How long a reference server may take to print `listening on`.
const START: Duration = Duration::from_secs(10);

/// What a test does when something it needs from outside the repository is
/// missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Missing {
    Skip,
    Fail,
}

impl Missing {
    /// The policy for a value of [`REQUIRE_SEED`].
    fn from_env(value: Option<&OsStr>) -> Self {
        if value == Some(OsStr::new("1")) {
            Missing::Fail
        } else {
            Missing::Skip
        }
    }
}

/// The one decision: panics when [`REQUIRE_SEED`]`=1`, otherwise prints why
/// the calling test skips and returns `None`.
fn unavailable<T>(what: &str) -> Option<T> {
    let test = std::thread::current()
        .name()
        .filter(|name| *name != "main")
        .map(|name| format!(" {name}"))
        .unwrap_or_default();
    match Missing::from_env(std::env::var_os(REQUIRE_SEED).as_deref()) {
        Missing::Fail => {
            panic!("{what}; {REQUIRE_SEED}=1 makes that a failure (unset it to skip instead)")
        }
        Missing::Skip => {
            eprintln!("SKIPPED{test}: {what} (set {REQUIRE_SEED}=1 to fail instead)");
            None
        }
    }
}

/// Proof that `python3` runs here.
#[derive(Debug, Clone, Copy)]
pub struct Python3(());

impl Python3 {
    /// A command running `python3`, to add arguments to.
    pub fn command(&self) -> Command {
        Command::new("python3")
    }
}

/// `python3`, or `None` after saying why the caller skips; panics instead
/// when [`REQUIRE_SEED`]`=1`.
pub fn python3() -> Option<Python3> {
    let runs = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if runs {
        Some(Python3(()))
    } else {
        unavailable("python3 cannot be run")
    }
}

/// The reference Python programs, found with python3 to run them.
#[derive(Debug, Clone)]
pub struct Seed {
    dir: PathBuf,
    python: Python3,
}

impl Seed {
    /// The reference programs beside this checkout, or `None` after saying
    /// why the caller skips; panics instead when [`REQUIRE_SEED`]`=1`.
    pub fn find() -> Option<Seed> {
        let python = python3()?;
        let dir = default_dir();
        if dir.join("app-server.py").is_file() {
            Some(Seed { dir, python })
        } else {
            unavailable(&format!(
                "the reference programs are not at {}",
                dir.display()
            ))
        }
    }

    /// The folder holding the programs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// python3, to run something else with.
    pub fn python(&self) -> Python3 {
        self.python
    }

    /// Runs `python3 SCRIPT ARGS…` to completion within [`WAIT`]: status,
    /// stdout and stderr.
    pub fn run(&self, script: &str, args: &[&str]) -> (ExitStatus, String, String) {
        run_bounded(
            self.python.command().arg(self.dir.join(script)).args(args),
            WAIT,
        )
    }

    /// Starts a reference server (`app-server.py` or
    /// `multiconn-server.py`) on 127.0.0.1 and a free port.
    ///
    /// The scripts cannot report a port they were given as 0, so a free
    /// port is found by binding and dropping a listener, and the start is
    /// retried should another process take it in between.
    pub fn start(&self, script: &str) -> ReferenceServer {
        (0..5)
            .find_map(|_| self.try_start(script))
            .unwrap_or_else(|| panic!("{script} did not start on any of 5 free ports"))
    }

    fn try_start(&self, script: &str) -> Option<ReferenceServer> {
        let port = free_port();
        let mut child = self
            .python
            .command()
            .arg("-u")
            .arg(self.dir.join(script))
            .args(["127.0.0.1", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn python3");
        // The reference servers print a line per event: `first_line` keeps
        // draining the rest.
        let rx = first_line(child.stdout.take().expect("stdout"));
        match rx.recv_timeout(START) {
            // Printed after listen(): connections are accepted from now on.
            Ok(line) if line.starts_with("listening on") => Some(ReferenceServer {
                child,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
            }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                None
            }
        }
    }
}

/// `shared/seed/python` in the folder that holds this repository.
fn default_dir() -> PathBuf {
    let repo = repo_root();
    repo.parent().unwrap_or(&repo).join("shared/seed/python")
}

/// The repository this crate is `crates/test-support` of.
fn repo_root() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // Canonical, so messages name the folder plainly.
    path.canonicalize().unwrap_or(path)
}

/// A running reference server, killed on drop.
#[derive(Debug)]
pub struct ReferenceServer {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl ReferenceServer {
    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Drop for ReferenceServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_require_seed_1_turns_a_missing_seed_into_a_failure() {
        assert_eq!(Missing::from_env(Some(OsStr::new("1"))), Missing::Fail);
        for value in [None, Some(""), Some("0"), Some("yes")] {
            assert_eq!(Missing::from_env(value.map(OsStr::new)), Missing::Skip);
        }
    }

    #[test]
    fn the_repository_root_is_found() {
        let repo = repo_root();
        assert!(
            repo.join("crates/test-support/Cargo.toml").is_file(),
            "{}",
            repo.display()
        );
    }
}

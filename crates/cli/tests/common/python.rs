//! The reference Python programs as test peers: start a reference server on
//! a free port (killed on drop), run the reference client.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{run_bounded, seed_python, WAIT};

/// How long a reference server may take to print `listening on`.
const START: Duration = Duration::from_secs(10);

/// A running reference server (`app-server.py` or `multiconn-server.py`),
/// killed on drop.
pub struct ReferenceServer {
    child: Child,
    pub addr: SocketAddr,
}

impl ReferenceServer {
    /// Starts `SCRIPT 127.0.0.1 PORT` on a free port, or returns `None`
    /// (after saying why) when the reference programs are not available.
    ///
    /// The scripts cannot report a port they were given as 0, so a free
    /// port is found by binding and dropping a listener, and the start is
    /// retried should another process take it in between.
    pub fn start(script: &str) -> Option<Self> {
        let dir = seed_python()?;
        for _ in 0..5 {
            if let Some(server) = Self::try_start(&dir, script) {
                return Some(server);
            }
        }
        panic!("{script} did not start on any of 5 free ports");
    }

    fn try_start(dir: &Path, script: &str) -> Option<Self> {
        let port = free_port();
        let mut child = Command::new("python3")
            .arg("-u")
            .arg(dir.join(script))
            .args(["127.0.0.1", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn python3");
        // The reference servers print a line per event: `first_line` keeps
        // draining the rest.
        let rx = super::first_line(child.stdout.take().expect("stdout"));
        match rx.recv_timeout(START) {
            // Printed after listen(): connections are accepted from now on.
            Ok(line) if line.starts_with("listening on") => Some(Self {
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

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// Runs the reference `app-client.py` to completion; its stdout.
pub fn reference_app_client(dir: &Path, port: u16, action: &str, value: &str) -> String {
    let (status, stdout, stderr) = run_bounded(
        Command::new("python3")
            .arg(dir.join("app-client.py"))
            .args(["127.0.0.1", &port.to_string(), action, value]),
        WAIT,
    );
    assert!(status.success(), "app-client.py failed: {stderr}");
    stdout
}

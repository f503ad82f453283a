//! The services in `examples/` run on the real server and answer the real
//! `sockmux app-client`: a user's own service is a `Handler`, nothing more.

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::thread;

use sockmux_core::{AppService, Handler, Server, ServerConfig, Shutdown};
use sockmux_proto::Limits;

#[allow(dead_code)] // `main` is the example's; the tests start their own server.
#[path = "../examples/kv.rs"]
mod kv;
#[allow(dead_code)]
#[path = "../examples/shout.rs"]
mod shout;

/// A running server for `handler` on a free loopback port.
struct Running {
    addr: SocketAddr,
    shutdown: Shutdown,
    thread: Option<thread::JoinHandle<()>>,
}

impl Running {
    fn start(handler: impl Handler) -> Self {
        let config = ServerConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            workers: 2,
            ..ServerConfig::default()
        };
        let server = Server::bind(config, AppService::new(handler, Limits::default())).unwrap();
        let addr = server.local_addr();
        let shutdown = Shutdown::new();
        let stop = shutdown.clone();
        let thread = Some(thread::spawn(move || {
            server.run(stop).unwrap();
        }));
        Self {
            addr,
            shutdown,
            thread,
        }
    }

    /// `sockmux app-client` against this server, bounded by its timeout.
    fn client(&self, args: &[&str]) -> (i32, String) {
        let port = self.addr.port().to_string();
        let Output { status, stdout, .. } = Command::new(env!("CARGO_BIN_EXE_sockmux"))
            .args([
                "app-client",
                "--json-actions",
                "--timeout",
                "10",
                "127.0.0.1",
                &port,
            ])
            .args(args)
            .output()
            .expect("run sockmux app-client");
        (
            status.code().unwrap_or(-1),
            String::from_utf8_lossy(&stdout).into_owned(),
        )
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.trigger();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn kv_example_stores_reads_and_deletes_across_connections() {
    let server = Running::start(kv::Kv::new(1000));
    assert_eq!(
        server.client(&["set", "color=blue", "size=10"]),
        (0, "OK\nOK\n".into())
    );
    // Other connections (and, with two workers, other threads) see it.
    assert_eq!(
        server.client(&["--keep-alive", "get", "color", "size", "shape"]),
        (0, "blue\n10\nNo value for \"shape\".\n".into())
    );
    assert_eq!(server.client(&["del", "color"]), (0, "Deleted.\n".into()));
    assert_eq!(
        server.client(&["get", "color"]),
        (0, "No value for \"color\".\n".into())
    );
    let (code, out) = server.client(&["search", "color"]);
    assert_eq!(
        (code, out.starts_with("Error: use get")),
        (3, true),
        "{out}"
    );
}

#[test]
fn kv_example_refuses_new_keys_once_full_and_keeps_serving() {
    let server = Running::start(kv::Kv::new(16));
    let pairs: Vec<String> = (0..200).map(|i| format!("k{i}=v")).collect();
    let mut args = vec!["--keep-alive", "set"];
    args.extend(pairs.iter().map(String::as_str));
    let (code, out) = server.client(&args);
    assert_eq!(code, 3, "some sets must be refused:\n{out}");
    let stored = out.lines().filter(|l| *l == "OK").count();
    assert!((1..=32).contains(&stored), "{stored} stored");
    assert!(out.lines().any(|l| l == "Error: the store is full."));
    assert_eq!(server.client(&["get", "k0"]).0, 0);
}

#[test]
fn shout_example_answers_text_and_binary_in_capitals() {
    let server = Running::start(shout::Shout);
    assert_eq!(
        server.client(&["--keep-alive", "search", "hello", "wörld"]),
        (0, "HELLO\nWÖRLD\n".into())
    );
    assert_eq!(server.client(&["ping", "pong"]), (0, "PONG\n".into()));
    // Binary, as the reference client sends other actions.
    let port = server.addr.port().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_sockmux"))
        .args(["app-client", "--json", "127.0.0.1", &port, "ping", "pong"])
        .output()
        .expect("run sockmux app-client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("PINGPONG"), "{stdout}");
}

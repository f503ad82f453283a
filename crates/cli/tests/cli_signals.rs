//! Exit statuses after signals, run through the real binary (issue 9):
//! every command exits 130 after SIGINT and 143 after SIGTERM; a server
//! only after its graceful drain and summary, `bench` after its report,
//! the one-shot clients at once; a second signal cuts a drain short with
//! its own status, with stderr open or closed.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;

use sockmux_test_support::app::{closes, read_responses, search};
use sockmux_test_support::{wait_timeout, Server, Sockmux, WAIT};

const SOCKMUX: Sockmux = Sockmux::new(env!("CARGO_BIN_EXE_sockmux"));

fn send(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args(["-s", signal, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -s {signal} {pid}");
}

/// Waits (bounded) for `child` to exit; its exit code.
fn exit_code(child: &mut Child) -> Option<i32> {
    let status = wait_timeout(child, WAIT).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("still running {WAIT:?} after the signal")
    });
    status.code()
}

#[test]
fn a_server_exits_130_after_sigint_and_143_after_sigterm_after_its_summary() {
    for command in ["echo-server", "app-server"] {
        for (signal, code) in [("INT", 130), ("TERM", 143)] {
            let mut server = SOCKMUX.start(&[command]);
            drop(server.connect());
            send(server.pid(), signal);
            let status = server.wait_exit();
            assert_eq!(status.code(), Some(code), "{command} after SIG{signal}");
            assert!(
                server.wait_for_log("shut down: "),
                "{command} logs its summary before exiting"
            );
        }
    }
}

/// An app server whose drain cannot finish (a connection holds half a
/// request and `--drain-timeout` is long), with an idle connection that
/// the drain closes at once: its EOF shows the first signal was handled.
struct Draining {
    server: Server,
    _half: TcpStream,
    idle: TcpStream,
}

impl Draining {
    fn start(server: Server) -> Draining {
        // One full exchange on each connection first, so both are surely
        // accepted (not waiting in the backlog) when the signal comes.
        let keep_alive_exchange = |stream: &mut TcpStream| {
            stream.write_all(&search("ring", true)).expect("send");
            let (got, _) = read_responses(stream, 1);
            assert_eq!(got.len(), 1, "one answer");
        };
        let mut half = server.connect();
        keep_alive_exchange(&mut half);
        let wire = search("ring", true);
        half.write_all(&wire[..wire.len() / 2]).expect("half");
        let mut idle = server.connect();
        keep_alive_exchange(&mut idle);
        Draining {
            server,
            _half: half,
            idle,
        }
    }

    /// Sends the first signal and waits until the drain has begun.
    fn first_signal(&mut self, signal: &str) {
        send(self.server.pid(), signal);
        assert!(closes(&mut self.idle), "the drain closes idle connections");
        assert!(
            self.server.is_alive(),
            "the drain waits for the half request"
        );
    }
}

const DRAINING: [&str; 5] = [
    "app-server",
    "--drain-timeout",
    "600",
    "--idle-timeout",
    "600",
];

#[test]
fn a_second_signal_ends_the_drain_at_once_with_its_own_status() {
    let mut draining = Draining::start(SOCKMUX.start(&DRAINING));
    draining.first_signal("TERM");
    send(draining.server.pid(), "INT");
    let status = draining.server.wait_exit();
    assert_eq!(status.code(), Some(130), "the second signal's status");
    assert!(draining
        .server
        .wait_for_log("second signal: exiting at once"));
}

#[test]
fn signals_are_handled_with_stderr_closed() {
    let start = || {
        // The shell closes stderr (2>&-) before it becomes sockmux.
        let script = r#"exec "$0" "$@" 127.0.0.1 0 2>&-"#;
        Server::start_with(
            Command::new("sh")
                .args(["-c", script, SOCKMUX.bin()])
                .args(DRAINING),
        )
    };
    let mut server = start();
    drop(server.connect());
    assert_eq!(server.terminate().code(), Some(143), "one signal");

    let mut draining = Draining::start(start());
    draining.first_signal("INT");
    send(draining.server.pid(), "TERM");
    let status = draining.server.wait_exit();
    assert_eq!(status.code(), Some(143), "the second signal's status");
}

#[test]
fn bench_stopped_by_sigterm_prints_its_report_and_exits_143() {
    let server = SOCKMUX.start(&["echo-server"]);
    let port = server.port().to_string();
    let mut child = Command::new(SOCKMUX.bin())
        .args(["bench", "echo", "127.0.0.1", &port, "--conns", "2"])
        .args(["--duration", "600", "--json", "--progress"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn bench");
    // Not a terminal, so asked for: a progress line every second, once the
    // run (and its signal handling) has started.
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().expect("stderr");
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx.recv_timeout(WAIT).expect("a progress line");
    assert!(line.starts_with("bench: "), "{line}");
    send(child.id(), "TERM");
    let mut report = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut report)
        .expect("report");
    assert_eq!(exit_code(&mut child), Some(143));
    let report: serde_json::Value = serde_json::from_str(&report).expect("JSON report");
    assert_eq!(report["interrupted"], true, "{report}");
    assert!(report["requests"].as_u64() > Some(0), "{report}");
}

#[test]
fn the_clients_exit_at_once_on_a_signal() {
    // A server that accepts and never answers: each client waits out its
    // (long) timeout unless the signal ends it.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port().to_string();
    let clients: [(&[&str], &str, i32); 2] = [
        (
            &["app-client", "127.0.0.1", &port, "search", "x"],
            "INT",
            130,
        ),
        (&["echo-client", "127.0.0.1", &port, "1"], "TERM", 143),
    ];
    for (args, signal, code) in clients {
        let mut child = Command::new(SOCKMUX.bin())
            .args(args)
            .args(["--timeout", "600"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn client");
        // Accepted means connected, and a client connects after its
        // signal handling is installed.
        let (_conn, _) = listener.accept().expect("accept");
        send(child.id(), signal);
        assert_eq!(
            exit_code(&mut child),
            Some(code),
            "{args:?} after SIG{signal}"
        );
    }
}

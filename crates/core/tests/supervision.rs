//! A loop thread that dies takes the server down promptly with an error,
//! whichever thread it is: never a half-dead server that goes on dealing
//! connections to a dead worker.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use sockmux_core::{
    AcceptMode, EchoSession, Server, ServerConfig, ServerError, Service, Session, Shutdown,
};
use sockmux_engine::{Handled, Output, PolicyError, Step};

/// Echo, except that the bytes `boom` panic the worker (the test's fault
/// injection).
#[derive(Debug)]
struct Fragile;

#[derive(Debug)]
struct FragileSession(EchoSession);

impl Session for FragileSession {
    fn handle_input(&mut self, input: &[u8], out: &mut Output) -> Handled {
        assert!(input != b"boom", "injected fault");
        self.0.handle_input(input, out)
    }
    fn resume(&mut self, out: &mut Output) -> Handled {
        self.0.resume(out)
    }
    fn handle_eof(&mut self, out: &mut Output) -> Step {
        self.0.handle_eof(out)
    }
    fn handle_stall(&mut self, idle: Duration, out: &mut Output) -> Step {
        self.0.handle_stall(idle, out)
    }
    fn handle_shutdown(&mut self, out: &mut Output) -> Step {
        self.0.handle_shutdown(out)
    }
    fn is_mid_message(&self) -> bool {
        self.0.is_mid_message()
    }
    fn has_backlog(&self) -> bool {
        self.0.has_backlog()
    }
    fn release_idle(&mut self) {
        self.0.release_idle()
    }
}

impl Service for Fragile {
    type Session = FragileSession;
    fn session(&self) -> FragileSession {
        FragileSession(EchoSession)
    }
    fn refusal(&self, _: &PolicyError, _: &mut Vec<u8>) {}
    fn name(&self) -> &'static str {
        "fragile"
    }
}

fn echo_once(stream: &mut TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).unwrap();
    let mut back = vec![0; bytes.len()];
    stream.read_exact(&mut back).unwrap();
    assert_eq!(back, bytes);
}

#[test]
fn a_panic_in_the_second_worker_stops_the_server_with_an_error() {
    let config = ServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        workers: 2,
        // Round-robin: the first connection goes to worker 0, the second
        // to worker 1, the one joined last by an in-order join.
        accept: AcceptMode::Handoff,
        ..ServerConfig::default()
    };
    let server = Server::bind(config, Fragile).unwrap();
    let addr = server.local_addr();
    let shutdown = Shutdown::new();
    let (done_tx, done) = mpsc::channel();
    let stop = shutdown.clone();
    thread::spawn(move || {
        let _ = done_tx.send(server.run(stop));
    });

    let mut healthy = TcpStream::connect(addr).unwrap();
    healthy
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    echo_once(&mut healthy, b"hello");
    let mut fatal = TcpStream::connect(addr).unwrap();
    fatal.write_all(b"boom").unwrap();

    let result = done
        .recv_timeout(Duration::from_secs(30))
        .expect("the server kept running with a dead worker");
    match result {
        Err(ServerError::WorkerPanicked { thread, message }) => {
            assert_eq!(thread, "sockmux-worker-1");
            assert!(message.contains("injected fault"), "{message}");
        }
        other => panic!("expected a panicked worker, got {other:?}"),
    }
    assert!(shutdown.is_triggered(), "the other loops were told to stop");
}

//! Zero heap allocations per message in steady state, on the echo path and
//! the keep-alive app path, through a real server and real sockets.
//!
//! A counting global allocator counts every allocation in the process. After
//! a warm-up (buffers grown, connection accepted), a fixed number of
//! request/response round trips must not allocate at all: not in the worker
//! loop, the session, the decoder or the encoder. The client side of the
//! test reuses its buffers, so it allocates nothing either.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;

use sockmux_core::{AppService, EchoService, Server, ServerConfig, Service, Shutdown};
use sockmux_proto::{encode, Limits, SearchService, Table};
use sockmux_test_support::alloc::{allocations, Counting};

#[global_allocator]
static GLOBAL: Counting = Counting;

const WARMUP: usize = 2_000;
const MEASURED: usize = 10_000;

fn start<V: Service>(service: V) -> (SocketAddr, Shutdown, thread::JoinHandle<()>) {
    let config = ServerConfig {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        workers: 1,
        ..ServerConfig::default()
    };
    let server = Server::bind(config, service).expect("bind");
    let addr = server.local_addr();
    let shutdown = Shutdown::new();
    let handle = {
        let shutdown = shutdown.clone();
        thread::spawn(move || {
            server.run(shutdown).expect("server runs");
        })
    };
    (addr, shutdown, handle)
}

/// Sends `request` and reads exactly `response_len` bytes, `rounds` times.
fn round_trips(stream: &mut TcpStream, request: &[u8], response: &mut [u8], rounds: usize) {
    for _ in 0..rounds {
        stream.write_all(request).expect("send");
        stream.read_exact(response).expect("receive");
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = sockmux_test_support::connect(addr);
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// Allocations made while `f` runs.
fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = allocations();
    f();
    allocations() - before
}

#[test]
fn echo_and_keep_alive_app_paths_do_not_allocate_per_message() {
    // Echo.
    let (addr, shutdown, handle) = start(EchoService);
    let mut stream = connect(addr);
    let request = [0x5au8; 64];
    let mut response = [0u8; 64];
    round_trips(&mut stream, &request, &mut response, WARMUP);
    let echo = allocations_during(|| round_trips(&mut stream, &request, &mut response, MEASURED));
    assert_eq!(response, request);
    shutdown.trigger();
    drop(stream);
    handle.join().expect("echo server thread");

    // App, keep-alive.
    let service = AppService::new(SearchService::new(Table::builtin()), Limits::default());
    let (addr, shutdown, handle) = start(service);
    let mut stream = connect(addr);
    let mut request = Vec::new();
    encode::search_request("morpheus", true, &mut request).expect("encode");
    let mut expected = Vec::new();
    SearchService::new(Table::builtin())
        .respond(
            &sockmux_proto::Request::Search {
                value: "morpheus".into(),
            },
            true,
            &mut expected,
        )
        .expect("encode");
    let mut response = vec![0u8; expected.len()];
    round_trips(&mut stream, &request, &mut response, WARMUP);
    let app = allocations_during(|| round_trips(&mut stream, &request, &mut response, MEASURED));
    assert_eq!(response, expected);
    shutdown.trigger();
    drop(stream);
    handle.join().expect("app server thread");

    assert_eq!(echo, 0, "echo: {echo} allocations over {MEASURED} messages");
    assert_eq!(
        app, 0,
        "app keep-alive: {app} allocations over {MEASURED} requests"
    );
}

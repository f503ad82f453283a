//! A transport layer goes between the socket and the session by choosing
//! the server's `Layers`: no change to the event loop or to any session.
//! Two toy layers stand in for the real ones (PROXY protocol, TLS): a
//! preamble that must open the connection, and a byte transform.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use sockmux_core::{EchoService, Server, ServerConfig, Shutdown};
use sockmux_engine::{Layer, LayerError, Layers, Output, Stacked};

/// A connection must open with `HELLO\n` (like a PROXY protocol header);
/// anything else closes it.
#[derive(Debug, Default)]
struct Preamble {
    seen: Vec<u8>,
    done: bool,
}

const GREETING: &[u8] = b"HELLO\n";

impl Layer for Preamble {
    fn handle_input(&mut self, input: &[u8], mut up: impl FnMut(&[u8])) -> Result<(), LayerError> {
        if self.done {
            up(input);
            return Ok(());
        }
        let take = (GREETING.len() - self.seen.len()).min(input.len());
        self.seen.extend_from_slice(&input[..take]);
        if !GREETING.starts_with(&self.seen) {
            return Err(LayerError("no greeting".into()));
        }
        if self.seen.len() == GREETING.len() {
            self.done = true;
            up(&input[take..]);
        }
        Ok(())
    }

    fn transmit<'a>(&'a mut self, above: &'a mut Output) -> &'a mut Output {
        above
    }

    fn is_mid_message(&self) -> bool {
        !self.done && !self.seen.is_empty()
    }
}

/// Every byte XORed with a key, both ways (like a cipher).
#[derive(Debug)]
struct Xor {
    out: Output,
    scratch: Vec<u8>,
}

const KEY: u8 = 0x5a;

impl Layer for Xor {
    fn handle_input(&mut self, input: &[u8], mut up: impl FnMut(&[u8])) -> Result<(), LayerError> {
        self.scratch.clear();
        self.scratch.extend(input.iter().map(|b| b ^ KEY));
        up(&self.scratch);
        Ok(())
    }

    fn transmit<'a>(&'a mut self, above: &'a mut Output) -> &'a mut Output {
        let plain = above.pending();
        let n = plain.len();
        self.out.buf_mut().extend(plain.iter().map(|b| b ^ KEY));
        above.consume(n);
        &mut self.out
    }
}

#[derive(Debug)]
struct PreambleThenXor;

impl Layers for PreambleThenXor {
    type Layer = Stacked<Preamble, Xor>;

    fn layer(&self, _peer: SocketAddr) -> Self::Layer {
        Stacked {
            lower: Preamble::default(),
            upper: Xor {
                out: Output::new(1 << 20),
                scratch: Vec::new(),
            },
        }
    }
}

fn start() -> (SocketAddr, Shutdown, thread::JoinHandle<()>) {
    let config = ServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        workers: 1,
        ..ServerConfig::default()
    };
    let server = Server::bind_with_layers(config, EchoService, PreambleThenXor).expect("bind");
    let addr = server.local_addr();
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    let handle = thread::spawn(move || {
        server.run(stop).expect("run");
    });
    (addr, shutdown, handle)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

#[test]
fn bytes_pass_through_an_inserted_layer_stack_both_ways() {
    let (addr, shutdown, handle) = start();
    let mut stream = connect(addr);
    let message: Vec<u8> = b"ping over layers".iter().map(|b| b ^ KEY).collect();
    // The greeting split across writes, the message right behind it.
    stream.write_all(b"HEL").unwrap();
    stream.write_all(b"LO\n").unwrap();
    stream.write_all(&message).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    stream.read_to_end(&mut back).unwrap();
    assert_eq!(back, message, "echoed, and transformed on the way out");
    shutdown.trigger();
    handle.join().unwrap();
}

#[test]
fn a_layer_error_closes_the_connection_before_the_session_sees_a_byte() {
    let (addr, shutdown, handle) = start();
    let mut stream = connect(addr);
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut back = Vec::new();
    // Closed without an echo (a reset is fine too: the server read little).
    let _ = stream.read_to_end(&mut back);
    assert!(back.is_empty(), "the session never saw the bytes: {back:?}");
    // The server still serves others.
    let mut good = connect(addr);
    good.write_all(b"HELLO\n").unwrap();
    good.write_all(&[b'x' ^ KEY]).unwrap();
    let mut one = [0u8; 1];
    good.read_exact(&mut one).unwrap();
    assert_eq!(one[0], b'x' ^ KEY);
    shutdown.trigger();
    handle.join().unwrap();
}

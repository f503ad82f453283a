//! Test doubles for the clients: small in-process servers that record what
//! a client sends, answer in a chosen (possibly broken) way (slowly, or
//! without end), or corrupt an echo. They are not the sockmux servers and
//! share no code with them.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use sockmux_proto::{Decoder, Limits, Request, SearchService, Table};

use crate::WAIT;

/// What an app-protocol double does once a whole request has arrived.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Answer as the built-in search service would (the reference server's
    /// answers).
    Service,
    /// Send these bytes, then close.
    Bytes(Vec<u8>),
    /// Close without answering.
    Close,
    /// Answer nothing and keep the connection open.
    Silent,
    /// Send these bytes one at a time, `every` apart, then close; stops
    /// when the client goes away.
    Drip {
        /// The answer.
        bytes: Vec<u8>,
        /// The pause after each byte.
        every: Duration,
    },
    /// Send these bytes, then filler bytes without end, until the client
    /// goes away (or stops reading for [`WAIT`]).
    Flood(Vec<u8>),
}

/// A listener on 127.0.0.1 and a free port whose accept loop runs on a
/// thread until this is dropped.
#[derive(Debug)]
struct AcceptLoop {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl AcceptLoop {
    fn start(mut on_accept: impl FnMut(TcpStream) + Send + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => on_accept(stream),
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self { addr, stop }
    }
}

impl Drop for AcceptLoop {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// An app-protocol server that records each request's bytes.
#[derive(Debug)]
pub struct Recorder {
    /// Where it listens.
    pub addr: SocketAddr,
    requests: mpsc::Receiver<Vec<u8>>,
    _accepting: AcceptLoop,
}

impl Recorder {
    /// Listens on 127.0.0.1, a free port, answering every connection's
    /// first request with `reply`.
    pub fn start(reply: Reply) -> Recorder {
        let (tx, requests) = mpsc::channel();
        let mut held = Vec::new();
        let accepting = AcceptLoop::start(move |stream| {
            if let Some((request, stream)) = serve(stream, &reply) {
                held.push(stream);
                let _ = tx.send(request);
            }
        });
        Recorder {
            addr: accepting.addr,
            requests,
            _accepting: accepting,
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The next request recorded (waits, bounded).
    pub fn next_request(&self) -> Vec<u8> {
        self.requests
            .recv_timeout(WAIT)
            .expect("a request was recorded")
    }
}

/// Reads one whole request and replies; returns the request, and the
/// stream when it must stay open.
fn serve(mut stream: TcpStream, reply: &Reply) -> Option<(Vec<u8>, Option<TcpStream>)> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(WAIT)).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut decoder = Decoder::new(Limits::default());
    let (len, response) = loop {
        if let Some(frame) = decoder
            .decode(&buf)
            .expect("the client sends valid messages")
        {
            let mut response = Vec::new();
            if let Reply::Service = reply {
                let request = Request::parse(&frame).expect("a valid request");
                SearchService::new(Table::builtin())
                    .respond(&request, frame.header.keep_alive, &mut response)
                    .expect("encodes");
            }
            break (frame.len, response);
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    assert_eq!(len, buf.len(), "nothing follows the request");
    match reply {
        Reply::Service => {
            let _ = stream.write_all(&response);
        }
        Reply::Bytes(bytes) => {
            let _ = stream.write_all(bytes);
        }
        Reply::Close => {}
        Reply::Silent => return Some((buf, Some(stream))),
        Reply::Drip { bytes, every } => {
            for byte in bytes {
                if stream.write_all(&[*byte]).is_err() {
                    break;
                }
                thread::sleep(*every);
            }
        }
        Reply::Flood(prefix) => {
            let _ = stream.set_write_timeout(Some(WAIT));
            let filler = [b'x'; 16 * 1024];
            if stream.write_all(prefix).is_ok() {
                while stream.write_all(&filler).is_ok() {}
            }
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    Some((buf, None))
}

/// An echo server that flips one bit in every `every`-th byte it echoes
/// (counted per connection), and closes when the client does.
#[derive(Debug)]
pub struct CorruptingEcho {
    /// Where it listens.
    pub addr: SocketAddr,
    _accepting: AcceptLoop,
}

impl CorruptingEcho {
    /// Listens on 127.0.0.1, a free port.
    pub fn start(every: u64) -> CorruptingEcho {
        let accepting = AcceptLoop::start(move |stream| {
            thread::spawn(move || corrupt_echo(stream, every));
        });
        CorruptingEcho {
            addr: accepting.addr,
            _accepting: accepting,
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

fn corrupt_echo(mut stream: TcpStream, every: u64) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(WAIT));
    let mut chunk = [0u8; 16 * 1024];
    let mut seen = 0u64;
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        for byte in &mut chunk[..n] {
            seen += 1;
            if seen.is_multiple_of(every) {
                *byte ^= 0x01;
            }
        }
        if stream.write_all(&chunk[..n]).is_err() {
            return;
        }
    }
}

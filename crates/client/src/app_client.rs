//! The app-protocol client: one request at a time over a blocking socket.
//!
//! Owns the exchange: connecting (trying each resolved address), sending a
//! request encoded by the protocol crate, reading exactly one response, and
//! connection reuse with `keep-alive`. A server is not trusted: sending the
//! request and receiving the whole response each get one deadline, which
//! bytes trickling in or out do not extend, and a response announcing more
//! than [`AppClientConfig::limits`] allow is refused before it is read. It does not print
//! anything: the caller gets [`Event`]s for a transcript and a
//! [`Response`] to show as it likes.
//!
//! With `keep-alive` the requests go one after another over one connection
//! (each waits for the previous response; pipelining is the load
//! generator's business). A server that answers without `keep-alive` and
//! closes, as the reference server does, gets a new connection for the next
//! request. A reused connection that turns out to be closed already (the
//! server's idle timeout won the race) is replaced once, transparently.
//!
//! With [`AppClientConfig::tls`] every connection speaks TLS (the socket
//! and the handshake are `conn`'s); the requests and responses are the
//! same bytes inside it, and a reconnection resumes the session.

mod conn;
mod response;

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sockmux_proto::{encode, Decoder, Limits, ProtoError};
use sockmux_tls::TlsConnector;

use crate::ClientError;
use conn::{lost, Conn};
use response::Head;
pub use response::Response;

/// What the user asked for: `ACTION VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRequest {
    /// The action: `search` for the tutorial's service.
    pub action: String,
    /// The search key, or the rest of the binary content.
    pub value: String,
    /// Sent as a `text/json` `{"action": …, "value": …}` request whatever
    /// the action; otherwise as the reference client sends it.
    pub json: bool,
}

impl AppRequest {
    /// A request for `action value` as the reference client sends it:
    /// `search` as `text/json`, any other action binary.
    pub fn new(action: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            action: action.into(),
            value: value.into(),
            json: false,
        }
    }

    /// A request for `action value` as `text/json` whatever the action,
    /// as services of your own expect (see `examples/kv.rs`).
    pub fn json(action: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            json: true,
            ..Self::new(action, value)
        }
    }

    /// Appends the bytes of this request: as the reference client sends
    /// it (see [`encode::client_request`]), or as `text/json`.
    pub fn encode(&self, keep_alive: bool, out: &mut Vec<u8>) -> Result<(), ProtoError> {
        if self.json {
            encode::json_request(&self.action, &self.value, keep_alive, out)
        } else {
            encode::client_request(&self.action, &self.value, keep_alive, out)
        }
    }
}

/// Something that happened on the wire, for a transcript.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A connection attempt starts.
    Connecting(SocketAddr),
    /// A request's bytes are about to be sent.
    Sending(SocketAddr, &'a [u8]),
    /// A whole response arrived.
    Received(SocketAddr, &'a [u8]),
    /// The client closes its connection.
    Closing(SocketAddr),
}

/// How an [`AppClient`] talks to its server.
#[derive(Debug, Clone)]
pub struct AppClientConfig {
    /// The server's addresses, tried in order until one accepts.
    pub addrs: Vec<SocketAddr>,
    /// Longest wait for a connection to be accepted, a request to be sent
    /// whole, or a response to arrive whole. Default: 10 s.
    pub timeout: Duration,
    /// Ask the server to keep the connection open between requests.
    pub keep_alive: bool,
    /// Bounds on a response the client accepts (default: a 16 MiB content
    /// and the largest header the wire can announce); a response announcing
    /// more is refused as malformed as soon as its header is read.
    pub limits: Limits,
    /// TLS on every connection (default: plaintext); one connector keeps
    /// one session cache, so a reconnection resumes.
    pub tls: Option<TlsConnector>,
}

impl AppClientConfig {
    /// Default for [`AppClientConfig::timeout`].
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// A configuration for `addrs` with the defaults.
    pub fn new(addrs: Vec<SocketAddr>) -> Self {
        Self {
            addrs,
            timeout: Self::DEFAULT_TIMEOUT,
            keep_alive: false,
            limits: Limits::default(),
            tls: None,
        }
    }
}

/// A client that sends requests one at a time and reads their responses.
#[derive(Debug)]
pub struct AppClient {
    config: AppClientConfig,
    conn: Option<Conn>,
    request: Vec<u8>,
    chunk: Vec<u8>,
}

impl AppClient {
    /// A client; it connects on the first request.
    pub fn new(config: AppClientConfig) -> Self {
        Self {
            config,
            conn: None,
            request: Vec::new(),
            chunk: vec![0; 16 * 1024],
        }
    }

    /// Sends `request` and returns its response, reporting what happens on
    /// the wire to `on_event`.
    pub fn request(
        &mut self,
        request: &AppRequest,
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Result<Response, ClientError> {
        self.request.clear();
        request
            .encode(self.config.keep_alive, &mut self.request)
            .map_err(ClientError::Encode)?;
        let reused = self.conn.is_some();
        let result = match self.exchange(on_event) {
            Err(e) if reused && is_stale(&e) => {
                tracing::debug!("reused connection was closed ({e}); reconnecting");
                self.close(on_event);
                self.exchange(on_event)
            }
            other => other,
        };
        match &result {
            Ok(response) if self.config.keep_alive && response.header().keep_alive => {}
            _ => self.close(on_event),
        }
        result
    }

    /// Closes the connection, if one is open.
    pub fn close(&mut self, on_event: &mut dyn FnMut(Event<'_>)) {
        if let Some(conn) = self.conn.take() {
            on_event(Event::Closing(conn.addr));
            conn.close();
        }
    }

    fn exchange(&mut self, on_event: &mut dyn FnMut(Event<'_>)) -> Result<Response, ClientError> {
        let timeout = self.config.timeout;
        if self.conn.is_none() {
            let tls = self.config.tls.as_ref();
            self.conn = Some(Conn::open(&self.config.addrs, timeout, tls, on_event)?);
        }
        let Some(conn) = self.conn.as_mut() else {
            unreachable!("connected above");
        };
        let addr = conn.addr;
        on_event(Event::Sending(addr, &self.request));
        conn.send(&self.request, Instant::now() + timeout)
            .map_err(|e| lost(addr, e, "the request to be sent", timeout))?;

        let deadline = Instant::now() + timeout;
        let mut decoder = Decoder::new(self.config.limits);
        let mut buf = Vec::new();
        loop {
            let head = decoder
                .decode(&buf)
                .map_err(|source| ClientError::Malformed { addr, source })?
                .map(|frame| Head::new(&frame));
            if let Some(head) = head {
                if buf.len() > head.len {
                    return Err(ClientError::Unsolicited {
                        addr,
                        extra: buf.len() - head.len,
                    });
                }
                on_event(Event::Received(addr, &buf));
                return head
                    .into_response(buf)
                    .map_err(|source| ClientError::BadReply { addr, source });
            }
            match conn.receive(&mut self.chunk, &mut buf, deadline) {
                Ok(0) => {
                    return Err(ClientError::ClosedEarly {
                        addr,
                        received: buf.len(),
                    })
                }
                Ok(_) => {}
                // A reset before any byte of the response is the same
                // story as an early close, and reads as one.
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset && buf.is_empty() => {
                    return Err(ClientError::ClosedEarly { addr, received: 0 })
                }
                Err(e) => return Err(lost(addr, e, "the response", timeout)),
            }
        }
    }
}

/// Whether `e` says a reused connection had been closed by the server
/// before our request reached it, so that sending it again is right.
fn is_stale(e: &ClientError) -> bool {
    match e {
        ClientError::ClosedEarly { received: 0, .. } => true,
        ClientError::Io { source, .. } => matches!(
            source.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::TcpListener;
    use std::sync::mpsc;
    use std::thread;

    use super::*;

    #[test]
    fn search_and_other_actions_encode_like_the_reference_client() {
        let mut out = Vec::new();
        AppRequest::new("search", "ring")
            .encode(false, &mut out)
            .expect("encodes");
        assert!(out.ends_with(br#"{"action": "search", "value": "ring"}"#));

        out.clear();
        AppRequest::new("echo", "hi")
            .encode(false, &mut out)
            .expect("encodes");
        let header = br#"{"byteorder": "little", "content-type": "binary/custom-client-binary-type", "content-encoding": "binary", "content-length": 6}"#;
        assert_eq!(&out[..2], &(header.len() as u16).to_be_bytes());
        assert!(cfg!(target_endian = "big") || out[2..].starts_with(header));
        assert!(out.ends_with(b"echohi"));
    }

    #[test]
    fn a_server_taking_the_request_slowly_does_not_extend_the_deadline() {
        // Takes a little of the request every 100 ms, so every write makes
        // progress: only one deadline for the whole request ends the wait.
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (done, stop) = mpsc::channel::<()>();
        let reader = thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            let mut chunk = vec![0; 64 * 1024];
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(20) {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => match stop.recv_timeout(Duration::from_millis(100)) {
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        _ => return,
                    },
                }
            }
        });
        let mut config = AppClientConfig::new(vec![addr]);
        config.timeout = Duration::from_millis(500);
        let mut client = AppClient::new(config);
        let request = AppRequest::new("bin", "x".repeat(16 << 20));
        let err = client
            .request(&request, &mut |_| {})
            .expect_err("the request cannot be sent in time");
        assert!(
            matches!(
                err,
                ClientError::Timeout {
                    what: "the request to be sent",
                    ..
                }
            ),
            "{err}"
        );
        drop(done);
        reader.join().expect("reader");
    }
}

//! The `/metrics` endpoint: a small blocking HTTP/1.1 server on its own
//! thread, away from the event loops. It answers `GET /metrics` with the
//! Prometheus text format and anything else with 404 or 405; every request
//! is bounded in size and time, and connections are served one at a time
//! (a scrape is small and rare), closed after each answer.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use crate::Metrics;

/// Longest request head read (request line and headers).
const MAX_HEAD: u64 = 8 * 1024;
/// How long a scraper may take to send its request or read the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// A bound metrics endpoint, not yet serving.
#[derive(Debug)]
pub struct MetricsServer {
    listener: TcpListener,
    metrics: Metrics,
}

impl MetricsServer {
    /// Binds `addr` (port 0 picks one) for `metrics`.
    pub fn bind(addr: SocketAddr, metrics: Metrics) -> io::Result<Self> {
        Ok(Self {
            listener: TcpListener::bind(addr)?,
            metrics,
        })
    }

    /// The address bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves on a thread of its own until the process exits.
    pub fn serve(self) -> io::Result<()> {
        std::thread::Builder::new()
            .name("sockmux-metrics".into())
            .spawn(move || {
                for stream in self.listener.incoming().flatten() {
                    if let Err(e) = answer(stream, &self.metrics) {
                        tracing::debug!("metrics request: {e}");
                    }
                }
            })?;
        Ok(())
    }
}

fn answer(stream: TcpStream, metrics: &Metrics) -> io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut reader = BufReader::new((&stream).take(MAX_HEAD));
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // The rest of the head, up to the blank line, is read and ignored.
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let mut words = request_line.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let (status, body, kind) = match (method, path.split('?').next()) {
        ("GET", Some("/metrics")) => {
            let mut body = String::with_capacity(4096);
            metrics.render(&mut body);
            ("200 OK", body, "text/plain; version=0.0.4; charset=utf-8")
        }
        ("GET", _) => (
            "404 Not Found",
            "not found: try /metrics\n".into(),
            "text/plain",
        ),
        _ => ("405 Method Not Allowed", "GET only\n".into(), "text/plain"),
    };
    let mut out = &stream;
    write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    out.flush()
}

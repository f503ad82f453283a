//! SIGHUP reloads the TLS certificate and key (issue 12): connections
//! that come after the reload get the new certificate, a connection open
//! across it goes on, a bad file keeps the certificate in use with one
//! error line, and the echo server (which has no table) reloads too.
//! The clients are Python's `ssl` (OpenSSL), checking the server's chain
//! against one CA or the other.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{ChildStdin, ChildStdout, Stdio};

use sockmux_test_support::app::{decode_responses, result, search};
use sockmux_test_support::tls::Pki;
use sockmux_test_support::{python3, run_bounded_with_input, Server, Sockmux, WAIT};

const SOCKMUX: Sockmux = Sockmux::new(env!("CARGO_BIN_EXE_sockmux"));

/// Connects once, trusting only `argv[2]`'s CA: prints `ok` after a
/// verified handshake, or the error.
const HANDSHAKE: &str = r#"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost"):
            print("ok")
except (ssl.SSLError, OSError) as e:
    print(repr(e))
"#;

/// One connection kept open: for each hex line on stdin, sends the bytes
/// and prints (hex) what comes back until a whole response is in.
const KEEP: &str = r#"
import json, socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
raw = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s = ctx.wrap_socket(raw, server_hostname="localhost")
print("ready", flush=True)
for line in sys.stdin:
    s.sendall(bytes.fromhex(line.strip()))
    got = b""
    def fill(n):
        global got
        while len(got) < n:
            chunk = s.recv(65536)
            if not chunk:
                raise SystemExit("closed")
            got += chunk
    fill(2)
    n = int.from_bytes(got[:2], "big")
    fill(2 + n)
    fill(2 + n + json.loads(got[2:2 + n])["content-length"])
    print(got.hex(), flush=True)
"#;

/// What [`HANDSHAKE`] says against `server` trusting `ca`.
fn handshake(server: &Server, ca: &Path) -> String {
    let mut cmd = python3().expect("python3").command();
    cmd.args(["-c", HANDSHAKE, &server.port().to_string()])
        .arg(ca);
    let out = run_bounded_with_input(&mut cmd, b"", WAIT);
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A connection held open by [`KEEP`].
struct Held {
    child: std::process::Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Held {
    fn open(server: &Server, ca: &Path) -> Self {
        let mut cmd = python3().expect("python3").command();
        cmd.args(["-c", KEEP, &server.port().to_string()])
            .arg(ca)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut child = cmd.spawn().expect("python3 runs");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("a line");
        assert_eq!(line.trim(), "ready");
        Self {
            child,
            stdin,
            stdout,
        }
    }

    /// Sends one keep-alive search and returns the answer's content.
    fn ask(&mut self, value: &str) -> Vec<u8> {
        let hex: String = search(value, true)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        writeln!(self.stdin, "{hex}").expect("write to the client");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("a line");
        let bytes: Vec<u8> = (0..line.trim().len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&line[i..i + 2], 16).expect("hex"))
            .collect();
        let responses = decode_responses(&bytes);
        assert_eq!(responses.len(), 1, "{line}");
        responses.into_iter().next().expect("one").1
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies `pki`'s server certificate and key over `dir`'s `cert.pem` and
/// `key.pem` (rename: a reader never sees half a file).
fn install(pki: &Pki, dir: &Path) {
    for (from, to) in [("server.pem", "cert.pem"), ("server.key", "key.pem")] {
        let staged = dir.join(format!("{to}.new"));
        std::fs::copy(pki.path(from), &staged).expect("copy");
        std::fs::rename(&staged, dir.join(to)).expect("rename");
    }
}

fn start(command: &str, dir: &Path) -> Server {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    SOCKMUX.start(&[
        "-v",
        command,
        "--tls-cert",
        cert.to_str().expect("UTF-8"),
        "--tls-key",
        key.to_str().expect("UTF-8"),
    ])
}

#[test]
fn sighup_serves_new_connections_the_new_certificate_and_keeps_open_ones() {
    if python3().is_none() {
        return;
    }
    let (old, new) = (Pki::new(), Pki::new());
    let dir = tempfile::tempdir().expect("scratch directory");
    install(&old, dir.path());
    let mut server = start("app-server", dir.path());
    assert_eq!(handshake(&server, &old.path("ca.pem")), "ok");
    let refused = handshake(&server, &new.path("ca.pem"));
    assert!(refused.contains("CERTIFICATE_VERIFY_FAILED"), "{refused}");
    let mut held = Held::open(&server, &old.path("ca.pem"));
    assert_eq!(
        held.ask("morpheus"),
        result("Follow the white rabbit. \u{1f430}")
    );

    install(&new, dir.path());
    server.signal("HUP");
    assert!(server.wait_for_log("SIGHUP: reloaded the TLS certificate"));
    assert_eq!(handshake(&server, &new.path("ca.pem")), "ok");
    let refused = handshake(&server, &old.path("ca.pem"));
    assert!(refused.contains("CERTIFICATE_VERIFY_FAILED"), "{refused}");
    // The connection made before the reload goes on.
    assert_eq!(
        held.ask("ring"),
        result("In the caves beneath the Misty Mountains. \u{1f48d}")
    );

    // A bad file keeps the certificate in use.
    std::fs::write(dir.path().join("cert.pem"), "not a certificate\n").expect("write");
    server.signal("HUP");
    assert!(server.wait_for_log("SIGHUP: keeping the TLS certificate in use"));
    assert_eq!(handshake(&server, &new.path("ca.pem")), "ok");
    drop(held);
    assert_eq!(server.terminate().code(), Some(143));
}

#[test]
fn the_echo_server_reloads_its_certificate_too() {
    if python3().is_none() {
        return;
    }
    let (old, new) = (Pki::new(), Pki::new());
    let dir = tempfile::tempdir().expect("scratch directory");
    install(&old, dir.path());
    let mut server = start("echo-server", dir.path());
    assert_eq!(handshake(&server, &old.path("ca.pem")), "ok");
    install(&new, dir.path());
    // Before: SIGHUP's default action ended the echo server.
    server.signal("HUP");
    assert!(server.wait_for_log("SIGHUP: reloaded the TLS certificate"));
    assert_eq!(handshake(&server, &new.path("ca.pem")), "ok");
    assert_eq!(server.terminate().code(), Some(143));
}

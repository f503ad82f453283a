//! TLS on the real servers, with other people's clients: Python's `ssl`
//! (OpenSSL underneath) and `openssl s_client`, TLS 1.3 and 1.2, session
//! resumption, mutual TLS accepted and refused, PROXY below TLS, hostile
//! peers each closed cleanly while others are served, and bad files
//! refused at start-up (issue 12).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sockmux_test_support::app::{decode_responses, result, search};
use sockmux_test_support::tls::{Pki, CLIENT_SUBJECT};
use sockmux_test_support::{python3, run_bounded_with_input, Server, Sockmux, WAIT};

const SOCKMUX: Sockmux = Sockmux::new(env!("CARGO_BIN_EXE_sockmux"));

const ANSWER: &str = "Follow the white rabbit. \u{1f430}";

/// A TLS client in Python's `ssl`: for each of `connections` connections
/// (resuming the previous session), optionally sends a preamble in the
/// clear, then `send` (hex) over TLS and reads to EOF; or reads `expect`
/// bytes, or with `one` a single framed response, and then closes the
/// socket without `close_notify`. One JSON line per connection.
const CLIENT: &str = r#"
import json, socket, ssl, sys
port, ca, opts = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
ctx = ssl.create_default_context(cafile=ca)
if opts.get("version"):
    v = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[opts["version"]]
    ctx.minimum_version = ctx.maximum_version = v
if opts.get("cert"):
    ctx.load_cert_chain(opts["cert"], opts["key"])
session = None
for _ in range(opts.get("connections", 1)):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    raw.sendall(bytes.fromhex(opts.get("preamble", "")))
    try:
        s = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
        s.sendall(bytes.fromhex(opts["send"]))
        got = b""
        def fill(n):
            global got
            while len(got) < n:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        if opts.get("one"):
            fill(2)
            header_len = int.from_bytes(got[:2], "big")
            fill(2 + header_len)
            fill(2 + header_len + json.loads(got[2:2 + header_len])["content-length"])
        else:
            fill(opts.get("expect", 1 << 40))
        line = {"reused": s.session_reused, "version": s.version(), "got": got.hex()}
        session = s.session
        s.close()
    except (ssl.SSLError, OSError) as e:
        line = {"error": repr(e)}
    print(json.dumps(line), flush=True)
"#;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Runs [`CLIENT`] against `server` with `opts`; `None` without python3.
fn python(server: &Server, pki: &Pki, opts: Value) -> Option<Vec<Value>> {
    let mut cmd = python3()?.command();
    cmd.args([
        "-c",
        CLIENT,
        &server.port().to_string(),
        &pki.arg("ca.pem"),
        &opts.to_string(),
    ]);
    let out = run_bounded_with_input(&mut cmd, b"", WAIT);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect(),
    )
}

/// The one answer a line carries.
fn answer(line: &Value) -> Vec<u8> {
    let got = unhex(
        line["got"]
            .as_str()
            .unwrap_or_else(|| panic!("no answer: {line}")),
    );
    let responses = decode_responses(&got);
    assert_eq!(responses.len(), 1, "{line}");
    responses.into_iter().next().unwrap().1
}

fn tls_server(pki: &Pki, extra: &[&str]) -> Server {
    let (cert, key) = (pki.arg("server.pem"), pki.arg("server.key"));
    let mut args = vec!["-v", "app-server", "--tls-cert", &cert, "--tls-key", &key];
    args.extend_from_slice(extra);
    SOCKMUX.start(&args)
}

#[test]
fn python_ssl_is_answered_over_tls13_and_tls12_and_resumes_on_any_worker() {
    let pki = Pki::new();
    // Two workers, each accepting on its own listener: a session made on
    // one resumes on the other (one shared configuration and ticketer).
    let mut server = tls_server(&pki, &["--workers", "2"]);
    for version in ["1.3", "1.2"] {
        let opts = serde_json::json!({
            "version": version, "connections": 6, "send": hex(&search("morpheus", false)),
        });
        let Some(lines) = python(&server, &pki, opts) else {
            return;
        };
        assert_eq!(lines.len(), 6);
        for line in &lines {
            assert_eq!(answer(line), result(ANSWER), "{version}");
            assert_eq!(line["version"], format!("TLSv{version}"));
        }
        assert_eq!(
            lines[0]["reused"], false,
            "{version}: first is a full handshake"
        );
        for line in &lines[1..] {
            assert_eq!(line["reused"], true, "{version}: the others resume: {line}");
        }
    }
    assert!(
        server.wait_for_log("TLSv1_3 TLS13_AES_128_GCM_SHA256"),
        "handshake logged"
    );
    assert!(server.wait_for_log(", resumed"), "resumption logged");
}

#[test]
fn the_allow_list_refuses_before_the_handshake() {
    let pki = Pki::new();
    let server = tls_server(&pki, &["--allow", "192.0.2.0/24"]);
    let opts = serde_json::json!({"send": hex(&search("morpheus", false))});
    let Some(lines) = python(&server, &pki, opts) else {
        return;
    };
    assert!(lines[0].get("error").is_some(), "refused: {}", lines[0]);
}

#[test]
fn the_echo_server_speaks_tls_too() {
    let pki = Pki::new();
    let (cert, key) = (pki.arg("server.pem"), pki.arg("server.key"));
    let server = SOCKMUX.start(&["echo-server", "--tls-cert", &cert, "--tls-key", &key]);
    let opts = serde_json::json!({"send": hex(b"ping over TLS"), "expect": 13});
    let Some(lines) = python(&server, &pki, opts) else {
        return;
    };
    assert_eq!(
        unhex(lines[0]["got"].as_str().expect("echoed")),
        b"ping over TLS"
    );
}

/// `openssl s_client` with `args`, sending `input`; its stdout.
fn s_client(server: &Server, pki: &Pki, args: &[&str], input: &[u8]) -> String {
    let mut cmd = Command::new("openssl");
    cmd.args([
        "s_client",
        "-connect",
        &server.addr.to_string(),
        "-servername",
        "localhost",
    ])
    .args([
        "-CAfile",
        &pki.arg("ca.pem"),
        "-verify_return_error",
        "-ign_eof",
    ])
    .args(args);
    let out = run_bounded_with_input(&mut cmd, input, WAIT);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn has_openssl() -> bool {
    Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn openssl_s_client_interoperates_and_resumes_over_tls13_and_tls12() {
    if !has_openssl() {
        assert!(
            std::env::var_os("CI").is_none(),
            "openssl is required in CI"
        );
        eprintln!("skipped: openssl cannot be run");
        return;
    }
    let pki = Pki::new();
    let server = tls_server(&pki, &[]);
    let request = search("morpheus", false);
    for version in ["-tls1_3", "-tls1_2"] {
        let sess = pki.arg(&format!("session{version}"));
        let first = s_client(&server, &pki, &[version, "-sess_out", &sess], &request);
        assert!(
            first.contains("Verify return code: 0 (ok)"),
            "{version}: {first}"
        );
        assert!(first.contains("New, TLSv1."), "{version}: {first}");
        assert!(
            first.contains("Follow the white rabbit"),
            "{version}: {first}"
        );
        let second = s_client(&server, &pki, &[version, "-sess_in", &sess], &request);
        assert!(second.contains("Reused, TLSv1."), "{version}: {second}");
        assert!(
            second.contains("Follow the white rabbit"),
            "{version}: {second}"
        );
    }
}

#[test]
fn mutual_tls_serves_a_good_client_and_refuses_none_and_strangers() {
    let pki = Pki::new();
    let mut server = tls_server(&pki, &["--tls-client-ca", &pki.arg("ca.pem")]);
    let send = hex(&search("morpheus", false));
    for version in ["1.3", "1.2"] {
        let good = serde_json::json!({
            "version": version, "send": send,
            "cert": pki.arg("client.pem"), "key": pki.arg("client.key"),
        });
        let Some(lines) = python(&server, &pki, good) else {
            return;
        };
        assert_eq!(answer(&lines[0]), result(ANSWER), "{version}");
        let none = serde_json::json!({"version": version, "send": send});
        let stranger = serde_json::json!({
            "version": version, "send": send,
            "cert": pki.arg("stranger.pem"), "key": pki.arg("stranger.key"),
        });
        for (who, opts) in [("no certificate", none), ("another CA's", stranger)] {
            let line = &python(&server, &pki, opts).expect("python")[0];
            // Refused with an alert saying why, not a bare close.
            let error = line["error"]
                .as_str()
                .unwrap_or_else(|| panic!("{version} {who}: {line}"));
            assert!(error.contains("ALERT"), "{version} {who}: {error}");
        }
    }
    assert!(
        server.wait_for_log(&format!("client {CLIENT_SUBJECT}")),
        "subject logged"
    );
}

#[test]
fn proxy_header_then_tls() {
    let pki = Pki::new();
    let mut server = tls_server(&pki, &["--proxy-protocol"]);
    let opts = serde_json::json!({
        "preamble": hex(b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n"),
        "send": hex(&search("morpheus", false)),
    });
    let Some(lines) = python(&server, &pki, opts) else {
        return;
    };
    assert_eq!(answer(&lines[0]), result(ANSWER));
    assert!(server.wait_for_log("is for client 192.0.2.1:56324"));
}

/// Sends `bytes` in the clear, half-closes if `eof`, and returns what the
/// server sent before it closed, and how long that took.
fn raw(addr: SocketAddr, bytes: &[u8], eof: bool) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    let _ = stream.write_all(bytes);
    if eof {
        let _ = stream.shutdown(std::net::Shutdown::Write);
    }
    let mut got = Vec::new();
    match stream.read_to_end(&mut got) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("not closed: {e}"),
    }
    (got, start.elapsed())
}

#[test]
fn hostile_peers_are_closed_cleanly_and_others_still_served() {
    let pki = Pki::new();
    let server = tls_server(&pki, &["--idle-timeout", "1"]);
    let still_served = || {
        let opts = serde_json::json!({"send": hex(&search("morpheus", false))});
        if let Some(lines) = python(&server, &pki, opts) {
            assert_eq!(answer(&lines[0]), result(ANSWER));
        }
    };
    let hello_start = [0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00];
    let cases: [(&str, Vec<u8>, bool); 5] = [
        (
            "garbage before a ClientHello",
            [&b"junk"[..], &hello_start].concat(),
            false,
        ),
        (
            "an app request in the clear",
            search("morpheus", false),
            false,
        ),
        (
            "HTTP in the clear",
            b"GET / HTTP/1.0\r\n\r\n".to_vec(),
            false,
        ),
        ("a truncated record, then EOF", hello_start.to_vec(), true),
        ("a stalled handshake", hello_start.to_vec(), false),
    ];
    for (what, bytes, eof) in cases {
        let (got, took) = raw(server.addr, &bytes, eof);
        // Nothing but, at most, an alert record in the clear.
        let alert = got.is_empty() || (got[0] == 21 && got.len() == 7);
        assert!(alert, "{what}: sent {got:?}");
        assert!(took < WAIT, "{what}: closed in time");
        if what == "a stalled handshake" {
            assert!(
                took >= Duration::from_millis(900),
                "{what}: idle timeout, {took:?}"
            );
        }
        still_served();
    }
    // A client that leaves without close_notify, mid keep-alive.
    let opts = serde_json::json!({"send": hex(&search("morpheus", true)), "one": true});
    if let Some(lines) = python(&server, &pki, opts) {
        assert_eq!(answer(&lines[0]), result(ANSWER));
    }
    still_served();
}

#[test]
fn bad_certificate_or_key_files_stop_the_server_at_start_up() {
    let pki = Pki::new();
    let missing = pki.arg("missing.pem");
    let not_pem = pki.arg("not.pem");
    std::fs::write(&not_pem, "hello\n").expect("write");
    let (cert, key, other_key) = (
        pki.arg("server.pem"),
        pki.arg("server.key"),
        pki.arg("client.key"),
    );
    let cases = [
        (
            "missing certificate",
            vec!["--tls-cert", &missing, "--tls-key", &key],
            "certificate file",
        ),
        (
            "no PEM certificate",
            vec!["--tls-cert", &not_pem, "--tls-key", &key],
            "holds no certificate",
        ),
        (
            "missing key",
            vec!["--tls-cert", &cert, "--tls-key", &missing],
            "private key file",
        ),
        (
            "key of another certificate",
            vec!["--tls-cert", &cert, "--tls-key", &other_key],
            "with key",
        ),
        (
            "bad client CA",
            vec![
                "--tls-cert",
                &cert,
                "--tls-key",
                &key,
                "--tls-client-ca",
                &not_pem,
            ],
            "client CA file",
        ),
    ];
    for (what, flags, says) in cases {
        let mut args = vec!["app-server"];
        args.extend(flags);
        args.extend(["127.0.0.1", "0"]);
        let (status, stdout, stderr) = SOCKMUX.run(&args);
        assert_eq!(status.code(), Some(1), "{what}: {stderr}");
        assert!(stdout.is_empty(), "{what}: never listened");
        assert_eq!(stderr.lines().count(), 1, "{what}: one line: {stderr}");
        assert!(stderr.contains(says), "{what}: {stderr}");
    }
}

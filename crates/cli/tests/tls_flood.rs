//! A flood of TLS handshakes is served a few per loop turn
//! (`--handshake-budget`), so established connections keep their turns
//! (issue 12, hostile peers over TLS). The flood is made deterministic by
//! stopping the server (SIGSTOP) while the clients connect and send their
//! ClientHellos: on SIGCONT one accept batch takes them all, and every
//! handshake past the budget must wait for a later turn.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use sockmux_test_support::scrape::{get, metrics_addr, value};
use sockmux_test_support::tls::Pki;
use sockmux_test_support::{python3, Sockmux, WAIT};

const SOCKMUX: Sockmux = Sockmux::new(env!("CARGO_BIN_EXE_sockmux"));

const CLIENTS: usize = 12;

/// `argv[3]` threads each connect (printing `connected` once all have),
/// shake hands trusting `argv[2]`, send the hex request `argv[4]` and read
/// to EOF; then one line per client: the answer's length or the error.
const FLOOD: &str = r#"
import socket, ssl, sys, threading
port, ca, n, request = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), bytes.fromhex(sys.argv[4])
ctx = ssl.create_default_context(cafile=ca)
raws = [socket.create_connection(("127.0.0.1", port), timeout=20) for _ in range(n)]
print("connected", flush=True)
results = [None] * n
def one(i):
    try:
        with ctx.wrap_socket(raws[i], server_hostname="localhost") as s:
            s.sendall(request)
            got = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            results[i] = str(len(got))
    except (ssl.SSLError, OSError) as e:
        results[i] = repr(e)
threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for r in results:
    print(r, flush=True)
"#;

/// The value of the unlabelled counter `name` in a scrape of `metrics`.
fn counter(metrics: SocketAddr, name: &str) -> f64 {
    let (_, body) = get(metrics, "/metrics");
    value(&body, name).unwrap_or_else(|| panic!("no {name} in:\n{body}"))
}

#[test]
fn a_flood_of_handshakes_is_served_a_budget_per_turn() {
    let Some(python) = python3() else { return };
    let pki = Pki::new();
    let (cert, key) = (pki.arg("server.pem"), pki.arg("server.key"));
    let mut server = SOCKMUX.start(&[
        "app-server",
        "--workers",
        "1",
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--handshake-budget",
        "2",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let metrics = metrics_addr(&mut server);
    assert_eq!(counter(metrics, "sockmux_handshakes_deferred_total"), 0.0);

    server.signal("STOP");
    let request: String = sockmux_test_support::app::search("morpheus", false)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut cmd = python.command();
    cmd.args(["-c", FLOOD, &server.port().to_string(), &pki.arg("ca.pem")])
        .args([&CLIENTS.to_string(), &request])
        .stdout(Stdio::piped());
    let mut child = cmd.spawn().expect("python3 runs");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a line").expect("UTF-8");
    assert_eq!(first, "connected");
    // Every ClientHello is in the server's socket buffers before it runs
    // again (the threads send them at once; this wait only makes sure).
    std::thread::sleep(Duration::from_millis(300));
    server.signal("CONT");

    let results: Vec<String> = lines.map(|l| l.expect("UTF-8")).collect();
    let _ = child.wait();
    assert_eq!(results.len(), CLIENTS, "{results:?}");
    for result in &results {
        assert!(result.parse::<usize>().is_ok_and(|n| n > 0), "{results:?}");
    }
    // One accept batch took all twelve: two handshakes per turn, so at
    // least ten waited at least once.
    // Workers publish their counters once per sweep: wait for it.
    let wanted = (CLIENTS - 2) as f64;
    let deadline = Instant::now() + WAIT;
    let mut deferred = counter(metrics, "sockmux_handshakes_deferred_total");
    while deferred < wanted && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        deferred = counter(metrics, "sockmux_handshakes_deferred_total");
    }
    assert!(deferred >= wanted, "deferred {deferred}");
    assert_eq!(server.terminate().code(), Some(143));
}

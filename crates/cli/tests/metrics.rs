//! `--metrics ADDR`: the Prometheus endpoint. Its counters follow the
//! traffic, `promtool check metrics` accepts the text, and a real
//! Prometheus server scrapes it (`up == 1`, requests counted).
//!
//! `.ci/run` installs Prometheus (Debian's `prometheus` ships `promtool`)
//! and sets `SOCKMUX_REQUIRE_PROMETHEUS=1`, so a missing one fails there.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sockmux_test_support::scrape::{get, metrics_addr, value};
use sockmux_test_support::{free_port, Server, Sockmux, WAIT};

const SOCKMUX: Sockmux = Sockmux::new(env!("CARGO_BIN_EXE_sockmux"));

/// A server with metrics, and the address they are on (its second line).
fn server() -> (Server, SocketAddr) {
    let mut server = SOCKMUX.start(&["app-server", "--metrics", "127.0.0.1:0"]);
    let addr = metrics_addr(&mut server);
    (server, addr)
}

fn bench(port: u16, requests: u32) {
    let status = SOCKMUX
        .command()
        .args(["-q", "bench", "app", "127.0.0.1", &port.to_string()])
        .args(["--conns", "2", "--requests", &requests.to_string()])
        .stdout(Stdio::null())
        .status()
        .expect("bench runs");
    assert!(status.success());
}

fn have(program: &str) -> bool {
    let found = Command::new(program).arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("SOCKMUX_REQUIRE_PROMETHEUS").is_none(),
            "{program} is not installed (apt-get install prometheus)"
        );
        eprintln!("skipped: {program} is not installed");
    }
    found
}

#[test]
fn the_endpoint_counts_the_traffic_and_refuses_other_paths() {
    let (server, metrics) = server();
    bench(server.port(), 200);
    // Workers publish at their timer sweeps, at most a second apart.
    let until = Instant::now() + WAIT;
    loop {
        let (status, body) = get(metrics, "/metrics");
        assert_eq!(status, "HTTP/1.1 200 OK");
        if value(&body, "sockmux_requests_total") == Some(200.0) {
            assert_eq!(
                value(&body, "sockmux_connections_accepted_total"),
                Some(200.0)
            );
            assert_eq!(value(&body, "sockmux_table_entries"), Some(3.0));
            assert_eq!(
                value(&body, "sockmux_errors_total{kind=\"protocol\"}"),
                Some(0.0)
            );
            break;
        }
        assert!(Instant::now() < until, "requests never counted: {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(get(metrics, "/other").0, "HTTP/1.1 404 Not Found");
}

#[test]
fn promtool_accepts_the_text() {
    if !have("promtool") {
        return;
    }
    let (server, metrics) = server();
    bench(server.port(), 10);
    let (_, body) = get(metrics, "/metrics");
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs");
    check
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("feeds promtool");
    let out = check.wait_with_output().expect("promtool output");
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_real_prometheus_scrapes_it() {
    if !have("prometheus") {
        return;
    }
    let (server, metrics) = server();
    bench(server.port(), 50);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: sockmux\n    \
             static_configs:\n      - targets: ['{metrics}']\n"
        ),
    )
    .expect("config");
    let web = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut prometheus = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={web}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus starts");
    let query = |q: &str| {
        TcpStream::connect(web)
            .ok()
            .map(|_| get(web, &format!("/api/v1/query?query={q}")).1)
            .unwrap_or_default()
    };
    let until = Instant::now() + Duration::from_secs(30);
    let (mut up, mut requests) = (String::new(), String::new());
    while Instant::now() < until {
        up = query("up");
        requests = query("sockmux_requests_total");
        if up.contains("\"1\"]") && requests.contains("\"value\"") && !requests.contains("\"0\"]") {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let _ = prometheus.kill();
    let _ = prometheus.wait();
    assert!(up.contains("\"1\"]"), "up is not 1: {up}");
    assert!(
        requests.contains("\"50\"]"),
        "requests not scraped: {requests}"
    );
}

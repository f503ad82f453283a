//! Real balancers in front: HAProxy 2.6 (`mode tcp`, `send-proxy-v2`,
//! `balance leastconn`, a `tcp-check` speaking our protocol) and nginx's
//! stream module (`proxy_protocol on`, passive checks), each before three
//! `sockmux app-server --proxy-protocol`. `sockmux bench` runs through
//! the balancer while one backend is killed: the run goes on, every answer
//! is right, and the balancer stops using the dead one. A backend's log
//! names the client, not the balancer.
//!
//! `.ci/run` installs both (and sets `SOCKMUX_REQUIRE_BALANCERS=1`, so a
//! missing one fails there instead of skipping).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sockmux_proto::encode;
use sockmux_test_support::app::search;
use sockmux_test_support::{free_port, Server, Sockmux, WAIT};

const SOCKMUX: Sockmux = Sockmux::new(env!("CARGO_BIN_EXE_sockmux"));

/// Whether `program` is installed; a skip outside CI, a failure in it.
fn have(program: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("SOCKMUX_REQUIRE_BALANCERS").is_none(),
            "{program} is not installed (apt-get install haproxy nginx libnginx-mod-stream)"
        );
        eprintln!("skipped: {program} is not installed");
    }
    found
}

/// Three backends behind the PROXY protocol; the first logs at debug.
fn backends() -> Vec<Server> {
    let verbose = SOCKMUX.start(&["-v", "app-server", "--proxy-protocol", "--workers", "1"]);
    let mut all = vec![verbose];
    for _ in 0..2 {
        all.push(SOCKMUX.start(&["app-server", "--proxy-protocol", "--workers", "1"]));
    }
    all
}

/// Waits until `addr` accepts connections.
fn wait_listening(addr: SocketAddr, child: &mut Child) {
    let until = Instant::now() + WAIT;
    while TcpStream::connect(addr).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the balancer exited {status}");
        }
        assert!(
            Instant::now() < until,
            "the balancer never listened on {addr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs bench through `front` for `secs`, killing `victim` a third of the
/// way in; returns the bench report.
fn bench_while_killing(front: SocketAddr, victim: &mut Server, secs: u64) -> serde_json::Value {
    let bench = SOCKMUX
        .command()
        .args(["-q", "bench", "app", "127.0.0.1", &front.port().to_string()])
        .args(["--conns", "8", "--duration", &secs.to_string(), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("bench starts");
    std::thread::sleep(Duration::from_secs(secs) / 3);
    let pid = victim.pid().to_string();
    assert!(Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .expect("kill")
        .success());
    let out = bench.wait_with_output().expect("bench output");
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default().to_owned();
    serde_json::from_str(&last).unwrap_or_else(|e| panic!("bench report {last:?}: {e}"))
}

/// The run went on past the kill: answers all right, errors at most the
/// connections that were on the dead backend.
fn check_run(report: &serde_json::Value) {
    let requests = report["requests"].as_u64().expect("requests");
    assert!(requests > 500, "too little got through: {report}");
    assert_eq!(report["mismatches"], 0, "{report}");
    let errors = report["protocol_errors"].as_u64().unwrap_or(0)
        + report["connect_errors"].as_u64().unwrap_or(0)
        + report["timeouts"].as_u64().unwrap_or(0);
    assert!(
        errors <= 8,
        "more errors than connections in flight: {report}"
    );
    eprintln!(
        "through the balancer, one backend killed: {requests} requests, {errors} errors, \
         {} mismatches, p99 {} us",
        report["mismatches"], report["latency_us"]["p99"]
    );
}

/// A request sent from 127.0.0.2 through `front`, answered.
fn ask_from_another_address(front: SocketAddr) {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 2], 0)).into())
        .expect("bind 127.0.0.2");
    socket.connect(&front.into()).expect("connects");
    let mut stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream
        .write_all(&search("morpheus", false))
        .expect("request");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert!(
        String::from_utf8_lossy(&answer).contains("Follow the white rabbit"),
        "{answer:?}"
    );
}

/// The hex of a binary request and of what every table answers it with.
fn health_check_hex() -> (String, String) {
    let mut request = Vec::new();
    encode::binary_request("ping", "", false, &mut request).expect("encodes");
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    (hex(&request), hex(b"First 10 bytes of request: ping"))
}

fn haproxy_config(dir: &Path, front: SocketAddr, backends: &[Server]) -> String {
    let (send, expect) = health_check_hex();
    let mut cfg = format!(
        "global\n  maxconn 4096\n  stats socket {}/stats.sock level admin\n\
         defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 30s\n  timeout server 30s\n\
         \x20 retries 3\n  option redispatch\n\
         frontend front\n  bind {front}\n  default_backend sockmux\n\
         backend sockmux\n  balance leastconn\n  option tcp-check\n  tcp-check connect default\n\
         \x20 tcp-check send-binary {send}\n  tcp-check expect binary {expect}\n",
        dir.display()
    );
    for (i, b) in backends.iter().enumerate() {
        cfg.push_str(&format!(
            "  server s{i} {} send-proxy-v2 check inter 200ms fall 2 rise 2\n",
            b.addr
        ));
    }
    cfg
}

/// HAProxy's view of server `name`: its status column from `show stat`.
fn haproxy_status(dir: &Path, name: &str) -> String {
    let mut stats = std::os::unix::net::UnixStream::connect(dir.join("stats.sock")).expect("stats");
    stats.write_all(b"show stat\n").expect("ask");
    let mut csv = String::new();
    let _ = stats.read_to_string(&mut csv);
    csv.lines()
        .find(|l| l.starts_with(&format!("sockmux,{name},")))
        .and_then(|l| l.split(',').nth(17))
        .unwrap_or("?")
        .to_owned()
}

#[test]
fn haproxy_in_front_survives_a_dead_backend_and_passes_the_client_address() {
    if !have("haproxy") {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut backends = backends();
    let front = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let cfg = dir.path().join("haproxy.cfg");
    std::fs::write(&cfg, haproxy_config(dir.path(), front, &backends)).expect("config");
    let mut haproxy = Command::new("haproxy")
        .args(["-db", "-f"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("haproxy starts");
    wait_listening(front, &mut haproxy);
    // Every backend passes its first checks (our protocol, any table).
    let until = Instant::now() + WAIT;
    while (0..3).any(|i| haproxy_status(dir.path(), &format!("s{i}")) != "UP") {
        assert!(Instant::now() < until, "backends never came UP");
        std::thread::sleep(Duration::from_millis(100));
    }

    let report = bench_while_killing(front, &mut backends[2], 6);
    check_run(&report);
    assert_eq!(
        haproxy_status(dir.path(), "s2"),
        "DOWN",
        "the dead backend is marked down"
    );

    // Enough requests that s0 (which logs at debug) serves some.
    for _ in 0..6 {
        ask_from_another_address(front);
    }
    assert!(
        backends[0].wait_for_log("is for client 127.0.0.2:"),
        "client address logged"
    );
    let _ = haproxy.kill();
    let _ = haproxy.wait();
}

fn nginx_config(dir: &Path, front: SocketAddr, backends: &[Server]) -> String {
    let servers: String = backends
        .iter()
        .map(|b| format!("    server {} max_fails=1 fail_timeout=30s;\n", b.addr))
        .collect();
    format!(
        "load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n\
         worker_processes 1;\nerror_log {dir}/error.log notice;\npid {dir}/nginx.pid;\n\
         events {{ worker_connections 1024; }}\n\
         stream {{\n  upstream sockmux {{\n    least_conn;\n{servers}  }}\n\
         \x20 server {{\n    listen {front};\n    proxy_pass sockmux;\n    proxy_protocol on;\n\
         \x20   proxy_connect_timeout 1s;\n    proxy_next_upstream on;\n  }}\n}}\n",
        dir = dir.display()
    )
}

#[test]
fn nginx_in_front_survives_a_dead_backend_and_passes_the_client_address() {
    if !have("nginx") || !Path::new("/usr/lib/nginx/modules/ngx_stream_module.so").exists() {
        assert!(
            std::env::var_os("SOCKMUX_REQUIRE_BALANCERS").is_none(),
            "nginx's stream module is not installed (libnginx-mod-stream)"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut backends = backends();
    let front = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let cfg = dir.path().join("nginx.conf");
    std::fs::write(&cfg, nginx_config(dir.path(), front, &backends)).expect("config");
    let mut nginx = Command::new("nginx")
        .args(["-g", "daemon off;", "-e"])
        .arg(dir.path().join("error.log"))
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx starts");
    wait_listening(front, &mut nginx);

    let report = bench_while_killing(front, &mut backends[2], 6);
    check_run(&report);

    // Enough requests that s0 (which logs at debug) serves some.
    for _ in 0..6 {
        ask_from_another_address(front);
    }
    assert!(
        backends[0].wait_for_log("is for client 127.0.0.2:"),
        "client address logged"
    );
    let _ = nginx.kill();
    let _ = nginx.wait();
}

#[test]
fn the_shipped_haproxy_config_checks_with_the_request_the_encoder_writes() {
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/haproxy.cfg"
    ))
    .expect("deploy/haproxy.cfg");
    let (send, expect) = health_check_hex();
    assert!(
        shipped.contains(&format!("tcp-check send-binary {send}\n")),
        "send-binary is stale"
    );
    assert!(
        shipped.contains(&format!("tcp-check expect binary {expect}\n")),
        "expect is stale"
    );
}

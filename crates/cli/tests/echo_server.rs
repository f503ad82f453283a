//! `sockmux echo-server` end to end: integrity, half-close, backpressure,
//! resets, and the reference multi-connection client.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use sockmux_test_support::{connect, Seed, Sockmux, WAIT};

const SOCKMUX: Sockmux = Sockmux::new(env!("CARGO_BIN_EXE_sockmux"));

/// Sends `payload` in random-sized writes, half-closes, and returns every
/// byte echoed until EOF.
fn echo_roundtrip(addr: SocketAddr, payload: Vec<u8>, seed: u64) -> Vec<u8> {
    let stream = connect(addr);
    let mut writer = stream.try_clone().expect("clone");
    let sender = thread::spawn(move || {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut at = 0;
        while at < payload.len() {
            let n = rng.gen_range(1..=64 * 1024).min(payload.len() - at);
            writer.write_all(&payload[at..at + n]).expect("send");
            at += n;
        }
        writer.shutdown(Shutdown::Write).expect("half-close");
    });
    let mut echoed = Vec::new();
    let mut reader = stream;
    reader
        .read_to_end(&mut echoed)
        .expect("read echo until EOF");
    sender.join().expect("sender");
    echoed
}

fn random_payload(rng: &mut StdRng, max: usize) -> Vec<u8> {
    let len = rng.gen_range(1..=max);
    let mut payload = vec![0u8; len];
    rng.fill_bytes(&mut payload);
    payload
}

#[test]
fn hundred_concurrent_connections_get_exactly_their_bytes_back() {
    let server = SOCKMUX.start(&["echo-server"]);
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let addr = server.addr;
    let clients: Vec<_> = (0..100u64)
        .map(|i| {
            // A few large streams among many smaller ones keeps the test
            // quick on a debug build while still crossing every buffer size.
            let max = if i % 10 == 0 { 4 << 20 } else { 256 << 10 };
            let payload = random_payload(&mut rng, max);
            let expected = payload.clone();
            (
                expected,
                thread::spawn(move || echo_roundtrip(addr, payload, i)),
            )
        })
        .collect();
    for (i, (expected, handle)) in clients.into_iter().enumerate() {
        let echoed = handle.join().expect("client thread");
        assert_eq!(echoed.len(), expected.len(), "connection {i}: length");
        assert!(echoed == expected, "connection {i}: bytes differ");
    }
}

#[test]
fn half_close_flushes_everything_owed() {
    let server = SOCKMUX.start(&["echo-server"]);
    let payload = b"the last words before a half-close".to_vec();
    assert_eq!(echo_roundtrip(server.addr, payload.clone(), 1), payload);
}

#[test]
fn peer_that_does_not_read_is_held_back_and_loses_nothing() {
    let server = SOCKMUX.start(&["echo-server", "--workers", "1"]);
    let baseline = server.rss_kib();
    let total: usize = 64 << 20;
    let stream = server.connect();
    let mut writer = stream.try_clone().expect("clone");
    let (progress_tx, progress_rx) = std::sync::mpsc::channel();
    let sender = thread::spawn(move || {
        let mut block = vec![0u8; 64 * 1024];
        let mut sent = 0usize;
        while sent < total {
            for (i, b) in block.iter_mut().enumerate() {
                *b = ((sent + i) % 251) as u8;
            }
            writer.write_all(&block).expect("send");
            sent += block.len();
            let _ = progress_tx.send(sent);
        }
        writer.shutdown(Shutdown::Write).expect("half-close");
    });
    // Wait until the sender is stuck: the server stopped reading.
    let mut last = 0;
    while let Ok(sent) = progress_rx.recv_timeout(Duration::from_millis(500)) {
        last = sent;
    }
    assert!(
        last < total,
        "backpressure should stop the sender well before 64 MiB"
    );
    let held = server.rss_kib().saturating_sub(baseline);
    assert!(
        held < 16 * 1024,
        "server grew by {held} KiB while the peer did not read"
    );

    let mut reader = stream;
    let mut buf = vec![0u8; 256 * 1024];
    let mut received = 0usize;
    loop {
        let n = reader.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        for (i, &b) in buf[..n].iter().enumerate() {
            assert_eq!(b, ((received + i) % 251) as u8, "byte {}", received + i);
        }
        received += n;
    }
    sender.join().expect("sender");
    assert_eq!(received, total);
}

#[test]
fn a_reset_affects_only_that_peer() {
    let server = SOCKMUX.start(&["echo-server"]);
    for _ in 0..20 {
        let stream = server.connect();
        let sock = socket2::SockRef::from(&stream);
        (&stream).write_all(&[7u8; 100_000]).expect("send");
        sock.set_linger(Some(Duration::ZERO)).expect("linger 0");
        drop(stream);
    }
    let payload = vec![42u8; 1000];
    assert_eq!(echo_roundtrip(server.addr, payload.clone(), 2), payload);
}

#[test]
fn reference_client_with_1_10_and_100_connections() {
    let Some(seed) = Seed::find() else { return };
    let server = SOCKMUX.start(&["echo-server"]);
    let port = server.port().to_string();
    for conns in [1usize, 10, 100] {
        let (status, stdout, stderr) = seed.run(
            "multiconn-client.py",
            &["127.0.0.1", &port, &conns.to_string()],
        );
        assert!(status.success(), "{conns} connections: {stderr}");
        // Every connection must get back both 22-byte messages.
        let mut received: HashMap<usize, usize> = HashMap::new();
        for line in stdout.lines() {
            if let Some(rest) = line.strip_prefix("received b'") {
                let (data, id) = rest.rsplit_once("' from connection ").expect("line shape");
                *received.entry(id.parse().expect("id")).or_default() += data.len();
            }
        }
        assert_eq!(received.len(), conns, "every connection received data");
        assert!(received.values().all(|&n| n == 44), "{received:?}");
    }
}

#[test]
fn serves_ipv6_loopback() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("SKIPPED: no IPv6 loopback on this machine");
        return;
    }
    let server = SOCKMUX.start_raw(&["echo-server", "::1", "0"]);
    assert!(server.addr.is_ipv6());
    let payload = b"over IPv6".to_vec();
    assert_eq!(echo_roundtrip(server.addr, payload.clone(), 3), payload);
}

/// CPU seconds (user + system) the process has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    // Fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')').expect("stat shape") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 =
        fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    ticks / 100.0
}

#[test]
fn running_out_of_file_descriptors_backs_off_and_recovers() {
    let mut server = SOCKMUX.start_with_fd_limit(24, &["echo-server", "--workers", "1"]);
    // More connections than the server has descriptors for: the kernel
    // completes them, the server cannot accept them all.
    let mut held: Vec<TcpStream> = (0..40).map(|_| server.connect()).collect();
    assert!(
        server.wait_for_log("accept failed"),
        "the fd limit is logged"
    );
    // Out of descriptors now: a loop retrying at once would burn a core.
    let before = cpu_seconds(server.pid());
    thread::sleep(Duration::from_secs(1));
    let spent = cpu_seconds(server.pid()) - before;
    assert!(spent < 0.3, "accept loop spun: {spent} s of CPU in 1 s");
    assert!(server.is_alive());

    // Free descriptors: the server accepts the waiting connections and
    // answers them.
    held.drain(..30);
    let start = Instant::now();
    for stream in &mut held {
        stream.write_all(b"ping").expect("send");
        let mut buf = [0u8; 4];
        stream.read_exact(&mut buf).expect("echo after recovery");
        assert_eq!(&buf, b"ping");
    }
    assert!(start.elapsed() < WAIT);
    let payload = b"fresh connection".to_vec();
    assert_eq!(echo_roundtrip(server.addr, payload.clone(), 4), payload);
}

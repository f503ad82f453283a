//! Hostile peers against both servers (issue 6): every case ends with the
//! server alive, answering correctly, and holding as many descriptors as
//! before the case.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use sockmux_test_support::app::{
    assert_still_answers, bad_inputs, closes, frame, read_responses, result, search,
};
use sockmux_test_support::{Server, Sockmux, WAIT};

const SOCKMUX: Sockmux = Sockmux::new(env!("CARGO_BIN_EXE_sockmux"));

/// Waits (bounded) until the server holds `baseline` descriptors again.
fn assert_fds_back(server: &Server, baseline: usize, case: &str) {
    let start = Instant::now();
    loop {
        let now = server.fd_count();
        if now == baseline {
            return;
        }
        assert!(
            start.elapsed() < WAIT,
            "{case}: server holds {now} descriptors, {baseline} before"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

fn echo_still_works(server: &Server) {
    let mut stream = server.connect();
    stream.write_all(b"still here").expect("send");
    stream.shutdown(Shutdown::Write).expect("half-close");
    let mut back = Vec::new();
    stream.read_to_end(&mut back).expect("read");
    assert_eq!(back, b"still here");
}

/// Checks after a case: alive, answering, descriptors back.
fn after_case(server: &mut Server, baseline: usize, case: &str, app: bool) {
    assert!(server.is_alive(), "{case}: server died");
    if app {
        assert_still_answers(server);
    } else {
        echo_still_works(server);
    }
    assert_fds_back(server, baseline, case);
}

#[test]
fn app_server_survives_every_malformed_message() {
    let mut server = SOCKMUX.start(&["app-server"]);
    let baseline = server.fd_count();
    for (name, wire, expected) in bad_inputs() {
        let mut stream = server.connect();
        stream.write_all(&wire).expect("send");
        let (got, _) = read_responses(&mut stream, 1);
        let text = String::from_utf8_lossy(&got[0].1).into_owned();
        assert!(text.contains(expected), "{name}: {text}");
        assert!(closes(&mut stream), "{name}: closed");
        drop(stream);
        after_case(&mut server, baseline, name, true);
    }
}

#[test]
fn one_byte_at_a_time_and_split_at_every_boundary() {
    let mut server = SOCKMUX.start(&["app-server"]);
    let baseline = server.fd_count();
    let wire = search("ring", false);
    let expected = result("In the caves beneath the Misty Mountains. \u{1f48d}");

    let mut stream = server.connect();
    stream.set_nodelay(true).expect("nodelay");
    for byte in &wire {
        stream.write_all(std::slice::from_ref(byte)).expect("send");
        thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(read_responses(&mut stream, 1).0[0].1, expected);

    for cut in 1..wire.len() {
        let mut stream = server.connect();
        stream.set_nodelay(true).expect("nodelay");
        stream.write_all(&wire[..cut]).expect("first part");
        thread::sleep(Duration::from_millis(2));
        stream.write_all(&wire[cut..]).expect("second part");
        assert_eq!(
            read_responses(&mut stream, 1).0[0].1,
            expected,
            "cut at {cut}"
        );
    }
    after_case(&mut server, baseline, "split", true);

    let mut echo = SOCKMUX.start(&["echo-server"]);
    let baseline = echo.fd_count();
    let mut stream = echo.connect();
    stream.set_nodelay(true).expect("nodelay");
    let payload: Vec<u8> = (0..=255u8).collect();
    for byte in &payload {
        stream.write_all(std::slice::from_ref(byte)).expect("send");
    }
    stream.shutdown(Shutdown::Write).expect("half-close");
    let mut back = Vec::new();
    stream.read_to_end(&mut back).expect("read");
    assert_eq!(back, payload);
    after_case(&mut echo, baseline, "echo byte at a time", false);
}

#[test]
fn largest_json_header_is_served_and_one_that_never_arrives_times_out() {
    let mut server = SOCKMUX.start(&["app-server", "--idle-timeout", "1"]);
    let baseline = server.fd_count();
    let content = br#"{"action": "search", "value": "morpheus"}"#;
    let base = format!(
        "{{\"byteorder\": \"little\", \"content-type\": \"text/json\", \"content-encoding\": \"utf-8\", \"content-length\": {}, \"pad\": \"\"}}",
        content.len()
    );
    let padding = "x".repeat(65_535 - base.len());
    let header = base.replace("\"pad\": \"\"", &format!("\"pad\": \"{padding}\""));
    assert_eq!(header.len(), 65_535);
    let mut stream = server.connect();
    stream.write_all(&frame(&header, content)).expect("send");
    assert_eq!(
        read_responses(&mut stream, 1).0[0].1,
        result("Follow the white rabbit. \u{1f430}")
    );

    // Claims 65,535 header bytes, sends 100, then nothing.
    let mut stream = server.connect();
    let mut wire = vec![0xff, 0xff];
    wire.extend_from_slice(&header.as_bytes()[..100]);
    stream.write_all(&wire).expect("send");
    let (got, _) = read_responses(&mut stream, 1);
    assert_eq!(
        got[0].1,
        result("Error: no complete message within the idle timeout of 1 s.")
    );
    assert!(closes(&mut stream));
    drop(stream);
    after_case(&mut server, baseline, "header never arrives", true);
}

#[test]
fn four_gib_content_length_is_refused_from_the_header_with_memory_flat() {
    let mut server = SOCKMUX.start(&["app-server"]);
    let baseline = server.fd_count();
    let rss_before = server.rss_kib();
    let header = "{\"byteorder\": \"little\", \"content-type\": \"binary/x\", \"content-encoding\": \"binary\", \"content-length\": 4294967296}";
    let mut stream = server.connect();
    stream
        .write_all(&frame(header, &[0u8; 60_000]))
        .expect("send");
    // The rest of the content never comes: only a refusal made from the
    // header alone can answer within the read timeout (the idle timeout,
    // 30 s, is longer, and would name itself).
    let (got, _) = read_responses(&mut stream, 1);
    assert_eq!(
        got[0].1,
        result("Error: content-length 4294967296 is above the limit of 16777216 bytes.")
    );
    let grown = server.rss_kib().saturating_sub(rss_before);
    assert!(grown < 2048, "resident memory grew by {grown} KiB");
    drop(stream);
    after_case(&mut server, baseline, "4 GiB", true);
}

#[test]
fn slow_loris_peers_are_closed_by_the_idle_timeout() {
    let mut server = SOCKMUX.start(&["app-server", "--idle-timeout", "2"]);
    let baseline = server.fd_count();
    let wire = search("morpheus", true);

    // Nothing sent: closed silently.
    let silent = server.connect();
    // Half a header, then silence.
    let mut half = server.connect();
    half.write_all(&wire[..20]).expect("send");
    // A body trickled one byte per second.
    let mut trickle = server.connect();
    trickle.set_nodelay(true).expect("nodelay");
    trickle.write_all(&wire[..wire.len() - 30]).expect("send");
    let trickler = {
        let mut stream = trickle.try_clone().expect("clone");
        let rest = wire[wire.len() - 30..].to_vec();
        thread::spawn(move || {
            for byte in rest {
                thread::sleep(Duration::from_secs(1));
                if stream.write_all(&[byte]).is_err() {
                    return;
                }
            }
        })
    };
    let mut silent = silent;
    assert!(closes(&mut silent), "silent peer closed");
    let (got, _) = read_responses(&mut half, 1);
    assert_eq!(
        got[0].1,
        result("Error: no complete message within the idle timeout of 2 s.")
    );
    // Had the trickle held the timeout off, the whole request would have
    // been answered instead of this error.
    let (got, _) = read_responses(&mut trickle, 1);
    assert_eq!(
        got[0].1,
        result("Error: no complete message within the idle timeout of 2 s.")
    );
    trickler.join().expect("trickler");
    drop((silent, half, trickle));
    after_case(&mut server, baseline, "slow loris", true);
}

#[test]
fn a_request_is_answered_beside_five_thousand_idle_connections() {
    let wanted = 5_000 + 200;
    let limit = rlimit::increase_nofile_limit(wanted as u64 * 2).unwrap_or(0);
    if limit < wanted as u64 {
        eprintln!("SKIPPED: cannot raise the descriptor limit to {wanted} (got {limit})");
        return;
    }
    let mut server = SOCKMUX.start_with_fd_limit(wanted as u64 * 2, &["app-server"]);
    let baseline = server.fd_count();
    let idle: Vec<TcpStream> = (0..5_000)
        .map(|_| TcpStream::connect(server.addr).expect("connect"))
        .collect();
    // Wait until the server has accepted them all.
    let start = Instant::now();
    while server.fd_count() < baseline + 5_000 {
        assert!(
            start.elapsed() < WAIT,
            "server did not accept 5,000 connections"
        );
        thread::sleep(Duration::from_millis(20));
    }
    // Answered while every idle connection is still held (the idle timeout,
    // 30 s, is longer than any wait here), not by evicting them.
    assert_still_answers(&server);
    assert!(
        server.fd_count() >= baseline + 5_000,
        "idle connections were closed to answer"
    );
    drop(idle);
    after_case(&mut server, baseline, "5,000 idle", true);
}

#[test]
fn resets_before_a_large_response_is_read() {
    let mut server = SOCKMUX.start(&["app-server"]);
    let baseline = server.fd_count();
    let mut wire = Vec::new();
    for _ in 0..20_000 {
        wire.extend(search("morpheus", true));
    }
    for _ in 0..5 {
        let mut stream = server.connect();
        stream.write_all(&wire).expect("send");
        socket2::SockRef::from(&stream)
            .set_linger(Some(Duration::ZERO))
            .expect("linger 0");
        drop(stream);
    }
    after_case(&mut server, baseline, "app reset", true);

    let mut echo = SOCKMUX.start(&["echo-server"]);
    let baseline = echo.fd_count();
    for _ in 0..5 {
        let mut stream = echo.connect();
        stream.write_all(&vec![1u8; 1 << 20]).expect("send");
        socket2::SockRef::from(&stream)
            .set_linger(Some(Duration::ZERO))
            .expect("linger 0");
        drop(stream);
    }
    after_case(&mut echo, baseline, "echo reset", false);
}

#[test]
fn connect_and_close_storms() {
    for app in [true, false] {
        let mut server = SOCKMUX.start(&[if app { "app-server" } else { "echo-server" }]);
        let baseline = server.fd_count();
        for i in 0..2_000 {
            let stream = TcpStream::connect(server.addr).expect("connect");
            if i % 2 == 0 {
                socket2::SockRef::from(&stream)
                    .set_linger(Some(Duration::ZERO))
                    .expect("linger 0");
            }
        }
        after_case(&mut server, baseline, "storm", app);
    }
}

#[test]
fn random_garbage_gets_an_error_or_a_close() {
    let mut rng = StdRng::seed_from_u64(0xbad);
    let mut server = SOCKMUX.start(&["app-server"]);
    let baseline = server.fd_count();
    for _ in 0..200 {
        let mut garbage = vec![0u8; rng.gen_range(1..4096)];
        rng.fill_bytes(&mut garbage);
        let mut stream = server.connect();
        // The server may close before the whole write lands. The half-close
        // ends a message the garbage left open.
        let _ = stream.write_all(&garbage);
        let _ = stream.shutdown(Shutdown::Write);
        let (got, _) = read_responses(&mut stream, 1);
        if let Some((_, content)) = got.first() {
            let text = String::from_utf8_lossy(content);
            assert!(text.starts_with("{\"result\": \"Error: "), "{text}");
        }
        assert!(closes(&mut stream));
    }
    after_case(&mut server, baseline, "garbage", true);

    let mut echo = SOCKMUX.start(&["echo-server"]);
    let baseline = echo.fd_count();
    let mut garbage = vec![0u8; 1 << 20];
    rng.fill_bytes(&mut garbage);
    let mut stream = echo.connect();
    let writer = {
        let mut stream = stream.try_clone().expect("clone");
        let garbage = garbage.clone();
        thread::spawn(move || {
            stream.write_all(&garbage).expect("send");
            stream.shutdown(Shutdown::Write).expect("half-close");
        })
    };
    let mut back = Vec::new();
    stream.read_to_end(&mut back).expect("read");
    writer.join().expect("writer");
    assert!(back == garbage, "echo returns garbage unchanged");
    drop(stream);
    after_case(&mut echo, baseline, "echo garbage", false);
}

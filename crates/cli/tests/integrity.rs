//! Integrity under load (issue 6): many concurrent streams and one very
//! large one through the echo server, with one and two workers, checked by
//! SHA-256: no byte lost, duplicated or reordered.
//!
//! Each test sends 1.2 GiB through the server and reads it back (3.6 GiB
//! sent for the suite), so the suite is ignored by a plain `cargo test`;
//! run it with
//! `cargo test -p sockmux --test integrity -- --ignored` (CI does).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::thread;

use sha2::{Digest, Sha256};
use sockmux_test_support::{connect, Sockmux};

const SOCKMUX: Sockmux = Sockmux::new(env!("CARGO_BIN_EXE_sockmux"));

/// A fast deterministic byte stream (xorshift64*), so payloads need not be
/// held in memory to be checked.
struct Stream(u64);

impl Stream {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let word = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

/// Sends `len` bytes of the stream seeded by `seed` in writes of varying
/// size, half-closes, and returns (hash sent, hash echoed, bytes echoed).
fn echo_hashed(addr: SocketAddr, seed: u64, len: usize) -> ([u8; 32], [u8; 32], usize) {
    let stream = connect(addr);
    let mut writer = stream.try_clone().expect("clone");
    let sender = thread::spawn(move || {
        let mut source = Stream::new(seed);
        let mut sizes = Stream::new(seed ^ 0xffff);
        let mut hash = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut sent = 0;
        while sent < len {
            let mut size_bytes = [0u8; 8];
            sizes.fill(&mut size_bytes);
            let n = (u64::from_le_bytes(size_bytes) as usize % buf.len() + 1).min(len - sent);
            source.fill(&mut buf[..n]);
            hash.update(&buf[..n]);
            writer.write_all(&buf[..n]).expect("send");
            sent += n;
        }
        writer.shutdown(Shutdown::Write).expect("half-close");
        <[u8; 32]>::from(hash.finalize())
    });
    let mut reader = stream;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut received = 0;
    loop {
        let n = reader.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        received += n;
    }
    let sent = sender.join().expect("sender");
    (sent, hash.finalize().into(), received)
}

fn many_streams_and_one_huge(flags: &[&str]) {
    let mut args = vec!["echo-server"];
    args.extend_from_slice(flags);
    let server = SOCKMUX.start(&args);
    let addr = server.addr;
    let huge = thread::spawn(move || echo_hashed(addr, 1 << 40, 1 << 30));
    let small: Vec<_> = (0..200u64)
        .map(|i| thread::spawn(move || echo_hashed(addr, i, 1 << 20)))
        .collect();
    for (i, handle) in small.into_iter().enumerate() {
        let (sent, echoed, len) = handle.join().expect("client");
        assert_eq!(len, 1 << 20, "stream {i}: length");
        assert_eq!(sent, echoed, "stream {i}: content");
    }
    let (sent, echoed, len) = huge.join().expect("huge client");
    assert_eq!(len, 1 << 30, "1 GiB stream: length");
    assert_eq!(sent, echoed, "1 GiB stream: content");
}

#[test]
#[ignore = "slow: run with --ignored (CI does)"]
fn two_hundred_streams_and_a_gibibyte_with_one_worker() {
    many_streams_and_one_huge(&["--workers", "1"]);
}

#[test]
#[ignore = "slow: run with --ignored (CI does)"]
fn two_hundred_streams_and_a_gibibyte_with_two_workers() {
    many_streams_and_one_huge(&["--workers", "2"]);
}

#[test]
#[ignore = "slow: run with --ignored (CI does)"]
fn two_hundred_streams_and_a_gibibyte_with_an_acceptor_thread() {
    many_streams_and_one_huge(&["--workers", "2", "--accept", "handoff"]);
}

//! A `--table` that is not a bounded regular file stops start-up at once
//! with a clear error, instead of being read forever (`/dev/zero`) or
//! hanging start-up (a FIFO nobody writes).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `sockmux app-server 127.0.0.1 0 --table PATH EXTRA…`, which must
/// fail to start within 20 s; returns its stderr.
fn refused_table(path: &Path, extra: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sockmux"))
        .args(["app-server", "127.0.0.1", "0", "--table"])
        .arg(path)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sockmux");
    let until = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > until {
            let _ = child.kill();
            panic!("start-up with --table {} did not end", path.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("output");
    assert!(!out.status.success(), "it started: {:?}", out.status);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_device_is_refused_without_reading_it() {
    let stderr = refused_table(Path::new("/dev/zero"), &[]);
    assert!(stderr.contains("not a regular file"), "{stderr}");
}

#[test]
fn a_fifo_is_refused_without_blocking_start_up() {
    let dir = std::env::temp_dir().join(format!("sockmux-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("table.json");
    let _ = std::fs::remove_file(&fifo);
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let stderr = refused_table(&fifo, &[]);
    assert!(stderr.contains("not a regular file"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_over_the_size_limit_is_refused() {
    let dir = std::env::temp_dir().join(format!("sockmux-big-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let big = dir.join("table.json");
    std::fs::write(&big, format!("{{\"k\": \"{}\"}}", "v".repeat(4096))).unwrap();
    let stderr = refused_table(&big, &["--max-table-bytes", "1024"]);
    assert!(stderr.contains("larger than --max-table-bytes"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

//! Live table reloads under load (issue 11, item 5): while `sockmux bench`
//! keeps keep-alive (pipelined) and one-shot connections busy, the table
//! file is replaced and the server sent SIGHUP (or left to notice, with
//! `--table-watch`): every answer is exactly table A's or table B's
//! (0 mismatches, no connection lost), the new table answers after the
//! reload, a broken file keeps the table answering and logs one error
//! line, a good reload logs one line with its entry count, and the metrics
//! count both and follow the table's size.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use sockmux_test_support::app::{ask, result, search};
use sockmux_test_support::{wait_timeout, Server, Sockmux, WAIT};

const SOCKMUX: Sockmux = Sockmux::new(env!("CARGO_BIN_EXE_sockmux"));
/// Keys in table A; table B has the same keys with other answers, and one
/// more.
const KEYS: usize = 2000;

fn answer(tag: &str, i: usize) -> String {
    // Escapes and UTF-8 in some answers, so a half-and-half answer or a
    // re-escaping slip would show.
    match i % 5 {
        0 => format!("{tag} answer {i} with \"quotes\" and a \\ backslash"),
        1 => format!("{tag} answer {i}\nover two lines \u{1f430}"),
        _ => format!("{tag} answer {i}"),
    }
}

fn table_json(tag: &str, extra: bool) -> String {
    let mut map = serde_json::Map::new();
    for i in 0..KEYS {
        map.insert(format!("key-{i:05}"), answer(tag, i).into());
    }
    if extra {
        map.insert("only-in-b".into(), "B alone".into());
    }
    serde_json::Value::Object(map).to_string()
}

/// A directory of the test's own, removed at the end.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("sockmux-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    /// Replaces `to` with `text` atomically (write, then rename over it).
    fn replace(&self, to: &Path, text: &str) {
        let staged = self.write("staged.json", text);
        std::fs::rename(staged, to).expect("rename");
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `sockmux bench app` against `server` for `secs`, right if every answer
/// is table A's or table B's.
fn bench(server: &Server, a: &Path, b: &Path, secs: &str, extra: &[&str]) -> Child {
    SOCKMUX
        .command()
        .args([
            "-q",
            "bench",
            "app",
            "127.0.0.1",
            &server.port().to_string(),
        ])
        .args(["--conns", "8", "--duration", secs, "--json", "--table"])
        .arg(a)
        .arg("--table")
        .arg(b)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bench")
}

/// Waits (bounded) for a bench run; its report, which must show work done
/// and nothing wrong.
fn assert_clean_run(mut bench: Child, what: &str) -> serde_json::Value {
    let status = wait_timeout(&mut bench, WAIT * 2).unwrap_or_else(|| {
        let _ = bench.kill();
        panic!("{what}: bench did not finish")
    });
    let out = bench.wait_with_output().expect("bench output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| {
            panic!(
                "{what}: no report ({e}): {stdout} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    for field in ["mismatches", "protocol_errors", "timeouts"] {
        assert_eq!(report[field], 0, "{what}: {field} in {report}");
    }
    assert!(report["requests"].as_u64() > Some(100), "{what}: {report}");
    assert!(status.success(), "{what}: {status:?} {report}");
    println!("{what}: {report}");
    report
}

/// The text of `GET /metrics` from `addr`.
fn scrape(addr: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).expect("connects");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("request");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("reply");
    reply
}

/// What the server answers for `key` now.
fn answer_now(server: &Server, key: &str) -> Vec<u8> {
    ask(server, &search(key, false))
}

#[test]
fn sighup_swaps_tables_under_load_with_every_answer_from_one_table() {
    let dir = Dir::new("reload");
    let (text_a, text_b) = (table_json("A", false), table_json("B", true));
    let a = dir.write("a.json", &text_a);
    let b = dir.write("b.json", &text_b);
    let live = dir.write("live.json", &text_a);
    let live_arg = live.to_str().expect("UTF-8 path");
    let mut server = SOCKMUX.start(&[
        "app-server",
        "--workers",
        "2",
        "--table",
        live_arg,
        "--metrics",
        "127.0.0.1:0",
    ]);
    let metrics = server.next_stdout_line().expect("the metrics line");
    let metrics = metrics
        .strip_prefix("metrics on ")
        .expect("metrics on ADDR")
        .to_owned();
    assert!(server.wait_for_log(&format!("loaded {KEYS} entries")));

    let kept = bench(&server, &a, &b, "4", &["--keep-alive", "--depth", "4"]);
    let one_shot = bench(&server, &a, &b, "4", &[]);
    std::thread::sleep(Duration::from_millis(800));

    dir.replace(&live, &text_b);
    server.signal("HUP");
    assert!(server.wait_for_log(&format!(
        "reloaded the table (SIGHUP): {} entries from {live_arg}",
        KEYS + 1
    )));
    assert_eq!(answer_now(&server, "key-00001"), result(&answer("B", 1)));
    assert_eq!(answer_now(&server, "only-in-b"), result("B alone"));
    std::thread::sleep(Duration::from_millis(500));

    dir.replace(&live, "{\"key-00001\": \"fine\", \"key-00002\": 2}");
    server.signal("HUP");
    assert!(server.wait_for_log("table reload failed (SIGHUP), still answering from the previous 2001 entries: bad table file"));
    assert_eq!(
        server.log_lines("an answer that is not a string at line 1 column 36"),
        1,
        "the error says what and where"
    );
    assert_eq!(answer_now(&server, "key-00001"), result(&answer("B", 1)));
    std::thread::sleep(Duration::from_millis(500));

    dir.replace(&live, &text_a);
    server.signal("HUP");
    assert!(server.wait_for_log(&format!(
        "reloaded the table (SIGHUP): {KEYS} entries from {live_arg} in"
    )));
    assert_eq!(answer_now(&server, "key-00001"), result(&answer("A", 1)));

    assert_clean_run(kept, "keep-alive, depth 4");
    assert_clean_run(one_shot, "one connection per request");
    assert_eq!(server.log_lines("reloaded the table"), 2);
    assert_eq!(
        server.log_lines("ERROR"),
        1,
        "one line for the one bad file"
    );
    let scraped = scrape(&metrics);
    for sample in [
        format!("sockmux_table_entries {KEYS}"),
        "sockmux_table_reloads_total{result=\"ok\"} 2".to_owned(),
        "sockmux_table_reloads_total{result=\"failed\"} 1".to_owned(),
    ] {
        assert!(
            scraped.lines().any(|l| l == sample),
            "{sample} in {scraped}"
        );
    }
    assert_eq!(server.terminate().code(), Some(143));
}

#[test]
fn table_watch_reloads_a_changed_file_and_reports_a_bad_one_once() {
    let dir = Dir::new("watch");
    let (text_a, text_b) = (table_json("A", false), table_json("B", true));
    let a = dir.write("a.json", &text_a);
    let b = dir.write("b.json", &text_b);
    let live = dir.write("live.json", &text_a);
    let live_arg = live.to_str().expect("UTF-8 path");
    let mut server = SOCKMUX.start(&["app-server", "--table", live_arg, "--table-watch", "0.1"]);
    let kept = bench(&server, &a, &b, "3", &["--keep-alive"]);
    std::thread::sleep(Duration::from_millis(500));

    dir.replace(&live, &text_b);
    assert!(server.wait_for_log("reloaded the table (the file changed): 2001 entries"));
    assert_eq!(answer_now(&server, "key-00003"), result(&answer("B", 3)));

    dir.replace(&live, "[\"not an object\"]");
    assert!(server.wait_for_log("table reload failed (the file changed)"));
    // Many more looks at the unchanged bad file: no more lines.
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(server.log_lines("table reload failed"), 1);
    assert_eq!(answer_now(&server, "key-00003"), result(&answer("B", 3)));

    assert_clean_run(kept, "keep-alive under --table-watch");
    assert_eq!(server.log_lines("reloaded the table"), 1);
}

#[test]
fn sighup_without_a_table_file_is_logged_and_changes_nothing() {
    let mut server = SOCKMUX.start(&["app-server"]);
    server.signal("HUP");
    assert!(server.wait_for_log("SIGHUP: nothing to reload"));
    sockmux_test_support::app::assert_still_answers(&server);
    assert_eq!(server.terminate().code(), Some(143));
}

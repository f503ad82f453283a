//! Every flag that takes a value, of every command, and every numeric
//! argument (ports, echo-client's connection count), run through the real
//! binary with values a parser must survive (issue 10, class 4). The flags
//! are read from each command's `--help`, so a new one is swept without
//! touching this file.
//!
//! Every run must end on its own within [`BOUND`] (a server that accepts
//! its command line is stopped with SIGTERM after its `listening on` line
//! and must exit 143), never with a panic (exit 101, "panicked") or a
//! signal. A flag that refuses `x` is numeric, and must also refuse
//! every out-of-range value at parse time (exit 2 with clap's "invalid
//! value"), and 0 too unless it is one of [`ZERO_ALLOWED`]. Clients point
//! at a port nothing listens on.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use sockmux_test_support::{free_port, wait_timeout, Sockmux};

const SOCKMUX: Sockmux = Sockmux::new(env!("CARGO_BIN_EXE_sockmux"));

/// Values no numeric flag or argument of any command accepts.
const OUT_OF_RANGE: [&str; 4] = ["-1", "NaN", "1e19", "18446744073709551615"];
/// Not a number: what tells a numeric flag from one taking text or a path.
const NOT_A_NUMBER: &str = "x";
/// The numeric flags for which 0 means something; every other one must
/// refuse it. `--warmup 0`: no warm-up (the default).
const ZERO_ALLOWED: [&str; 1] = ["--warmup"];
/// Longest any one run may take: a hang guard, not a measure of speed.
const BOUND: Duration = Duration::from_secs(10);
/// Runs at once: processes mostly wait, but the machine has 2 cores.
const POOL: usize = 4;

/// One command line to sweep: the words before the flags, the positional
/// arguments after `--` (so `-1` reaches its parser instead of reading as a
/// flag), and flags it needs to get past clap's `requires` rules.
struct Template {
    label: &'static str,
    command: &'static str,
    positionals: Vec<String>,
    /// Indexes into `positionals` of the numeric arguments, with what `0`
    /// must do there.
    numeric: Vec<(usize, Zero)>,
    /// Added unless the swept flag is one of `base_unless`.
    base: Vec<&'static str>,
    base_unless: Vec<&'static str>,
}

/// What a numeric argument must do with `0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Zero {
    /// A server's port: picks a free one, so the server starts.
    Listens,
    /// Refused at parse time.
    Refused,
}

/// What one case must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Anything but a panic or a hang.
    Survives,
    /// Exit 2 from the value parser.
    Refused,
    /// A server that starts (and stops with 143 on SIGTERM).
    Listens,
    /// Tells whether the flag is numeric.
    Probe,
}

struct Case {
    template: usize,
    /// The flag swept, or the positional argument's index.
    what: String,
    value: &'static str,
    expect: Expect,
    args: Vec<String>,
}

#[derive(Debug)]
struct Outcome {
    /// `None`: still running after [`BOUND`] (then killed).
    status: Option<ExitStatus>,
    listened: bool,
    stderr: String,
}

fn templates() -> Vec<Template> {
    let closed = free_port().to_string();
    let server = |command| Template {
        label: command,
        command,
        positionals: vec!["127.0.0.1".into(), "0".into()],
        numeric: vec![(1, Zero::Listens)],
        base: vec![],
        base_unless: vec![],
    };
    let bench = |label, target: &str| Template {
        label,
        command: "bench",
        positionals: vec![target.into(), "127.0.0.1".into(), closed.clone()],
        numeric: vec![(2, Zero::Refused)],
        base: vec![],
        base_unless: vec![],
    };
    vec![
        server("echo-server"),
        server("app-server"),
        Template {
            label: "app-client",
            command: "app-client",
            positionals: vec![
                "127.0.0.1".into(),
                closed.clone(),
                "search".into(),
                "x".into(),
            ],
            numeric: vec![(1, Zero::Refused)],
            base: vec![],
            base_unless: vec![],
        },
        Template {
            label: "echo-client",
            command: "echo-client",
            positionals: vec!["127.0.0.1".into(), closed.clone(), "1".into()],
            numeric: vec![(1, Zero::Refused), (2, Zero::Refused)],
            // --count needs --size; --message refuses it.
            base: vec!["--size=1"],
            base_unless: vec!["--size", "--message"],
        },
        bench("bench echo", "echo"),
        bench("bench app", "app"),
    ]
}

/// Every `--flag <VALUE>` a `--help` lists: the flags that take a value.
fn value_flags(help: &str) -> Vec<String> {
    let mut flags = Vec::new();
    for line in help.lines().map(str::trim_start) {
        // "--conns <N>" or "-o, --out <FILE>"; "-v, --verbose..." takes none.
        let rest = match line.as_bytes() {
            [b'-', b'-', ..] => line,
            [b'-', _, b',', b' ', ..] => &line[4..],
            _ => continue,
        };
        let mut words = rest.split_whitespace();
        if let (Some(flag), Some(value)) = (words.next(), words.next()) {
            if flag.starts_with("--") && value.starts_with('<') {
                flags.push(flag.to_owned());
            }
        }
    }
    flags
}

fn help(command: &str) -> String {
    let (status, stdout, stderr) = SOCKMUX.run([command, "--help"]);
    assert!(status.success(), "{command} --help: {stderr}");
    stdout
}

fn cases(templates: &[Template]) -> Vec<Case> {
    let mut cases = Vec::new();
    for (t, template) in templates.iter().enumerate() {
        let flags = value_flags(&help(template.command));
        for flag in &flags {
            let base = if template.base_unless.contains(&flag.as_str()) {
                vec![]
            } else {
                template.base.clone()
            };
            let zero = if ZERO_ALLOWED.contains(&flag.as_str()) {
                Expect::Survives
            } else {
                Expect::Refused
            };
            let values = [(NOT_A_NUMBER, Expect::Probe), ("0", zero)]
                .into_iter()
                .chain(OUT_OF_RANGE.map(|v| (v, Expect::Refused)));
            for (value, expect) in values {
                let mut args = vec![template.command.to_owned()];
                args.extend(base.iter().map(|b| b.to_string()));
                args.push(format!("{flag}={value}"));
                args.push("--".into());
                args.extend(template.positionals.iter().cloned());
                cases.push(Case {
                    template: t,
                    what: flag.clone(),
                    value,
                    expect,
                    args,
                });
            }
        }
        for &(index, zero) in &template.numeric {
            let zero = match zero {
                Zero::Listens => Expect::Listens,
                Zero::Refused => Expect::Refused,
            };
            let values =
                std::iter::once(("0", zero)).chain(OUT_OF_RANGE.map(|v| (v, Expect::Refused)));
            for (value, expect) in values {
                let mut positionals = template.positionals.clone();
                positionals[index] = value.to_owned();
                let mut args = vec![template.command.to_owned()];
                args.extend(template.base.iter().map(|b| b.to_string()));
                args.push("--".into());
                args.extend(positionals);
                cases.push(Case {
                    template: t,
                    what: format!("argument {}", index + 1),
                    value,
                    expect,
                    args,
                });
            }
        }
    }
    cases
}

/// Runs `sockmux ARGS…` in a scratch directory (a path flag given `0`
/// makes a file named `0`); a server that prints `listening on` gets
/// SIGTERM.
fn run(args: &[String]) -> Outcome {
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let mut child = SOCKMUX
        .command()
        .current_dir(scratch.path())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn sockmux {args:?}: {e}"));
    let started = Instant::now();
    let (tx, first_line) = mpsc::channel();
    let stdout = child.stdout.take().expect("stdout");
    thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
        if let Some(line) = lines.next() {
            let _ = tx.send(line);
        }
        lines.for_each(drop);
    });
    let mut stderr = child.stderr.take().expect("stderr");
    let stderr = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    // A closed stdout (the process ended) ends this wait early.
    let listened = first_line
        .recv_timeout(BOUND)
        .is_ok_and(|line| line.starts_with("listening on "));
    if listened {
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "kill -TERM {}", child.id());
    }
    let left = BOUND.saturating_sub(started.elapsed());
    let status = wait_timeout(&mut child, left.max(Duration::from_secs(1)));
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    Outcome {
        status,
        listened,
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Runs every case, [`POOL`] at a time.
fn run_all(cases: &[Case]) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let outcomes = Mutex::new(Vec::with_capacity(cases.len()));
    thread::scope(|scope| {
        for _ in 0..POOL {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(case) = cases.get(i) else { break };
                let outcome = run(&case.args);
                outcomes.lock().expect("no panics").push((i, outcome));
            });
        }
    });
    let mut outcomes = outcomes.into_inner().expect("no panics");
    outcomes.sort_by_key(|&(i, _)| i);
    outcomes.into_iter().map(|(_, o)| o).collect()
}

/// What is wrong with `outcome`, if anything; `numeric` says whether the
/// flag refused [`NOT_A_NUMBER`].
fn check(case: &Case, outcome: &Outcome, numeric: bool) -> Option<String> {
    let Some(status) = outcome.status else {
        return Some(format!("still running after {BOUND:?}"));
    };
    let Some(code) = status.code() else {
        return Some(format!("killed by a signal: {status}"));
    };
    if code == 101 || outcome.stderr.contains("panicked") {
        return Some(format!("panicked (exit {code})"));
    }
    if outcome.listened && code != 143 {
        return Some(format!("listened, then exited {code} on SIGTERM, not 143"));
    }
    let refused = code == 2
        && outcome
            .stderr
            .contains(&format!("invalid value '{}'", case.value));
    let wrong = match case.expect {
        Expect::Survives | Expect::Probe => false,
        Expect::Refused => (numeric || case.what.starts_with("argument")) && !refused,
        Expect::Listens => !outcome.listened,
    };
    wrong.then(|| format!("expected {:?}, got exit {code}", case.expect))
}

#[test]
fn every_numeric_flag_and_argument_survives_hostile_values_and_has_a_range() {
    let templates = templates();
    let cases = cases(&templates);
    // Discovery must find what is known to be there, or the sweep is empty.
    for (command, flag) in [
        ("echo-server", "--max-connections"),
        ("app-server", "--max-content"),
        ("app-client", "--timeout"),
        ("app-client", "--max-response"),
        ("echo-client", "--count"),
        ("bench app", "--requests"),
        ("bench app", "--max-response"),
    ] {
        assert!(
            cases
                .iter()
                .any(|c| templates[c.template].label == command && c.what == flag),
            "{command} --help lists no {flag}"
        );
    }
    let outcomes = run_all(&cases);

    let numeric = |case: &Case| {
        cases.iter().zip(&outcomes).any(|(probe, outcome)| {
            probe.expect == Expect::Probe
                && probe.template == case.template
                && probe.what == case.what
                && outcome.status.and_then(|s| s.code()) == Some(2)
                && outcome.stderr.contains("invalid value 'x'")
        })
    };
    let failures: Vec<String> = cases
        .iter()
        .zip(&outcomes)
        .filter_map(|(case, outcome)| {
            check(case, outcome, numeric(case)).map(|why| {
                format!(
                    "{} {} = {:?}: {why}\n  sockmux {}\n  stderr: {}",
                    templates[case.template].label,
                    case.what,
                    case.value,
                    case.args.join(" "),
                    outcome.stderr.trim()
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} runs went wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

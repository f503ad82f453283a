//! Bad command lines, run through the real binary: every value that would
//! overflow a `Duration`, an `Instant` or an allocation later (issue 9) is
//! refused at parse time with exit status 2 and a message naming the
//! bounds, as are a lone number given as HOST and flags that do not go
//! together. Every command's `--help` lists the shared exit statuses.

use std::process::Command;

use sockmux_test_support::free_port;
use sockmux_test_support::{run_bounded, Sockmux, WAIT};

const SOCKMUX: Sockmux = Sockmux::new(env!("CARGO_BIN_EXE_sockmux"));

/// Runs `sockmux ARGS…` and insists on exit status 2 with `needle` in stderr.
fn refused(args: &[&str], needle: &str) {
    let (status, stdout, stderr) = run_bounded(Command::new(SOCKMUX.bin()).args(args), WAIT);
    assert_eq!(
        status.code(),
        Some(2),
        "{args:?}: exit status\nstdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        stderr.contains(needle),
        "{args:?}: expected {needle:?} in stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert!(
        !stdout.contains("listening on"),
        "{args:?}: started: {stdout}"
    );
}

const SECONDS: &str = "must be a number of seconds above 0 and at most 31536000 (one year)";

#[test]
fn times_that_are_negative_nan_infinite_or_too_long_exit_2() {
    let port = free_port().to_string();
    let port = port.as_str();
    for value in [
        "1e19", "-1", "NaN", "inf", "0", "31536001", "1e-300", "soon",
    ] {
        let flag = format!("--idle-timeout={value}");
        refused(&["app-server", "127.0.0.1", "0", &flag], SECONDS);
    }
    refused(
        &["echo-server", "127.0.0.1", "0", "--drain-timeout=-5"],
        SECONDS,
    );
    refused(
        &[
            "app-client",
            "127.0.0.1",
            port,
            "search",
            "x",
            "--timeout",
            "1e19",
        ],
        SECONDS,
    );
    refused(
        &["echo-client", "127.0.0.1", port, "1", "--timeout", "inf"],
        SECONDS,
    );
    refused(
        &["bench", "echo", "127.0.0.1", port, "--duration", "1e19"],
        SECONDS,
    );
    refused(
        &["bench", "echo", "127.0.0.1", port, "--timeout", "NaN"],
        SECONDS,
    );
    refused(
        &["bench", "echo", "127.0.0.1", port, "--warmup=-1"],
        "must be a number of seconds from 0 to 31536000 (one year)",
    );
}

#[test]
fn rates_outside_their_bounds_exit_2() {
    let port = free_port().to_string();
    for value in ["1e-300", "0", "-3", "NaN", "inf", "1e10"] {
        let flag = format!("--rate={value}");
        refused(
            &["bench", "echo", "127.0.0.1", &port, &flag],
            "must be a number of requests per second from 0.001 to 1000000000",
        );
    }
}

#[test]
fn sizes_and_counts_that_are_zero_or_huge_exit_2() {
    let port = free_port().to_string();
    let port = port.as_str();
    let huge = "18446744073709551615";
    let server = ["app-server", "127.0.0.1", "0"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--max-output", "0"],
            "byte size from 1 to 1073741824 (1GiB)",
        ),
        (
            vec!["--max-content", huge],
            "byte size from 1 to 1073741824 (1GiB)",
        ),
        (vec!["--max-header", "65536"], "from 1 to 65535 bytes"),
        (vec!["--max-header", "0"], "from 1 to 65535 bytes"),
        (vec!["--workers", "0"], "from 1 to 1024"),
        (vec!["--workers", huge], "from 1 to 1024"),
    ];
    for (flags, needle) in cases {
        let args: Vec<&str> = server.iter().copied().chain(flags).collect();
        refused(&args, needle);
    }
    let clients: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["echo-client", "127.0.0.1", port, huge],
            "from 1 to 1000000",
        ),
        (
            vec!["echo-client", "127.0.0.1", port, "0"],
            "from 1 to 1000000",
        ),
        (
            vec!["echo-client", "127.0.0.1", port, "1", "--size", "0"],
            "byte size from 1 to 1073741824",
        ),
        (
            vec!["bench", "echo", "127.0.0.1", port, "--conns", huge],
            "from 1 to 1000000",
        ),
        (
            vec!["bench", "echo", "127.0.0.1", port, "--depth", huge],
            "from 1 to 1000000",
        ),
        (
            vec!["bench", "echo", "127.0.0.1", port, "--depth", "0"],
            "from 1 to 1000000",
        ),
        (
            vec!["bench", "echo", "127.0.0.1", port, "--threads", huge],
            "from 1 to 1024",
        ),
        (
            vec!["bench", "echo", "127.0.0.1", port, "--size", huge],
            "byte size from 1 to 1073741824",
        ),
    ];
    for (args, needle) in clients {
        refused(&args, needle);
    }
}

#[test]
fn a_lone_number_is_a_servers_port_on_loopback_and_never_a_clients_host() {
    for command in ["app-server", "echo-server"] {
        // Port 0 on 127.0.0.1, not every interface.
        let mut server = SOCKMUX.start_raw(&[command, "0"]);
        assert!(
            server.addr.ip().is_loopback(),
            "{command} 0 bound {}",
            server.addr
        );
        server.terminate();
    }
    let port = free_port().to_string();
    refused(&["app-server", &port, "5"], "HOST is a number");
    let hint = "give the host first: 127.0.0.1 43500";
    refused(&["app-client", "43500", "1", "search", "x"], hint);
    refused(&["echo-client", "43500", "1", "1"], hint);
    refused(&["bench", "echo", "43500", "1"], hint);
}

#[test]
fn flags_that_do_not_go_together_exit_2() {
    let port = free_port().to_string();
    refused(
        &["bench", "echo", "127.0.0.1", &port, "--keep-alive"],
        "sockmux: error: --keep-alive and --binary are for `bench app`",
    );
    refused(
        &["bench", "app", "127.0.0.1", &port, "--depth", "2"],
        "sockmux: error: pipelining (depth > 1) needs keep-alive",
    );
}

#[test]
fn every_help_lists_the_shared_exit_statuses() {
    for command in [
        "app-server",
        "echo-server",
        "app-client",
        "echo-client",
        "bench",
    ] {
        let (status, stdout, _) =
            run_bounded(Command::new(SOCKMUX.bin()).args([command, "--help"]), WAIT);
        assert!(status.success(), "{command}");
        for line in [
            "Exit status:",
            "  2    bad command line",
            "  130  stopped by SIGINT (Ctrl-C)",
            "  143  stopped by SIGTERM",
            "A second signal exits at once.",
        ] {
            assert!(
                stdout.contains(line),
                "{command} --help lacks {line:?}:\n{stdout}"
            );
        }
    }
}

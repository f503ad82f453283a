//! The clients over TLS against the real servers (issue 12, item 3):
//! `app-client` and `echo-client` give the same answers as in plaintext,
//! `bench --tls` verifies every answer and counts handshakes and
//! resumptions, mutual TLS is accepted with a certificate from the
//! server's CA and refused without one or with another CA's, and a
//! server whose certificate is not for the name asked, or not from the
//! CA given, or that does not speak TLS, is refused with one clear line.
//! Certificates come fresh from [`Pki`], as in `tls.rs`.

use sockmux_test_support::tls::{Pki, CLIENT_SUBJECT};
use sockmux_test_support::{Server, Sockmux};

const SOCKMUX: Sockmux = Sockmux::new(env!("CARGO_BIN_EXE_sockmux"));

/// `command --tls --tls-ca ca.pem FLAGS… -- ARGS…` with `ARGS`' first two
/// the server's host and port.
fn tls_run(
    pki: &Pki,
    command: &str,
    flags: &[&str],
    args: &[&str],
) -> (Option<i32>, String, String) {
    let ca = pki.arg("ca.pem");
    let mut all = vec![command, "--tls", "--tls-ca", &ca];
    all.extend_from_slice(flags);
    all.push("--");
    all.extend_from_slice(args);
    let (status, stdout, stderr) = SOCKMUX.run(&all);
    (status.code(), stdout, stderr)
}

fn tls_server(pki: &Pki, command: &str, extra: &[&str]) -> Server {
    let (cert, key) = (pki.arg("server.pem"), pki.arg("server.key"));
    let mut args = vec!["-v", command, "--tls-cert", &cert, "--tls-key", &key];
    args.extend_from_slice(extra);
    SOCKMUX.start(&args)
}

#[test]
fn app_client_over_tls_answers_as_in_plaintext() {
    let pki = Pki::new();
    let plain = SOCKMUX.start(&["app-server"]);
    let tls = tls_server(&pki, "app-server", &[]);
    let cases: [&[&str]; 4] = [
        &["search", "morpheus", "ring", "\u{1f436}", "nobody"],
        &["echo", "hello world"],
        &["--json", "search", "ring"],
        // One connection for all three (the server keeps it open).
        &["--keep-alive", "search", "morpheus", "ring", "nobody"],
    ];
    for case in cases {
        let (flags, words): (Vec<&str>, Vec<&str>) = case.iter().partition(|w| w.starts_with("--"));
        let port = plain.port().to_string();
        let mut args = vec!["app-client"];
        args.extend(&flags);
        args.extend(["127.0.0.1", &port]);
        args.extend(&words);
        let (status, expected, stderr) = SOCKMUX.run(&args);
        assert!(status.success(), "plaintext {case:?}: {stderr}");

        let port = tls.port().to_string();
        // By address (the certificate names 127.0.0.1) and by name.
        for host in ["127.0.0.1", "localhost"] {
            let mut args = vec![host, port.as_str()];
            args.extend(&words);
            let (code, got, stderr) = tls_run(&pki, "app-client", &flags, &args);
            assert_eq!(code, Some(0), "TLS {case:?} to {host}: {stderr}");
            assert_eq!(got, expected, "TLS {case:?} to {host}");
        }
    }
}

#[test]
fn echo_client_over_tls_gets_every_byte_back() {
    let pki = Pki::new();
    let plain = SOCKMUX.start(&["echo-server"]);
    let tls = tls_server(&pki, "echo-server", &[]);
    for flags in [&[][..], &["--size", "100000", "--count", "3"]] {
        let port = plain.port().to_string();
        let mut args = vec!["echo-client"];
        args.extend_from_slice(flags);
        args.extend(["127.0.0.1", &port, "10"]);
        let (status, plain_out, stderr) = SOCKMUX.run(&args);
        assert!(status.success(), "plaintext {flags:?}: {stderr}");

        let port = tls.port().to_string();
        let (code, tls_out, stderr) =
            tls_run(&pki, "echo-client", flags, &["127.0.0.1", &port, "10"]);
        assert_eq!(code, Some(0), "TLS {flags:?}: {stderr}");
        // The same line but for the address and the time taken.
        let counts = |line: &str| {
            line.split(": ")
                .nth(1)
                .map(|rest| rest.rsplit_once(", ").map(|(c, _)| c.to_owned()))
        };
        assert_eq!(
            counts(&tls_out).flatten(),
            counts(&plain_out).flatten(),
            "{tls_out}"
        );
        assert!(tls_out.contains("received and verified"), "{tls_out}");
    }
}

/// `bench ARGS… --tls --tls-ca ca.pem --json`: exit code, report, stderr.
fn bench(
    pki: &Pki,
    flags: &[&str],
    server: &Server,
    target: &str,
) -> (Option<i32>, serde_json::Value, String) {
    let port = server.port().to_string();
    let mut flags = flags.to_vec();
    flags.push("--json");
    let (code, stdout, stderr) = tls_run(pki, "bench", &flags, &[target, "127.0.0.1", &port]);
    let report = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("bench {flags:?}: no JSON report ({e}): {stdout}\n{stderr}"));
    (code, report, stderr)
}

/// A clean run: every answer verified, no error of any kind, some
/// requests and handshakes; the report.
fn clean(pki: &Pki, flags: &[&str], server: &Server, target: &str) -> serde_json::Value {
    let (code, report, stderr) = bench(pki, flags, server, target);
    assert_eq!(code, Some(0), "{flags:?}: {report}\n{stderr}");
    for counter in [
        "mismatches",
        "protocol_errors",
        "timeouts",
        "connect_errors",
    ] {
        assert_eq!(report[counter], 0, "{flags:?}: {counter} in {report}");
    }
    assert_eq!(report["tls"], true, "{report}");
    assert!(report["requests"].as_u64() > Some(0), "{report}");
    assert!(report["handshakes"].as_u64() > Some(0), "{report}");
    assert!(
        report["handshakes_per_sec"].as_f64() > Some(0.0),
        "{report}"
    );
    assert!(
        report["resumed"].as_u64() <= report["handshakes"].as_u64(),
        "{report}"
    );
    report
}

#[test]
fn bench_over_tls_verifies_every_answer_and_counts_handshakes_and_resumptions() {
    let pki = Pki::new();
    let server = tls_server(&pki, "app-server", &[]);
    // One connection per request: after the first round every slot
    // finds a ticket in the run's one session cache.
    let report = clean(&pki, &["--requests", "400", "--conns", "4"], &server, "app");
    assert_eq!(report["one_connection_per_request"], true);
    let (handshakes, resumed) = (
        report["handshakes"].as_u64().unwrap(),
        report["resumed"].as_u64().unwrap(),
    );
    assert!(handshakes >= 400, "one handshake per request: {report}");
    assert!(resumed > 0, "sessions resumed: {report}");
    let rate = report["resumption_rate"].as_f64().unwrap();
    assert!(
        (rate - resumed as f64 / handshakes as f64).abs() < 1e-9,
        "{report}"
    );

    // Without a session cache, every handshake is a full one.
    let report = clean(
        &pki,
        &[
            "--requests",
            "100",
            "--conns",
            "4",
            "--tls-no-resumption",
            "--tls-no-post-quantum",
        ],
        &server,
        "app",
    );
    assert!(report["handshakes"].as_u64() >= Some(100), "{report}");
    assert_eq!(report["resumed"], 0, "{report}");

    // Keep-alive, pipelined: one handshake per connection, none resumed
    // (nothing to resume from when they all start at once).
    let report = clean(
        &pki,
        &[
            "--requests",
            "2000",
            "--conns",
            "4",
            "--keep-alive",
            "--depth",
            "16",
        ],
        &server,
        "app",
    );
    assert_eq!(report["handshakes"], 4, "{report}");
    assert_eq!(report["connections_opened"], 4, "{report}");

    // Keep-alive, depth 1, and the text report says it too.
    let port = server.port().to_string();
    let (code, text, stderr) = tls_run(
        &pki,
        "bench",
        &["--requests", "200", "--conns", "2", "--keep-alive"],
        &["app", "127.0.0.1", &port],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(text.contains("over TLS"), "{text}");
    assert!(text.contains("handshakes"), "{text}");
    assert!(text.contains("resumed ("), "{text}");

    let echo = tls_server(&pki, "echo-server", &[]);
    let report = clean(&pki, &["--requests", "2000", "--conns", "4"], &echo, "echo");
    assert_eq!(report["handshakes"], 4, "{report}");
}

#[test]
fn mutual_tls_accepts_the_cas_client_and_refuses_none_and_strangers() {
    let pki = Pki::new();
    let mut server = tls_server(&pki, "app-server", &["--tls-client-ca", &pki.arg("ca.pem")]);
    let port = server.port().to_string();
    let search = ["127.0.0.1", port.as_str(), "search", "morpheus"];
    let identity = |name: &str| {
        vec![
            "--tls-cert".to_owned(),
            pki.arg(&format!("{name}.pem")),
            "--tls-key".to_owned(),
            pki.arg(&format!("{name}.key")),
        ]
    };
    let client = identity("client");
    let client: Vec<&str> = client.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = tls_run(&pki, "app-client", &client, &search);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "Follow the white rabbit. \u{1f430}\n");
    assert!(
        server.wait_for_log(&format!("client {CLIENT_SUBJECT}")),
        "subject logged"
    );
    let report = clean(
        &pki,
        &[&client[..], &["--requests", "50", "--conns", "2"]].concat(),
        &server,
        "app",
    );
    assert!(report["resumed"].as_u64() > Some(0), "{report}");

    let stranger = identity("stranger");
    let stranger: Vec<&str> = stranger.iter().map(String::as_str).collect();
    for (who, flags, says) in [
        (
            "no certificate",
            &[][..],
            "the server requires a client certificate",
        ),
        (
            "another CA's",
            &stranger[..],
            "the server refused the client certificate",
        ),
    ] {
        let (code, stdout, stderr) = tls_run(&pki, "app-client", flags, &search);
        assert_eq!(code, Some(1), "{who}: {stdout}{stderr}");
        assert!(stdout.is_empty(), "{who}: no answer: {stdout}");
        assert_eq!(stderr.lines().count(), 1, "{who}: one line: {stderr}");
        assert!(
            stderr.contains("TLS") && stderr.contains(says),
            "{who}: {stderr}"
        );

        let (code, report, stderr) = bench(
            &pki,
            &[flags, &["--requests", "20", "--conns", "2"]].concat(),
            &server,
            "app",
        );
        assert_eq!(code, Some(1), "{who}: {report}");
        assert_eq!(report["requests"], 0, "{who}: {report}");
        assert!(stderr.contains(says), "{who}: {stderr}");
    }
}

#[test]
fn a_server_not_named_or_not_trusted_or_not_speaking_tls_is_refused() {
    let pki = Pki::new();
    let app = tls_server(&pki, "app-server", &[]);
    let echo = tls_server(&pki, "echo-server", &[]);
    let plain = SOCKMUX.start(&["app-server"]);
    let (app_port, echo_port, plain_port) = (
        app.port().to_string(),
        echo.port().to_string(),
        plain.port().to_string(),
    );
    let other_ca = pki.arg("other-ca.pem");
    let ca = pki.arg("ca.pem");
    // What, command, the CA trusted, arguments, what stderr says.
    let cases: [(&str, &str, &str, Vec<&str>, &str); 5] = [
        (
            "a wrong name",
            "app-client",
            &ca,
            vec![
                "--tls-server-name",
                "example.com",
                "--",
                "127.0.0.1",
                &app_port,
                "search",
                "ring",
            ],
            "TLS handshake failed: invalid peer certificate: certificate not valid for name \"example.com\"",
        ),
        (
            "another CA",
            "app-client",
            &other_ca,
            vec!["--", "127.0.0.1", &app_port, "search", "ring"],
            "TLS handshake failed: invalid peer certificate",
        ),
        (
            "a plaintext server",
            "app-client",
            &ca,
            // It takes the ClientHello for the start of a request and
            // waits for the rest; the client's timeout ends it.
            vec!["--timeout", "1", "--", "127.0.0.1", &plain_port, "search", "ring"],
            "timed out after 1 s waiting for the TLS handshake",
        ),
        (
            "a wrong name",
            "echo-client",
            &ca,
            vec![
                "--tls-server-name",
                "example.com",
                "--",
                "127.0.0.1",
                &echo_port,
                "3",
            ],
            "TLS handshake failed: invalid peer certificate: certificate not valid for name \"example.com\"",
        ),
        (
            "a wrong name",
            "bench",
            &ca,
            vec![
                "--tls-server-name",
                "example.com",
                "--requests",
                "10",
                "--",
                "app",
                "127.0.0.1",
                &app_port,
            ],
            "TLS handshake failed: invalid peer certificate: certificate not valid for name \"example.com\"",
        ),
    ];
    for (what, command, trusted, args, says) in cases {
        let mut all = vec![command, "--tls", "--tls-ca", trusted];
        all.extend(&args);
        let (status, stdout, stderr) = SOCKMUX.run(&all);
        assert_eq!(
            status.code(),
            Some(1),
            "{command}, {what}: {stdout}{stderr}"
        );
        assert!(stderr.contains(says), "{command}, {what}: {stderr}");
        assert_eq!(
            stderr.lines().filter(|l| l.contains("error")).count(),
            1,
            "{command}, {what}: one error line: {stderr}"
        );
    }
}

#[test]
fn tls_flags_need_tls_and_a_ca_and_a_usable_name() {
    let pki = Pki::new();
    let ca = pki.arg("ca.pem");
    let cases: [(&[&str], &str); 4] = [
        (&["--tls"], "--tls-ca"),
        (&["--tls-ca", &ca], "--tls"),
        (&["--tls", "--tls-ca", &ca, "--tls-cert", &ca], "--tls-key"),
        (
            &["--tls", "--tls-ca", &ca, "--tls-server-name", "not a name"],
            "not a server name",
        ),
    ];
    for (flags, says) in cases {
        let mut args = vec!["app-client"];
        args.extend_from_slice(flags);
        args.extend(["127.0.0.1", "9", "search", "ring"]);
        let (status, _, stderr) = SOCKMUX.run(&args);
        assert_eq!(status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(says), "{flags:?}: {stderr}");
    }
    let missing = pki.arg("missing.pem");
    let (status, _, stderr) = SOCKMUX.run([
        "app-client",
        "--tls",
        "--tls-ca",
        &missing,
        "127.0.0.1",
        "9",
        "search",
        "ring",
    ]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("CA file") && stderr.contains("missing.pem"),
        "{stderr}"
    );
}

#!/usr/bin/env python3
"""sockmux's native TLS against HAProxy terminating TLS in front of plaintext
sockmux (issue 12, item 7): total server-side CPU per request.

For each workload, three set-ups serve the same app-protocol searches:

- ``native``: ``sockmux app-server --workers 1 --tls-cert … --tls-key …``;
- ``haproxy``: HAProxy (``nbthread 1``, mode tcp, TLS with the same
  certificate) forwarding to ``sockmux app-server --workers 1`` in plaintext;
- ``plaintext``: ``sockmux app-server --workers 1`` alone, no TLS, for scale.

Every server process is pinned to core 0 (``taskset -c 0``) and the load
generator, ``sockmux bench app --tls``, to core 1. The figure is the
utime+stime (``/proc/PID/stat``) of *every* server-side process over the
measured window, summed, divided by the requests ``bench`` verified in
that window. /proc/stat is read around each run: a run in which other
processes used more than 10% of a core is repeated (at most twice) and
flagged if it stays noisy.

Workloads (50 connections, closed loop): keep-alive depth 1; keep-alive
depth 16 (pipelined); one connection per request resuming sessions (the
bench's one session cache per run); one connection per request with every
handshake a full one (``--tls-no-resumption``). The client offers X25519
first (``--tls-no-post-quantum``): HAProxy 2.6 on OpenSSL 3.0 has no
post-quantum key exchange, so both servers do the same exchange; one more
native row shows what the default hybrid X25519MLKEM768 costs. HAProxy is
given the suite sockmux chooses (TLS_AES_128_GCM_SHA256) first.

Usage::

    python3 bench/tls_vs_haproxy.py --bin target/release/sockmux [--runs 3]
        [--duration 5] [--warmup 1] [--conns 50] [--only REGEX] [--out FILE]

Prints a Markdown table (and writes it to FILE with ``--out``).
"""

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TICK = os.sysconf("SC_CLK_TCK")

HAPROXY_CFG = """\
global
    nbthread 1
    maxconn 5000
    ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256
    ssl-default-bind-curves X25519:P-256
    ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend tls
    bind 127.0.0.1:{front} ssl crt {pem}
    default_backend app
backend app
    server app 127.0.0.1:{back}
"""


def make_pki(tmp):
    """A CA and an ECDSA P-256 server certificate for localhost/127.0.0.1."""
    def run(*cmd):
        subprocess.run(cmd, check=True, capture_output=True, cwd=tmp)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=bench CA")
    run("openssl", "req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    with open(os.path.join(tmp, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    with open(os.path.join(tmp, "haproxy.pem"), "w") as out:
        for name in ("server.pem", "server.key"):
            with open(os.path.join(tmp, name)) as f:
                out.write(f.read())
    return {name: os.path.join(tmp, name) for name in ("ca.pem", "server.pem", "server.key", "haproxy.pem")}


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except OSError:
        return 0


def system_busy():
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


class Sockmux:
    def __init__(self, binary, tls_args):
        cmd = ["taskset", "-c", "0", binary, "-q", "app-server", "--workers", "1", *tls_args,
               "127.0.0.1", "0"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            raise RuntimeError(f"sockmux did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1])


class Setup:
    """The server side of one set-up: its processes and the port to load."""

    def __init__(self, kind, binary, pki, tmp):
        self.procs = []
        try:
            self.start(kind, binary, pki, tmp)
        except BaseException:
            self.stop()
            raise

    def start(self, kind, binary, pki, tmp):
        if kind == "native":
            server = Sockmux(binary, ["--tls-cert", pki["server.pem"], "--tls-key", pki["server.key"]])
            self.procs.append(server.proc)
            self.port = server.port
        elif kind == "haproxy":
            backend = Sockmux(binary, [])
            self.procs.append(backend.proc)
            self.port = free_port()
            cfg = os.path.join(tmp, "haproxy.cfg")
            with open(cfg, "w") as f:
                f.write(HAPROXY_CFG.format(front=self.port, back=backend.port, pem=pki["haproxy.pem"]))
            log = open(os.path.join(tmp, "haproxy.log"), "a")
            proxy = subprocess.Popen(["taskset", "-c", "0", "haproxy", "-db", "-f", cfg],
                                     stdout=subprocess.DEVNULL, stderr=log)
            log.close()
            self.procs.append(proxy)
            wait_listening(self.port, proxy, log.name)
        else:
            server = Sockmux(binary, [])
            self.procs.append(server.proc)
            self.port = server.port

    def pids(self):
        return [p.pid for p in self.procs]

    def ticks(self):
        """CPU ticks of every process, and of the first (sockmux) alone."""
        each = [cpu_ticks(pid) for pid in self.pids()]
        return sum(each), each[0]

    def alive(self):
        return all(p.poll() is None for p in self.procs)

    def stop(self):
        # SIGTERM and wait, HAProxy included (it stops on SIGTERM at once).
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def wait_listening(port, proc, log):
    import socket
    deadline = time.time() + 10
    while time.time() < deadline:
        if proc.poll() is not None:
            with open(log) as f:
                raise RuntimeError(f"haproxy exited: {f.read()[-1000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("haproxy did not listen")


def run_once(kind, load, tls_flags, args, pki, tmp):
    setup = Setup(kind, args.bin, pki, tmp)
    try:
        flags = tls_flags if kind != "plaintext" else []
        cmd = ["taskset", "-c", "1", args.bin, "-q", "bench", "app", "127.0.0.1", str(setup.port),
               "--conns", str(args.conns), *load, *flags,
               "--duration", str(args.duration), "--warmup", str(args.warmup), "--json"]
        bench = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        margin = min(0.25, args.duration / 10)
        time.sleep(args.warmup + margin)
        cpu0, own0 = setup.ticks()
        busy0, total0 = system_busy()
        ours0 = cpu0 + cpu_ticks(bench.pid)
        t0 = time.monotonic()
        time.sleep(args.duration - 2 * margin)
        cpu1, own1 = setup.ticks()
        busy1, total1 = system_busy()
        ours1 = cpu1 + cpu_ticks(bench.pid)
        window = time.monotonic() - t0
        out, err = bench.communicate(timeout=args.duration + args.warmup + 60)
        alive = setup.alive()
    finally:
        setup.stop()
    if not out.strip() or not alive:
        raise RuntimeError(f"{kind} {load}: server alive={alive}, bench: {err.strip()[-500:]}")
    report = json.loads(out.strip().splitlines()[-1])
    foreign = ((busy1 - busy0) - (ours1 - ours0)) / max(1, total1 - total0) * (os.cpu_count() or 1)
    rps = report["requests_per_sec"]
    per_request = lambda ticks: ticks / TICK / (rps * window) * 1e6 if rps else float("nan")
    return {
        "cpu_us": per_request(cpu1 - cpu0),
        "sockmux_us": per_request(own1 - own0),
        "util": (cpu1 - cpu0) / TICK / window,
        "rps": rps,
        "hs": report["handshakes_per_sec"],
        "resumption": report["resumption_rate"],
        "errors": report["mismatches"] + report["protocol_errors"] + report["timeouts"],
        "foreign": foreign,
    }


def measure(kind, load, tls_flags, args, pki, tmp):
    runs = []
    for _ in range(args.runs):
        for attempt in range(3):
            r = run_once(kind, load, tls_flags, args, pki, tmp)
            if r["foreign"] <= 0.10 or attempt == 2:
                r["noisy"] = r["foreign"] > 0.10
                runs.append(r)
                break
            print(f"    foreign load {r['foreign']:.2f} cores: rerun", file=sys.stderr)
    return runs


def fmt(values, digits=1):
    med = statistics.median(values)
    return f"{med:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores, {cpu}, Linux {platform.release()}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                  "target/release/sockmux"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=1)
    ap.add_argument("--conns", type=int, default=50)
    ap.add_argument("--out", help="also write the table to this file")
    ap.add_argument("--only", default="", help="run only the workloads whose label matches this regex")
    args = ap.parse_args()
    for tool in ("haproxy", "openssl", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"needs {tool}")
    version = subprocess.run(["haproxy", "-v"], capture_output=True, text=True).stdout.split("\n")[0]

    tmp = tempfile.mkdtemp(prefix="sockmux-tls-vs-haproxy-")
    pki = make_pki(tmp)
    classical = ["--tls", "--tls-ca", pki["ca.pem"], "--tls-no-post-quantum"]
    hybrid = ["--tls", "--tls-ca", pki["ca.pem"]]
    workloads = [
        ("keep-alive, depth 1", ["--keep-alive"], []),
        ("keep-alive, depth 16", ["--keep-alive", "--depth", "16"], []),
        ("one connection per request, resumed", [], []),
        ("one connection per request, full handshakes", [], ["--tls-no-resumption"]),
    ]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows = []
    for label, load, extra in workloads:
        if not re.search(args.only, label):
            continue
        cell = {}
        for kind in ("native", "haproxy", "plaintext"):
            print(f"{label} / {kind}", file=sys.stderr)
            cell[kind] = measure(kind, load, classical + extra, args, pki, tmp)
        if "full" in label:
            print(f"{label} / native, X25519MLKEM768", file=sys.stderr)
            cell["native, X25519MLKEM768"] = measure("native", load, hybrid + extra, args, pki, tmp)
        rows.append((label, cell))

    lines = [
        f"`python3 bench/tls_vs_haproxy.py --runs {args.runs} --duration {args.duration:g} "
        f"--warmup {args.warmup:g} --conns {args.conns}` on {started}; {machine()}; {version}.",
        "",
        "| workload | server side | CPU µs/req | of it, sockmux | vs native | requests/s | handshakes/s | resumed "
        "| server CPU use |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, cell in rows:
        native = statistics.median(r["cpu_us"] for r in cell["native"])
        for kind, runs in cell.items():
            cpu = [r["cpu_us"] for r in runs]
            noisy = " (noisy)" if any(r["noisy"] for r in runs) else ""
            errors = sum(r["errors"] for r in runs)
            err = f" **{errors} errors**" if errors else ""
            name = {"native": "sockmux TLS", "haproxy": "HAProxy TLS + sockmux",
                    "plaintext": "sockmux plaintext"}.get(kind) or "sockmux TLS, " + kind.split(", ")[-1]
            hs = fmt([r["hs"] for r in runs], 0) if kind != "plaintext" else "–"
            res = f"{statistics.median(r['resumption'] for r in runs) * 100:.0f}%" if kind != "plaintext" else "–"
            lines.append(
                f"| {label} | {name}{noisy}{err} | {fmt(cpu)} | {statistics.median(r['sockmux_us'] for r in runs):.1f} "
                f"| {statistics.median(cpu) / native:.2f} "
                f"| {fmt([r['rps'] for r in runs], 0)} | {hs} | {res} "
                f"| {statistics.median(r['util'] for r in runs) * 100:.0f}% |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

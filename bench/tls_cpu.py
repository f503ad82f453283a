#!/usr/bin/env python3
"""Server CPU per request over TLS against plaintext, per full and resumed
handshake, and memory per idle TLS connection (issue 12).

Makes a throw-away ECDSA P-256 certificate with the openssl CLI, starts
``sockmux app-server --workers 1`` pinned to core 0 (``taskset -c 0``) once
in plaintext and once with ``--tls-cert/--tls-key``, pins this client to
core 1, and reads the server's utime+stime from /proc/PID/stat before and
after each workload. The client is Python's ``ssl`` (OpenSSL), so its own
speed does not enter the figures: they are server CPU divided by requests.

Workloads (one connection at a time; the server sleeps between requests):

- keep-alive, depth 1: one connection, N search requests one after another;
- new connection per request, full handshake: connect, handshake, one
  request without keep-alive, read to the close;
- the same, resuming the first connection's session (TLS 1.3 tickets);
- ``openssl s_time -new``: handshakes only, as the issue measured HAProxy;
- idle memory: RSS of the server with M idle connections (TLS handshake
  done, one request answered on each) minus its RSS before, over M; the
  same for plaintext connections, for the difference.

Usage::

    python3 bench/tls_cpu.py --bin target/release/sockmux [--requests N] [--conns M]

Prints a Markdown table and the commands' details.
"""

import argparse
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def search(key, keep_alive):
    """A search request in sockmux's framing (PROTOCOL.md)."""
    content = json.dumps({"action": "search", "value": key}).encode()
    header = json.dumps({
        "byteorder": sys.byteorder, "content-type": "text/json",
        "content-encoding": "utf-8", "content-length": len(content),
        "keep-alive": keep_alive,
    }).encode()
    return len(header).to_bytes(2, "big") + header + content


def read_response(sock):
    """Reads one framed response; returns its bytes."""
    got = b""

    def fill(n):
        nonlocal got
        while len(got) < n:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError("closed early")
            got += chunk

    fill(2)
    header_len = int.from_bytes(got[:2], "big")
    fill(2 + header_len)
    fill(2 + header_len + json.loads(got[2:2 + header_len])["content-length"])
    return got


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Server:
    def __init__(self, binary, tls_args):
        cmd = ["taskset", "-c", "0", binary, "-q", "app-server", "--workers", "1",
               "--idle-timeout", "600", *tls_args, "127.0.0.1", "0"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        self.port = int(line.rsplit(":", 1)[1])
        self.pid = self.proc.pid

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def measure(server, work, count):
    """Server CPU µs per unit of `work` (which does `count` units)."""
    before = cpu_seconds(server.pid)
    start = time.monotonic()
    work()
    wall = time.monotonic() - start
    used = cpu_seconds(server.pid) - before
    return used * 1e6 / count, count / wall


def keep_alive(server, ctx, n):
    def work():
        raw = socket.create_connection(("127.0.0.1", server.port))
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock = ctx.wrap_socket(raw, server_hostname="localhost") if ctx else raw
        request = search("morpheus", True)
        for _ in range(n):
            sock.sendall(request)
            read_response(sock)
        sock.close()
    return measure(server, work, n)


def per_connection(server, ctx, n, resume):
    session = None
    if resume:
        # Take a session (ticket) from one connection first.
        with socket.create_connection(("127.0.0.1", server.port)) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as sock:
                sock.sendall(search("morpheus", False))
                read_response(sock)
                session = sock.session
    resumed = 0
    request = search("morpheus", False)

    def work():
        nonlocal resumed
        for _ in range(n):
            raw = socket.create_connection(("127.0.0.1", server.port))
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if ctx is None:
                sock = raw
            else:
                sock = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
            sock.sendall(request)
            read_response(sock)
            if ctx is not None:
                resumed += sock.session_reused
            sock.close()
    cpu, rate = measure(server, work, n)
    return cpu, rate, resumed


def s_time(server, cert, seconds):
    """openssl s_time -new: full handshakes only."""
    before = cpu_seconds(server.pid)
    out = subprocess.run(
        ["taskset", "-c", "1", "openssl", "s_time", "-connect", f"127.0.0.1:{server.port}",
         "-new", "-time", str(seconds), "-CAfile", cert],
        capture_output=True, text=True, check=True).stdout
    used = cpu_seconds(server.pid) - before
    m = re.search(r"(\d+) connections in [\d.]+s", out)
    count = int(m.group(1))
    return used * 1e6 / count, count


def idle_memory(server, ctx, conns):
    time.sleep(0.5)
    before = rss_kib(server.pid)
    held = []
    for _ in range(conns):
        raw = socket.create_connection(("127.0.0.1", server.port))
        sock = ctx.wrap_socket(raw, server_hostname="localhost") if ctx else raw
        sock.sendall(search("morpheus", True))
        read_response(sock)
        held.append(sock)
    time.sleep(1.0)
    after = rss_kib(server.pid)
    for sock in held:
        sock.close()
    return before, after, (after - before) * 1024 / conns


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--handshakes", type=int, default=2000)
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--s-time", type=int, default=5, help="seconds of openssl s_time")
    args = ap.parse_args()
    os.sched_setaffinity(0, {1})

    tmp = tempfile.mkdtemp()
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True)
    ctx = ssl.create_default_context(cafile=cert)

    rows = []
    plain = Server(args.bin, [])
    tls = Server(args.bin, ["--tls-cert", cert, "--tls-key", key])
    try:
        # Warm-up, so that first-use costs are not counted.
        keep_alive(plain, None, 1000)
        keep_alive(tls, ctx, 1000)
        p_cpu, p_rate = keep_alive(plain, None, args.requests)
        t_cpu, t_rate = keep_alive(tls, ctx, args.requests)
        rows.append(("keep-alive, depth 1, plaintext", p_cpu, p_rate, ""))
        rows.append(("keep-alive, depth 1, TLS 1.3", t_cpu, t_rate, f"{t_cpu / p_cpu:.2f}x plaintext"))
        c_cpu, c_rate, _ = per_connection(plain, None, args.handshakes, False)
        rows.append(("new connection per request, plaintext", c_cpu, c_rate, ""))
        f_cpu, f_rate, f_res = per_connection(tls, ctx, args.handshakes, False)
        rows.append(("new connection per request, TLS 1.3 full handshake", f_cpu, f_rate,
                     f"{f_res} of {args.handshakes} resumed"))
        r_cpu, r_rate, r_res = per_connection(tls, ctx, args.handshakes, True)
        rows.append(("new connection per request, TLS 1.3 resumed (ticket)", r_cpu, r_rate,
                     f"{r_res} of {args.handshakes} resumed"))
        ctx12 = ssl.create_default_context(cafile=cert)
        ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
        f2_cpu, f2_rate, f2_res = per_connection(tls, ctx12, args.handshakes, False)
        rows.append(("new connection per request, TLS 1.2 full handshake", f2_cpu, f2_rate,
                     f"{f2_res} of {args.handshakes} resumed"))
        r2_cpu, r2_rate, r2_res = per_connection(tls, ctx12, args.handshakes, True)
        rows.append(("new connection per request, TLS 1.2 resumed", r2_cpu, r2_rate,
                     f"{r2_res} of {args.handshakes} resumed"))
        s_cpu, s_count = s_time(tls, cert, args.s_time)
        rows.append(("`openssl s_time -new` (handshake only, TLS 1.3)", s_cpu,
                     s_count / args.s_time, f"{s_count} handshakes"))
    finally:
        plain.stop()
        tls.stop()
    idle_rows = []
    for name, tls_args, idle_ctx in [("plaintext", [], None),
                                     ("TLS 1.3", ["--tls-cert", cert, "--tls-key", key], ctx)]:
        idle = Server(args.bin, tls_args)
        try:
            idle_rows.append((name, *idle_memory(idle, idle_ctx, args.conns)))
        finally:
            idle.stop()

    print("| workload | server CPU µs/req | requests/s | note |")
    print("|---|---|---|---|")
    for name, cpu, rate, note in rows:
        print(f"| {name} | {cpu:.1f} | {rate:.0f} | {note} |")
    print()
    for name, before, after, per in idle_rows:
        print(f"idle {name} connections (one request answered on each): {args.conns}, "
              f"RSS {before} KiB -> {after} KiB, {per:.0f} bytes per connection")


if __name__ == "__main__":
    main()

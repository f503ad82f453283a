#!/usr/bin/env python3
"""Resident memory a server spends per idle TCP connection (issue 5).

Starts the server command given after the options, reads its port from its
first stdout line (``listening on HOST:PORT``), records its VmRSS and RssAnon
from /proc/PID/status, opens N idle connections to it from this process
(nothing is ever sent on them), waits until the server has accepted them all
(its count of open fds in /proc/PID/fd has grown by N), records both again,
then closes everything, stops the server with SIGTERM and prints one JSON
line::

    {"server": ..., "conns": N, "rss_before_kib": ..., "rss_after_kib": ...,
     "bytes_per_conn": ..., "rss_anon_before_kib": ...,
     "rss_anon_after_kib": ..., "anon_bytes_per_conn": ..., ...}

What is and is not counted: a socket's kernel memory (struct sock, its
receive and send buffers, the file and epoll entries, about 4.5 KB per
socket) lives in the kernel's slab caches and is charged to no process's
RSS. So the RSS delta over N connections is user-space memory only: the
server's per-connection state, buffers and allocator overhead. RssAnon is the
heap and stack part of it (RSS also counts file-backed pages such as the
binary's own code, which do not grow with connections). ``bytes_per_conn``
is the VmRSS delta divided by N; ``anon_bytes_per_conn`` the RssAnon delta.

Usage::

    python3 bench/idle_rss.py [--conns N] -- target/release/sockmux echo-server --workers 1 127.0.0.1 0
    python3 bench/idle_rss.py -- target/release/competitor echo --threads 1 127.0.0.1 0

The open-file limit (RLIMIT_NOFILE) is raised for this process and, by
inheritance, the server; if N connections cannot fit under the hard limit
(and it cannot be raised: root can), the script says so and exits 2. A
server with an idle timeout shorter than the run (sockmux: 30 s by default)
would start closing connections: the opening phase takes a few seconds, well
inside that, and the script fails loudly if the fd count drops.
"""

import argparse
import json
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time

# Descriptors this script needs besides the connections (stdio, pipes, ...).
FD_SLACK = 64
# Connections opened before waiting for the server to catch up, kept under
# the listen backlog (1024 for both servers) so no SYN is dropped and retried.
BATCH = 512
# Give up if the server accepts nothing new for this long.
STALL_SECS = 20.0
# Let allocator and runtime settle before reading RSS.
SETTLE_SECS = 1.0


def status_kib(pid, key):
    """A `kB` field of /proc/PID/status, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {key} in /proc/{pid}/status")


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def raise_nofile(needed):
    """Raises RLIMIT_NOFILE to `needed`; returns the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return soft
    if hard != resource.RLIM_INFINITY and hard < needed:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
            return needed
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            return hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return needed


def read_port(proc, timeout):
    """Port from the server's first stdout line `listening on HOST:PORT`."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else ""
    if not line.startswith("listening on "):
        raise RuntimeError(f"expected 'listening on HOST:PORT', got {line!r}")
    host, _, port = line[len("listening on "):].strip().rpartition(":")
    return host.strip("[]"), int(port)


def wait_accepted(pid, target):
    """Waits until the server holds `target` fds; fails if it stalls."""
    last, last_change = fd_count(pid), time.monotonic()
    while True:
        now_count = fd_count(pid)
        if now_count >= target:
            return now_count
        if now_count != last:
            last, last_change = now_count, time.monotonic()
        elif time.monotonic() - last_change > STALL_SECS:
            raise RuntimeError(
                f"server stuck at {now_count} fds, expected {target} "
                "(connection limit? idle timeout?)"
            )
        time.sleep(0.01)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        usage="%(prog)s [--conns N] -- SERVER_COMMAND...",
    )
    parser.add_argument("--conns", type=int, default=10_000,
                        help="idle connections to open (default 10000)")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="server command line; its first stdout line "
                             "must be 'listening on HOST:PORT'")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no server command given")

    limit = raise_nofile(args.conns + FD_SLACK)
    if limit < args.conns + FD_SLACK:
        print(f"idle_rss: cannot open {args.conns} connections: RLIMIT_NOFILE "
              f"is {limit} and cannot be raised", file=sys.stderr)
        return 2

    with tempfile.TemporaryFile(mode="w+") as server_err:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE,
                                stderr=server_err, text=True)
        conns = []
        try:
            host, port = read_port(proc, timeout=10)
            time.sleep(SETTLE_SECS)
            rss_before = status_kib(proc.pid, "VmRSS")
            anon_before = status_kib(proc.pid, "RssAnon")
            fds_before = fd_count(proc.pid)

            started = time.monotonic()
            for i in range(args.conns):
                conns.append(socket.create_connection((host, port), timeout=10))
                if (i + 1) % BATCH == 0:
                    wait_accepted(proc.pid, fds_before + i + 1 - BATCH // 2)
            wait_accepted(proc.pid, fds_before + args.conns)
            opened_secs = time.monotonic() - started
            time.sleep(SETTLE_SECS)
            fds_after = fd_count(proc.pid)
            if fds_after < fds_before + args.conns:
                raise RuntimeError(f"server closed connections: {fds_after} fds")
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            rss_after = status_kib(proc.pid, "VmRSS")
            anon_after = status_kib(proc.pid, "RssAnon")
        except Exception as e:  # report with the server's own words
            server_err.seek(0)
            tail = server_err.read()[-2000:]
            print(f"idle_rss: {e}\n--- server stderr ---\n{tail}", file=sys.stderr)
            return 1
        finally:
            for sock in conns:
                sock.close()
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    print(json.dumps({
        "server": " ".join(command),
        "conns": args.conns,
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "bytes_per_conn": round((rss_after - rss_before) * 1024 / args.conns, 1),
        "rss_anon_before_kib": anon_before,
        "rss_anon_after_kib": anon_after,
        "anon_bytes_per_conn": round((anon_after - anon_before) * 1024 / args.conns, 1),
        "server_fds_before": fds_before,
        "server_fds_after": fds_after,
        "open_secs": round(opened_secs, 2),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())

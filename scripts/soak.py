#!/usr/bin/env python3
"""Soak test for sockmux (issue 6): mixed load against long-running servers.

Starts `sockmux app-server` and `sockmux echo-server` (release build, one
process each: they are separate commands), then for DURATION seconds runs at
once:

  - bench app, one connection per request (the reference client's pattern);
  - bench app --keep-alive --depth 8;
  - bench app --binary --keep-alive;
  - bench echo, 4 KiB messages;
  - a hostile-peer thread cycling through garbage, half-sent headers that
    stall, 4 GiB content-lengths, resets before a response is read, and
    connect-and-close storms, against both servers.

It samples each server's resident memory (VmRSS) and open descriptors after
the warm-up and at the end (after the load stops and idle connections
drain), and prints a summary plus one JSON line. Exits non-zero if any valid
request failed, memory at the end is more than 10% above memory after the
warm-up, or descriptors differ.

Usage: python3 scripts/soak.py [--duration 600] [--warmup 30] [--bin PATH]
"""

import argparse
import json
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start_server(binary, args):
    proc = subprocess.Popen(
        [binary, *args, "127.0.0.1", "0", "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        sys.exit(f"soak: {args[0]} did not start: {line!r}")
    port = int(line.rsplit(":", 1)[1])
    return proc, port


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def header(content_type, length, keep_alive=False):
    h = {
        "byteorder": "little",
        "content-type": content_type,
        "content-encoding": "utf-8" if content_type == "text/json" else "binary",
        "content-length": length,
    }
    if keep_alive:
        h["keep-alive"] = True
    raw = json.dumps(h, ensure_ascii=False).encode()
    return struct.pack(">H", len(raw)) + raw


def hostile_loop(app_port, echo_port, stop, counts):
    rng = random.Random(7)
    cases = ["garbage", "stall", "huge", "reset", "storm", "echo-reset"]
    stalled = []
    while not stop.is_set():
        case = rng.choice(cases)
        try:
            if case == "garbage":
                s = socket.create_connection(("127.0.0.1", app_port), timeout=5)
                s.sendall(rng.randbytes(rng.randint(1, 2000)))
                s.shutdown(socket.SHUT_WR)
                s.recv(4096)
                s.close()
            elif case == "stall":
                s = socket.create_connection(("127.0.0.1", app_port), timeout=5)
                s.sendall(header("text/json", 41)[:20])
                stalled.append(s)  # left for the idle timeout to close
                if len(stalled) > 50:
                    stalled.pop(0).close()
            elif case == "huge":
                s = socket.create_connection(("127.0.0.1", app_port), timeout=5)
                s.sendall(header("binary/x", 4 << 30))
                s.recv(4096)
                s.close()
            elif case == "reset":
                s = socket.create_connection(("127.0.0.1", app_port), timeout=5)
                body = json.dumps({"action": "search", "value": "morpheus"}).encode()
                s.sendall((header("text/json", len(body), True) + body) * 2000)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            elif case == "storm":
                for _ in range(50):
                    port = rng.choice([app_port, echo_port])
                    socket.create_connection(("127.0.0.1", port), timeout=5).close()
            elif case == "echo-reset":
                s = socket.create_connection(("127.0.0.1", echo_port), timeout=5)
                s.sendall(b"x" * 500_000)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            counts[case] = counts.get(case, 0) + 1
        except OSError:
            counts["hostile-oserror"] = counts.get("hostile-oserror", 0) + 1
        time.sleep(0.05)
    for s in stalled:
        s.close()


# A sockmux server stopped by SIGTERM exits 143 (128 + 15) after its graceful drain.
EXIT_AFTER_SIGTERM = 143


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=600)
    ap.add_argument("--warmup", type=float, default=30)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/sockmux"))
    args = ap.parse_args()
    if not os.path.exists(args.bin):
        subprocess.run(["cargo", "build", "--release", "-p", "sockmux"], cwd=ROOT, check=True)

    app, app_port = start_server(args.bin, ["app-server", "--idle-timeout", "5"])
    echo, echo_port = start_server(args.bin, ["echo-server", "--idle-timeout", "5"])
    fds_before = {"app": fd_count(app.pid), "echo": fd_count(echo.pid)}
    total = args.warmup + args.duration
    loads = {
        "app one-shot": ["app", str(app_port), "--conns", "8"],
        "app keep-alive d8": ["app", str(app_port), "--conns", "16", "--keep-alive", "--depth", "8"],
        "app binary keep-alive": ["app", str(app_port), "--conns", "8", "--keep-alive", "--binary"],
        "echo 4 KiB": ["echo", str(echo_port), "--conns", "16", "--size", "4096"],
    }
    benches = {}
    for name, extra in loads.items():
        target, port, *rest = extra
        cmd = [args.bin, "bench", target, "127.0.0.1", port, *rest,
               "--duration", str(args.duration), "--warmup", str(args.warmup), "--json", "-q"]
        benches[name] = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    stop = threading.Event()
    counts = {}
    hostile = threading.Thread(target=hostile_loop, args=(app_port, echo_port, stop, counts))
    hostile.start()

    time.sleep(args.warmup)
    after_warmup = {n: (rss_kib(p.pid), fd_count(p.pid)) for n, p in (("app", app), ("echo", echo))}
    print(f"soak: warm-up done, running {args.duration:.0f} s more", file=sys.stderr)

    results = {}
    for name, proc in benches.items():
        out, err = proc.communicate(timeout=total + 120)
        try:
            results[name] = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            results[name] = {"error": err.strip() or out.strip(), "exit": proc.returncode}
    stop.set()
    hostile.join()
    # Let the idle timeout close stalled peers before the final sample.
    time.sleep(7)
    at_end = {n: (rss_kib(p.pid), fd_count(p.pid)) for n, p in (("app", app), ("echo", echo))}
    for proc in (app, echo):
        proc.terminate()
        proc.wait(timeout=30)

    errors = 0
    served = 0
    for name, r in results.items():
        if "error" in r:
            errors += 1
            continue
        served += r["requests"]
        errors += r["mismatches"] + r["protocol_errors"] + r["connect_errors"] + r["timeouts"]
    summary = {
        "duration_s": args.duration,
        "requests_served": served,
        "errors_on_valid_traffic": errors,
        "hostile_cases": counts,
        "rss_kib_after_warmup": {n: v[0] for n, v in after_warmup.items()},
        "rss_kib_at_end": {n: v[0] for n, v in at_end.items()},
        "fds_before_load": fds_before,
        "fds_at_end": {n: v[1] for n, v in at_end.items()},
        "server_exit": {"app": app.returncode, "echo": echo.returncode},
        "loads": {n: {k: r.get(k) for k in ("requests", "requests_per_sec", "mismatches", "protocol_errors",
                                            "connect_errors", "timeouts", "latency_us", "error")}
                  for n, r in results.items()},
    }
    print(json.dumps(summary))
    ok = (
        errors == 0
        and all(at_end[n][0] <= after_warmup[n][0] * 1.10 for n in at_end)
        and all(at_end[n][1] == fds_before[n] for n in at_end)
        and app.returncode == EXIT_AFTER_SIGTERM
        and echo.returncode == EXIT_AFTER_SIGTERM
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

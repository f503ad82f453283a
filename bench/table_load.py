#!/usr/bin/env python3
"""Large search tables (issue 11, item 6): load time, peak and steady RSS,
the peak of a live reload, and keep-alive search throughput on the big table
beside the built-in one. Prints a Markdown section; --write puts it into
BENCHMARKS.md (replacing the previous one; bench/compare.py leaves it alone
only if it is re-added, so run this after compare.py).

Load: `sockmux app-server --workers 1 --table FILE` under `/usr/bin/time -v`;
load time is the server's own "loaded N entries ... in S s" log line (the
file read and parsed, the index built), and the time from spawn to its
"listening on" line; steady RSS is VmRSS once it listens; peak RSS is
/usr/bin/time's "Maximum resident set size" (the same as VmHWM). Python's
json.load of the same file is timed for scale. Each figure is the median of
--runs runs with min-max.

Reload: the server starts on table A, B is renamed over the file, SIGHUP;
peak RSS (VmHWM) covers both tables held at once; steady is VmRSS after.

Throughput: `bench app --keep-alive --conns 50` (its keys a sample of the
table's, spread over it; answers checked against the table) with the server
on core 0 and bench on core 1, CPU µs/req as in compare.py.

Usage: python3 bench/table_load.py [--sockmux target/release/sockmux] [--before OLD_BINARY]
       [--entries 1000000] [--runs 3] [--duration 5] [--warmup 2] [--write]
"""

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare  # noqa: E402  (Server, run_cell, fmt, machine)

MARK_BEGIN = "<!-- bench/table_load.py: begin -->"
MARK_END = "<!-- bench/table_load.py: end -->"


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def child_of(pid, deadline=10.0):
    """The one child of `pid` (the server under /usr/bin/time)."""
    end = time.time() + deadline
    while time.time() < end:
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                kids = f.read().split()
            if kids:
                return int(kids[0])
        except OSError:
            pass
        time.sleep(0.005)
    raise RuntimeError("the server did not start")


class Served:
    """`sockmux app-server` on a table, under /usr/bin/time -v."""

    def __init__(self, binary, table, timeout=120):
        self.err = tempfile.TemporaryFile(mode="w+")
        started = time.monotonic()
        self.proc = subprocess.Popen(
            ["/usr/bin/time", "-v", binary, "app-server", "--workers", "1", "127.0.0.1", "0", "--table", table],
            stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.pid = child_of(self.proc.pid)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"{binary} did not start: {line!r} {self.log()}")
        self.to_listen = time.monotonic() - started
        self.steady_kib = status_kib(self.pid, "VmRSS")

    def log(self):
        self.err.seek(0)
        return self.err.read()

    def wait_log(self, pattern, count=1, timeout=120):
        end = time.time() + timeout
        while time.time() < end:
            if len(re.findall(pattern, self.log())) >= count:
                return
            time.sleep(0.02)
        raise RuntimeError(f"no {pattern!r} in the log: {self.log()}")

    def stop(self):
        os.kill(self.pid, signal.SIGTERM)
        self.proc.wait(timeout=60)
        log = self.log()
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", log)
        return int(m.group(1)) if m else None


def loaded_secs(log):
    m = re.search(r"loaded \d+ entries from .* in ([0-9.]+) s", log)
    return float(m.group(1)) if m else float("nan")


def measure_load(binary, table, runs):
    out = {"load": [], "listen": [], "steady": [], "peak": []}
    for _ in range(runs):
        s = Served(binary, table)
        time.sleep(0.2)
        log = s.log()
        peak = s.stop()
        out["load"].append(loaded_secs(log))
        out["listen"].append(s.to_listen)
        out["steady"].append(s.steady_kib / 1024)
        out["peak"].append(peak / 1024)
    return out


def measure_reload(binary, a, b, runs, workdir):
    out = {"reload": [], "peak": [], "steady": []}
    live = os.path.join(workdir, "live.json")
    for _ in range(runs):
        shutil.copyfile(a, live)
        s = Served(binary, live)
        staged = live + ".new"
        shutil.copyfile(b, staged)
        os.rename(staged, live)
        os.kill(s.pid, signal.SIGHUP)
        s.wait_log(r"reloaded the table")
        m = re.search(r"reloaded the table \(SIGHUP\): \d+ entries from .* in ([0-9.]+) s", s.log())
        out["reload"].append(float(m.group(1)))
        time.sleep(0.2)
        out["steady"].append(status_kib(s.pid, "VmRSS") / 1024)
        out["peak"].append(status_kib(s.pid, "VmHWM") / 1024)
        s.stop()
    return out


def python_load(table, runs):
    code = "import json,sys,time; t=time.perf_counter(); json.load(open(sys.argv[1], encoding='utf-8')); " \
           "print(time.perf_counter()-t)"
    return [float(subprocess.run(["python3", "-c", code, table], capture_output=True, text=True,
                                 check=True).stdout) for _ in range(runs)]


def throughput(binary, table, args):
    compare.SOCKMUX = binary
    server = [binary, "-q", "app-server", "--workers", "1", "127.0.0.1", "0"]
    load = ["app", "--conns", "50", "--keep-alive"]
    cells = {}
    for name, extra_server, extra_load in (("built-in table (3 entries)", [], []),
                                           (f"{args.entries:,}-entry table", ["--table", table],
                                            ["--table", table])):
        print(f"throughput / {name}", file=sys.stderr)
        cells[name] = compare.measure(server + extra_server, load + extra_load, args)
    return cells


def section(args, size, py, loads, reload, cells):
    mib = size / 2**20
    ratio = lambda xs: [x / mib for x in xs]  # noqa: E731
    lines = [
        MARK_BEGIN,
        "## Large tables: load, memory, reload, throughput (issue 11)",
        "",
        f"Made by `python3 bench/table_load.py --entries {args.entries} --runs {args.runs}` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; machine: {compare.machine()}. The table is "
        f"`bench/gen_table.py`'s: {args.entries:,} keys like `key-0999999-1f3a9c0e`, answers of about 45 bytes, "
        f"{size:,} bytes ({mib:.1f} MiB) of JSON. Median of {args.runs} runs (min–max). Python's `json.load` of "
        f"the same file: {compare.fmt(py)} s.",
        "",
        "| build | load (log line) s | spawn to listening s | steady RSS MiB | peak RSS MiB | peak / file |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in loads.items():
        lines.append(f"| {name} | {compare.fmt(r['load'])} | {compare.fmt(r['listen'])} | {compare.fmt(r['steady'], 1)} "
                     f"| {compare.fmt(r['peak'], 1)} | {compare.fmt(ratio(r['peak']))} |")
    if reload:
        lines += ["", "Live reload (SIGHUP, A renamed to B, both tables held while B loads):", "",
                  "| reload s | peak RSS MiB (start-up and reload) | peak / file | RSS after MiB |", "|---|---|---|---|",
                  f"| {compare.fmt(reload['reload'])} | {compare.fmt(reload['peak'], 1)} "
                  f"| {compare.fmt(ratio(reload['peak']))} | {compare.fmt(reload['steady'], 1)} |"]
    if cells:
        lines += ["", "Keep-alive search, 50 connections, depth 1 (`bench app --keep-alive --conns 50`, server "
                  "`--workers 1` on core 0, bench on core 1; CPU µs/req as in the table above):", "",
                  "| table | CPU µs/req | requests/s | p50 µs | p99 µs | errors |", "|---|---|---|---|---|---|"]
        for name, runs in cells.items():
            noisy = " (noisy)" if any(r.get("noisy") for r in runs) else ""
            lines.append(f"| {name}{noisy} | {compare.fmt([r['cpu_us'] for r in runs])} "
                         f"| {compare.fmt([r['rps'] for r in runs], 0)} | {compare.fmt([r['p50'] for r in runs], 0)} "
                         f"| {compare.fmt([r['p99'] for r in runs], 0)} | {sum(r['errors'] for r in runs)} |")
    lines += ["", MARK_END, ""]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sockmux", default=compare.SOCKMUX)
    ap.add_argument("--before", help="an older sockmux binary to measure the load beside")
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--dir", help="where the tables are made (kept); default: a temporary directory")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--write", action="store_true", help="put the section into BENCHMARKS.md")
    args = ap.parse_args()

    workdir = args.dir or tempfile.mkdtemp(prefix="sockmux-tables-")
    os.makedirs(workdir, exist_ok=True)
    a, b = os.path.join(workdir, f"a-{args.entries}.json"), os.path.join(workdir, f"b-{args.entries}.json")
    for path, variant in ((a, "A"), (b, "B")):
        if not os.path.exists(path):
            subprocess.run(["python3", os.path.join(HERE, "gen_table.py"), path, "--entries", str(args.entries),
                            "--variant", variant], check=True)
    size = os.path.getsize(a)

    print("python json.load", file=sys.stderr)
    py = python_load(a, args.runs)
    loads = {}
    if args.before:
        print("load / before", file=sys.stderr)
        loads[f"before (`{os.path.basename(args.before)}`)"] = measure_load(args.before, a, args.runs)
    print("load / after", file=sys.stderr)
    loads["after"] = measure_load(args.sockmux, a, args.runs)
    print("reload", file=sys.stderr)
    reload = measure_reload(args.sockmux, a, b, args.runs, workdir)
    cells = {} if args.skip_throughput else throughput(args.sockmux, a, args)

    text = section(args, size, py, loads, reload, cells)
    print(text)
    if args.write:
        path = os.path.join(compare.ROOT, "BENCHMARKS.md")
        with open(path) as f:
            old = f.read()
        if MARK_BEGIN in old:
            old = old[:old.index(MARK_BEGIN)] + old[old.index(MARK_END) + len(MARK_END):].lstrip("\n")
        with open(path, "w") as f:
            f.write(old.rstrip("\n") + "\n\n" + text)
        print(f"wrote {path}", file=sys.stderr)
    if not args.dir:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

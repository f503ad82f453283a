#!/usr/bin/env python3
"""Capture golden wire fixtures from the reference Python programs.

Regenerate the committed fixtures (from the repository root):

    python3 scripts/capture-golden.py

That writes crates/proto/tests/golden/<name>.request.bin and
<name>.response.bin for every case in CASES below. Options:

    --seed DIR   the reference programs (default: ../shared/seed/python
                 beside the repository, i.e. /work/shared/seed/python)
    --out DIR    where to write the fixtures (default: crates/proto/tests/golden)

How it works: it starts the REAL reference server (app-server.py) on a free
loopback port and, for each case, runs the REAL reference client against a
small recording TCP proxy written here. The proxy relays both directions and
records the exact bytes the client sent (the request) and the exact bytes
the server sent back (the response). The reference client app-client.py
sends every non-search action as binary, so the one text/json request with
another action is sent by driving the reference libclient.Message (imported
from the seed folder) with a request dict of type text/json.

Stdlib only. Every wait is bounded; the script exits non-zero on any failure
and writes nothing unless every case was captured. The crate test
`golden.rs` runs this script into a temporary folder and compares the fresh
bytes with the committed ones, so a fixture that drifts from the reference
fails CI.
"""

import argparse
import json
import os
import queue
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_SEED = os.path.normpath(os.path.join(REPO, "..", "shared", "seed", "python"))
DEFAULT_OUT = os.path.join(REPO, "crates", "proto", "tests", "golden")

# Seconds any single step may take before the capture gives up.
STEP_TIMEOUT = 10.0
# Attempts at starting the server on a fresh port.
SERVER_START_ATTEMPTS = 5

# name -> how the request is produced.
#   ("app-client", action, value): run app-client.py HOST PORT action value
#   ("libclient", request_dict):   drive libclient.Message with request_dict
CASES = [
    ("search-morpheus", ("app-client", "search", "morpheus")),
    ("search-ring", ("app-client", "search", "ring")),
    ("search-dog", ("app-client", "search", "\U0001f436")),
    ("search-nobody", ("app-client", "search", "nobody")),
    # Not found, and the value needs every kind of JSON escape the writer has:
    # quotes, a backslash, named control characters and a \u00XX one.
    ("search-escapes", ("app-client", "search", 'say "hi"\\\t\x01\n')),
    (
        "other-action",
        (
            "libclient",
            {
                "type": "text/json",
                "encoding": "utf-8",
                "content": {"action": "frobnicate", "value": "x"},
            },
        ),
    ),
    ("binary-echo", ("app-client", "echo", "hello world \U0001f30d")),
]

# A minimal event loop around the reference libclient.Message, for requests
# app-client.py cannot build. argv: seed dir, port, JSON of the request dict.
LIBCLIENT_DRIVER = r"""
import json, selectors, socket, sys, time
sys.path.insert(0, sys.argv[1])
import libclient
port = int(sys.argv[2])
request = json.loads(sys.argv[3])
sel = selectors.DefaultSelector()
sock = socket.create_connection(("127.0.0.1", port), timeout=10)
sock.setblocking(False)
msg = libclient.Message(sel, sock, ("127.0.0.1", port), request)
sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, data=msg)
deadline = time.monotonic() + 10
while sel.get_map():
    if time.monotonic() > deadline:
        sys.exit("libclient driver: timed out")
    for key, mask in sel.select(timeout=0.5):
        try:
            key.data.process_events(mask)
        except Exception as e:
            print("libclient driver: error:", repr(e), file=sys.stderr)
            key.data.close()
            sys.exit(1)
sel.close()
"""


class CaptureError(Exception):
    pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env():
    env = dict(os.environ)
    # Arguments such as the dog emoji must reach the child as UTF-8 whatever
    # the locale.
    env["PYTHONUTF8"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    # Leave the seed folder as it is (no __pycache__ beside the programs).
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


class Server:
    """The reference app-server.py, started on a free port."""

    def __init__(self, seed):
        self.seed = seed
        self.proc = None
        self.port = None
        self.lines = queue.Queue()

    def start(self):
        last = None
        for _ in range(SERVER_START_ATTEMPTS):
            port = free_port()
            try:
                self._start_on(port)
                self.port = port
                return
            except CaptureError as e:
                last = e
                self.stop()
        raise CaptureError(f"could not start the reference server: {last}")

    def _start_on(self, port):
        self.lines = queue.Queue()
        self.proc = subprocess.Popen(
            [sys.executable, "-u", os.path.join(self.seed, "app-server.py"), "127.0.0.1", str(port)],
            cwd=self.seed,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=child_env(),
        )
        # Drain the output so the pipe never fills, and watch for readiness.
        threading.Thread(target=self._pump, args=(self.proc, self.lines), daemon=True).start()
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                line = None
            if line is not None and line.startswith(b"listening on"):
                return
            if line is None and self.proc.poll() is not None:
                raise CaptureError(f"server on port {port} exited with {self.proc.returncode}")
        raise CaptureError(f"server on port {port} not listening after {STEP_TIMEOUT} s")

    @staticmethod
    def _pump(proc, lines):
        for line in proc.stdout:
            lines.put(line)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STEP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STEP_TIMEOUT)
        self.proc = None


def relay(client, upstream, deadline):
    """Relays one connection both ways until both sides have closed; returns
    (bytes client->server, bytes server->client)."""
    sent = {client: bytearray(), upstream: bytearray()}
    peer = {client: upstream, upstream: client}
    sel = selectors.DefaultSelector()
    for s in (client, upstream):
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    open_sides = 2
    try:
        while open_sides:
            if time.monotonic() > deadline:
                raise CaptureError("the exchange did not finish in time")
            for key, _ in sel.select(timeout=0.1):
                src = key.fileobj
                try:
                    data = src.recv(65536)
                except BlockingIOError:
                    continue
                except ConnectionResetError:
                    data = b""
                if data:
                    sent[src] += data
                    # Blocking send with the deadline as its bound: the
                    # amounts are tiny.
                    dst = peer[src]
                    dst.settimeout(max(0.1, deadline - time.monotonic()))
                    try:
                        dst.sendall(data)
                    except OSError:
                        pass
                    dst.setblocking(False)
                else:
                    sel.unregister(src)
                    open_sides -= 1
                    try:
                        peer[src].shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
    finally:
        sel.close()
    return bytes(sent[client]), bytes(sent[upstream])


def client_command(seed, port, how):
    if how[0] == "app-client":
        _, action, value = how
        return [sys.executable, os.path.join(seed, "app-client.py"), "127.0.0.1", str(port), action, value]
    if how[0] == "libclient":
        return [sys.executable, "-c", LIBCLIENT_DRIVER, seed, str(port), json.dumps(how[1])]
    raise ValueError(how)


def capture_one(seed, server_port, how):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(STEP_TIMEOUT)
        proxy_port = listener.getsockname()[1]
        proc = subprocess.Popen(
            client_command(seed, proxy_port, how),
            cwd=seed,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=child_env(),
        )
        try:
            try:
                client, _ = listener.accept()
            except socket.timeout:
                raise CaptureError("the client did not connect")
            with client, socket.create_connection(("127.0.0.1", server_port), timeout=STEP_TIMEOUT) as upstream:
                request, response = relay(client, upstream, time.monotonic() + STEP_TIMEOUT)
            out, _ = proc.communicate(timeout=STEP_TIMEOUT)
        except BaseException:
            proc.kill()
            proc.wait(timeout=STEP_TIMEOUT)
            raise
        if proc.returncode != 0:
            raise CaptureError(f"client exited with {proc.returncode}:\n{out.decode('utf-8', 'replace')}")
    check_message(request, "request")
    check_message(response, "response")
    return request, response


def check_message(data, what):
    """Sanity check: exactly one whole message, nothing before or after."""
    if len(data) < 2:
        raise CaptureError(f"{what}: only {len(data)} bytes captured")
    hlen = int.from_bytes(data[:2], "big")
    header = json.loads(data[2 : 2 + hlen].decode("utf-8"))
    if len(data) != 2 + hlen + header["content-length"]:
        raise CaptureError(f"{what}: {len(data)} bytes do not make one message: {data!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", default=DEFAULT_SEED, help="folder of the reference programs")
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder to write fixtures into")
    args = parser.parse_args()
    # A caller that gives up on us sends SIGTERM: unwind, so the finally
    # below stops the reference server instead of leaving it running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("capture-golden: terminated"))

    seed = os.path.abspath(args.seed)
    for name in ("app-server.py", "app-client.py", "libclient.py", "libserver.py"):
        if not os.path.isfile(os.path.join(seed, name)):
            sys.exit(f"capture-golden: {name} not found in {seed}")

    captured = {}
    server = Server(seed)
    try:
        server.start()
        for name, how in CASES:
            try:
                captured[name] = capture_one(seed, server.port, how)
            except CaptureError as e:
                raise CaptureError(f"{name}: {e}") from e
    except CaptureError as e:
        sys.exit(f"capture-golden: {e}")
    finally:
        server.stop()

    os.makedirs(args.out, exist_ok=True)
    for name, (request, response) in captured.items():
        for suffix, data in (("request", request), ("response", response)):
            path = os.path.join(args.out, f"{name}.{suffix}.bin")
            with open(path, "wb") as f:
                f.write(data)
        print(f"{name}: request {len(request)} bytes, response {len(response)} bytes")


if __name__ == "__main__":
    main()

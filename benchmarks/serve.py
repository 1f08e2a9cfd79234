"""Requests per second of `mlpm serve` against a minimal hand-written server around the
same ONNX Runtime session, in the same run.

Each server is its own process on 127.0.0.1 serving the same small ONNX model (a linear
layer, FEATURES -> 8) from `onnxruntime.InferenceSession(path)`. One client drives them
all alike: CLIENTS threads, each with one keep-alive connection (reconnecting whenever
the server closes it), POST the same TF Serving row-format request
(`{"instances": [...BATCH rows...]}`) until REQUESTS answers have come back; every answer
must be 200, and the first of each connection must hold the right numbers. Rounds are
interleaved (the order rotates each round); the table gives the median requests/s, the
latency percentiles and the server's own CPU time per request (from /proc).

Servers:
  mlpm           `serve(OnnxRunner(...), "127.0.0.1", port)`: mlpm.serve, the code
                 behind `mlpm serve`.
  mlpm (new conn) the same server, with the client opening a new connection for every
                 request: how it compares when connections are not reused.
  flask          the peer: the Flask app users write today (`request.get_json()`,
                 `np.asarray(..., float32)`, `session.run`, `jsonify`), run with
                 `app.run(threaded=True)`, request logging off. Werkzeug's development
                 server closes the connection after every response. Skipped, with a
                 note, when Flask is not installed (the stdlib peer is then the peer).
  http.server    the same handler hand-written on the standard library, as its docs
                 show it: ThreadingHTTPServer, json + numpy, send_response /
                 send_header / end_headers / wfile.write, the default protocol
                 (HTTP/1.0: one connection per request). Set to HTTP/1.1 for keep-alive,
                 this handler writes headers and body separately, and Nagle's algorithm
                 with delayed ACKs holds each answer about 40 ms (measured: ~180 req/s).

    .venv/bin/python benchmarks/serve.py [--requests 2000] [--clients 8] [--rounds 5]
                                         [--batch 4] [--features 16]

Target: mlpm serves at least the peer's throughput, ratio >= 1.0.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from _harness import PYTHON, ROOT, isolated_env, machine, make_onnx, print_table

TARGET = 1.0
TIME_LIMIT = 60.0  # seconds one measured run may take before it stops early

MLPM_SERVER = """
import sys
from pathlib import Path
from mlpm.serve import OnnxRunner, serve
serve(OnnxRunner("bench", "1.0.0", Path(sys.argv[1])), "127.0.0.1", int(sys.argv[2]))
"""

FLASK_SERVER = """
import logging, sys
import numpy as np
import onnxruntime
from flask import Flask, jsonify, request

session = onnxruntime.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
input_name = session.get_inputs()[0].name
app = Flask(__name__)
logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log, as mlpm's default

@app.post("/v1/models/bench:predict")
def predict():
    x = np.asarray(request.get_json()["instances"], dtype=np.float32)
    y = session.run(None, {input_name: x})[0]
    return jsonify(predictions=y.tolist())

app.run(host="127.0.0.1", port=int(sys.argv[2]), threaded=True)
"""

STDLIB_SERVER = """
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import numpy as np
import onnxruntime

session = onnxruntime.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
input_name = session.get_inputs()[0].name

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        x = np.asarray(body["instances"], dtype=np.float32)
        y = session.run(None, {input_name: x})[0]
        out = json.dumps({"predictions": y.tolist()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Handler).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One server process on a free loopback port, ready when it answers a predict."""

    def __init__(self, label: str, code: str, model: Path, request: bytes, env: dict):
        self.label = label
        self.port = free_port()
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([PYTHON, "-c", code, str(model), str(self.port)],
                                     cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _ = one_request(self.port, request)
                if status == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                raise SystemExit(f"{label} server did not start:\n{self.log.read().decode()}")
            time.sleep(0.05)

    def cpu_seconds(self) -> float | None:
        """user + system CPU of the server process so far (all threads), from /proc."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def read_response(reader) -> tuple[int, bytes, bool]:
    """Status, body and whether the server will close, of one HTTP/1.1 response."""
    status_line = reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection")
    version, status = status_line.split()[:2]
    connection = b""
    length = None
    while True:
        line = reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        key, _, value = line.partition(b":")
        key = key.strip().lower()
        if key == b"content-length":
            length = int(value)
        elif key == b"connection":
            connection = value.strip().lower()
    # HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 closes unless told not to
    close = connection == b"close" or (version == b"HTTP/1.0" and connection != b"keep-alive")
    if length is None:
        raise ConnectionError("a response without Content-Length")
    return int(status), reader.read(length), close


def one_request(port: int, request: bytes) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        with sock.makefile("rb") as reader:
            status, body, _ = read_response(reader)
    return status, body


def drive(port: int, request: bytes, expected: list, total: int, clients: int,
          keepalive: bool) -> dict:
    """``total`` requests from ``clients`` threads; wall time, latencies, connections."""
    remaining = [total]
    lock = threading.Lock()
    latencies: list[float] = []
    problems: list[str] = []
    connections = [0]
    deadline = time.monotonic() + TIME_LIMIT

    def take() -> bool:
        with lock:
            if remaining[0] <= 0 or time.monotonic() > deadline:
                return False
            remaining[0] -= 1
            return True

    def client() -> None:
        sock = reader = None
        mine: list[float] = []
        checked = False
        try:
            while take():
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    reader = sock.makefile("rb")
                    with lock:
                        connections[0] += 1
                start = time.perf_counter()
                sock.sendall(request)
                status, body, close = read_response(reader)
                mine.append(time.perf_counter() - start)
                if status != 200:
                    raise ConnectionError(f"status {status}: {body[:200]!r}")
                if not checked:
                    answer = json.loads(body)["predictions"]
                    if not all(abs(a - b) <= 1e-5 * max(1.0, abs(b))
                               for row_a, row_b in zip(answer, expected, strict=True)
                               for a, b in zip(row_a, row_b, strict=True)):
                        raise ValueError("wrong predictions")
                    checked = True
                if close or not keepalive:
                    reader.close()
                    sock.close()
                    sock = reader = None
        except Exception as err:  # reported with the results, never silently dropped
            problems.append(f"{type(err).__name__}: {err}")
        finally:
            if sock is not None:
                reader.close()
                sock.close()
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    return {"wall": wall, "done": len(latencies), "latencies": latencies,
            "problems": problems, "connections": connections[0]}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def phase_costs(model: Path, body: bytes, rounds: int = 2000) -> list[list[str]]:
    """Microseconds of the steps every server does, in this process: where a request's
    time goes apart from HTTP."""
    import numpy as np
    import onnxruntime

    from mlpm.serve import OnnxRunner, _encode, predict_json

    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    runner = OnnxRunner("bench", "1.0.0", model)
    parsed = json.loads(body)
    x = np.asarray(parsed["instances"], dtype=np.float32)
    y = session.run(None, {"x": x})[0]
    steps = {
        "json.loads(body)": lambda: json.loads(body),
        "np.asarray(instances, float32)": lambda: np.asarray(parsed["instances"],
                                                             dtype=np.float32),
        "session.run": lambda: session.run(None, {"x": x}),
        "json.dumps(predictions)": lambda: json.dumps({"predictions": y.tolist()}).encode(),
        "mlpm predict_json (parse->run->rows)": lambda: predict_json(runner, parsed),
        "mlpm whole body: loads+predict+encode": lambda: _encode(
            predict_json(runner, json.loads(body))).encode(),
    }
    rows = []
    for label, step in steps.items():
        for _ in range(50):
            step()
        start = time.perf_counter()
        for _ in range(rounds):
            step()
        rows.append([label, f"{(time.perf_counter() - start) / rounds * 1e6:.1f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=4, help="instances per request")
    parser.add_argument("--features", type=int, default=16, help="inputs of the model")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="mlpm-bench-serve-"))
    servers: dict[str, Server] = {}
    try:
        env = isolated_env(tmp)
        env["PYTHONPATH"] = str(ROOT)
        model = make_onnx(tmp / "bench.onnx", 1, inputs=args.features, outputs=8)
        import numpy as np
        import onnxruntime

        rng = np.random.default_rng(0)
        rows = rng.standard_normal((args.batch, args.features)).astype(np.float32)
        expected = onnxruntime.InferenceSession(str(model)).run(None, {"x": rows})[0].tolist()
        body = json.dumps({"instances": rows.tolist()}).encode()
        request = (b"POST /v1/models/bench:predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                   % (len(body), body))

        from importlib.metadata import PackageNotFoundError, version

        try:
            peer_note = f"Flask {version('flask')} (werkzeug development server)"
            peer = "flask"
        except PackageNotFoundError:
            peer = "http.server"
            peer_note = "Flask is not installed: the stdlib http.server peer is the peer"
        servers["mlpm"] = Server("mlpm", MLPM_SERVER, model, request, env)
        if peer == "flask":
            servers["flask"] = Server("flask", FLASK_SERVER, model, request, env)
        servers["http.server"] = Server("http.server", STDLIB_SERVER, model, request, env)
        runs = {"mlpm": ("mlpm", True), "mlpm (new conn)": ("mlpm", False)}
        runs.update({label: (label, True) for label in servers if label != "mlpm"})

        print(f"serve: {args.requests} requests x {args.rounds} rounds per server, "
              f"{args.clients} client threads, {args.batch} instances of {args.features} "
              f"float32 per request ({len(body)} B body); {machine()}")
        print(f"peer: {peer_note}\n")

        labels = list(runs)
        for label in labels:  # warm-up: caches, thread pools, first-request costs
            server, keepalive = runs[label]
            drive(servers[server].port, request, expected, 200, args.clients, keepalive)
        results: dict[str, list[dict]] = {label: [] for label in labels}
        for i in range(args.rounds):
            order = labels[i % len(labels):] + labels[:i % len(labels)]
            for label in order:
                server, keepalive = runs[label]
                cpu0 = servers[server].cpu_seconds()
                result = drive(servers[server].port, request, expected, args.requests,
                               args.clients, keepalive)
                cpu1 = servers[server].cpu_seconds()
                result["cpu"] = None if cpu0 is None else cpu1 - cpu0
                results[label].append(result)

        rps = {label: statistics.median(r["done"] / r["wall"] for r in results[label])
               for label in labels}
        table = []
        for label in labels:
            res = results[label]
            per_run = [r["done"] / r["wall"] for r in res]
            lat = [v for r in res for v in r["latencies"]]
            cpu = [r["cpu"] / r["done"] for r in res if r["cpu"] is not None and r["done"]]
            conns = sum(r["connections"] for r in res)
            done = sum(r["done"] for r in res)
            table.append([label, f"{rps[label]:,.0f}", f"{min(per_run):,.0f}",
                          f"{max(per_run):,.0f}", f"{percentile(lat, 0.5) * 1e3:.2f}",
                          f"{percentile(lat, 0.99) * 1e3:.2f}",
                          f"{statistics.median(cpu) * 1e6:.0f}" if cpu else "-",
                          f"{done / max(conns, 1):.0f}", f"{rps[label] / rps[peer]:.2f}x"])
        print_table(["server", "median req/s", "min", "max", "p50 ms", "p99 ms",
                     "server CPU us/req", "req/conn", f"vs {peer}"], table)
        problems = {label: p for label in labels
                    for p in {q for r in results[label] for q in r["problems"]}}
        for label, problem in problems.items():
            print(f"\n{label}: a client stopped early: {problem}")
        short = [label for label in labels if any(r["done"] < args.requests
                                                  for r in results[label])]
        if short:
            print(f"\nnote: {', '.join(short)} did not finish every run within "
                  f"{TIME_LIMIT:.0f} s or had failures; their rate counts the answers received.")

        print("\nwhere a request's time goes apart from HTTP (this process, us per call):")
        print_table(["step", "us"], phase_costs(model, body))

        ratio = rps["mlpm"] / rps[peer]
        like = rps["mlpm (new conn)"] / rps[peer]
        print(f"\nmlpm {rps['mlpm']:,.0f} req/s, {peer} {rps[peer]:,.0f} req/s: ratio "
              f"{ratio:.2f} (with a new connection per request for mlpm too: {like:.2f}); "
              f"vs the http.server peer: {rps['mlpm'] / rps['http.server']:.2f}")
        print(f"RESULT serve ratio={ratio:.2f} (target ≥ {TARGET})")
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

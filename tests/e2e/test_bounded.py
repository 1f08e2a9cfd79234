"""Bounded resources: what a hostile server or client can make mlpm hold is capped.

Each test builds the attack itself on loopback (an endless body, a gzip bomb, an
https -> http redirect, a slowloris, a flood of requests, a graph with more paths than
atoms) and checks what the user sees: one sentence, the exit code, and nothing
half-written in the cache.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mlpm.registry.records import index_path
from tests.conftest import assert_clean_error, needs, publish, run_mlpm


class HostileHandler(BaseHTTPRequestHandler):
    """Answers each path with ``server.routes[path]`` (a function of the handler), else
    serves ``server.root`` as a registry would (200 or 404, no ETag)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (stdlib naming)
        self.server.log.append(self.path)
        route = self.server.routes.get(self.path.split("?")[0])
        try:
            if route is not None:
                route(self)
                return
            path = self.server.root / self.path.lstrip("/")
            if not path.is_file():
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_bytes(path.read_bytes())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def send_bytes(self, data: bytes, **headers: str) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(data)

    def endless(self, content_length: str | None = None) -> None:
        """A body that never ends (until the client hangs up)."""
        self.send_response(200)
        if content_length:
            self.send_header("Content-Length", content_length)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        line = b'{"name":"tiny","version":"1.0.0"}' * 1000
        try:
            while not self.server.stopped.is_set():
                self.wfile.write(line)
        except OSError:
            pass


class Hostile(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path | None = None, tls: ssl.SSLContext | None = None):
        super().__init__(("127.0.0.1", 0), HostileHandler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.root = root or Path("/nonexistent")
        self.routes: dict = {}
        self.log: list[str] = []
        self.stopped = threading.Event()
        self.scheme = "https" if tls else "http"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server_address[1]}/"

    def close(self) -> None:
        self.stopped.set()
        self.shutdown()
        self.server_close()


@pytest.fixture
def hostile(tmp_path):
    servers: list[Hostile] = []

    def make(root: Path | None = None, tls: ssl.SSLContext | None = None) -> Hostile:
        servers.append(Hostile(root, tls))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def cache_files(cache: Path) -> list[str]:
    """Every blob and partial download in the cache (index copies and locks aside)."""
    return sorted(str(p.relative_to(cache)) for sub in ("blobs", "partial")
                  for p in (cache / sub).rglob("*") if p.is_file() and not
                  p.name.endswith((".lock", ".stamp")))


# -- index files over HTTP ---------------------------------------------------------------


@pytest.fixture
def tiny_registry(tmp_path, model_files):
    """A registry folder with tiny@1.0.0, to be served by a hostile server."""
    from mlpm.registry import init_registry_dir

    root = tmp_path / "registry"
    init_registry_dir(root)
    publish(root, model_files[1], "tiny", "1.0.0")
    return root


def test_an_endless_index_file_stops_at_the_limit(hostile, tiny_registry, project, isolated):
    server = hostile(tiny_registry)
    index = "/index/" + index_path("tiny")
    server.routes[index] = HostileHandler.endless
    assert run_mlpm("init", "--registry", server.url, cwd=project).code == 0
    result = run_mlpm("install", "tiny", cwd=project, env={"MLPM_MAX_INDEX_BYTES": "1M"},
                      timeout=60)
    assert_clean_error(result, 1)
    assert result.err == (
        f"error: {server.url}index/ti/ny/tiny sent more than 1.0 MiB for an index file, the "
        "limit; if that is expected, raise it with MLPM_MAX_INDEX_BYTES, else the server is "
        "broken or hostile.\n")
    assert server.log.count(index) == 1  # refused, not retried
    assert not (project / "mlpm.lock").exists()
    assert not list((isolated / "cache").rglob("tiny"))  # no index copy kept


def test_a_gzip_bomb_index_file_is_refused_by_its_ratio(hostile, tiny_registry, project,
                                                        isolated):
    server = hostile(tiny_registry)
    index = "/index/" + index_path("tiny")
    bomb = gzip.compress(b" " * (64 << 20), compresslevel=9)  # 64 MiB from ~64 KiB
    server.routes[index] = lambda h: h.send_bytes(bomb, Content_Encoding="gzip")
    assert run_mlpm("init", "--registry", server.url, cwd=project).code == 0
    result = run_mlpm("install", "tiny", cwd=project, timeout=60)
    assert_clean_error(result, 1)
    assert result.err == (
        f"error: {server.url}index/ti/ny/tiny decompresses to more than 100 times its size "
        "for an index file, which only a decompression bomb does; the server is broken or "
        "hostile.\n")
    assert not (project / "mlpm.lock").exists()
    assert not list((isolated / "cache").rglob("tiny"))


def test_a_gzip_encoded_index_file_is_read(hostile, tiny_registry, project):
    # the same path a bomb takes, with an honest body: the decoder itself works
    server = hostile(tiny_registry)
    index = "/index/" + index_path("tiny")
    body = gzip.compress((tiny_registry / "index" / index_path("tiny")).read_bytes())
    server.routes[index] = lambda h: h.send_bytes(body, Content_Encoding="gzip")
    assert run_mlpm("init", "--registry", server.url, cwd=project).code == 0
    result = run_mlpm("install", "tiny", cwd=project)
    assert result.code == 0, result.err
    assert "+ tiny 1.0.0" in result.out


def test_a_bad_limit_setting_is_one_sentence(hostile, tiny_registry, project):
    server = hostile(tiny_registry)
    assert run_mlpm("init", "--registry", server.url, cwd=project).code == 0
    result = run_mlpm("install", "tiny", cwd=project, env={"MLPM_MAX_INDEX_BYTES": "lots"})
    assert_clean_error(result, 2)
    assert result.err == ("error: MLPM_MAX_INDEX_BYTES='lots' is not a size; set it to a "
                          "number of bytes such as 67108864 or 64M, or unset it.\n")


# -- artifacts without a recorded size --------------------------------------------------


def unsized(registry: Path, url: str) -> None:
    """tiny@1.0.0's artifact moved to ``url``, with no sha256 and no size recorded (as a
    public artifact pinned at first download is)."""
    index = registry / "index" / index_path("tiny")
    record = json.loads(index.read_text())
    artifact = record["artifacts"][0]
    del artifact["sha256"], artifact["size"]
    artifact["url"] = url
    index.write_text(json.dumps(record) + "\n")


@pytest.mark.parametrize("attack", ["endless", "announced", "gzip-bomb"])
def test_an_unsized_artifact_stops_at_the_limit_and_leaves_nothing(
        attack, hostile, tiny_registry, project, isolated):
    server = hostile()
    if attack == "endless":  # no Content-Length: the body ends when the server does
        server.routes["/model.onnx"] = HostileHandler.endless
    elif attack == "announced":  # refused on its Content-Length, before any byte
        server.routes["/model.onnx"] = lambda h: h.endless(str(10 << 30))
    else:
        bomb = gzip.compress(b"\0" * (8 << 20), compresslevel=9)
        server.routes["/model.onnx"] = lambda h: h.send_bytes(bomb, Content_Encoding="gzip")
    unsized(tiny_registry, server.url + "model.onnx")
    assert run_mlpm("init", "--registry", str(tiny_registry), cwd=project).code == 0
    result = run_mlpm("install", "tiny", cwd=project, timeout=60,
                      env={"MLPM_MAX_DOWNLOAD_BYTES": "1MiB"})
    assert_clean_error(result, 1)
    assert result.err == (
        f"error: {server.url}model.onnx sent more than 1.0 MiB for tiny@1.0.0 linear-1.onnx, "
        "the limit; if that is expected, raise it with MLPM_MAX_DOWNLOAD_BYTES, else the "
        "server is broken "
        "or hostile.\n")
    assert server.log == ["/model.onnx"]  # not retried: a retry cannot help
    assert cache_files(isolated / "cache") == []  # no blob, no partial download
    assert not (project / "mlpm.lock").exists()


def test_an_unsized_artifact_under_the_limit_is_pinned(hostile, tiny_registry, project,
                                                       model_files, isolated):
    server = hostile()
    data = model_files[1].read_bytes()
    server.routes["/model.onnx"] = lambda h: h.send_bytes(data)
    unsized(tiny_registry, server.url + "model.onnx")
    assert run_mlpm("init", "--registry", str(tiny_registry), cwd=project).code == 0
    result = run_mlpm("install", "tiny", cwd=project, env={"MLPM_MAX_DOWNLOAD_BYTES": "1M"})
    assert result.code == 0, result.err
    lock = (project / "mlpm.lock").read_text()
    assert f"size = {len(data)}" in lock


# -- https -> http redirects ------------------------------------------------------------


def tls_context(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a fresh self-signed certificate for 127.0.0.1."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context, cert


def test_an_https_registry_redirecting_to_http_is_refused(hostile, tiny_registry, project,
                                                         tmp_path):
    plain = hostile(tiny_registry)  # the same registry, over plain HTTP
    context, cert = tls_context(tmp_path)
    secure = hostile(tls=context)

    def downgrade(handler):
        handler.send_response(302)
        handler.send_header("Location", plain.url.rstrip("/") + handler.path)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    index = "/index/" + index_path("tiny")
    secure.routes[index] = downgrade
    env = {"REQUESTS_CA_BUNDLE": str(cert)}
    assert run_mlpm("init", "--registry", secure.url, cwd=project, env=env).code == 0
    result = run_mlpm("install", "tiny", cwd=project, env=env)
    assert_clean_error(result, 1)
    assert result.err == (
        f"error: {secure.url}index/ti/ny/tiny redirected to {plain.url}index/ti/ny/tiny, "
        "which leaves HTTPS for plain HTTP; mlpm refuses that downgrade: ask the server's "
        "owner to redirect to an https:// URL.\n")
    assert secure.log == [index]  # TLS worked, the redirect came, once
    assert plain.log == []  # and was not followed
    assert not (project / "mlpm.lock").exists()


def test_a_plain_http_redirect_is_followed(hostile, tiny_registry, project):
    plain = hostile(tiny_registry)
    moved = hostile()
    index = "/index/" + index_path("tiny")

    def redirect(handler):
        handler.send_response(301)
        handler.send_header("Location", plain.url.rstrip("/") + handler.path)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    moved.routes[index] = redirect
    moved.root = tiny_registry
    assert run_mlpm("init", "--registry", moved.url, cwd=project).code == 0
    result = run_mlpm("install", "tiny", cwd=project)
    assert result.code == 0, result.err
    assert index in plain.log


# -- mlpm serve -------------------------------------------------------------------------


def make_log_onnx(path: Path) -> Path:
    """y = log(x): NaN for x < 0, -Infinity for x = 0."""
    onnx = needs("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Log", ["x"], ["y"])], "log",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.fixture
def model_server(tmp_path):
    from mlpm.serve import OnnxRunner, make_server

    servers = []

    def start(path: Path, **limits):
        server = make_server(OnnxRunner("m", "1.0.0", path), **limits)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def post(server, body: bytes | str) -> tuple[int, dict, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
    try:
        conn.request("POST", "/v1/models/m:predict", body)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), json.loads(resp.read())
    finally:
        conn.close()


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_serve_refuses_nan_and_infinity_in_a_request(model_server, tmp_path, token):
    server = model_server(make_log_onnx(tmp_path / "log.onnx"))
    status, _, answer = post(server, f'{{"instances": [[1.0, {token}]]}}')
    assert status == 400
    assert answer == {"error": f"the request body holds {token}, which is not JSON; send "
                               "finite numbers only."}


def test_serve_refuses_a_number_past_float32(model_server, tmp_path):
    server = model_server(make_log_onnx(tmp_path / "log.onnx"))
    status, _, answer = post(server, '{"instances": [[1.0, 1e39]]}')
    assert status == 400
    assert answer == {"error": "the instances (stacked into input 'x') holds a number too "
                               "large for float32; send finite numbers within its range."}


@pytest.mark.parametrize("fmt", ["instances", "inputs"])
def test_serve_never_writes_nan_or_infinity(model_server, tmp_path, fmt):
    server = model_server(make_log_onnx(tmp_path / "log.onnx"))
    status, _, answer = post(server, json.dumps({fmt: [[1.0, 0.0]]}))  # log(0) = -inf
    assert status == 500
    assert answer == {"error": "m answered NaN or Infinity in its output 'y' for this "
                               "request, which JSON cannot carry; check the input values "
                               "the model was given."}
    status, _, answer = post(server, json.dumps({fmt: [[1.0, 1.0]]}))  # still serving
    assert status == 200 and json.dumps(answer) == json.dumps(
        {"predictions" if fmt == "instances" else "outputs": [[0.0, 0.0]]})


def test_serve_bounds_the_bodies_in_flight(model_server, tmp_path):
    """Two requests whose bodies together pass the budget: the second waits, then gets 503;
    so however many clients post at once, request bodies in memory stay under the cap."""
    server = model_server(make_log_onnx(tmp_path / "log.onnx"), max_body=1000)
    server.queue_wait = 0.5
    body = json.dumps({"instances": [[1.0, 1.0]]}).ljust(800).encode()
    slow = socket.create_connection(server.server_address, timeout=10)
    slow.sendall(b"POST /v1/models/m:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 800\r\n"
                 b"\r\n" + body[:100])  # admitted; the rest of its body is still to come
    time.sleep(0.3)
    start = time.monotonic()
    status, headers, answer = post(server, body)
    assert status == 503 and headers["Retry-After"] == "1"
    assert answer == {"error": "the server is busy (8 predictions or 1000 bytes of request "
                               "bodies in progress); retry in a moment."}
    assert 0.4 < time.monotonic() - start < 5
    slow.sendall(body[100:])
    reply = slow.recv(65536)
    assert reply.startswith(b"HTTP/1.1 200 ")
    slow.close()
    assert post(server, body)[0] == 200  # room again


def test_serve_answers_408_to_a_body_that_does_not_come(model_server, tmp_path):
    server = model_server(make_log_onnx(tmp_path / "log.onnx"), idle_timeout=1.0)
    with socket.create_connection(server.server_address, timeout=10) as sock:
        sock.sendall(b"POST /v1/models/m:predict HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
        start = time.monotonic()
        reply = sock.recv(65536)
        assert time.monotonic() - start < 5
    assert reply.startswith(b"HTTP/1.1 408 ")
    assert b"the request body did not arrive within 1 seconds" in reply
    assert post(server, '{"instances": [[1.0, 1.0]]}')[0] == 200


def test_serve_caps_open_connections(model_server, tmp_path):
    server = model_server(make_log_onnx(tmp_path / "log.onnx"), max_connections=2)
    idle = [socket.create_connection(server.server_address, timeout=10) for _ in range(2)]
    time.sleep(0.3)
    status, headers, answer = post(server, '{"instances": [[1.0, 1.0]]}')
    assert status == 503 and headers["Retry-After"] == "1"
    assert answer == {"error": "the server has 2 connections open, its limit; retry in a "
                               "moment."}
    for sock in idle:
        sock.close()
    deadline = time.monotonic() + 5
    while server.open_connections and time.monotonic() < deadline:
        time.sleep(0.05)
    assert post(server, '{"instances": [[1.0, 1.0]]}')[0] == 200


# -- mlpm registry serve ----------------------------------------------------------------


@pytest.fixture
def quick_registry(tiny_registry):
    """`mlpm registry serve`'s server with a 1-second idle timeout."""
    from mlpm.registry.server import RegistryServer

    server = RegistryServer(tiny_registry, idle_timeout=1.0, verbose=False)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def closed_within(sock: socket.socket, seconds: float, trickle: bytes = b"") -> float:
    """Seconds until the server closes ``sock`` (sending ``trickle`` a byte at a time)."""
    start = time.monotonic()
    sock.settimeout(0.2)
    sent = 0
    while time.monotonic() - start < seconds:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - start
        except TimeoutError:
            pass
        except ConnectionResetError:
            return time.monotonic() - start
        if sent < len(trickle):
            try:
                sock.send(trickle[sent:sent + 1])
            except OSError:
                return time.monotonic() - start
            sent += 1
    raise AssertionError(f"the connection was still open after {seconds} s")


def test_registry_serve_drops_an_idle_connection(quick_registry):
    with socket.create_connection(quick_registry.server_address) as sock:
        assert closed_within(sock, 5) < 3


def test_registry_serve_drops_a_slowloris(quick_registry):
    # a header byte every 0.2 s: each read is quick, the head as a whole is not
    head = b"GET /config.json HTTP/1.1\r\nHost: x\r\n" + b"X-A: " + b"a" * 200
    with socket.create_connection(quick_registry.server_address) as sock:
        assert closed_within(sock, 5, head) < 3
    # meanwhile, and after, honest clients are served with keep-alive
    conn = http.client.HTTPConnection(*quick_registry.server_address, timeout=10)
    for _ in range(3):
        conn.request("GET", "/config.json")
        assert conn.getresponse().read() == (quick_registry.root / "config.json").read_bytes()
    conn.close()


def test_registry_serve_caps_the_request_head(quick_registry):
    # the stdlib alone would take 100 header lines of 64 KiB each: 6.5 MB a connection
    with socket.create_connection(quick_registry.server_address, timeout=10) as sock:
        sock.sendall(b"GET /config.json HTTP/1.1\r\n")
        try:
            for _ in range(100):
                sock.sendall(b"X-A: " + b"a" * 60_000 + b"\r\n")
        except OSError:  # the server closed the connection while this was still sending
            pass
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), reply


def test_registry_serve_caps_open_connections(tiny_registry):
    from mlpm.registry.server import RegistryServer

    server = RegistryServer(tiny_registry, max_connections=3)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        idle = [socket.create_connection(server.server_address) for _ in range(3)]
        time.sleep(0.3)
        conn = http.client.HTTPConnection(*server.server_address, timeout=10)
        conn.request("GET", "/config.json")
        resp = conn.getresponse()
        assert resp.status == 503 and resp.getheader("Retry-After") == "1"
        assert resp.read() == b"503 Service Unavailable: too many connections; retry shortly\n"
        for sock in idle:
            sock.close()
    finally:
        server.shutdown()
        server.server_close()


def test_registry_serve_answers_keep_alive_requests_without_nagle_delay(quick_registry):
    # headers and body go out in two writes: with Nagle's algorithm on, the body would
    # wait for the client's delayed ACK, about 40 ms per request
    conn = http.client.HTTPConnection(*quick_registry.server_address, timeout=10)
    took = []
    for _ in range(21):
        start = time.perf_counter()
        conn.request("GET", "/index/" + index_path("tiny"))
        assert conn.getresponse().read()
        took.append(time.perf_counter() - start)
    conn.close()
    assert sorted(took)[10] < 0.02, took


def test_serve_limits_from_the_environment_are_checked(monkeypatch, tmp_path):
    from mlpm.errors import UsageError
    from mlpm.serve import OnnxRunner, serve

    runner = OnnxRunner("m", "1.0.0", make_log_onnx(tmp_path / "log.onnx"))
    monkeypatch.setenv("MLPM_SERVE_MAX_CONCURRENT", "none")
    with pytest.raises(UsageError) as refused:
        serve(runner, "127.0.0.1", 0)
    assert str(refused.value) == ("MLPM_SERVE_MAX_CONCURRENT='none' is not a positive whole "
                                  "number; set it to a number such as 8 or unset it.")


# -- why / tree on a wide diamond -------------------------------------------------------


WIDTH = DEPTH = 30


def write_lock(project: Path, graph: dict[str, list[str]]) -> Path:
    """mlpm.toml needing ``top``, and an mlpm.lock of ``graph`` (name -> dependencies)."""
    from mlpm.project import Lock, LockedPackage
    from mlpm.registry.records import Artifact

    registry = str(project / "registry")
    packages = {}
    for name, dependencies in graph.items():
        digest = hashlib.sha256(name.encode()).hexdigest()
        files = [Artifact("onnx", f"{name}.onnx", digest, 100, f"artifacts/{digest}")]
        packages[name] = LockedPackage(name, "1.0.0", registry, "onnx", files,
                                       dict.fromkeys(dependencies, "1.0.0"))
    (project / "mlpm.toml").write_text(f'registry = "{registry}"\n\n[dependencies]\n'
                                       'top = "^1.0.0"\n')
    Lock("sha256:" + "0" * 64, packages).write(project / "mlpm.lock")
    return project


@pytest.fixture
def diamond(project):
    """A project whose lock is a diamond: top -> 30 packages -> 30 packages -> ... (30
    layers), each depending on every package of the next layer: 30**29 paths to a leaf."""
    layers = [[f"d{k}-{i}" for i in range(WIDTH)] for k in range(1, DEPTH + 1)]
    graph = {"top": layers[0]}
    for k, layer in enumerate(layers):
        for name in layer:
            graph[name] = layers[k + 1] if k + 1 < DEPTH else []
    return write_lock(project, graph)


def test_tree_prints_each_shared_subtree_once(diamond):
    start = time.monotonic()
    result = run_mlpm("tree", cwd=diamond, timeout=60)
    took = time.monotonic() - start
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    # one line per dependency edge: 30 under top, 30 under each of the 29 x 30 inner nodes
    assert len(lines) == 1 + WIDTH + (DEPTH - 1) * WIDTH * WIDTH
    assert lines[:3] == ["top@1.0.0 (mlpm.toml: ^1.0.0)", "  d1-0@1.0.0", "    d2-0@1.0.0"]
    assert lines[DEPTH] == "  " * DEPTH + f"d{DEPTH}-0@1.0.0"  # the first path, expanded
    # each inner package is expanded where it first appears, and (deduped) everywhere else
    inner = [line.strip() for line in lines[1:] if not line.strip().startswith(f"d{DEPTH}-")]
    shown = [line for line in inner if not line.endswith(" (deduped)")]
    assert sorted(shown) == sorted(f"d{k}-{i}@1.0.0" for k in range(1, DEPTH)
                                   for i in range(WIDTH))
    assert len(inner) - len(shown) == (DEPTH - 2) * WIDTH * (WIDTH - 1)
    first = {}
    for line in inner:
        first.setdefault(line.removesuffix(" (deduped)"), line)
    assert not any(line.endswith(" (deduped)") for line in first.values())
    assert took < 30  # before, this never finished (30**29 lines)
    data = run_mlpm("tree", "--json", cwd=diamond, timeout=60).json
    (top,) = data["dependencies"]
    assert top["name"] == "top" and len(top["dependencies"]) == WIDTH
    d1_0, d1_1 = top["dependencies"][:2]
    assert len(d1_0["dependencies"]) == WIDTH and "deduped" not in d1_0["dependencies"][0]
    assert d1_1["dependencies"][0] == {"name": "d2-0", "range": None, "version": "1.0.0",
                                       "dependencies": [], "deduped": True}


def test_why_lists_the_shortest_chains_and_counts_the_rest(diamond):
    result = run_mlpm("why", f"d{DEPTH}-0", cwd=diamond, timeout=60)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert len(lines) == 101
    assert all(line.startswith("the project (needs top@^1.0.0) -> top@1.0.0 -> d1-")
               and line.endswith(f" -> d{DEPTH}-0@1.0.0") for line in lines[:100])
    assert len(set(lines[:100])) == 100
    assert lines[100] == (f"... and {WIDTH ** (DEPTH - 1) - 100} more chains through the same "
                          "packages; `mlpm tree` shows each package's dependencies once.")
    data = run_mlpm("why", f"d{DEPTH}-0", "--json", cwd=diamond, timeout=60).json
    assert len(data["chains"]) == 100 and data["total"] == WIDTH ** (DEPTH - 1)
    path = data["chains"][0]["path"]
    assert len(path) == DEPTH + 1 and path[0]["name"] == "top" and \
        path[-1] == {"name": f"d{DEPTH}-0", "version": "1.0.0"}


def test_a_cycle_in_a_lock_ends_in_one_deduped_line(project):
    write_lock(project, {"top": ["a"], "a": ["b"], "b": ["a"]})
    tree = run_mlpm("tree", cwd=project)
    assert tree.code == 0, tree.err
    assert tree.out.splitlines() == ["top@1.0.0 (mlpm.toml: ^1.0.0)", "  a@1.0.0",
                                     "    b@1.0.0", "      a@1.0.0 (deduped)"]
    why = run_mlpm("why", "b", cwd=project)
    assert why.code == 0, why.err
    assert why.out == "the project (needs top@^1.0.0) -> top@1.0.0 -> a@1.0.0 -> b@1.0.0\n"

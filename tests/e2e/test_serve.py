"""`mlpm serve`: a model served as a real process on loopback, queried with real HTTP
with the TensorFlow Serving / KServe v1 REST protocol, malformed requests included."""

from __future__ import annotations

import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port, needs
from tests.models import make_onnx

np = needs("numpy")

LINEAR_SERVER = """
import sys
from pathlib import Path
from mlpm.serve import OnnxRunner, serve
serve(OnnxRunner(sys.argv[1], sys.argv[2], Path(sys.argv[3])), "127.0.0.1", int(sys.argv[4]))
"""

TORCH_SERVER = """
import json, sys
import torch
from mlpm.serve import TorchRunner, serve
module = torch.jit.load(sys.argv[1]).eval()
serve(TorchRunner("net", "2.0.0", module, json.loads(sys.argv[2])), "127.0.0.1", int(sys.argv[3]))
"""


# -- helpers ------------------------------------------------------------------------------


class Server:
    """`serve(...)` running in its own process on a free loopback port."""

    def __init__(self, code: str, *args: str, name: str, version: str):
        self.port = free_port()
        self.name = name
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, "-c", code, *args, str(self.port)],
                                     cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.banner = self._first_line(timeout=60)
        assert self.banner == (f"Serving {name}@{version} at http://127.0.0.1:{self.port}"
                               f"/v1/models/{name} (Ctrl-C to stop)"), self._failure()

    def _first_line(self, timeout: float) -> str:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        return self.proc.stdout.readline().strip() if ready else ""

    def _failure(self) -> str:
        self.proc.kill()
        return self.proc.stderr.read()

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def request(self, method: str, path: str, body: object = None,
                headers: dict | None = None) -> tuple[int, dict, object]:
        """One request on a fresh connection: status, headers and the JSON body."""
        conn = self.connect()
        try:
            data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
            conn.request(method, path, body=data, headers=headers or {})
            resp = conn.getresponse()
            raw = resp.read()
            return resp.status, dict(resp.getheaders()), json.loads(raw) if raw else None
        finally:
            conn.close()

    def predict(self, body: object, model: str | None = None) -> tuple[int, object]:
        status, _, answer = self.request("POST", f"/v1/models/{model or self.name}:predict",
                                         body)
        return status, answer

    def raw(self, data: bytes) -> tuple[int, dict, dict]:
        """Send raw bytes (a request http.client would not send) and read one response."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            sock.sendall(data)
            resp = http.client.HTTPResponse(sock)
            resp.begin()
            return resp.status, dict(resp.getheaders()), json.loads(resp.read())

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 10) -> int:
        """Send ``signum``; the exit code (what it printed on stderr is kept in ``stderr``)."""
        self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.stderr = self.proc.stderr.read()
            self.proc.stdout.close()
            self.proc.stderr.close()


def run_onnx(path: Path, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """What onnxruntime itself computes for ``feeds``: the values the server must return."""
    onnxruntime = needs("onnxruntime")

    return onnxruntime.InferenceSession(str(path)).run(None, feeds)


def make_two_in_two_out(path: Path) -> Path:
    """A real ONNX model with inputs a (float32 [batch, 3]) and count (int64 [batch, 1]) and
    outputs total = a @ W + count (float32 [batch, 2]) and doubled = 2a (float32 [batch, 3])."""
    onnx = needs("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(7).standard_normal((3, 2)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "W"], ["aw"]),
         helper.make_node("Cast", ["count"], ["count_f"], to=TensorProto.FLOAT),
         helper.make_node("Add", ["aw", "count_f"], ["total"]),
         helper.make_node("Mul", ["a", "two"], ["doubled"])],
        "two_in_two_out",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 3]),
         helper.make_tensor_value_info("count", TensorProto.INT64, ["batch", 1])],
        [helper.make_tensor_value_info("total", TensorProto.FLOAT, ["batch", 2]),
         helper.make_tensor_value_info("doubled", TensorProto.FLOAT, ["batch", 3])],
        initializer=[numpy_helper.from_array(w, "W"),
                     numpy_helper.from_array(np.array(2.0, np.float32), "two")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def make_reshaper(path: Path) -> Path:
    """A real ONNX model that reshapes ``data`` to ``shape``: it fails inside ONNX Runtime
    when the element counts differ, which is how a model fails on the server."""
    onnx = needs("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Reshape", ["data", "shape"], ["out"])], "reshaper",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["n"]),
         helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("serve-models")
    return {"linear": make_onnx(folder / "linear.onnx", 1),
            "two": make_two_in_two_out(folder / "two.onnx"),
            "reshaper": make_reshaper(folder / "reshaper.onnx")}


@pytest.fixture(scope="module")
def linear(models):
    """`m` 1.0.0 (x: float32 [batch, 4] -> y: float32 [batch, 3]) served in its own process."""
    server = Server(LINEAR_SERVER, "m", "1.0.0", str(models["linear"]), name="m",
                    version="1.0.0")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def two(models):
    """`two` 0.3.0 (two inputs, two outputs) served in its own process."""
    server = Server(LINEAR_SERVER, "two", "0.3.0", str(models["two"]), name="two",
                    version="0.3.0")
    yield server
    server.stop()


BATCH = np.array([[1.0, 2.0, 3.0, 4.0], [0.5, -1.5, 0.0, 2.25], [0, 0, 0, 0]], np.float32)


# -- status, metadata, predict ------------------------------------------------------------


def test_status_says_the_version_is_available(linear):
    status, headers, body = linear.request("GET", "/v1/models/m")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert body == {"model_version_status": [{
        "version": "1.0.0", "state": "AVAILABLE",
        "status": {"error_code": "OK", "error_message": ""}}]}
    assert linear.request("GET", "/v1/models/m/versions/1.0.0")[2] == body
    assert linear.request("GET", "/v1/models")[2] == {"models": ["m"]}
    status, headers, empty = linear.request("HEAD", "/v1/models/m")
    assert status == 200 and empty is None and int(headers["Content-Length"]) > 0


def test_metadata_is_the_signature_def(linear):
    status, _, body = linear.request("GET", "/v1/models/m/metadata")
    assert status == 200

    def info(name, size):
        return {"dtype": "DT_FLOAT", "name": name, "tensor_shape": {
            "dim": [{"size": "-1", "name": "batch"}, {"size": str(size), "name": ""}],
            "unknown_rank": False}}

    assert body == {
        "model_spec": {"name": "m", "signature_name": "", "version": "1.0.0"},
        "metadata": {"signature_def": {"signature_def": {"serving_default": {
            "inputs": {"x": info("x", 4)}, "outputs": {"y": info("y", 3)},
            "method_name": "tensorflow/serving/predict"}}}}}


def test_predict_in_row_format_gives_what_onnxruntime_gives(linear, models):
    (expected,) = run_onnx(models["linear"], {"x": BATCH})
    status, body = linear.predict({"instances": BATCH.tolist()})
    assert status == 200 and list(body) == ["predictions"]
    assert np.array_equal(np.asarray(body["predictions"], np.float32), expected)
    # instances may also name the input; integers are fine for a float input
    status, body = linear.predict({"instances": [{"x": [1, 2, 3, 4]}],
                                   "signature_name": "serving_default"})
    assert status == 200
    assert np.array_equal(np.asarray(body["predictions"], np.float32), expected[:1])


def test_predict_in_columnar_format_gives_outputs(linear, models):
    (expected,) = run_onnx(models["linear"], {"x": BATCH})
    for request in ({"inputs": BATCH.tolist()}, {"inputs": {"x": BATCH.tolist()}}):
        status, body = linear.predict(request)
        assert status == 200 and list(body) == ["outputs"]
        assert np.array_equal(np.asarray(body["outputs"], np.float32), expected)


def test_two_inputs_and_two_outputs_are_keyed_by_name(two, models):
    a = np.array([[1, 2, 3], [-1, 0.5, 4]], np.float32)
    count = np.array([[1], [7]], np.int64)
    total, doubled = run_onnx(models["two"], {"a": a, "count": count})
    status, body = two.predict({"instances": [{"a": a[i].tolist(), "count": count[i].tolist()}
                                              for i in range(2)]})
    assert status == 200
    assert [sorted(p) for p in body["predictions"]] == [["doubled", "total"]] * 2
    for i, prediction in enumerate(body["predictions"]):
        assert np.array_equal(np.asarray(prediction["total"], np.float32), total[i])
        assert np.array_equal(np.asarray(prediction["doubled"], np.float32), doubled[i])
    status, body = two.predict({"inputs": {"a": a.tolist(), "count": count.tolist()}})
    assert status == 200 and sorted(body["outputs"]) == ["doubled", "total"]
    assert np.array_equal(np.asarray(body["outputs"]["total"], np.float32), total)
    assert np.array_equal(np.asarray(body["outputs"]["doubled"], np.float32), doubled)


def test_one_connection_serves_many_requests(linear):
    conn = linear.connect()
    try:
        conn.request("GET", "/v1/models/m")
        conn.getresponse().read()
        sock = conn.sock
        bodies = [b'{"instances": [[1, 2, 3, 4]]}', b'{"instances": [[1, 2]]}', b"not json"]
        for body in bodies * 3:
            conn.request("POST", "/v1/models/m:predict", body=body)
            resp = conn.getresponse()
            resp.read()
            assert resp.status in (200, 400)
            assert conn.sock is sock, "the server closed a keep-alive connection"
    finally:
        conn.close()


# -- malformed requests: a 4xx with a JSON error, and the server keeps answering -----------

ROW = [1.0, 2.0, 3.0, 4.0]
BAD_BODIES = {
    "invalid JSON": (b'{"instances": [[1, 2', 400, "not valid JSON"),
    "a body that is not an object": ([ROW], 400, "JSON object"),
    "neither instances nor inputs": ({"rows": [ROW]}, 400, "neither"),
    "both instances and inputs": ({"instances": [ROW], "inputs": [ROW]}, 400, "both"),
    "instances not a list": ({"instances": 3}, 400, "must be a list"),
    "no instances": ({"instances": []}, 400, "empty"),
    "a wrong input name": ({"inputs": {"pixels": [ROW]}}, 400, "no input named 'pixels'"),
    "a wrong shape": ({"instances": [[1, 2, 3]]}, 400, "shape [batch, 4]"),
    "a wrong rank": ({"inputs": ROW}, 400, "the request gives [4]"),
    "text for numbers": ({"instances": [["1", "2", "3", "4"]]}, 400, "must hold numbers"),
    "null in a tensor": ({"instances": [[1, None, 3, 4]]}, 400, "must hold numbers"),
    "booleans for numbers": ({"instances": [[True, False, True, True]]}, 400, "booleans"),
    "objects in a tensor": ({"instances": [[{"v": 1}, 2, 3, 4]]}, 400, "must hold numbers"),
    "a ragged list": ({"instances": [ROW, [1, 2]]}, 400, "must not be ragged"),
    "nesting deeper than JSON allows": (b"[" * 100_000, 400, "not valid JSON"),
    "an unknown signature": ({"signature_name": "classify", "instances": [ROW]}, 400,
                             "no signature 'classify'"),
    "bad UTF-8": (b'{"instances": [[1, 2, 3, 4]], "x": "\xff"}', 400, "not valid JSON"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_a_malformed_body_gets_400_with_a_json_error(linear, case):
    body, code, needle = BAD_BODIES[case]
    status, answer = linear.predict(body)
    assert status == code, answer
    assert list(answer) == ["error"] and needle in answer["error"], answer
    assert linear.request("GET", "/v1/models/m")[0] == 200
    assert linear.predict({"instances": [ROW]})[0] == 200


TWO_BAD_BODIES = {
    "an unknown input in an instance": (
        {"instances": [{"a": [1, 2, 3], "count": [1], "extra": 1}]}, "'extra'"),
    "an instance missing an input": ({"instances": [{"a": [1, 2, 3]}]}, "missing the input"),
    "bare tensors for a two-input model": ({"instances": [[1, 2, 3]]}, "keyed by input name"),
    "a missing columnar input": ({"inputs": {"a": [[1, 2, 3]]}}, "missing the input 'count'"),
    "fractions for an integer input": (
        {"inputs": {"a": [[1, 2, 3]], "count": [[1.5]]}}, "must hold integers"),
    "batch sizes that disagree": (
        {"inputs": {"a": [[1, 2, 3], [4, 5, 6]], "count": [[1]]}}, "dimension 'batch'"),
}


@pytest.mark.parametrize("case", list(TWO_BAD_BODIES))
def test_a_malformed_request_to_a_two_input_model_gets_400(two, case):
    body, needle = TWO_BAD_BODIES[case]
    status, answer = two.predict(body)
    assert status == 400 and needle in answer["error"], answer
    assert two.predict({"inputs": {"a": [[1, 2, 3]], "count": [[1]]}})[0] == 200


@pytest.mark.parametrize("method, path, code, needle", [
    ("GET", "/v2/models/m", 404, "no such endpoint"),
    ("GET", "/v1/models/m/labels", 404, "no such endpoint"),
    ("POST", "/v1/models/m:classify", 404, "no such endpoint"),
    ("GET", "/v1/models/resnet50", 404, "no model named 'resnet50'"),
    ("POST", "/v1/models/resnet50:predict", 404, "no model named 'resnet50'"),
    ("GET", "/v1/models/m/versions/9.9.9", 404, "no version '9.9.9'"),
    ("GET", "/v1/models/m:predict", 405, "takes POST"),
    ("POST", "/v1/models/m/metadata", 405, "takes GET"),
    ("DELETE", "/v1/models/m", 405, "takes GET"),
    ("BREW", "/v1/models/m", 501, "Unsupported method"),
])
def test_a_wrong_path_model_or_method_gets_a_json_error(linear, method, path, code, needle):
    body = b'{"instances": [[1, 2, 3, 4]]}' if method == "POST" else None
    status, headers, answer = linear.request(method, path, body)
    assert status == code and needle in answer["error"], answer
    if code == 405:
        assert headers["Allow"] in ("POST", "GET, HEAD")
    assert linear.request("GET", "/v1/models/m")[0] == 200


def test_a_post_without_content_length_gets_411(linear):
    status, headers, answer = linear.raw(
        b"POST /v1/models/m:predict HTTP/1.1\r\nHost: localhost\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    assert status == 411 and "Content-Length" in answer["error"]
    assert headers["Connection"] == "close"
    assert linear.request("GET", "/v1/models/m")[0] == 200


def test_a_body_over_the_limit_gets_413_without_being_read(linear):
    # a client that waits for "100 Continue" gets the 413 instead, and sends nothing
    status, headers, answer = linear.raw(
        b"POST /v1/models/m:predict HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
        b"Content-Length: %d\r\n\r\n" % (1 << 30))
    assert status == 413 and headers["Connection"] == "close"
    too_big = (64 << 20) + 1
    status, headers, answer = linear.raw(
        b"POST /v1/models/m:predict HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Length: %d\r\n\r\n{\"instances\": [" % too_big)
    assert status == 413 and "over this server's limit" in answer["error"]
    assert headers["Connection"] == "close"
    for length in (b"lots", b"\xb2", b"-1"):
        status, _, answer = linear.raw(b"POST /v1/models/m:predict HTTP/1.1\r\nHost: x\r\n"
                                       b"Content-Length: %s\r\n\r\n" % length)
        assert status == 400 and "Content-Length" in answer["error"]
    assert linear.request("GET", "/v1/models/m")[0] == 200


PREDICT = b'{"instances": [[1, 2, 3, 4]]}'


@pytest.mark.parametrize("head, code, needle", [
    (b"POST /v1/models/m:predict HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
     b"Content-Length: 29\r\n\r\n", 200, "predictions"),
    (b"POST /v1/models/m:predict HTTP/1.0\r\nContent-Length: 29\r\n\r\n", 200,
     "predictions"),
    (b"GARBAGE\r\n\r\n", 400, "Bad request line"),
    (b"GET /v1/models/m HTTP/2.0\r\n\r\n", 505, "not supported"),
    (b"GET /v1/models/m HTTP/\xb9.1\r\n\r\n", 400, "Bad request version"),
    (b"GET /v1/models/m HTTP/1.1\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n", 431, "headers"),
    (b"GET /v1/models/m HTTP/1.1\r\nX-A: " + b"a" * 70_000 + b"\r\n\r\n", 431, "longer"),
    (b"GET /v1/models/m HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n", 400, "Bad header"),
    (b"POST /v1/models/m:predict HTTP/1.1\r\nContent-Length: 29\r\nContent-Length: 30\r\n"
     b"\r\n", 400, "Conflicting Content-Length"),
], ids=["expect 100-continue", "HTTP/1.0", "not HTTP", "HTTP/2", "a non-ASCII version",
        "too many headers",
        "a header line too long", "a folded header", "two Content-Lengths"])
def test_the_request_line_and_headers_are_parsed_strictly(linear, head, code, needle):
    status, headers, answer = linear.raw(head + (PREDICT if head.startswith(b"POST") else b""))
    assert status == code and needle in json.dumps(answer), answer
    if code == 200 and b"HTTP/1.0" in head:
        assert headers["Connection"] == "close"
    assert linear.request("GET", "/v1/models/m")[0] == 200


def test_a_model_that_fails_gets_500_and_the_server_keeps_running(models):
    server = Server(LINEAR_SERVER, "reshaper", "1.0.0", str(models["reshaper"]),
                    name="reshaper", version="1.0.0")
    try:
        status, answer = server.predict({"inputs": {"data": [1, 2, 3, 4], "shape": [2, 2]}})
        assert status == 200 and answer == {"outputs": [[1, 2], [3, 4]]}
        status, answer = server.predict({"inputs": {"data": [1, 2, 3], "shape": [2, 2]}})
        assert status == 500 and answer["error"].startswith("reshaper failed on this request")
        assert "cannot be reshaped" in answer["error"]
        assert server.predict({"inputs": {"data": [1, 2], "shape": [1, 2]}})[0] == 200
    finally:
        assert server.stop() == 0
    assert "error: reshaper failed on a request: Fail:" in server.stderr


# -- shutdown -----------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_server_cleanly(models, signum):
    server = Server(LINEAR_SERVER, "m", "1.0.0", str(models["linear"]), name="m",
                    version="1.0.0")
    idle = server.connect()  # a kept-alive connection must not hold the shutdown up
    idle.request("GET", "/v1/models/m")
    idle.getresponse().read()
    start = time.monotonic()
    code = server.stop(signum)
    idle.close()
    assert code == 0, server.stderr
    assert time.monotonic() - start < 5
    assert "Traceback" not in server.stderr
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()


# -- other runners, in-process API ----------------------------------------------------------


def test_a_torch_module_is_served_with_its_declared_signature(tmp_path):
    torch = needs("torch")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 3)

        def forward(self, x):
            if bool((x.abs() > 1e6).any()):
                raise ValueError("inputs must be below 1e6 in magnitude")
            logits = self.linear(x)
            return logits, torch.softmax(logits, dim=1)

    torch.manual_seed(0)
    path = tmp_path / "net.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated upstream
        scripted = torch.jit.script(Net().eval())
        torch.jit.save(scripted, str(path))
    signature = {"name": "main",
                 "inputs": [{"name": "x", "dtype": "float32", "shape": [None, 4]}],
                 "outputs": [{"name": "logits", "dtype": "float32", "shape": [None, 3]},
                             {"name": "probs", "dtype": "float32", "shape": [None, 3]}]}
    server = Server(TORCH_SERVER, str(path), json.dumps(signature), name="net",
                    version="2.0.0")
    try:
        with torch.inference_mode():
            logits, probs = (t.numpy() for t in scripted(torch.from_numpy(BATCH)))
        status, body = server.predict({"instances": BATCH.tolist(), "signature_name": "main"})
        assert status == 200
        got = body["predictions"]
        assert np.allclose(np.asarray([p["logits"] for p in got], np.float32), logits,
                           atol=1e-6)
        assert np.allclose(np.asarray([p["probs"] for p in got], np.float32), probs, atol=1e-6)
        status, _, meta = server.request("GET", "/v1/models/net/metadata")
        sig = meta["metadata"]["signature_def"]["signature_def"]["main"]
        assert sorted(sig["outputs"]) == ["logits", "probs"]
        assert sig["inputs"]["x"]["tensor_shape"]["dim"] == [{"size": "-1", "name": ""},
                                                             {"size": "4", "name": ""}]
        assert server.predict({"instances": [[1, 2, 3]]})[0] == 400
        status, body = server.predict({"instances": [[2e6, 0, 0, 0]]})
        assert status == 500 and "below 1e6" in body["error"]
        assert server.predict({"instances": [ROW]})[0] == 200
    finally:
        assert server.stop() == 0


def test_runner_metadata_and_predict_in_python(models):
    from mlpm.serve import OnnxRunner, RequestError

    runner = OnnxRunner("two", "0.3.0", models["two"])
    assert runner.metadata() == {
        "name": "two", "versions": ["0.3.0"], "platform": "onnxruntime",
        "inputs": [{"name": "a", "datatype": "FP32", "shape": [-1, 3]},
                   {"name": "count", "datatype": "INT64", "shape": [-1, 1]}],
        "outputs": [{"name": "total", "datatype": "FP32", "shape": [-1, 2]},
                    {"name": "doubled", "datatype": "FP32", "shape": [-1, 3]}]}
    a = np.ones((2, 3), np.float64)  # cast to the input's float32
    out = runner.predict({"a": a, "count": np.array([[1], [2]])})
    assert list(out) == ["total", "doubled"] and out["doubled"].dtype == np.float32
    with pytest.raises(RequestError, match="missing the input 'count'"):
        runner.predict({"a": a})
    with pytest.raises(ValueError, match="shape"):  # RequestError is a ValueError too
        runner.predict({"a": np.ones((2, 5)), "count": np.ones((2, 1), np.int64)})


def test_string_tensors_go_through_as_strings(tmp_path):
    onnx = needs("onnx")
    from onnx import TensorProto, helper

    from mlpm.serve import OnnxRunner, RequestError, predict_json

    graph = helper.make_graph(
        [helper.make_node("Identity", ["text"], ["same"])], "echo",
        [helper.make_tensor_value_info("text", TensorProto.STRING, ["batch"])],
        [helper.make_tensor_value_info("same", TensorProto.STRING, ["batch"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "echo.onnx"))
    runner = OnnxRunner("echo", "1.0.0", tmp_path / "echo.onnx")
    assert runner.metadata()["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    assert predict_json(runner, {"instances": ["héllo", "wörld"]}) == {
        "predictions": ["héllo", "wörld"]}
    with pytest.raises(RequestError, match="must hold strings; the request has integers"):
        predict_json(runner, {"inputs": [1, 2]})


def test_a_savedmodel_signature_is_served_in_process(tmp_path):
    """make_server in a thread, with a SavedModel signature function read by itself."""
    import threading

    tf = needs("tensorflow")
    from mlpm.serve import SavedModelRunner, make_server

    class Halver(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
        def serve(self, x):
            return {"half": x / 2.0, "total": tf.reduce_sum(x, axis=1)}

    module = Halver()
    tf.saved_model.save(module, str(tmp_path / "sm"),
                        signatures={"serving_default": module.serve})
    fn = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_default"]
    runner = SavedModelRunner("halver", "1.0.0", fn)
    assert runner.metadata()["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 2]}]
    server = make_server(runner)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert server.url == f"http://127.0.0.1:{server.server_address[1]}/v1/models/halver"
        conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
        conn.request("POST", "/v1/models/halver:predict",
                     body=json.dumps({"instances": [[1, 2], [3, 5]]}))
        resp = conn.getresponse()
        assert resp.status == 200
        assert json.loads(resp.read()) == {"predictions": [{"half": [0.5, 1.0], "total": 3.0},
                                                           {"half": [1.5, 2.5], "total": 8.0}]}
        conn.close()
    finally:
        server.shutdown()
        server.server_close()


def test_importing_mlpm_serve_imports_no_numpy_and_no_framework():
    code = ("import sys, mlpm.serve; print(sorted(m for m in ('numpy', 'onnxruntime', "
            "'torch', 'tensorflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    assert out.strip() == "[]"

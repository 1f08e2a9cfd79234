"""`mlpm serve --allow-origin`: a browser page on another origin may call the served model.

The server is the real CLI on loopback serving `digits` 1.2 from the default registry; the
requests are real HTTP with the headers a browser sends (the CORS preflight, then the POST),
and docs/serving.md's page script runs in node with the browser's CORS check done by hand
(node's fetch sends Origin but does not enforce CORS, so the test checks the headers a
browser would)."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, assert_clean_error, free_port, needs, run_mlpm

PAGE = "http://localhost:3000"  # where the page is served from
OTHER = "https://app.example.com"
OFFLINE = {"MLPM_OFFLINE": "1"}
PIXELS = [(i % 16) / 16 for i in range(64)]


class Serving:
    """`mlpm serve digits ARGS` on a free loopback port, stopped by stop()."""

    def __init__(self, project: Path, *args: str):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mlpm", "serve", "digits", "--port", str(self.port), *args],
            cwd=project, env=dict(os.environ, **OFFLINE), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        banner = self.proc.stdout.readline()
        if not banner.startswith("Serving digits@1.2."):
            self.proc.kill()
            pytest.fail(f"mlpm serve did not start: {self.proc.communicate()[1][-2000:]}")

    def request(self, method: str, path: str, headers: dict, body: object = None):
        """Status, headers (lower-case names) and raw body of one request."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            data = None if body is None else json.dumps(body).encode()
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.communicate(timeout=30)


@pytest.fixture
def digits(project):
    needs("onnxruntime")
    assert run_mlpm("init", cwd=project).code == 0
    assert run_mlpm("install", "digits@1.2", cwd=project, env=OFFLINE).code == 0
    return project


def preflight(origin: str, method: str = "POST") -> dict:
    """The headers a browser's CORS preflight of a JSON fetch carries."""
    return {"Origin": origin, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type"}


def test_pages_on_allowed_origins_get_preflight_and_answer_headers(digits):
    server = Serving(digits, "--allow-origin", PAGE, "--allow-origin", "HTTPS://App.Example.com/")
    predict = "/v1/models/digits:predict"
    try:
        status, headers, body = server.request("OPTIONS", predict, preflight(PAGE))
        assert status == 204 and body == b""
        assert headers["access-control-allow-origin"] == PAGE
        assert headers["access-control-allow-methods"] == "POST, OPTIONS"
        assert headers["access-control-allow-headers"] == "content-type"
        assert headers["access-control-max-age"] == "600"
        assert headers["vary"] == "Origin" and "content-length" not in headers

        # the actual POST: the model's answer, readable by the page
        status, headers, body = server.request(
            "POST", predict, {"Origin": PAGE, "Content-Type": "application/json"},
            {"instances": [PIXELS]})
        assert status == 200 and len(json.loads(body)["predictions"][0]) == 10
        assert headers["access-control-allow-origin"] == PAGE and headers["vary"] == "Origin"

        # the second origin, written in another case with a slash: as browsers send it
        status, headers, _ = server.request("OPTIONS", "/v1/models/digits/metadata",
                                            preflight(OTHER, "GET"))
        assert status == 204 and headers["access-control-allow-origin"] == OTHER
        assert headers["access-control-allow-methods"] == "GET, HEAD, OPTIONS"
        # an error answer is readable too, so the page can show its sentence
        status, headers, body = server.request("GET", "/v1/models/resnet", {"Origin": OTHER})
        assert status == 404 and headers["access-control-allow-origin"] == OTHER
        assert "no model named 'resnet'" in json.loads(body)["error"]

        # an origin not allowed: the preflight is refused with the fix, the answer unmarked
        status, headers, body = server.request("OPTIONS", predict,
                                               preflight("http://evil.example"))
        assert status == 403 and "access-control-allow-origin" not in headers
        assert json.loads(body)["error"] == (
            "a page on http://evil.example may not call this server (it allows "
            f"{PAGE}, {OTHER}); restart it with --allow-origin http://evil.example to let "
            "that page call it.")
        status, headers, _ = server.request("POST", predict, {"Origin": "http://evil.example"},
                                            {"instances": [PIXELS]})
        assert status == 200 and "access-control-allow-origin" not in headers
        assert headers["vary"] == "Origin"

        # no Origin: not a browser's cross-origin call; OPTIONS lists the methods
        status, headers, _ = server.request("OPTIONS", predict, {})
        assert status == 204 and headers["allow"] == "POST, OPTIONS"
        assert "access-control-allow-origin" not in headers
        status, headers, _ = server.request("POST", predict, {}, {"instances": [PIXELS]})
        assert status == 200 and "access-control-allow-origin" not in headers
        # a preflight of an unknown route is the route's 404
        status, headers, _ = server.request("OPTIONS", "/v2/models", preflight(PAGE))
        assert status == 404
    finally:
        server.stop()


def test_any_origin_with_a_star_and_none_without_the_option(digits):
    predict = "/v1/models/digits:predict"
    server = Serving(digits, "--allow-origin", "*")
    try:
        status, headers, _ = server.request("OPTIONS", predict, {
            **preflight(OTHER), "Access-Control-Request-Headers": "content-type, x-request-id"})
        assert status == 204 and headers["access-control-allow-origin"] == "*"
        assert headers["access-control-allow-headers"] == "content-type, x-request-id"
        assert "vary" not in headers  # the same answer for every page
        status, headers, _ = server.request("POST", predict, {"Origin": "null"},
                                            {"instances": [PIXELS]})
        assert status == 200 and headers["access-control-allow-origin"] == "*"
        # a header list that is not header names is not echoed
        status, headers, _ = server.request("OPTIONS", predict, {
            **preflight(OTHER), "Access-Control-Request-Headers": "a b, c"})
        assert headers["access-control-allow-headers"] == "Content-Type"
    finally:
        server.stop()

    server = Serving(digits)  # without --allow-origin: as before, plus the fix in the 405
    try:
        status, headers, body = server.request("OPTIONS", predict, preflight(PAGE))
        assert status == 405 and headers["allow"] == "POST"
        assert "access-control-allow-origin" not in headers
        assert json.loads(body)["error"] == (
            f"a page on {PAGE} asked to call {predict} (a CORS preflight), and this server "
            f"allows no other origin; restart it with --allow-origin {PAGE}.")
        status, headers, _ = server.request("OPTIONS", predict, {})
        assert status == 405
        assert json.loads(_)["error"] == f"{predict} takes POST, not OPTIONS."
        status, headers, _ = server.request("POST", predict, {"Origin": PAGE},
                                            {"instances": [PIXELS]})
        assert status == 200
        assert not [h for h in headers if h.startswith("access-control-") or h == "vary"]
    finally:
        server.stop()


@pytest.mark.parametrize("value", ["localhost:3000", "http://localhost:3000/app",
                                   "http://localhost:3000?x=1", "http://user@localhost",
                                   "http://a.example, http://b.example", "http://:80"])
def test_a_value_that_is_not_an_origin_is_bad_usage(value, project):
    result = run_mlpm("serve", "digits", "--allow-origin", value, cwd=project)
    assert_clean_error(result, 2, f"'{value}' is not an origin",
                       "scheme://host[:port] without a path")


def test_origins_are_written_as_browsers_send_them():
    from mlpm.serve.http import parse_origin

    assert parse_origin("HTTP://LocalHost:3000/") == "http://localhost:3000"
    assert parse_origin("https://app.example.com:443") == "https://app.example.com"
    assert parse_origin("http://app.example.com:8443") == "http://app.example.com:8443"
    assert parse_origin("http://[::1]:8080") == "http://[::1]:8080"
    assert parse_origin(" * ") == "*"


def test_the_cross_origin_fetch_in_the_serving_docs_passes_the_browsers_cors_check(digits):
    """docs/serving.md's page script, run in node from PAGE's origin against a server
    started with --allow-origin PAGE; the fetch is wrapped to do what a browser does
    first (the preflight) and to record both answers' headers."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("this test needs node 18+ on PATH: run `.ci/setup --tests`.")
    doc = (ROOT / "docs" / "serving.md").read_text()
    (script,) = re.findall(r'<script type="module">\n(.*?)</script>', doc, re.S)
    assert "--allow-origin" in doc and "const server = 'http://127.0.0.1:8501'" in script
    server = Serving(digits, "--allow-origin", PAGE)
    browser = f"""
        const seen = []
        const send = globalThis.fetch
        globalThis.fetch = async (url, init) => {{
          const pre = await send(url, {{ method: 'OPTIONS', headers: {{
            Origin: '{PAGE}', 'Access-Control-Request-Method': init.method,
            'Access-Control-Request-Headers': 'content-type' }} }})
          seen.push({{ status: pre.status, headers: Object.fromEntries(pre.headers) }})
          const response = await send(url, {{ ...init, headers: {{ ...init.headers,
            Origin: '{PAGE}' }} }})
          seen.push({{ status: response.status, headers: Object.fromEntries(response.headers) }})
          return response
        }}
        process.on('exit', () => console.error(JSON.stringify(seen)))
    """
    page = digits / "page.mjs"
    page.write_text(browser + script.replace("http://127.0.0.1:8501",
                                             f"http://127.0.0.1:{server.port}"))
    try:
        proc = subprocess.run([node, str(page)], capture_output=True, text=True, timeout=60)
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr[-2000:]
    (before, answer) = json.loads(proc.stderr.strip().splitlines()[-1])
    # what a browser requires before it sends the POST, and before the page may read it
    assert 200 <= before["status"] < 300
    assert before["headers"]["access-control-allow-origin"] == PAGE
    assert "POST" in before["headers"]["access-control-allow-methods"].split(", ")
    assert "content-type" in before["headers"]["access-control-allow-headers"].lower()
    assert answer["status"] == 200 and answer["headers"]["access-control-allow-origin"] == PAGE

    digit = subprocess.run([sys.executable, "-c", f"""
import mlpm, numpy as np
session = mlpm.load("digits", format="onnx")
x = np.array([{PIXELS!r}], dtype=np.float32)
print(int(session.run(None, {{session.get_inputs()[0].name: x}})[0].argmax()))
"""], cwd=digits, capture_output=True, text=True, env=dict(os.environ, **OFFLINE))
    assert digit.returncode == 0, digit.stderr[-2000:]
    assert proc.stdout.strip() == f"digit: {digit.stdout.strip()}"

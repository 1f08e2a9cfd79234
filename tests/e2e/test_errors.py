"""Every error a user can cause: one sentence naming the fix, the right exit code, no
traceback, and nothing half-written on disk."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler

import pytest

from mlpm.registry.server import RegistryServer
from tests.conftest import assert_clean_error, publish, run_mlpm


@pytest.fixture
def tiny(registry, model_files):
    for seed, version in enumerate(["1.0.0", "1.1.0", "2.0.0"], start=1):
        publish(registry.root, model_files[seed], "tiny", version)
    return registry


@pytest.fixture
def app(project, tiny):
    assert run_mlpm("init", "--registry", tiny.url, cwd=project).code == 0
    return project


def snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.mark.parametrize("spec, words", [
    ("Tiny", ["'Tiny' is not a valid package name", "lower-case"]),
    ("../etc", ["not a valid package name"]),
    ("tiny@", ["empty range", "tiny@1.2"]),
    ("tiny@>=x.y", ["'>=x.y'", "not a valid version range"]),
    ("tiny@1.2.3.4", ["not a valid version range"]),
])
def test_malformed_names_and_ranges(app, spec, words):
    before = snapshot(app)
    assert_clean_error(run_mlpm("install", spec, cwd=app), 2, *words)
    assert snapshot(app) == before


def test_unknown_package_suggests_close_names(app):
    result = run_mlpm("install", "tinny", cwd=app)
    assert_clean_error(result, 1, "no such package 'tinny'", "did you mean tiny")
    assert not (app / "mlpm.lock").exists()


def test_no_version_matches(app):
    result = run_mlpm("install", "tiny@^3", cwd=app)
    assert_clean_error(result, 1, "no version of tiny matches ^3", "1.0.0, 1.1.0, 2.0.0")


def test_unreachable_registry(project):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    url = f"http://127.0.0.1:{port}/"
    assert run_mlpm("init", "--registry", url, cwd=project).code == 0
    before = snapshot(project)
    result = run_mlpm("install", "tiny", cwd=project)
    assert_clean_error(result, 1, f"cannot reach {url}", "connection refused")
    assert snapshot(project) == before


class Failing(BaseHTTPRequestHandler):
    """A registry that answers 500 for index files and 404 for everything else."""

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        code = 500 if self.path.startswith("/index/") else 404
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_http_500_is_retried_then_reported(project, tmp_path):
    server = RegistryServer(tmp_path, handler=Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert run_mlpm("init", "--registry", server.url, cwd=project).code == 0
        result = run_mlpm("install", "tiny", cwd=project)
        assert_clean_error(result, 1, "HTTP 500", "after 4 attempts")
        assert not (project / "mlpm.lock").exists()
    finally:
        server.shutdown()
        server.server_close()


def test_missing_artifact_404_is_reported(app, tiny):
    for blob in (tiny.root / "artifacts").rglob("*"):
        if blob.is_file():
            blob.unlink()
    result = run_mlpm("install", "tiny", cwd=app)
    assert_clean_error(result, 1, "HTTP 404", "republish")
    assert not (app / "mlpm.lock").exists()


def test_load_of_a_package_not_in_the_project(app):
    code = ("import mlpm\n"
            "try:\n    mlpm.load('tiny')\n"
            "except mlpm.MlpmError as e:\n    print(type(e).__name__, '|', e)\n")
    assert run_mlpm("install", "tiny@1.0", cwd=app).code == 0
    out = subprocess.run([sys.executable, "-c", code.replace("'tiny'", "'other'")], cwd=app,
                         capture_output=True, text=True).stdout
    assert out.startswith("NotInstalled |") and "mlpm install other" in out
    # The exception is also a LookupError, for callers who catch builtins.
    from mlpm.errors import NotInstalled

    assert issubclass(NotInstalled, LookupError)


def test_commands_outside_a_project(tmp_path):
    result = run_mlpm("install", "tiny", cwd=tmp_path)
    assert_clean_error(result, 1, "no mlpm project", "mlpm init")


def test_init_twice(project):
    assert run_mlpm("init", cwd=project).code == 0
    assert_clean_error(run_mlpm("init", cwd=project), 1, "already")


@pytest.mark.parametrize("args", [["install", "--frobnicate"], ["remove"], ["nonsense"],
                                  ["publish", "x.onnx"]])
def test_bad_usage_exits_2(project, args):
    result = run_mlpm(*args, cwd=project)
    assert result.code == 2, (result.code, result.err)
    assert "Traceback" not in result.err and "Usage:" in result.err


def test_remove_what_is_not_installed(app):
    assert_clean_error(run_mlpm("remove", "tiny", cwd=app), 1, "not a dependency")


def test_publish_refusals(registry, model_files, tmp_path):
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"x")
    assert_clean_error(run_mlpm("publish", str(bad), "--registry", str(registry.root),
                                "--name", "x", "--version", "1.0.0", cwd=tmp_path),
                       1, "cannot tell the format")
    assert_clean_error(run_mlpm("publish", str(model_files[1]), "--registry",
                                str(registry.root), "--name", "x", "--version", "1.0",
                                cwd=tmp_path), 1, "'1.0' is not a valid version")
    fake = tmp_path / "fake.onnx"
    fake.write_bytes(b"not onnx at all")
    assert_clean_error(run_mlpm("publish", str(fake), "--registry", str(registry.root),
                                "--name", "x", "--version", "1.0.0", cwd=tmp_path),
                       1, "is not an ONNX model")
    assert_clean_error(run_mlpm("publish", str(model_files[1]), "--registry",
                                str(registry.root), "--name", "x", "--version", "1.0.0",
                                "--depends", "ghost@^1", cwd=tmp_path),
                       1, "ghost, which is not in the registry")
    publish(registry.root, model_files[1], "x", "1.0.0")
    assert_clean_error(run_mlpm("publish", str(model_files[2]), "--registry",
                                str(registry.root), "--name", "x", "--version", "1.0.0",
                                cwd=tmp_path), 1, "already published", "1.0.1")


def test_every_command_has_help_with_an_example(tmp_path):
    commands = [["init"], ["install"], ["upgrade"], ["remove"], ["outdated"], ["list"],
                ["tree"], ["why"], ["info"], ["search"], ["publish"], ["yank"],
                ["registry", "serve"]]
    for command in commands:
        result = run_mlpm(*command, "--help", cwd=tmp_path)
        assert result.code == 0, command
        assert "Example" in result.out and f"mlpm {command[0]}" in result.out, command


def test_import_mlpm_imports_no_framework():
    code = ("import sys, mlpm, mlpm.cli, mlpm.ops.install, mlpm.loading\n"
            "print(sorted(m for m in ('torch', 'tensorflow', 'onnxruntime', 'onnx',"
            " 'tensorflow_hub', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_fast_help_is_exactly_what_click_renders(tmp_path):
    from mlpm.cli.commands import render_help

    fast = run_mlpm("--help", cwd=tmp_path)
    assert fast.code == 0
    assert fast.out == render_help(), "run `python -m mlpm.cli.commands` to refresh help.txt"

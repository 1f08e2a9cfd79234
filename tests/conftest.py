"""Shared fixtures: an isolated home and cache, a real registry served on 127.0.0.1,
small real models built here, and a way to run the `mlpm` command as a user would."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mlpm.registry.server import RegistryRequestHandler, RegistryServer
from tests.models import make_onnx

ROOT = Path(__file__).resolve().parents[1]
MLPM = [sys.executable, "-m", "mlpm"]

# The extra that installs each optional module the tests use (pyproject.toml).
EXTRAS = {"numpy": "onnx", "onnx": "onnx", "onnxruntime": "onnx", "torch": "torch",
          "tensorflow": "tensorflow", "tensorflow_hub": "tensorflow", "tf2onnx": "convert",
          "onnxscript": "convert", "hypothesis": "dev"}


def needs(module: str):
    """Import ``module``, or skip the test (or the module, at its top) saying what to install.
    CI installs every extra, so nothing skips there; a partial environment skips instead
    of erroring."""
    return pytest.importorskip(
        module, reason=f"needs {module}: pip install 'mlpm[{EXTRAS[module]}]'")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test gets its own cache, home and framework caches; nothing leaks into ~."""
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "HOME": str(home),
        "MLPM_CACHE_DIR": str(tmp_path / "cache"),
        "TORCH_HOME": str(home / "torch"),
        "TFHUB_CACHE_DIR": str(home / "tfhub"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "MLPM_NO_PROGRESS": "1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("MLPM_REGISTRY", "MLPM_OFFLINE", "MLPM_DEBUG"):
        monkeypatch.delenv(key, raising=False)
    return tmp_path


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self):
        return json.loads(self.out)


def run_mlpm(*args: str, cwd: Path, env: dict[str, str] | None = None,
             timeout: float = 120) -> Result:
    """Run `python -m mlpm ARGS` in a fresh process, as a user's shell would."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run([*MLPM, *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def assert_clean_error(result: Result, code: int = 1, *needles: str) -> None:
    """A user error: the exit code, one 'error:' sentence, the given words, no traceback."""
    assert result.code == code, (result.code, result.out, result.err)
    assert "Traceback" not in result.err and "Traceback" not in result.out, result.err
    assert result.err.strip(), "an error must say something on stderr"
    for needle in needles:
        assert needle in result.err, (needle, result.err)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (for a server the test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Served:
    """A registry directory served over real HTTP on loopback, with a request log."""

    root: Path
    url: str
    requests: list[tuple[str, str, dict]] = field(default_factory=list)
    server: RegistryServer | None = None

    def paths(self, prefix: str = "") -> list[str]:
        return [p for _, p, _ in self.requests if p.startswith(prefix)]


def serve_registry(root: Path, handler=RegistryRequestHandler):
    root.mkdir(parents=True, exist_ok=True)
    served = Served(root, "")

    class Logging(handler):
        def send_response(self, code, message=None):
            served.requests.append((self.command, self.path, dict(self.headers)))
            super().send_response(code, message)

    server = RegistryServer(root, "127.0.0.1", 0, handler=Logging)
    served.server = server
    served.url = server.url
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return served


@pytest.fixture
def registry(tmp_path):
    """An empty registry folder served on http://127.0.0.1:<free port>/."""
    from mlpm.registry import init_registry_dir

    root = tmp_path / "registry"
    init_registry_dir(root)
    served = serve_registry(root)
    yield served
    served.server.shutdown()
    served.server.server_close()


@pytest.fixture
def project(tmp_path):
    """A fresh, empty folder for a user's project."""
    folder = tmp_path / "app"
    folder.mkdir()
    return folder


# -- small real models (built by tests/models.py) --------------------------------------


@pytest.fixture(scope="session")
def model_files(tmp_path_factory):
    """ONNX models with different weights, one per seed 1-7, built once per session; keys
    13 and 23 are seed 3's weights in files whose metadata differs (a PATCH release)."""
    needs("onnx")
    folder = tmp_path_factory.mktemp("models")
    files = {seed: make_onnx(folder / f"linear-{seed}.onnx", seed) for seed in range(1, 8)}
    files[13] = make_onnx(folder / "linear-3-doc.onnx", 3, doc="clearer documentation")
    files[23] = make_onnx(folder / "linear-3-doc2.onnx", 3, doc="documentation, again")
    return files


def publish(registry_root: Path, file: Path, name: str, version: str, *depends: str,
            cwd: Path | None = None) -> Result:
    args = ["publish", str(file), "--registry", str(registry_root), "--name", name,
            "--version", version]
    for dep in depends:
        args += ["--depends", dep]
    result = run_mlpm(*args, cwd=cwd or registry_root.parent)
    assert result.code == 0, result.err
    return result

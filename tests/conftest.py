"""Shared fixtures: an isolated home and cache, a real registry served on 127.0.0.1,
small real models built here, and a way to run the `mlpm` command as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mlpm.registry.server import RegistryRequestHandler, RegistryServer

ROOT = Path(__file__).resolve().parents[1]
MLPM = [sys.executable, "-m", "mlpm"]


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


# -- small real models -----------------------------------------------------------------


def make_onnx(path: Path, weights_seed: int, inputs: int = 4, outputs: int = 3,
              input_name: str = "x", output_name: str = "y", doc: str = "") -> Path:
    """A real ONNX linear model y = x @ W + b, runnable by onnxruntime."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(weights_seed)
    w = rng.standard_normal((inputs, outputs)).astype(np.float32)
    b = rng.standard_normal(outputs).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", [input_name, "W"], ["xw"]),
         helper.make_node("Add", ["xw", "B"], [output_name])],
        "linear",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", inputs])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["batch", outputs])],
        initializer=[numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], doc_string=doc)
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def make_torchscript(path: Path, weights_seed: int, inputs: int = 4, outputs: int = 3) -> Path:
    """A real TorchScript module (a Linear layer) saved with torch.jit.save."""
    import warnings

    import torch

    torch.manual_seed(weights_seed)
    module = torch.nn.Linear(inputs, outputs).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.trace(module, torch.zeros(1, inputs))
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.jit.save(scripted, str(path))
    return path


@pytest.fixture(scope="session")
def model_files(tmp_path_factory):
    """ONNX models with different weights, one per seed 1-7, built once per session; keys
    13 and 23 are seed 3's weights in files whose metadata differs (a PATCH release)."""
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

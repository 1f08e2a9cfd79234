"""Small real models, built here for the tests and the benchmarks (benchmarks/_harness.py
imports this module with the repository root on sys.path): linear ONNX and TorchScript
models for packages, a PyTorch Hub package (hub code + weights), and the models
tests/unit/test_convert.py converts.

Frameworks are imported inside each builder only, so importing this module needs none; a
subprocess imports it to show that a cached conversion needs no framework.
"""

from __future__ import annotations

import hashlib
import importlib
import sys
import textwrap
from pathlib import Path


def _framework(module: str):
    """Import ``module``. Under pytest a missing one skips the test, saying what to install
    (tests/conftest.py ``needs``); a benchmark gets the ImportError."""
    if "pytest" in sys.modules:
        from tests.conftest import needs

        return needs(module)
    return importlib.import_module(module)


def make_onnx(path: Path, weights_seed: int, inputs: int = 4, outputs: int = 3,
              input_name: str = "x", output_name: str = "y", doc: str = "") -> Path:
    """A real ONNX linear model y = x @ W + b, runnable by onnxruntime."""
    np = _framework("numpy")
    onnx = _framework("onnx")
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

    torch = _framework("torch")

    torch.manual_seed(weights_seed)
    module = torch.nn.Linear(inputs, outputs).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.trace(module, torch.zeros(1, inputs))
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.jit.save(scripted, str(path))
    return path


# -- models that tests/unit/test_convert.py converts ----------------------------------------------

CNN_SIGNATURE = {
    "name": "forward",
    "inputs": [{"name": "pixels", "dtype": "float32", "shape": ["batch", 1, 8, 8]}],
    "outputs": [{"name": "logits", "dtype": "float32", "shape": ["batch", 3]}],
}
CNN_DIGEST = "sha256:" + "c" * 64  # stands for sha256(artifacts + entrypoint + kwargs)


def cnn(seed: int = 0):
    """Conv2d -> ReLU -> max-pool -> Linear on [batch, 1, 8, 8] images: 3 class scores."""
    torch = _framework("torch")
    from torch import nn

    class SmallCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1)
            self.pool = nn.MaxPool2d(2)
            self.fc = nn.Linear(4 * 4 * 4, 3)

        def forward(self, pixels):
            return self.fc(torch.flatten(self.pool(torch.relu(self.conv(pixels))), 1))

    torch.manual_seed(seed)
    return SmallCNN().eval()


def data_dependent():
    """A module whose Python control flow depends on the input's values: torch.export
    cannot capture it, and a trace would silently keep one branch."""
    torch = _framework("torch")

    class Branchy(torch.nn.Module):
        def forward(self, pixels):
            if pixels.sum() > 0:
                return pixels * 2
            return pixels - 1

    return Branchy().eval()


def text_output():
    """A module that returns a string: nothing a converted model could return."""
    torch = _framework("torch")

    class Talker(torch.nn.Module):
        def forward(self, pixels):
            return "a cat"

    return Talker().eval()


def save_torchscript(path: Path) -> Path:
    import warnings

    torch = _framework("torch")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript is deprecated upstream
        torch.jit.save(torch.jit.trace(cnn(), torch.zeros(2, 1, 8, 8)), str(path))
    return path


def save_exported_program(path: Path) -> Path:
    torch = _framework("torch")

    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(cnn(), (torch.zeros(2, 1, 8, 8),),
                                  dynamic_shapes=({0: batch},), strict=False)
    torch.export.save(program, str(path))
    return path


def save_savedmodel(folder: Path, seed: int = 0) -> Path:
    """A SavedModel with two signatures: class scores, and a feature vector."""
    np = _framework("numpy")
    tf = _framework("tensorflow")

    class Model(tf.Module):
        def __init__(self):
            rng = np.random.default_rng(seed)
            self.w = tf.Variable(rng.standard_normal((4, 3)).astype("float32"))
            self.f = tf.Variable(rng.standard_normal((4, 2)).astype("float32"))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def serving_default(self, x):
            return {"scores": tf.nn.softmax(x @ self.w)}

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def features(self, x):
            return {"embedding": tf.nn.relu(x @ self.f)}

    model = Model()
    tf.saved_model.save(model, str(folder),
                        signatures={"serving_default": model.serving_default,
                                    "features": model.features})
    return folder


# -- a PyTorch Hub package (tests/e2e/test_hub_packages.py, test_code_digest.py) -------------

HUBCONF = '''
"""A small hub repo written the way public ones are."""
import torch

from models import TinyNet
from models import build_cnn as tiny_cnn

dependencies = ["torch"]

WEIGHTS = "https://models.example.org/tiny/tiny_net-{prefix}.pth"


def _load(model, url):
    state = torch.hub.load_state_dict_from_url(url, progress=False, map_location="cpu")
    model.load_state_dict(state)
    return model.eval()


def tiny_net(pretrained=True, hidden=8):
    """A two-layer MLP for 4 features and 3 classes."""
    model = TinyNet(hidden)
    return _load(model, WEIGHTS) if pretrained else model


def tiny_net_raw(*, scale: float = 1.0, **kwargs):
    """tiny_net without pretrained weights."""
    return TinyNet(**kwargs)
'''

MODELS = '''
import torch


class TinyNet(torch.nn.Module):
    """The network behind tiny_net."""

    def __init__(self, hidden=8):
        super().__init__()
        self.a = torch.nn.Linear(4, hidden)
        self.b = torch.nn.Linear(hidden, 3)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


def build_cnn(channels=2):
    """Re-exported as tiny_cnn."""
    return torch.nn.Conv1d(1, channels, 3)
'''


def make_hub_package(folder: Path, version: str = "1.0.0", seed: int = 0,
                     extra_hubconf: str = "") -> tuple[Path, Path]:
    """A package dir: hub/ (hubconf.py + models.py), the weights file, and mlpm.toml."""
    torch = _framework("torch")

    hub = folder / "hub"
    hub.mkdir(parents=True)
    (hub / "models.py").write_text(MODELS)
    torch.manual_seed(seed)
    namespace: dict = {}
    exec(compile(MODELS, "models.py", "exec"), namespace)  # noqa: S102 (the test's own code)
    net = namespace["TinyNet"](8)
    weights = folder / "weights.pth"
    torch.save(net.state_dict(), weights)
    prefix = hashlib.sha256(weights.read_bytes()).hexdigest()[:8]
    final = folder / f"tiny_net-{prefix}.pth"
    weights.rename(final)
    (hub / "hubconf.py").write_text(HUBCONF.replace("{prefix}", prefix) + extra_hubconf)
    (folder / "mlpm.toml").write_text(textwrap.dedent(f'''
        [package]
        name = "tinyhub"
        version = "{version}"
        framework = "torch"
        kind = "torch-hub"
        description = "A tiny hub package"
        license = "MIT"

        [package.upstream]
        type = "torch-hub"
        repo = "example/tinyhub"
        entrypoint = "tiny_net"

        [[package.artifacts]]
        format = "torch-hub"
        role = "code"
        file = "hub"

        [[package.artifacts]]
        format = "torch-hub"
        role = "weights"
        file = "{final.name}"
        upstream = "https://models.example.org/tiny/{final.name}"

        [package.interface]
        default-entrypoint = "tiny_net"
    '''))
    return final, hub

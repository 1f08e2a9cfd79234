"""New code with the same weights and interface is MINOR: publish reads the computation.

An ONNX graph with another operator, TorchScript or an exported program whose forward
changed, or a hub repo whose Python changed, keeps its weights digest and its
signatures. Each must still be refused as a PATCH, while a re-export, new doc strings or
reformatted hub code stay a PATCH.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import assert_clean_error, needs, publish, run_mlpm
from tests.models import make_hub_package, make_onnx


def _refused(registry, file: Path, name: str, version: str):
    return run_mlpm("publish", str(file), "--registry", str(registry.root), "--name", name,
                    "--version", version, cwd=registry.root.parent)


def _records(registry, name: str) -> list[dict]:
    path = registry.root / "index" / name[:2] / name[2:4] / name
    return [json.loads(line) for line in path.read_text().splitlines()]


def _onnx_variant(source: Path, target: Path, *, activation: str | None = None,
                  renamed: bool = False) -> Path:
    """The same weights and signature: with the output passed through ``activation``, or
    with new doc strings and node names only (what a re-export does)."""
    onnx = needs("onnx")
    from onnx import helper

    model = onnx.load(str(source))
    graph = model.graph
    if activation:
        out = graph.node[-1].output[0]
        graph.node[-1].output[0] = "pre_act"
        graph.node.append(helper.make_node(activation, ["pre_act"], [out]))
    if renamed:
        model.doc_string = "re-exported, with docs"
        for i, node in enumerate(graph.node):
            node.name = f"renamed_{i}"
            node.doc_string = "a node"
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
    return target


def test_an_onnx_graph_change_with_the_same_weights_needs_a_minor(registry, tmp_path):
    base = make_onnx(tmp_path / "v1.onnx", 1)
    assert publish(registry.root, base, "tiny", "1.0.0").code == 0
    redone = _onnx_variant(base, tmp_path / "redoc.onnx", renamed=True)
    assert publish(registry.root, redone, "tiny", "1.0.1").code == 0  # docs only: a patch

    relu = _onnx_variant(base, tmp_path / "relu.onnx", activation="Relu")
    result = _refused(registry, relu, "tiny", "1.0.2")
    assert_clean_error(result, 1, "new code: the model computes differently", "1.1.0")
    assert "new weights" not in result.err  # same initializers
    assert publish(registry.root, relu, "tiny", "1.1.0").code == 0
    records = _records(registry, "tiny")
    assert [r["version"] for r in records] == ["1.0.0", "1.0.1", "1.1.0"]
    assert records[0]["code"] == records[1]["code"] != records[2]["code"]
    assert records[0]["weights"] == records[2]["weights"]

    diff = run_mlpm("diff", "tiny@1.0.1", "tiny@1.1.0", "--registry", str(registry.root),
                    cwd=tmp_path)
    assert diff.code == 0 and "new code" in diff.out, diff.out


def test_published_graphs_really_differ_where_the_digest_says(tmp_path):
    np = needs("numpy")
    ort = needs("onnxruntime")

    base = make_onnx(tmp_path / "v1.onnx", 1)
    sigmoid = _onnx_variant(base, tmp_path / "sig.onnx", activation="Sigmoid")
    redone = _onnx_variant(base, tmp_path / "redoc.onnx", renamed=True)
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)

    def run(path):
        return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]) \
            .run(None, {"x": x})[0]

    from mlpm.interface.onnx import graph_digest

    assert np.array_equal(run(base), run(redone)) and graph_digest(base) == graph_digest(redone)
    assert not np.allclose(run(base), run(sigmoid))
    assert graph_digest(base) != graph_digest(sigmoid)


def _torch_files(tmp_path: Path, fmt: str) -> dict[str, Path]:
    """Three saves of one set of weights: twice the same forward (the second traced in
    the same process, so TorchScript mangles its class names), once a sigmoid forward."""
    import warnings

    torch = needs("torch")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(4, 3)

        def forward(self, x):
            return torch.relu(self.fc(x))

    class Other(Net):
        def forward(self, x):
            return torch.sigmoid(self.fc(x))

    torch.manual_seed(0)
    net = Net()
    other = Other()
    other.load_state_dict(net.state_dict())
    x = torch.ones(2, 4)
    files = {}
    for label, module in (("a", net), ("b", net), ("c", other)):
        path = tmp_path / f"{label}.{'pt' if fmt == 'torchscript' else 'pt2'}"
        if fmt == "torchscript":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.jit.save(torch.jit.trace(module, x), str(path))
        else:
            torch.export.save(torch.export.export(module, (x,)), str(path))
        files[label] = path
    return files


@pytest.mark.parametrize("fmt", ["torchscript", "exported-program"])
def test_new_torch_code_with_the_same_weights_needs_a_minor(registry, tmp_path, fmt):
    files = _torch_files(tmp_path, fmt)
    assert publish(registry.root, files["a"], "net", "1.0.0").code == 0
    assert publish(registry.root, files["b"], "net", "1.0.1").code == 0  # saved again: patch
    result = _refused(registry, files["c"], "net", "1.0.2")
    assert_clean_error(result, 1, "new code", "1.1.0")
    assert "new weights" not in result.err
    assert publish(registry.root, files["c"], "net", "1.1.0").code == 0


def test_hub_python_changes_need_a_minor_but_comments_and_docstrings_do_not(registry,
                                                                             tmp_path):
    make_hub_package(tmp_path / "v1")
    assert run_mlpm("publish", str(tmp_path / "v1"), "--registry", str(registry.root),
                    cwd=tmp_path).code == 0

    def variant(label: str, version: str, edit) -> Path:
        folder = tmp_path / label
        shutil.copytree(tmp_path / "v1", folder)
        manifest = folder / "mlpm.toml"
        manifest.write_text(manifest.read_text().replace('"1.0.0"', f'"{version}"'))
        models = folder / "hub" / "models.py"
        models.write_text(edit(models.read_text()))
        return folder

    cosmetic = variant("docs", "1.0.1", lambda text: "# reformatted, documented\n" + text
                       .replace('"""The network behind tiny_net."""', '"""Better words."""')
                       .replace("return self.b(torch.relu(self.a(x)))",
                                "return self.b(  torch.relu(self.a(x))  )  # same"))
    assert run_mlpm("publish", str(cosmetic), "--registry", str(registry.root),
                    cwd=tmp_path).code == 0
    changed = variant("code", "1.0.2", lambda text: text.replace("torch.relu", "torch.tanh"))
    result = run_mlpm("publish", str(changed), "--registry", str(registry.root), cwd=tmp_path)
    assert_clean_error(result, 1, "new code", "1.1.0")
    records = _records(registry, "tinyhub")
    assert records[0]["code"] == records[1]["code"]

"""mlpm.convert.js: tensors go to onnxruntime-node and come back exact (every dtype the
check feeds), each torch route converts to js checked in node, and a runtime that is
missing, too old or too slow is one sentence. onnxruntime-node is tests/js's."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import needs

np = needs("numpy")
onnx = needs("onnx")

NODE_MODULES = Path(__file__).resolve().parents[1] / "js" / "node_modules"
DTYPES = {"float32": 1, "float64": 11, "int64": 7, "int32": 6, "uint8": 2, "bool": 9,
          "float16": 10}


@pytest.fixture
def store(tmp_path):
    from mlpm.store import Store

    return Store(tmp_path / "cache")


@pytest.fixture(autouse=True)
def onnxruntime_node(monkeypatch):
    if shutil.which("node") is None or not (NODE_MODULES / "onnxruntime-node").is_dir():
        pytest.fail("these tests need node and tests/js/node_modules: run `.ci/setup --tests`.")
    monkeypatch.setenv("MLPM_NODE_MODULES", str(NODE_MODULES))
    for key in ("MLPM_NODE", "MLPM_JS_TIMEOUT"):
        monkeypatch.delenv(key, raising=False)


def identity_model(path: Path) -> Path:
    """One Identity per dtype: input ``in_<dtype>`` -> output ``out_<dtype>``, any shape."""
    from onnx import helper

    inputs = [helper.make_tensor_value_info(f"in_{d}", code, None) for d, code in DTYPES.items()]
    outputs = [helper.make_tensor_value_info(f"out_{d}", code, None)
               for d, code in reversed(DTYPES.items())]
    nodes = [helper.make_node("Identity", [f"in_{d}"], [f"out_{d}"]) for d in DTYPES]
    graph = helper.make_graph(nodes, "identity", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_every_dtype_goes_to_node_and_comes_back_exact(tmp_path):
    from mlpm.convert.js import run_samples, runtime

    rng = np.random.default_rng(0)
    samples = [{f"in_{d}": (rng.random(shape) * 100).astype(np.bool_ if d == "bool" else d)
                for d in DTYPES} for shape in ([2, 3], [1, 4, 2], [])]
    samples[0]["in_int64"][0, 0] = -(2 ** 62)  # beyond a double's exact integers
    found = runtime()
    assert found.versions["onnxruntime-node"] == "1.30.0"
    results = run_samples(found, identity_model(tmp_path / "id.onnx"), samples, "id@1.0.0")

    for sample, outputs in zip(samples, results, strict=True):
        assert list(outputs) == [f"out_{d}" for d in reversed(DTYPES)]  # the model's order
        for d in DTYPES:
            got, want = outputs[f"out_{d}"], sample[f"in_{d}"]
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got, want)


def test_a_model_node_cannot_run_is_refused_with_its_reason(tmp_path):
    from mlpm.convert.js import run_samples, runtime
    from mlpm.errors import ConversionError

    sample = {f"in_{d}": np.zeros([1], dtype=np.bool_ if d == "bool" else d) for d in DTYPES}
    del sample["in_float16"]  # a required input left out
    with pytest.raises(ConversionError, match="onnxruntime-node cannot run the js conversion of "
                                              "id@1.0.0: .*in_float16"):
        run_samples(runtime(), identity_model(tmp_path / "id.onnx"), [sample], "id@1.0.0")


def test_too_slow_or_missing_runtime_is_one_sentence(tmp_path, monkeypatch):
    from mlpm.convert.js import run_samples, runtime
    from mlpm.errors import ConversionError

    sample = {f"in_{d}": np.zeros([1], dtype=np.bool_ if d == "bool" else d) for d in DTYPES}
    monkeypatch.setenv("MLPM_JS_TIMEOUT", "0.001")
    with pytest.raises(ConversionError, match=r"did not finish running the js conversion of "
                                              r"id@1.0.0 on a sample within 0.001 s; set "
                                              r"MLPM_JS_TIMEOUT"):
        run_samples(runtime(), identity_model(tmp_path / "id.onnx"), [sample], "id@1.0.0")
    monkeypatch.setenv("MLPM_JS_TIMEOUT", "soon")
    with pytest.raises(ConversionError, match="MLPM_JS_TIMEOUT=soon is not a number"):
        run_samples(runtime(), tmp_path / "id.onnx", [sample], "id@1.0.0")

    monkeypatch.setenv("MLPM_NODE_MODULES", str(tmp_path))
    with pytest.raises(ConversionError) as err:
        runtime()
    assert str(err.value) == (
        f"the js context checks conversions in onnxruntime-node, and MLPM_NODE_MODULES "
        f"({tmp_path}) has no onnxruntime-node; install node 18+ and the npm package "
        "onnxruntime-node (`npm install onnxruntime-node` in the application's folder, or set "
        "MLPM_NODE_MODULES to a node_modules folder that has it).")


@pytest.mark.parametrize("kind", ["torch", "torchscript", "exported-program"])
def test_torch_routes_to_js_are_checked_in_node(kind, store, tmp_path):
    needs("torch")
    needs("onnxscript")
    from mlpm.convert import Source, convert
    from mlpm.convert.js import run_samples, runtime
    from tests import models

    if kind == "torch":
        source = Source("torch", models.CNN_DIGEST, load_module=models.cnn,
                        signatures=[models.CNN_SIGNATURE], label="cnn@1.0.0")
    elif kind == "torchscript":
        file = models.save_torchscript(tmp_path / "cnn.pt")
    else:
        file = models.save_exported_program(tmp_path / "cnn.pt2")
    if kind != "torch":
        source = Source(kind, "sha256:" + kind.encode().hex().ljust(64, "0")[:64], path=file,
                        signatures=[models.CNN_SIGNATURE], label=f"cnn@1.0.0 ({kind})")
    conv = convert(source, "js", store=store)
    assert conv.format == "js" and conv.path.name == "model.onnx"
    assert conv.parity["runtime"]["onnxruntime-node"] == "1.30.0"
    assert conv.parity["samples"] == 2 and conv.parity["max_abs"] <= 1e-4
    assert "onnxruntime" not in conv.converter  # made as ONNX is; checked in node

    import torch

    pixels = np.random.default_rng(7).random((3, 1, 8, 8), dtype=np.float32)
    (outputs,) = run_samples(runtime(), conv.path, [{"pixels": pixels}], "cnn")
    with torch.no_grad():
        expected = models.cnn()(torch.from_numpy(pixels)).numpy()
    np.testing.assert_allclose(next(iter(outputs.values())), expected, atol=1e-5)


def test_one_node_process_runs_every_sample_and_ends_with_the_session(tmp_path):
    import gc

    from mlpm.convert.js import Session, run_samples, runner, runtime

    model = identity_model(tmp_path / "id.onnx")
    samples = [{f"in_{d}": np.full([n], n, dtype=np.bool_ if d == "bool" else d)
                for d in DTYPES} for n in (1, 2, 3)]
    with Session(runtime(), model, "id@1.0.0") as session:
        pid, folder = session._proc.pid, session.folder
        for sample in samples:
            outputs = session.run(sample)
            np.testing.assert_array_equal(outputs["out_int64"], sample["in_int64"])
            assert session._proc.pid == pid and session._proc.poll() is None  # the same node
        assert sorted(p.name for p in folder.iterdir() if p.suffix == ".bin") == []
    assert session._proc.poll() == 0 and not folder.exists()  # node ended, folder gone

    # a runner's calls share one session too; dropping the runner ends its node process
    run = runner(model, "id@1.0.0", named=True)
    first = run(samples[0])
    cells = dict(zip(run.__code__.co_freevars, run.__closure__, strict=True))
    (session,) = cells["session"].cell_contents  # the runner's one Session
    proc = session._proc
    assert list(run(samples[1])) == list(first) and session._proc is proc
    del run, session, cells
    gc.collect()
    assert proc.wait(timeout=10) == 0

    # run_samples: one process for the whole list, answers in order
    results = run_samples(runtime(), model, samples, "id@1.0.0")
    assert [r["out_float32"].shape for r in results] == [(1,), (2,), (3,)]

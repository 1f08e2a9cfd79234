"""Format conversion: every route on small real models built here, parity-checked, cached
as store entries, reused without converting again, rebuilt when damaged, refused with
the numbers or the converter's reason, and safe when two processes convert at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from mlpm.convert import (
    CONTEXTS,
    ROUTES,
    ConversionError,
    ParityError,
    Source,
    check_route,
    convert,
    formats_for_context,
)
from mlpm.store import Store, file_sha256
from tests import models
from tests.conftest import ROOT, needs
from tests.models import make_onnx

np = needs("numpy")
torch = needs("torch")
ort = needs("onnxruntime")


def _isolated_env(folder: Path) -> dict[str, str]:
    home = folder / "home"
    home.mkdir(parents=True, exist_ok=True)
    return {"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"),
            "TORCH_HOME": str(home / "torch"), "TF_CPP_MIN_LOG_LEVEL": "3"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Model files built once for the module: TorchScript, exported program, SavedModel."""
    folder = tmp_path_factory.mktemp("convert-models")
    with pytest.MonkeyPatch.context() as mp:  # frameworks must not write into the real ~
        for key, value in _isolated_env(folder).items():
            mp.setenv(key, value)
        return {"torchscript": models.save_torchscript(folder / "cnn.pt"),
                "exported-program": models.save_exported_program(folder / "cnn.pt2"),
                "savedmodel": models.save_savedmodel(folder / "savedmodel")}


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "cache")


def cnn_source(**changes) -> Source:
    options = {"load_module": models.cnn, "signatures": [models.CNN_SIGNATURE],
               "label": "cnn@1.0.0", **changes}
    return Source("torch", models.CNN_DIGEST, **options)


def savedmodel_source(files) -> Source:
    return Source("savedmodel", "sha256:" + "5" * 64, path=files["savedmodel"],
                  label="tfmodel@1.0.0")


def entries(store: Store) -> list[str]:
    return sorted(p.name for p in (store.root / "entries" / "converted").iterdir())


def run_converted(fmt: str, path: Path, pixels: np.ndarray) -> np.ndarray:
    """Run a converted file as its user would, with that format's own runtime."""
    if fmt == "onnx":
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {"pixels": pixels})[0]
    if fmt == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = torch.jit.load(str(path))
    else:
        module = torch.export.load(str(path)).module()
    with torch.no_grad():
        return module(torch.from_numpy(pixels)).numpy()


# -- contexts and routes: no framework needed ---------------------------------------------


def test_contexts_pick_published_formats_first_then_convertible_ones():
    assert set(CONTEXTS) == {"python", "server", "edge", "cpp", "onnx", "browser", "js"}
    assert formats_for_context("edge", ["torch-hub"], "torch-hub") == [
        "torchscript", "exported-program"]
    assert formats_for_context("edge", ["savedmodel"], "savedmodel") == ["tflite"]
    assert formats_for_context("server", ["savedmodel", "onnx"], "savedmodel") == [
        "savedmodel", "onnx"]
    assert formats_for_context("onnx", ["torch-hub"], "torch") == ["onnx"]
    assert formats_for_context("cpp", ["onnx"], "onnx") == ["onnx"]  # published only
    assert formats_for_context("python", ["torch-hub", "onnx"], "torch")[0] == "torch-hub"
    assert formats_for_context("browser", ["savedmodel"], "savedmodel") == []
    # js: ONNX checked in node, from a published ONNX file or any convertible source
    assert formats_for_context("js", ["onnx"], "onnx") == ["js"]
    assert formats_for_context("js", ["torch-hub"], "torch-hub") == ["js"]
    assert formats_for_context("js", ["tflite"], "tflite") == []
    with pytest.raises(ValueError, match="unknown usage context 'mobile'; use one of python"):
        formats_for_context("mobile", [], "torch")


def test_an_impossible_route_lists_the_routes_that_exist(tmp_path, store):
    onnx_file = make_onnx(tmp_path / "linear.onnx", 1)
    with pytest.raises(ConversionError) as err:
        convert(Source("onnx", "sha256:" + "0" * 64, path=onnx_file, label="linear@1.0.0"),
                "tflite", store=store)
    assert str(err.value).startswith("ONNX is already the interchange format; routes from "
                                     "onnx: js (the same file, checked in onnxruntime-node). "
                                     "Publish the model in the target format")
    assert "convert from its torch/SavedModel source" in str(err.value)

    with pytest.raises(ConversionError) as err:
        check_route("torch", "tflite", "resnet50@1.2.0")
    assert ("mlpm cannot convert resnet50@1.2.0 to tflite; routes from torch: onnx, "
            "torchscript, exported-program") in str(err.value)
    assert "savedmodel -> tflite, onnx" in str(err.value)
    assert ROUTES["savedmodel"] == ("tflite", "onnx", "js")


def test_browser_needs_tfjs_which_does_not_install_on_this_stack(files, store):
    with pytest.raises(ConversionError, match="needs the tensorflowjs converter, which does "
                                              "not install on this stack") as err:
        convert(savedmodel_source(files), "tfjs", store=store)
    assert "tensorflow-decision-forests" in str(err.value)
    assert "publish a TF.js artifact" in str(err.value)


def test_import_mlpm_convert_imports_no_framework():
    code = ("import sys, mlpm.convert\n"
            "print(sorted(m for m in ('torch', 'tensorflow', 'onnxruntime', 'onnx', 'numpy',"
            " 'tf2onnx', 'onnxscript') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_missing_converter_is_named_with_its_pip_package(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        class NoOnnxscript:  # as if onnxscript were not installed
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "onnxscript":
                    raise ModuleNotFoundError(name)
        sys.meta_path.insert(0, NoOnnxscript())
        from mlpm.convert import Source, convert, ConversionError
        from mlpm.store import Store
        from tests import models
        try:
            convert(Source("torch", models.CNN_DIGEST, load_module=models.cnn,
                           label="cnn@1.0.0"), "onnx", store=Store({str(tmp_path)!r}))
        except ConversionError as err:
            print(err)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (
        "converting cnn@1.0.0 to onnx needs the Python package onnxscript, not installed "
        "here; run `pip install onnxscript` (or `pip install 'mlpm[all]'`).")


# -- torch routes -----------------------------------------------------------------------

TORCH_ROUTES = [(kind, target) for kind in ("torch", "torchscript", "exported-program")
                for target in ROUTES[kind] if target != "js"]  # js: tests/unit/test_js.py


@pytest.mark.parametrize("kind,target", TORCH_ROUTES, ids=[f"{k}->{t}" for k, t in TORCH_ROUTES])
def test_torch_routes_convert_check_parity_and_keep_a_variable_batch(kind, target, files, store):
    source = cnn_source() if kind == "torch" else Source(
        kind, "sha256:" + kind.encode().hex().ljust(64, "0")[:64], path=files[kind],
        signatures=[models.CNN_SIGNATURE], label=f"cnn@1.0.0 ({kind})")
    stages: list[str] = []
    conv = convert(source, target, store=store, progress=stages.append)

    assert not conv.reused and conv.format == target
    assert conv.path.name == {"onnx": "model.onnx", "torchscript": "model.pt",
                              "exported-program": "model.pt2"}[target]
    assert conv.path.parent == store.root / "entries" / "converted" / conv.key
    # one self-contained file (no external weights) beside its record
    assert sorted(os.listdir(conv.path.parent)) == sorted([conv.path.name, "conversion.json"])
    assert conv.digest == file_sha256(conv.path)
    assert "torch" in conv.converter and (target != "onnx" or "onnxscript" in conv.converter)
    parity = conv.parity
    assert parity["tolerance"] == 1e-4 and parity["samples"] == 2
    assert parity["max_abs"] < parity["tolerance"] and parity["max_rel"] < 1e-3
    assert parity["inputs"] == {"pixels": [None, 1, 8, 8]}
    assert parity["sample_shapes"] == [{"pixels": [1, 1, 8, 8]}, {"pixels": [2, 1, 8, 8]}]
    assert stages and stages[-1].startswith("checking parity")

    recorded = json.loads((conv.path.parent / "conversion.json").read_text())
    assert recorded["parity"] == parity and recorded["digest"] == conv.digest
    assert recorded["converter"] == conv.converter
    assert conv.to_json()["parity"]["max_abs"] == parity["max_abs"]

    # what a user does next: run the file with its runtime, at a batch size never sampled
    pixels = np.random.default_rng(7).random((3, 1, 8, 8), dtype=np.float32)
    with torch.no_grad():
        expected = models.cnn()(torch.from_numpy(pixels)).numpy()
    np.testing.assert_allclose(run_converted(target, conv.path, pixels), expected, atol=1e-5)


def test_a_cached_conversion_is_reused_without_calling_the_converter(store):
    calls = []

    def load_module():
        calls.append(1)
        return models.cnn()

    first = convert(cnn_source(load_module=load_module), "onnx", store=store)
    again = convert(cnn_source(load_module=load_module), "onnx", store=store)
    assert calls == [1]
    assert again.reused and again.path == first.path and again.digest == first.digest
    assert again.parity == first.parity
    assert entries(store) == [first.key]

    # a fresh process reuses it without importing any framework, and never loads the model
    script = textwrap.dedent(f"""
        import json, sys
        from mlpm.convert import Source, convert
        from mlpm.store import Store
        from tests import models
        def never():
            raise SystemExit("the model was loaded: the conversion was not reused")
        conv = convert(Source("torch", models.CNN_DIGEST, load_module=never,
                              signatures=[models.CNN_SIGNATURE], label="cnn@1.0.0"),
                       "onnx", store=Store({str(store.root)!r}))
        print(json.dumps({{"reused": conv.reused, "path": str(conv.path), "imported": sorted(
            m for m in ("torch", "tensorflow", "onnxruntime", "onnx", "onnxscript")
            if m in sys.modules)}}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"reused": True, "path": str(first.path), "imported": []}


def test_options_that_change_the_result_make_a_new_entry(store):
    default = convert(cnn_source(), "torchscript", store=store)
    looser = convert(cnn_source(), "torchscript", store=store, tolerance=1e-3)
    other = convert(cnn_source(), "torchscript", store=store,
                    input_shapes={"pixels": [-1, 1, 8, 8]})
    assert len({default.key, looser.key, other.key}) == 3
    assert looser.parity["tolerance"] == 1e-3
    assert other.options["input_shapes"] == {"pixels": [-1, 1, 8, 8]}


def test_a_damaged_cached_file_is_detected_and_converted_again(store):
    first = convert(cnn_source(), "torchscript", store=store)
    os.chmod(first.path, 0o644)
    data = bytearray(first.path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte flipped
    first.path.write_bytes(bytes(data))

    again = convert(cnn_source(), "torchscript", store=store)
    assert not again.reused
    assert file_sha256(again.path) == again.digest
    assert again.parity["max_abs"] < 1e-4
    assert entries(store) == [first.key]  # the damaged entry was replaced, nothing left over
    assert convert(cnn_source(), "torchscript", store=store).reused


def test_a_conversion_outside_the_tolerance_is_refused_with_the_numbers(store):
    with pytest.raises(ParityError) as err:
        convert(cnn_source(), "onnx", store=store, tolerance=0.0)
    message = str(err.value)
    assert message.startswith("the onnx conversion of cnn@1.0.0 differs from the original by "
                              "up to ")
    assert "max abs error" in message and "max rel error" in message
    assert "more than the tolerance 0, so nothing was kept" in message
    assert "--tolerance" in message
    assert entries(store) == []  # no entry, no temp folder


def test_a_model_torch_export_rejects_gives_the_converters_reason(store):
    source = Source("torch", "sha256:" + "b" * 64, load_module=models.data_dependent,
                    signatures=[models.CNN_SIGNATURE], label="branchy@1.0.0")
    for target in ("onnx", "exported-program"):
        with pytest.raises(ConversionError) as err:
            convert(source, target, store=store)
        message = str(err.value)
        assert message.startswith("torch.export cannot capture branchy@1.0.0, so it cannot be "
                                  "converted: GuardOnDataDependentSymNode: Could not guard on "
                                  "data-dependent expression")
        assert "models.py:" in message and "if pixels.sum() > 0:" in message
    # tracing would silently keep one branch: refused too, with torch's warning
    with pytest.raises(ConversionError, match="torch.jit.trace cannot convert branchy@1.0.0 "
                                              "faithfully: Converting a tensor to a Python "
                                              "boolean might cause the trace to be incorrect"):
        convert(source, "torchscript", store=store)
    text = Source("torch", "sha256:" + "e" * 64, load_module=models.text_output,
                  signatures=[models.CNN_SIGNATURE], label="talker@1.0.0")
    with pytest.raises(ConversionError, match="talker@1.0.0 returns a str, not tensors"):
        convert(text, "onnx", store=store)
    assert entries(store) == []


def test_unknown_input_shapes_ask_for_input_shape(store):
    bare = cnn_source(signatures=None)
    with pytest.raises(ConversionError) as err:
        convert(bare, "onnx", store=store)
    assert str(err.value) == (
        "mlpm does not know the input shapes of cnn@1.0.0 (its interface declares no "
        "signature); pass --input-shape NAME=1,3,224,224 for each input (-1 first for a "
        "variable batch), or --sample FILE.npz with one array per input.")

    open_dims = {"name": "forward", "inputs": [
        {"name": "pixels", "dtype": "float32", "shape": [None, 1, "height", None]}]}
    with pytest.raises(ConversionError) as err:
        convert(cnn_source(signatures=[open_dims]), "onnx", store=store)
    assert str(err.value) == (
        "the input 'pixels' of cnn@1.0.0 has dimensions of unknown size ([None, 1, height, "
        "None]); pass --input-shape pixels=1,1,?,? with each ? replaced by the size it takes.")

    with pytest.raises(ConversionError, match="cnn@1.0.0 has no input 'image'; its inputs are "
                                              "pixels"):
        convert(cnn_source(), "onnx", store=store, input_shapes={"image": [1, 1, 8, 8]})

    # given, the shape is used: fixed as given, or with a variable batch when it starts at -1
    fixed = convert(bare, "torchscript", store=store, input_shapes={"pixels": [1, 1, 8, 8]})
    assert fixed.parity["inputs"] == {"pixels": [1, 1, 8, 8]}
    batched = convert(bare, "onnx", store=store, input_shapes={"pixels": [-1, 1, 8, 8]})
    assert batched.parity["inputs"] == {"pixels": [None, 1, 8, 8]}
    filled = convert(cnn_source(signatures=[open_dims]), "torchscript", store=store,
                     input_shapes={"pixels": [1, 1, 8, 8]})
    assert filled.parity["inputs"] == {"pixels": [None, 1, 8, 8]}


def test_two_processes_converting_at_once_make_one_entry(store):
    script = textwrap.dedent(f"""
        import json
        from mlpm.convert import Source, convert
        from mlpm.store import Store
        from tests import models
        conv = convert(Source("torch", models.CNN_DIGEST, load_module=models.cnn,
                              signatures=[models.CNN_SIGNATURE], label="cnn@1.0.0"),
                       "onnx", store=Store({str(store.root)!r}))
        print(json.dumps({{"reused": conv.reused, "path": str(conv.path),
                          "digest": conv.digest}}))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(2)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    assert sorted(r["reused"] for r in results) == [False, True]  # converted once
    assert results[0]["path"] == results[1]["path"]
    assert results[0]["digest"] == results[1]["digest"] == file_sha256(Path(results[0]["path"]))
    assert len(entries(store)) == 1  # no temp folder left behind


# -- SavedModel routes ------------------------------------------------------------------


def _signature_outputs(folder: Path, signature: str, x: np.ndarray) -> dict:
    tf = needs("tensorflow")

    outputs = tf.saved_model.load(str(folder)).signatures[signature](x=tf.constant(x))
    return {name: value.numpy() for name, value in outputs.items()}


def test_savedmodel_to_tflite_keeps_both_signatures(files, store):
    tf = needs("tensorflow")
    conv = convert(savedmodel_source(files), "tflite", store=store)

    assert conv.format == "tflite" and conv.path == conv.entry  # one file per signature
    assert conv.signature_files == {"features": "features.tflite",
                                    "serving_default": "serving_default.tflite"}
    parity = conv.parity
    assert parity["tolerance"] == 1e-3  # TFLite's default
    assert set(parity["per_signature"]) == {"features", "serving_default"}
    for numbers in parity["per_signature"].values():
        assert numbers["max_abs"] < 1e-5 and numbers["samples"] == 2
        assert numbers["inputs"] == {"x": [None, 4]}
    assert parity["max_abs"] == max(p["max_abs"] for p in parity["per_signature"].values())
    recorded = json.loads((conv.entry / "conversion.json").read_text())
    assert recorded["parity"] == parity and recorded["digest"] == conv.digest

    x = np.random.default_rng(5).random((3, 4), dtype=np.float32)
    for signature in ("serving_default", "features"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
            interpreter = tf.lite.Interpreter(model_path=str(conv.file(signature)))
        assert list(interpreter.get_signature_list()) == [signature]
        got = interpreter.get_signature_runner(signature)(x=x)
        want = _signature_outputs(files["savedmodel"], signature, x)
        assert set(got) == set(want)
        for name in want:
            np.testing.assert_allclose(got[name], want[name], atol=1e-5)

    one = convert(savedmodel_source(files), "tflite", store=store, signature="features")
    assert one.path.name == "model.tflite" and one.signature == "features"
    assert list(one.parity["per_signature"]) == ["features"]
    with pytest.raises(ConversionError, match="tfmodel@1.0.0 has no signature 'logits'; it has "
                                              "features, serving_default"):
        convert(savedmodel_source(files), "tflite", store=store, signature="logits")


def test_savedmodel_to_onnx_with_tf2onnx(files, store):
    needs("tf2onnx")
    conv = convert(savedmodel_source(files), "onnx", store=store)

    assert conv.signature_files == {"features": "features.onnx",
                                    "serving_default": "serving_default.onnx"}
    assert conv.converter.keys() == {"tf2onnx", "tensorflow", "onnx"}
    assert conv.parity["tolerance"] == 1e-4
    assert conv.parity["max_abs"] < 1e-5
    x = np.random.default_rng(5).random((3, 4), dtype=np.float32)
    for signature in ("serving_default", "features"):
        session = ort.InferenceSession(str(conv.file(signature)),
                                       providers=["CPUExecutionProvider"])
        got = dict(zip([o.name for o in session.get_outputs()],
                       session.run(None, {session.get_inputs()[0].name: x}), strict=True))
        want = _signature_outputs(files["savedmodel"], signature, x)
        assert set(got) == set(want)
        for name in want:
            np.testing.assert_allclose(got[name], want[name], atol=1e-5)


def test_a_cached_savedmodel_conversion_needs_no_tensorflow(files, store):
    first = convert(savedmodel_source(files), "tflite", store=store, signature="serving_default")
    script = textwrap.dedent(f"""
        import json, sys
        from pathlib import Path
        from mlpm.convert import Source, convert
        from mlpm.store import Store
        conv = convert(Source("savedmodel", "sha256:" + "5" * 64,
                              path=Path({str(files["savedmodel"])!r}), label="tfmodel@1.0.0"),
                       "tflite", signature="serving_default", store=Store({str(store.root)!r}))
        print(json.dumps({{"reused": conv.reused, "digest": conv.digest, "imported": sorted(
            m for m in ("torch", "tensorflow", "onnxruntime") if m in sys.modules)}}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"reused": True, "digest": first.digest, "imported": []}

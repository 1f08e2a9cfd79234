"""A package with a SavedModel and its own ONNX and TFLite exports: each format shows its
own interface (`mlpm info`, `mlpm.signatures(name, format=...)`), publish compares each
format with the same format in the previous release, and adding formats to unchanged
weights reads "formats added", never "new weights"."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import assert_clean_error, needs, run_mlpm

np = needs("numpy")

# A tagger as publishers ship one: a SavedModel with a serving signature, exported by the
# publisher to TFLite (TensorFlow's converter) and to ONNX (tf2onnx's command line, once as
# it names tensors, once with the input renamed, as a re-export may). Each file's own
# signatures are written down by the runtime that loads it (onnxruntime, the TFLite
# interpreter): what the test expects mlpm to show.
BUILD = textwrap.dedent('''
    import json, subprocess, sys
    from pathlib import Path
    import numpy as np
    import tensorflow as tf

    out = Path(sys.argv[1])

    class Tagger(tf.Module):
        def __init__(self):
            rng = np.random.default_rng(0)
            self.w = tf.Variable(rng.standard_normal((4, 3)).astype("float32"))
            self.f = tf.Variable(rng.standard_normal((4, 2)).astype("float32"))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="audio")])
        def serving_default(self, audio):
            logits = audio @ self.w
            return {"scores": tf.nn.softmax(logits), "embedding": audio @ self.f,
                    "logits": logits}

    m = Tagger()
    tf.saved_model.save(m, str(out / "saved_model"),
                        signatures={"serving_default": m.serving_default})
    converter = tf.lite.TFLiteConverter.from_saved_model(str(out / "saved_model"))
    (out / "model.tflite").write_bytes(converter.convert())
    for name, extra in (("model.onnx", []), ("renamed.onnx", ["--rename-inputs", "samples"])):
        done = subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--saved-model",
                               str(out / "saved_model"), "--output", str(out / name),
                               "--opset", "17", *extra], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]

    interpreter = tf.lite.Interpreter(model_path=str(out / "model.tflite"))
    tflite = {}
    for sig, io in interpreter.get_signature_list().items():
        runner = interpreter.get_signature_runner(sig)
        tflite[sig] = {
            "inputs": {k: v["dtype"].__name__ for k, v in runner.get_input_details().items()},
            "outputs": {k: v["dtype"].__name__ for k, v in runner.get_output_details().items()}}
    (out / "truth.json").write_text(json.dumps({"tflite": tflite}))
''')


def onnx_truth(path: Path) -> dict:
    """The inputs and outputs onnxruntime sees, in order."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return {"inputs": [i.name for i in session.get_inputs()],
            "outputs": [o.name for o in session.get_outputs()]}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    needs("tensorflow")
    needs("tf2onnx")
    root = tmp_path_factory.mktemp("tagger")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", BUILD, str(root)], capture_output=True,
                          text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return root


def package(built: Path, folder: Path, version: str, *, onnx: str | None = "model.onnx",
            tflite: bool = True) -> Path:
    """A package folder: the SavedModel, and the exports asked for."""
    folder.mkdir(parents=True)
    shutil.copytree(built / "saved_model", folder / "saved_model")
    artifacts = ['[[package.artifacts]]\nformat = "savedmodel"\nrole = "model"\n'
                 'file = "saved_model"\n']
    if onnx:
        shutil.copyfile(built / onnx, folder / "model.onnx")
        artifacts.append('[[package.artifacts]]\nformat = "onnx"\nfile = "model.onnx"\n')
    if tflite:
        shutil.copyfile(built / "model.tflite", folder / "model.tflite")
        artifacts.append('[[package.artifacts]]\nformat = "tflite"\nfile = "model.tflite"\n')
    (folder / "mlpm.toml").write_text(textwrap.dedent(f'''
        [package]
        name = "tagger"
        version = "{version}"
        framework = "tensorflow"
        kind = "savedmodel"
        description = "A small tagger with its own ONNX and TFLite exports"
    ''') + "\n" + "\n".join(artifacts))
    return folder


@pytest.fixture
def released(registry, built, tmp_path):
    """tagger 1.0.0 (the SavedModel alone) and 1.1.0 (the same SavedModel with its
    ONNX and TFLite exports) in the registry."""
    first = run_mlpm("publish", str(package(built, tmp_path / "v100", "1.0.0", onnx=None,
                                            tflite=False)),
                     "--registry", str(registry.root), cwd=tmp_path)
    assert first.code == 0, first.err
    second = run_mlpm("publish", str(package(built, tmp_path / "v110", "1.1.0")),
                      "--registry", str(registry.root), cwd=tmp_path)
    assert second.code == 0, second.err
    return registry


def test_adding_exports_to_the_same_weights_says_formats_added(registry, built, tmp_path):
    first = run_mlpm("publish", str(package(built, tmp_path / "v100", "1.0.0", onnx=None,
                                            tflite=False)),
                     "--registry", str(registry.root), cwd=tmp_path)
    assert first.code == 0, first.err
    # The SavedModel's variables are byte-identical: the only change is two new formats,
    # which needs a MINOR release, and the refusal says exactly that.
    result = run_mlpm("publish", str(package(built, tmp_path / "v101", "1.0.1")),
                      "--registry", str(registry.root), cwd=tmp_path)
    assert_clean_error(result, 1, "MINOR: formats added: onnx, tflite", "1.1.0")
    assert "new weights" not in result.err
    ok = run_mlpm("publish", str(package(built, tmp_path / "v110", "1.1.0")),
                  "--registry", str(registry.root), cwd=tmp_path)
    assert ok.code == 0, ok.err
    diff = run_mlpm("diff", "tagger@1.0.0", "tagger@1.1.0", "--json", "--registry",
                    str(registry.root), cwd=tmp_path).json
    assert [c["text"] for c in diff["interface"]] == ["formats added: onnx, tflite"]
    assert diff["level"] == "minor"
    # the record keeps each format's weights digest; the SavedModel's is 1.0.0's weights
    line = (registry.root / "index" / "ta" / "gg" / "tagger").read_text().splitlines()[-1]
    record = json.loads(line)
    assert set(record["format-digests"]) == {"savedmodel", "onnx", "tflite"}
    assert record["format-digests"]["savedmodel"]["weights"] == \
        json.loads((registry.root / "index" / "ta" / "gg" / "tagger").read_text()
                   .splitlines()[0])["weights"]


def test_info_shows_each_formats_own_signatures(released, built, tmp_path):
    info = run_mlpm("info", "tagger", "--json", "--registry", str(released.root),
                    cwd=tmp_path).json
    rows = {row["format"]: row["signatures"] for row in info["formats"]}
    # the SavedModel's serving signature, as TensorFlow declares it
    (saved,) = rows["savedmodel"]
    assert saved["name"] == "serving_default"
    assert [t["name"] for t in saved["inputs"]] == ["audio"]
    # the ONNX file's own graph: its name, and its inputs and outputs in onnxruntime's order
    (onnx,) = rows["onnx"]
    truth = onnx_truth(built / "model.onnx")
    assert onnx["name"] == "main"
    assert [t["name"] for t in onnx["inputs"]] == truth["inputs"]
    assert [t["name"] for t in onnx["outputs"]] == truth["outputs"]
    assert onnx["inputs"][0]["dtype"] == "float32" and onnx["inputs"][0]["shape"][1] == 4
    # the TFLite flatbuffer's SignatureDefs, as the interpreter lists them
    tflite_truth = json.loads((built / "truth.json").read_text())["tflite"]
    assert {s["name"] for s in rows["tflite"]} == set(tflite_truth)
    for sig in rows["tflite"]:
        want = tflite_truth[sig["name"]]
        assert {t["name"]: t["dtype"] for t in sig["inputs"]} == want["inputs"]
        assert {t["name"]: t["dtype"] for t in sig["outputs"]} == want["outputs"]
    # the record says the same, per format
    assert set(info["interface"]["formats"]) == {"savedmodel", "onnx", "tflite"}

    text = run_mlpm("info", "tagger", "--registry", str(released.root), cwd=tmp_path)
    assert text.code == 0, text.err
    lines = text.out.splitlines()
    # the ONNX file's signature under its own heading; the other two share theirs
    at = lines.index("signatures (onnx):")
    batch = onnx["inputs"][0]["shape"][0]  # the ONNX file's symbolic name for the batch
    assert lines[at + 1].startswith(f"  main({truth['inputs'][0]}: float32[{batch}, 4]) -> ")
    assert "signatures (savedmodel, tflite):" in lines
    assert "  serving_default(audio: float32[?, 4]) -> embedding: float32[?, 2], " \
        "logits: float32[?, 3], scores: float32[?, 3]" in lines


def test_signatures_of_one_format_from_python(released, built, project, tmp_path):
    assert run_mlpm("init", "--registry", released.url, cwd=project).code == 0
    installed = run_mlpm("install", "tagger", cwd=project)
    assert installed.code == 0, installed.err
    code = textwrap.dedent('''
        import json, sys, mlpm
        out = {f: mlpm.signatures("tagger", format=f) for f in ("onnx", "tflite", "savedmodel")}
        out["default"] = mlpm.signatures("tagger")
        try:
            mlpm.signatures("tagger", format="torchscript")
        except mlpm.MlpmError as exc:
            out["error"] = str(exc)
        out["frameworks"] = [m for m in ("tensorflow", "torch", "onnx") if m in sys.modules]
        print(json.dumps(out))
    ''')
    done = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    truth = onnx_truth(built / "model.onnx")
    assert [s["name"] for s in out["onnx"]] == ["main"]
    assert [t["name"] for t in out["onnx"][0]["outputs"]] == truth["outputs"]
    assert [s["name"] for s in out["savedmodel"]] == ["serving_default"]
    assert {s["name"] for s in out["tflite"]} == \
        set(json.loads((built / "truth.json").read_text())["tflite"])
    assert out["default"] == out["savedmodel"]  # the package's kind: its SavedModel
    assert out["error"] == ("tagger publishes no torchscript form (it has savedmodel, onnx, "
                            "tflite); ask for one of those, or make one: mlpm convert tagger "
                            "--to torchscript.")
    assert out["frameworks"] == []

    # `mlpm serve` runs the ONNX form, and describes it with the ONNX file's own tensors
    code = ("import json; from mlpm.loading import runner_for; from mlpm.project import Project;"
            "r = runner_for(Project.find(), 'tagger'); print(json.dumps(r.metadata()))")
    done = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    served = json.loads(done.stdout)
    assert served["platform"] == "onnxruntime"
    assert [t["name"] for t in served["inputs"]] == truth["inputs"]
    assert [t["name"] for t in served["outputs"]] == truth["outputs"]


def test_an_onnx_only_breaking_change_is_refused_naming_the_format(released, built, tmp_path):
    # Same SavedModel, same TFLite; only the ONNX export renamed its input.
    result = run_mlpm("publish", str(package(built, tmp_path / "v120", "1.2.0",
                                             onnx="renamed.onnx")),
                      "--registry", str(released.root), cwd=tmp_path)
    old = onnx_truth(built / "model.onnx")["inputs"][0]
    new = onnx_truth(built / "renamed.onnx")["inputs"][0]
    assert (old, new) == ("audio", "samples")
    assert_clean_error(result, 1, f"MAJOR: onnx signature 'main': input '{old}' renamed to "
                       f"'{new}'", "publish it as 2.0.0 or later")
    assert "savedmodel" not in result.err and "tflite" not in result.err
    ok = run_mlpm("publish", str(package(built, tmp_path / "v200", "2.0.0",
                                         onnx="renamed.onnx")),
                  "--registry", str(released.root), cwd=tmp_path)
    assert ok.code == 0, ok.err


def test_a_format_removed_is_major(released, built, tmp_path):
    result = run_mlpm("publish", str(package(built, tmp_path / "v120", "1.2.0", tflite=False)),
                      "--registry", str(released.root), cwd=tmp_path)
    assert_clean_error(result, 1, "MAJOR: format removed: tflite", "2.0.0")
    assert "new weights" not in result.err

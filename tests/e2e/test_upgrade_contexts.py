"""Upgrades never break a working load: a package used in a usage context (here "edge",
TFLite) is checked in its new version before the lock switches to it.

The story: `install tiny-tf@~1.0.0 --context edge` converts 1.0.0's SavedModel to TFLite;
2.0.0 publishes its own .tflite, which `upgrade --latest` then uses, and `mlpm.load(...,
context="edge")` must load it with the interpreter conversions use, giving what that
interpreter gives run directly. 3.0.0's .tflite needs a custom op no stock interpreter has:
the upgrade refuses it in one sentence and leaves mlpm.lock and mlpm.toml as they were.
The models are built by the test (TensorFlow in a subprocess) and served on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tomllib

import pytest

from tests.conftest import assert_clean_error, needs, run_mlpm

# Three versions of one small model: x [None, 4] -> scores [None, 3].
BUILD = textwrap.dedent('''
    import sys
    from pathlib import Path
    import numpy as np
    import tensorflow as tf

    def build(folder, version, seed, tflite):
        folder.mkdir(parents=True)
        class Model(tf.Module):
            def __init__(self):
                rng = np.random.default_rng(seed)
                self.w = tf.Variable(rng.standard_normal((4, 3)).astype("float32"))

            @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
            def serving_default(self, x):
                scores = tf.nn.softmax(x @ self.w)
                if tflite == "custom-op":  # an op TFLite has no kernel for
                    scores += tf.reduce_sum(tf.math.bessel_i1e(x), axis=1, keepdims=True)
                return {"scores": scores}

        model = Model()
        tf.saved_model.save(model, str(folder / "saved_model"),
                            signatures={"serving_default": model.serving_default})
        artifacts = '[[package.artifacts]]\\nformat = "savedmodel"\\nrole = "model"\\n' \\
                    'file = "saved_model"\\n'
        if tflite:
            converter = tf.lite.TFLiteConverter.from_saved_model(str(folder / "saved_model"))
            converter.allow_custom_ops = tflite == "custom-op"
            (folder / "model.tflite").write_bytes(converter.convert())
            artifacts += '\\n[[package.artifacts]]\\nformat = "tflite"\\nfile = "model.tflite"\\n'
        (folder / "mlpm.toml").write_text(
            f'[package]\\nname = "tiny-tf"\\nversion = "{version}"\\nframework = "tensorflow"\\n'
            f'kind = "savedmodel"\\n\\n{artifacts}')

    root = Path(sys.argv[1])
    build(root / "1.0.0", "1.0.0", 0, None)
    build(root / "2.0.0", "2.0.0", 1, "plain")
    build(root / "3.0.0", "3.0.0", 2, "custom-op")
''')

TF_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3"}


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    """Package folders of tiny-tf 1.0.0, 2.0.0 and 3.0.0, built once."""
    needs("tensorflow")
    root = tmp_path_factory.mktemp("tiny-tf")
    out = subprocess.run([sys.executable, "-c", BUILD, str(root)], capture_output=True,
                         text=True, env=dict(os.environ, **TF_ENV), stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr[-3000:]
    return {v: root / v for v in ("1.0.0", "2.0.0", "3.0.0")}


def publish(registry, versions, *which: str) -> None:
    for version in which:
        result = run_mlpm("publish", str(versions[version]), "--registry", str(registry.root),
                          cwd=registry.root.parent)
        assert result.code == 0, result.err


@pytest.fixture
def app(project, registry):
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    return project


def mlpm_cmd(app, registry, *args: str):
    return run_mlpm(*args, "--registry", registry.url, cwd=app, env=TF_ENV, timeout=300)


def python(app, code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], cwd=app, capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, env=dict(os.environ, **TF_ENV))
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def locked(app) -> dict:
    lock = tomllib.loads((app / "mlpm.lock").read_text())
    return next(p for p in lock["package"] if p["name"] == "tiny-tf")


# Runs the edge form mlpm loads and the published file in TFLite's interpreter directly.
SAME_OUTPUTS = '''
import json, sys, numpy as np, mlpm, tensorflow as tf
x = np.random.default_rng(7).standard_normal((5, 4)).astype("float32")
it = mlpm.load("tiny-tf", context="edge")
ours = it.get_signature_runner("serving_default")(x=x)["scores"]
direct = tf.lite.Interpreter(model_path=sys.argv[1])
direct.allocate_tensors()
theirs = direct.get_signature_runner("serving_default")(x=x)["scores"]
print(json.dumps({"kind": type(it).__name__, "shape": list(ours.shape),
                  "same": bool(np.array_equal(ours, theirs))}))
'''


def test_an_upgrade_to_a_version_that_publishes_tflite_keeps_the_edge_load_working(
        app, registry, versions):
    publish(registry, versions, "1.0.0", "2.0.0")
    result = mlpm_cmd(app, registry, "install", "tiny-tf@~1.0.0", "--context", "edge",
                      "--trust")
    assert result.code == 0, result.err
    before = locked(app)
    assert before["version"] == "1.0.0" and before["conversions"][0]["format"] == "tflite"
    code = "import mlpm; print(type(mlpm.load('tiny-tf', context='edge')).__name__)"
    assert python(app, code).strip() == "Interpreter"

    result = mlpm_cmd(app, registry, "upgrade", "tiny-tf", "--latest")
    assert result.code == 0, result.err
    assert result.err == ""  # the check loads the file quietly
    assert "tiny-tf 1.0.0 -> 2.0.0" in result.out
    assert "note: tiny-tf@2.0.0 as tflite in the edge context: its published file loads" \
        in result.out
    after = locked(app)
    assert after["version"] == "2.0.0" and "conversions" not in after  # its own file, as is
    assert "tflite" in {a["format"] for a in after["artifacts"]}

    code = SAME_OUTPUTS.replace("sys.argv[1]", repr(str(versions["2.0.0"] / "model.tflite")))
    seen = json.loads(python(app, code))
    assert seen == {"kind": "Interpreter", "shape": [5, 3], "same": True}


def test_an_upgrade_whose_tflite_cannot_load_fails_and_keeps_lock_and_manifest(
        app, registry, versions):
    publish(registry, versions, "1.0.0", "3.0.0")
    assert mlpm_cmd(app, registry, "install", "tiny-tf@~1.0.0", "--context", "edge",
                    "--trust").code == 0
    lock_bytes = (app / "mlpm.lock").read_bytes()
    manifest_bytes = (app / "mlpm.toml").read_bytes()

    result = mlpm_cmd(app, registry, "upgrade", "tiny-tf", "--latest")
    assert_clean_error(result, 1, "tiny-tf@3.0.0 cannot be loaded as tflite in the edge "
                       "context", "custom op BesselI1e",
                       "it has savedmodel, tflite, of which mlpm can load savedmodel",
                       "mlpm.lock and mlpm.toml are unchanged (tiny-tf stays at 1.0.0)",
                       "`mlpm install tiny-tf@3.0.0 --format savedmodel`")
    assert len(result.err.strip().splitlines()) == 1
    assert (app / "mlpm.lock").read_bytes() == lock_bytes
    assert (app / "mlpm.toml").read_bytes() == manifest_bytes
    # the old version's conversion still loads
    code = "import mlpm; print(type(mlpm.load('tiny-tf', context='edge')).__name__)"
    assert python(app, code).strip() == "Interpreter"
    # Used as its SavedModel instead, 3.0.0 installs: the edge conversion is no longer a use.
    result = mlpm_cmd(app, registry, "install", "tiny-tf@3.0.0", "--format", "savedmodel")
    assert result.code == 0, result.err
    assert locked(app)["version"] == "3.0.0"
    assert tomllib.loads((app / "mlpm.toml").read_text())["dependencies"]["tiny-tf"] == {
        "version": "^3.0.0", "format": "savedmodel"}


def test_a_fresh_install_for_a_context_its_format_cannot_serve_writes_nothing(
        app, registry, versions):
    publish(registry, versions, "3.0.0")
    manifest_bytes = (app / "mlpm.toml").read_bytes()
    result = mlpm_cmd(app, registry, "install", "tiny-tf", "--context", "edge")
    assert_clean_error(result, 1, "custom op BesselI1e", "mlpm.lock and mlpm.toml are "
                       "unchanged; `mlpm install tiny-tf@3.0.0 --format savedmodel`")
    assert (app / "mlpm.toml").read_bytes() == manifest_bytes
    assert not (app / "mlpm.lock").exists()


def test_loading_an_unloadable_published_format_lists_the_package_formats(
        app, registry, versions):
    publish(registry, versions, "3.0.0")
    # used as its SavedModel, nothing checks the tflite file at install
    assert mlpm_cmd(app, registry, "install", "tiny-tf").code == 0
    code = textwrap.dedent('''
        import mlpm
        from mlpm.errors import MlpmError
        for how in ({"format": "tflite"}, {"context": "edge"}):
            try:
                mlpm.load("tiny-tf", **how)
            except MlpmError as exc:
                print(type(exc).__name__, "|", exc)
    ''')
    lines = python(app, code).strip().splitlines()
    assert len(lines) == 2
    for line, use in zip(lines, ("", " in the edge context"), strict=True):
        kind, message = line.split(" | ")
        assert kind == "FormatNotLoadable"  # not FrameworkMissing: nothing is missing
        assert message.startswith(f"tiny-tf@3.0.0 cannot be loaded as tflite{use}: ")
        assert "BesselI1e" in message
        assert message.endswith("it has savedmodel, tflite, of which mlpm can load "
                                 "savedmodel; load it with format='savedmodel'.")

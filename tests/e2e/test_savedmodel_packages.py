"""TF SavedModel packages: signatures read without TensorFlow, loaded through
tensorflow_hub from mlpm's store, and semver enforced by interface at publish."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from tests.conftest import assert_clean_error, needs, publish, run_mlpm
from tests.models import make_onnx

np = needs("numpy")


def build_savedmodel(folder: Path, seed: int = 0, extra_signature: bool = False) -> Path:
    """A real SavedModel with two (or three) signatures, built in a subprocess so that
    this test process never imports TensorFlow."""
    script = textwrap.dedent(f'''
        import sys
        import numpy as np
        import tensorflow as tf

        class Model(tf.Module):
            def __init__(self):
                rng = np.random.default_rng({seed})
                self.w = tf.Variable(rng.standard_normal((4, 3)).astype("float32"))
                self.f = tf.Variable(rng.standard_normal((4, 2)).astype("float32"))

            @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
            def serving_default(self, x):
                return {{"scores": tf.nn.softmax(x @ self.w)}}

            @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
            def features(self, x):
                return {{"embedding": x @ self.f}}

            @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
            def logits(self, x):
                return {{"logits": x @ self.w}}

        m = Model()
        sigs = {{"serving_default": m.serving_default, "features": m.features}}
        if {extra_signature}:
            sigs["logits"] = m.logits
        tf.saved_model.save(m, sys.argv[1], signatures=sigs)
    ''')
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", script, str(folder / "saved_model")],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    return folder / "saved_model"


def package_dir(folder: Path, version: str, seed: int = 0, extra_signature: bool = False,
                name: str = "tfmodel") -> Path:
    build_savedmodel(folder, seed, extra_signature)
    (folder / "mlpm.toml").write_text(textwrap.dedent(f'''
        [package]
        name = "{name}"
        version = "{version}"
        framework = "tensorflow"
        kind = "savedmodel"
        description = "A small SavedModel with several signatures"

        [[package.artifacts]]
        format = "savedmodel"
        role = "model"
        file = "saved_model"
    '''))
    return folder


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    needs("tensorflow")
    root = tmp_path_factory.mktemp("savedmodels")
    return {
        "1.0.0": package_dir(root / "v100", "1.0.0"),
        "1.1.0": package_dir(root / "v110", "1.1.0", extra_signature=True),  # same weights
        "1.1.1": package_dir(root / "v111", "1.1.1", seed=1, extra_signature=True),
    }


def test_signatures_are_read_at_publish_without_tensorflow(registry, built, tmp_path):
    code = ("import sys; from mlpm.ops.publish import publish;"
            f"r = publish({str(built['1.0.0'])!r}, {str(registry.root)!r});"
            "print(sorted(m for m in ('tensorflow', 'tensorflow_hub') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    info = run_mlpm("info", "tfmodel", "--json", "--registry", registry.url, cwd=tmp_path).json
    sigs = {s["name"]: s for s in info["signatures"]}
    assert set(sigs) == {"serving_default", "features"}
    assert sigs["serving_default"]["inputs"] == [{"name": "x", "dtype": "float32",
                                                  "shape": [None, 4]}]
    assert sigs["serving_default"]["outputs"] == [{"name": "scores", "dtype": "float32",
                                                   "shape": [None, 3]}]
    assert sigs["features"]["outputs"][0]["name"] == "embedding"
    # The artifact is the packed SavedModel folder, a deterministic .tar.gz.
    (art,) = info["formats"]
    with tarfile.open(registry.root / "artifacts" / art["sha256"][:2] / art["sha256"]) as tar:
        assert "saved_model.pb" in tar.getnames()


def test_semver_rules_for_signatures_and_weights(registry, built, tmp_path):
    publish_dir = lambda d: run_mlpm("publish", str(d), "--registry",  # noqa: E731
                                     str(registry.root), cwd=tmp_path)
    assert publish_dir(built["1.0.0"]).code == 0
    # Same weights, one signature added: a MINOR release is accepted.
    assert publish_dir(built["1.1.0"]).code == 0
    # New weights under a PATCH bump are refused, naming the smallest allowed version.
    result = publish_dir(built["1.1.1"])
    assert_clean_error(result, 1, "1.1.1", "weights", "1.2.0")
    index = registry.root / "index" / "tf" / "mo" / "tfmodel"
    assert [json.loads(x)["version"] for x in index.read_text().splitlines()] == \
        ["1.0.0", "1.1.0"]


def test_renamed_output_under_a_minor_bump_is_refused(registry, tmp_path):
    make_onnx(tmp_path / "a.onnx", 1, output_name="y")
    make_onnx(tmp_path / "b.onnx", 1, output_name="probabilities")
    publish(registry.root, tmp_path / "a.onnx", "lin", "1.0.0")
    result = run_mlpm("publish", str(tmp_path / "b.onnx"), "--registry", str(registry.root),
                      "--name", "lin", "--version", "1.1.0", cwd=tmp_path)
    assert_clean_error(result, 1, "'y'", "'probabilities'", "2.0.0")
    # The same file again is a PATCH: identical interface and weights.
    publish(registry.root, tmp_path / "a.onnx", "lin", "1.0.1")
    publish(registry.root, tmp_path / "b.onnx", "lin", "2.0.0")


def test_loaded_through_tensorflow_hub_from_the_store(registry, built, project, isolated,
                                                      tmp_path):
    assert run_mlpm("publish", str(built["1.1.0"]), "--registry", str(registry.root),
                    cwd=tmp_path).code == 0
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    assert run_mlpm("install", "tfmodel", cwd=project).code == 0
    code = textwrap.dedent('''
        import json, numpy as np, mlpm
        x = np.ones((2, 4), dtype="float32")
        obj = mlpm.load("tfmodel", trust=True)  # a SavedModel runs code: trust its source
        fn = mlpm.load("tfmodel", signature="features")
        layer = mlpm.keras_layer("tfmodel", signature="serving_default", output_key="scores",
                                 signature_outputs_as_dict=False)
        print(json.dumps({
            "signatures": sorted(obj.signatures),
            "features": fn(x=x)["embedding"].numpy().tolist(),
            "scores": obj.signatures["serving_default"](x=x)["scores"].numpy().tolist(),
            "layer": np.asarray(layer(x)).tolist(),
            "layer_type": type(layer).__name__,
            "signature_names": [s["name"] for s in mlpm.signatures("tfmodel")],
        }))
    ''')
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                         text=True, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["signatures"] == ["features", "logits", "serving_default"]
    assert np.asarray(data["features"]).shape == (2, 2)
    np.testing.assert_allclose(np.asarray(data["scores"]).sum(1), [1, 1], rtol=1e-5)
    np.testing.assert_allclose(data["layer"], data["scores"], rtol=1e-6)
    assert data["layer_type"] == "KerasLayer"
    assert sorted(data["signature_names"]) == ["features", "logits", "serving_default"]
    # tensorflow_hub's own cache was never used.
    tfhub = isolated / "home" / "tfhub"
    assert not tfhub.exists() or not any(tfhub.iterdir())


def test_missing_signature_is_a_clear_error(registry, built, project, tmp_path):
    assert run_mlpm("publish", str(built["1.0.0"]), "--registry", str(registry.root),
                    cwd=tmp_path).code == 0
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    assert run_mlpm("install", "tfmodel", cwd=project).code == 0
    code = ("import mlpm\ntry:\n    mlpm.load('tfmodel', signature='nope', trust=True)\n"
            "except mlpm.MlpmError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                         text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert "no signature 'nope'" in out.stdout and "serving_default" in out.stdout

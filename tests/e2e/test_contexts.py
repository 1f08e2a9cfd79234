"""Usage contexts: a package used in a format it does not publish is converted once,
parity-checked, recorded in mlpm.lock, kept across upgrades, and served over HTTP.

These run offline against the bundled registry's starter models (registry-index/)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tomllib
import urllib.request

import pytest

from tests.conftest import assert_clean_error, free_port, run_mlpm

OFFLINE = {"MLPM_OFFLINE": "1"}


def locked(project, name):
    lock = tomllib.loads((project / "mlpm.lock").read_text())
    return next(p for p in lock["package"] if p["name"] == name)


def python(project, code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                         text=True, stdin=subprocess.DEVNULL,
                         env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **OFFLINE))
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@pytest.fixture
def app(project):
    assert run_mlpm("init", cwd=project).code == 0
    return project


ACCURACY = """
import numpy as np, mlpm
from sklearn.datasets import load_digits
x, y = load_digits(return_X_y=True)
session = mlpm.load("digits-hub", format="onnx")
name = session.get_inputs()[0].name
pred = session.run(None, {name: (x / 16).astype(np.float32)})[0].argmax(1)
print(type(session).__name__, round(float((pred == y).mean()), 4))
"""


def test_a_hub_package_used_as_onnx_is_converted_once_and_recorded(app):
    result = run_mlpm("install", "digits-hub@1.0", "--trust", "--format", "onnx", cwd=app,
                      env=OFFLINE)
    assert result.code == 0, result.err
    manifest = tomllib.loads((app / "mlpm.toml").read_text())
    assert manifest["dependencies"]["digits-hub"] == {"version": "1.0", "format": "onnx"}
    (conv,) = locked(app, "digits-hub")["conversions"]
    assert conv["format"] == "onnx" and conv["parity"]["max_abs"] <= conv["parity"]["tolerance"]
    assert conv["converter"]["torch"].startswith("2.")
    kind, accuracy = python(app, ACCURACY).split()
    assert kind == "InferenceSession" and float(accuracy) > 0.9
    # A second conversion reuses the cached entry instead of converting again.
    again = run_mlpm("convert", "digits-hub", "--to", "onnx", "--json", cwd=app, env=OFFLINE)
    assert again.code == 0, again.err
    assert again.json["reused"] is True and again.json["key"] == conv["key"]
    # Loading the converted format imports no converter: only onnxruntime.
    code = ("import sys, mlpm; mlpm.load('digits-hub', format='onnx');"
            "print(sorted(m for m in ('torch', 'onnxscript', 'tensorflow') if m in sys.modules))")
    assert python(app, code).strip() == "[]"


def test_upgrade_reconverts_and_a_failed_conversion_keeps_the_old_lock(app, isolated):
    assert run_mlpm("install", "digits-hub@~1.0.0", "--trust", "--format", "onnx", cwd=app,
                    env=OFFLINE).code == 0
    old = locked(app, "digits-hub")
    assert old["version"] == "1.0.0" and old["conversions"]
    # Without trust the new version's hub code cannot run, so it cannot be converted:
    # the upgrade fails and the lock still pins the old, converted version.
    next((isolated / "home").rglob("trusted.toml")).unlink()
    lock_text = (app / "mlpm.lock").read_text()
    text = (app / "mlpm.toml").read_text().replace('"~1.0.0"', '"^1.0.0"')
    (app / "mlpm.toml").write_text(text)
    result = run_mlpm("upgrade", "digits-hub", cwd=app, env=OFFLINE)
    assert_clean_error(result, 1, "not trusted")
    assert (app / "mlpm.lock").read_text() == lock_text
    kind, _ = python(app, ACCURACY).split()  # the old conversion still loads
    assert kind == "InferenceSession"
    # Trusted again, the upgrade converts the new version before switching the lock.
    result = run_mlpm("upgrade", "digits-hub", cwd=app, env={**OFFLINE, "MLPM_TRUST": "*"})
    assert result.code == 0, result.err
    new = locked(app, "digits-hub")
    assert new["version"] == "1.1.0"
    assert new["conversions"][0]["key"] != old["conversions"][0]["key"]


def test_a_savedmodel_for_the_edge_context_becomes_tflite(app):
    # a SavedModel runs its publisher's code when converted: --trust trusts its source
    result = run_mlpm("install", "digits-tf@1.1", "--context", "edge", "--trust", cwd=app,
                      env=OFFLINE)
    assert result.code == 0, result.err
    conv = locked(app, "digits-tf")["conversions"][0]
    assert conv["format"] == "tflite" and conv["parity"]["max_abs"] < 1e-3
    code = ("import mlpm; it = mlpm.load('digits-tf', context='edge');"
            "f = mlpm.load('digits-tf', format='tflite', signature='features');"
            "print(sorted(it.get_signature_list()), sorted(f.get_signature_list()))")
    assert python(app, code).strip() == "['serving_default'] ['features']"
    assert tomllib.loads((app / "mlpm.toml").read_text())["dependencies"]["digits-tf"][
        "context"] == "edge"


def test_impossible_routes_say_which_routes_exist(app):
    assert run_mlpm("install", "digits@1.2", cwd=app, env=OFFLINE).code == 0
    result = run_mlpm("convert", "digits", "--to", "tflite", cwd=app, env=OFFLINE)
    assert_clean_error(result, 1, "tflite")
    assert "onnx" in result.err and "torchscript" in result.err
    result = run_mlpm("convert", "digits", "--to", "tfjs", cwd=app, env=OFFLINE)
    assert_clean_error(result, 1, "tensorflowjs")
    assert run_mlpm("convert", "digits", "--to", "onnx", cwd=app, env=OFFLINE).out.startswith(
        "digits@1.2.1 publishes onnx")


def test_mlpm_serve_answers_predictions_over_http(app):
    assert run_mlpm("install", "digits@1.2", cwd=app, env=OFFLINE).code == 0
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "mlpm", "serve", "digits", "--port",
                             str(port)], cwd=app, stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, **OFFLINE))
    try:
        assert "Serving digits@1.2.1" in proc.stdout.readline()
        base = f"http://127.0.0.1:{port}/v1/models/digits"
        status = json.load(urllib.request.urlopen(base, timeout=10))
        assert status["model_version_status"][0]["state"] == "AVAILABLE"
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        body = json.dumps({"instances": (x[:20] / 16).tolist()}).encode()
        request = urllib.request.Request(base + ":predict", data=body, method="POST")
        predictions = json.load(urllib.request.urlopen(request, timeout=10))["predictions"]
        guesses = [max(range(10), key=row.__getitem__) for row in predictions]
        assert sum(g == t for g, t in zip(guesses, y[:20], strict=True)) >= 18
        bad = urllib.request.Request(base + ":predict", data=b"{not json", method="POST")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(bad, timeout=10)
        assert err.value.code == 400 and "error" in json.load(err.value)
    finally:
        proc.terminate()
        start = time.time()
        assert proc.wait(timeout=10) == 0 and time.time() - start < 10


def test_removing_a_package_frees_its_conversions(app, isolated):
    assert run_mlpm("install", "digits-hub@1.1", "--trust", "--format", "onnx", cwd=app,
                    env=OFFLINE).code == 0
    converted = isolated / "cache" / "entries" / "converted"
    assert len(list(converted.iterdir())) == 1
    result = run_mlpm("remove", "digits-hub", cwd=app, env=OFFLINE)
    assert result.code == 0 and "freed" in result.out
    assert list(converted.iterdir()) == []

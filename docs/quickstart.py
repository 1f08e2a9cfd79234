"""The quickstart tour: the whole life of a model, offline, against the bundled registry.

Run from the repository root after `bash .ci/setup`:

    .venv/bin/python docs/quickstart.py

It makes a throw-away project and cache, then runs the commands a user would type
(printing each one and its output), and uses the installed model from Python to
classify scikit-learn's hand-written digits. Nothing touches the network.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

MLPM = Path(sys.executable).with_name("mlpm")


def mlpm(*args: str, expect: int = 0) -> str:
    print(f"\n$ mlpm {shlex.join(args)}", flush=True)
    proc = subprocess.run([str(MLPM), *args], capture_output=True, text=True)
    print((proc.stdout + proc.stderr).rstrip())
    if proc.returncode != expect:
        sys.exit(f"quickstart: `mlpm {shlex.join(args)}` exited {proc.returncode}, "
                 f"expected {expect}")
    return proc.stdout


def classify(major: int) -> float:
    """Load the locked `digits` with mlpm and measure its accuracy on every digit image."""
    import numpy as np
    from sklearn.datasets import load_digits

    import mlpm as lib

    images, labels = load_digits(return_X_y=True)
    pixels = (images / 16.0).astype(np.float32)
    session = lib.load("digits", format="onnx")
    if major == 1:
        scores = session.run(None, {"pixels": pixels})[0]
    else:  # 2.x takes 8x8 images instead of flat pixels: the interface changed, so a major
        scores = session.run(None, {"image": pixels.reshape(-1, 1, 8, 8)})[0]
    accuracy = float((scores.argmax(1) == labels).mean())
    print(f"\n>>> mlpm.load('digits') -> {type(session).__name__}; accuracy on all "
          f"{len(labels)} scikit-learn digits: {accuracy:.4f}")
    return accuracy


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="mlpm-quickstart-"))
    os.environ["MLPM_CACHE_DIR"] = str(work / "cache")
    os.environ["MLPM_OFFLINE"] = "1"  # everything below works without a network
    os.environ.pop("MLPM_REGISTRY", None)
    project = work / "app"
    project.mkdir()
    os.chdir(project)
    print(f"project: {project}\ncache:   {work / 'cache'}\nregistry: bundled with mlpm (offline)")

    mlpm("init")
    mlpm("search", "digit")
    mlpm("info", "digits@1.2")
    mlpm("install", "digits@1.2")
    print("\n--- mlpm.toml ---\n" + (project / "mlpm.toml").read_text())
    assert classify(major=1) > 0.95

    mlpm("install", "digits-calibrator")
    mlpm("tree")
    mlpm("why", "digits")
    mlpm("outdated")
    mlpm("remove", "digits", expect=1)          # refused: digits-calibrator depends on it
    mlpm("upgrade", "digits", "--latest", expect=1)  # conflict: the calibrator needs digits 1.x
    mlpm("remove", "digits-calibrator")
    mlpm("upgrade", "digits", "--latest")
    assert classify(major=2) > 0.95
    mlpm("list")
    mlpm("install", "--frozen")
    mlpm("diff", "digits@1.2", "digits@2")  # the interface change that made 2.0.0 a major

    # A PyTorch Hub package: hub code runs only once its source is trusted; its weights
    # come from mlpm's verified store, never from the network.
    mlpm("info", "digits-hub")
    mlpm("install", "digits-hub@1.1", "--trust")
    hub_accuracy()
    mlpm("convert", "digits-hub", "--to", "onnx")  # converted once, parity-checked, cached

    # A TF SavedModel with several signatures, read without importing TensorFlow, and the
    # same model for the edge: converted to TFLite (one file per signature). A SavedModel
    # runs its publisher's code when loaded or converted, so its source is trusted first.
    mlpm("install", "digits-tf", "--context", "edge", "--trust")
    savedmodel_signatures()
    mlpm("tree")
    mlpm("cache", "verify")
    mlpm("remove", "digits", "digits-hub", "digits-tf")
    print("\nquickstart: every step worked offline.")


def hub_accuracy() -> None:
    import numpy as np
    import torch
    from sklearn.datasets import load_digits

    import mlpm as lib

    images, labels = load_digits(return_X_y=True)
    model = lib.load("digits-hub")  # the default entrypoint, digits_mlp
    with torch.no_grad():
        scores = model(torch.from_numpy((images / 16.0).astype(np.float32)))
    accuracy = float((scores.argmax(1).numpy() == labels).mean())
    print(f"\n>>> mlpm.load('digits-hub') -> {type(model).__name__}; accuracy {accuracy:.4f}")
    entrypoints = [e["name"] for e in lib.entrypoints("digits-hub")]
    print(f">>> mlpm.entrypoints('digits-hub') -> {entrypoints}")


def savedmodel_signatures() -> None:
    import mlpm as lib

    names = [s["name"] for s in lib.signatures("digits-tf")]
    print(f"\n>>> mlpm.signatures('digits-tf') -> {names}")
    interpreter = lib.load("digits-tf", context="edge")
    print(f">>> mlpm.load('digits-tf', context='edge') -> {type(interpreter).__name__} with "
          f"{list(interpreter.get_signature_list())}")


if __name__ == "__main__":
    main()

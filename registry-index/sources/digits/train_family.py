"""Train the rest of the digits family: more sizes, a TF SavedModel, a PyTorch Hub repo, a head.

Usage:  .venv/bin/python registry-index/sources/digits/train_family.py OUTDIR

Writes one package directory per version into OUTDIR, each holding an ``mlpm.toml`` and
its files, ready for ``mlpm publish DIR --registry registry-index`` in this order:

    digits-small-1.0.0   digits-large-1.0.0   ONNX + TorchScript MLPs (digits 1.x's interface)
    digits-tf-1.0.0      digits-tf-1.1.0      TF SavedModel folder (a Keras-trained MLP)
    digits-head-1.0.0                         ONNX head over digits-tf's `features` signature
    digits-hub-1.0.0     -1.1.0    -2.0.0     PyTorch Hub repo folder (hubconf.py) + weights

Same data, split and rules as train.py (see common.py): fixed seeds, one thread, every
metric measured on the held-out test set, every shipped file loaded back the way a user
would load it (onnxruntime, torch.jit.load, tensorflow_hub.load, torch.hub.load) and
checked against the model that was trained. No network is used: torch.hub's weight
download is answered from the package's own files, as mlpm does.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib.util
import itertools
import logging
import os
import re
import shutil
import sys
import tempfile
import time
import tomllib
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from common import (
    DATASET,
    LABELS,
    PARITY_TOLERANCE,
    PREPROCESSING,
    Split,
    accuracy,
    check_artifacts,
    export_onnx,
    export_torchscript,
    fresh_dir,
    load_split,
    parameter_count,
    run_onnx,
    softmax,
    tensor,
    toml_value,
    train,
    with_shifts,
)
from sklearn.linear_model import LogisticRegression
from torch import nn

SOURCE = "registry-index/sources/digits/train_family.py"
HUB_SOURCE = Path(__file__).resolve().parent / "hub"  # models.py, v1/hubconf.py, v2/hubconf.py
WEIGHTS_URL = "https://models.mlpm.dev/digits/"  # the _URL in hub/v*/hubconf.py
HUB_REPO = "mlpm-starters/digits-hub"
MAX_PACKAGE_BYTES = 300_000
# 64-256-128-10 has 50826 float32 parameters, about 200 KB per format, twice over with
# ONNX and TorchScript: the one package above the 300 KB budget.
LARGE_PACKAGE_BYTES = 450_000
TF_TOLERANCE = 1e-5  # SavedModel vs the Keras model it was exported from: same float32 ops


# ---------------------------------------------------------------------------- manifests

INLINE_TABLES = {"files", "kwargs"}  # dict values written as `key = { ... }`
ARRAY_TABLES = {"artifacts", "signatures"}  # lists of dicts written as [[...]] tables


def render_toml(doc: dict) -> str:
    """TOML text for `doc`: scalars first in each table, then its sub-tables, in order."""
    lines: list[str] = []

    def emit(header: str, table: dict, array: bool = False) -> None:
        lines.append(f"[[{header}]]" if array else f"[{header}]")
        nested: list[tuple[str, dict, bool]] = []
        for key, value in table.items():
            if isinstance(value, dict) and key not in INLINE_TABLES:
                nested.append((key, value, False))
            elif key in ARRAY_TABLES:
                nested.extend((key, item, True) for item in value)
            else:
                lines.append(f"{key} = {toml_value(value)}")
        lines.append("")
        for key, value, is_array in nested:
            emit(f"{header}.{key}", value, is_array)

    for key, value in doc.items():
        emit(key, value)
    return "\n".join(lines)


def write_manifest(directory: Path, doc: dict) -> None:
    text = render_toml(doc)
    assert tomllib.loads(text) == doc, f"{directory}: mlpm.toml does not read back as written"
    (directory / "mlpm.toml").write_text(text, encoding="utf-8")


def manifest(
    name: str,
    version: str,
    *,
    framework: str,
    description: str,
    algorithm: str,
    release_notes: str,
    python_requires: list[str],
    metrics: dict,
    interface: dict,
    kind: str | None = None,
    files: dict[str, str] | None = None,
    upstream: dict | None = None,
    artifacts: list[dict] | None = None,
    dependencies: dict[str, str] | None = None,
) -> dict:
    """An mlpm.toml as a dict, with the [package] keys train.py writes, in its order."""
    package: dict = {"name": name, "version": version, "framework": framework}
    if kind:
        package["kind"] = kind
    package |= {
        "description": description,
        "license": "MIT",
        "authors": ["mlpm starter models"],
        "task": "image-classification",
        "family": "digits",
        "algorithm": algorithm,
        "dataset": DATASET,
        "release-notes": release_notes,
        "source": SOURCE,
        "python-requires": python_requires,
    }
    if files:
        package["files"] = files
    if upstream:
        package["upstream"] = upstream
    if artifacts:
        package["artifacts"] = artifacts
    package["metrics"] = metrics
    package["interface"] = interface
    return {"package": package, "dependencies": dependencies or {}}


def package_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def measured(scores_val: np.ndarray, scores_test: np.ndarray, split: Split, params: int) -> dict:
    return {
        "test-accuracy": round(accuracy(scores_test, split.y_test), 4),
        "validation-accuracy": round(accuracy(scores_val, split.y_val), 4),
        "parameters": params,
    }


# ---------------------------------------------------------------------------- ONNX + TorchScript


class MLP(nn.Module):
    """64 -> hidden... -> 10 with ReLU between the linear layers; returns logits."""

    def __init__(self, *hidden: int) -> None:
        super().__init__()
        widths = [64, *hidden, 10]
        layers: list[nn.Module] = []
        for n_in, n_out in itertools.pairwise(widths):
            layers += [nn.Linear(n_in, n_out), nn.ReLU()]
        self.layers = nn.Sequential(*layers[:-1])  # no ReLU after the output layer

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.layers(pixels)


def scores(model: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def build_mlp_package(
    directory: Path, model: nn.Module, split: Split, max_bytes: int
) -> tuple[dict, dict[str, str]]:
    """model.onnx + model.pt in `directory`, each checked against torch; returns metrics, files."""
    directory.mkdir(parents=True)
    files = {"onnx": "model.onnx", "torchscript": "model.pt"}
    example = torch.from_numpy(split.x_test[:4])
    export_onnx(model, example, directory / files["onnx"], "pixels", "logits")
    export_torchscript(model, example, directory / files["torchscript"])
    reference = scores(model, split.x_test)
    metrics = measured(scores(model, split.x_val), reference, split, parameter_count(model))
    check_artifacts(
        directory,
        files,
        reference,
        split.x_test,
        split.y_test,
        metrics["test-accuracy"],
        max_bytes=max_bytes,
    )
    return metrics, files


def mlp_sizes(out: Path, split: Split, x_aug: np.ndarray, y_aug: np.ndarray) -> list[Path]:
    """digits-small and digits-large: digits 1.x's interface at two sizes."""
    interface = {
        "inputs": [tensor("pixels", [64])],
        "outputs": [tensor("logits", [10])],
        "preprocessing": PREPROCESSING,
        "labels": LABELS,
    }
    sizes = [
        # name, hidden widths, epochs, learning rate, seed, size budget, description
        ("digits-small", (16,), 60, 2e-3, 301, MAX_PACKAGE_BYTES, "the smallest"),
        ("digits-large", (256, 128), 30, 1e-3, 310, LARGE_PACKAGE_BYTES, "the largest"),
    ]
    built = []
    for name, hidden, epochs, lr, seed, budget, which in sizes:
        torch.manual_seed(seed)
        model = train(
            MLP(*hidden), x_aug, y_aug, epochs=epochs, lr=lr, weight_decay=1e-2, seed=seed
        )
        directory = fresh_dir(out / f"{name}-1.0.0")
        metrics, files = build_mlp_package(directory, model, split, budget)
        shape = "-".join(str(w) for w in (64, *hidden, 10))
        write_manifest(
            directory,
            manifest(
                name,
                "1.0.0",
                framework="torch",
                description=(
                    f"Handwritten digit classifier (0-9) for 8x8 grey images: {which} member of "
                    f"the digits family, a {shape} multilayer perceptron returning logits."
                ),
                algorithm="multilayer perceptron",
                release_notes=(
                    f"First release: a {shape} multilayer perceptron trained for {epochs} epochs "
                    "with weight decay on the training images plus one-pixel shifted copies. "
                    "Same interface as digits 1.x."
                ),
                python_requires=["numpy>=1.21"],
                files=files,
                metrics=metrics,
                interface=interface,
            ),
        )
        built.append(directory)
    return built


# ---------------------------------------------------------------------------- TF SavedModel


def configure_tensorflow() -> ModuleType:
    """Import TensorFlow single-threaded and deterministic (call before any TF op runs)."""
    import tensorflow as tf

    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    return tf


def train_keras_mlp(split: Split, x_aug: np.ndarray, y_aug: np.ndarray, *, seed: int):
    """A Keras 64-64-32-10 MLP; the 32-unit layer's ReLU output is the embedding."""
    import keras

    keras.utils.set_random_seed(seed)  # weight initialisation
    model = keras.Sequential(
        [
            keras.Input((64,), name="pixels"),
            keras.layers.Dense(64, activation="relu", name="hidden"),
            keras.layers.Dense(32, activation="relu", name="embedding"),
            keras.layers.Dense(10, name="logits"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=1e-3, weight_decay=1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    # Our own shuffling (not fit's tf.data pipeline): the batch order comes from `seed` alone.
    rng = np.random.default_rng(seed)
    for _ in range(30):
        order = rng.permutation(len(x_aug))
        for start in range(0, len(order), 32):
            batch = order[start : start + 32]
            model.train_on_batch(x_aug[batch], y_aug[batch])
    return model


def savedmodel_module(tf: ModuleType, weights: list[np.ndarray], *, with_logits: bool):
    """A plain tf.Module holding the trained weights, with one tf.function per signature.

    Saving the Keras model itself would also save Keras's own traced functions and
    metadata; this keeps the SavedModel to the weights and the signatures asked for.
    """
    pixels = tf.TensorSpec([None, 64], tf.float32, name="pixels")

    class Dense(tf.Module):
        def __init__(self, kernel: np.ndarray, bias: np.ndarray) -> None:
            super().__init__()
            self.kernel = tf.Variable(kernel, name="kernel")
            self.bias = tf.Variable(bias, name="bias")

        def __call__(self, x):
            return tf.matmul(x, self.kernel) + self.bias

    class DigitsTF(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hidden = Dense(*weights[0:2])
            self.embedding = Dense(*weights[2:4])
            self.head = Dense(*weights[4:6])

        def _embed(self, x):
            return tf.nn.relu(self.embedding(tf.nn.relu(self.hidden(x))))

        @tf.function(input_signature=[pixels])
        def serve(self, pixels):
            return {"probabilities": tf.nn.softmax(self.head(self._embed(pixels)))}

        @tf.function(input_signature=[pixels])
        def features(self, pixels):
            return {"embedding": self._embed(pixels)}

    class DigitsTFWithLogits(DigitsTF):
        @tf.function(input_signature=[pixels])
        def logits(self, pixels):
            return {"logits": self.head(self._embed(pixels))}

    return DigitsTFWithLogits() if with_logits else DigitsTF()


def save_savedmodel(tf: ModuleType, module, path: Path) -> None:
    signatures = {"serving_default": module.serve, "features": module.features}
    if hasattr(module, "logits"):
        signatures["logits"] = module.logits
    tf.saved_model.save(module, str(path), signatures=signatures)
    # fingerprint.pb holds content hashes plus a random uuid (new on every save); drop the
    # uuid so that the same model gives the same bytes. Loading does not use it.
    from tensorflow.core.protobuf import fingerprint_pb2

    fingerprint = path / "fingerprint.pb"
    if fingerprint.exists():
        proto = fingerprint_pb2.FingerprintDef.FromString(fingerprint.read_bytes())
        proto.ClearField("uuid")
        fingerprint.write_bytes(proto.SerializeToString(deterministic=True))


TF_SIGNATURES = {  # name -> (output name, width), as declared and as checked
    "serving_default": ("probabilities", 10),
    "features": ("embedding", 32),
    "logits": ("logits", 10),
}


def import_tensorflow_hub() -> ModuleType:
    with warnings.catch_warnings():
        # tensorflow_hub 0.16 imports pkg_resources, which setuptools now warns about.
        warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)
        import tensorflow_hub

    return tensorflow_hub


def check_savedmodel(tf: ModuleType, path: Path, expected: dict[str, np.ndarray], x: np.ndarray):
    """Load with tensorflow_hub.load as users do; every signature matches Keras on `x`."""
    hub = import_tensorflow_hub()

    loaded = hub.load(str(path))
    assert sorted(loaded.signatures) == sorted(expected), f"{path}: {list(loaded.signatures)}"
    for name, want in expected.items():
        function = loaded.signatures[name]
        _, inputs = function.structured_input_signature
        assert list(inputs) == ["pixels"], f"{path} {name}: inputs {inputs}"
        assert inputs["pixels"].shape.as_list() == [None, 64]
        assert inputs["pixels"].dtype == tf.float32
        output, width = TF_SIGNATURES[name]
        spec = function.structured_outputs
        assert list(spec) == [output] and spec[output].shape.as_list() == [None, width]
        got = function(pixels=tf.constant(x))[output].numpy()
        worst = float(np.abs(got - want).max())
        assert worst <= TF_TOLERANCE, f"{path} {name}: differs from Keras by {worst:g}"
        single = function(pixels=tf.constant(x[:1]))[output].numpy()
        assert np.abs(single - want[:1]).max() <= TF_TOLERANCE, f"{path} {name}: batch of 1"
    return loaded


def checkpoint_tensors(tf: ModuleType, path: Path) -> dict[str, np.ndarray]:
    """The variable values stored in a SavedModel, by checkpoint key (object graph left out)."""
    reader = tf.train.load_checkpoint(str(path / "variables" / "variables"))
    keys = [k for k in reader.get_variable_to_shape_map() if k != "_CHECKPOINTABLE_OBJECT_GRAPH"]
    return {k: reader.get_tensor(k) for k in sorted(keys)}


def tf_signature_decl(names: list[str]) -> list[dict]:
    return [
        {
            "name": name,
            "inputs": [tensor("pixels", [64])],
            "outputs": [tensor(TF_SIGNATURES[name][0], [TF_SIGNATURES[name][1]])],
        }
        for name in names
    ]


def digits_tf(tf: ModuleType, out: Path, split: Split, x_aug: np.ndarray, y_aug: np.ndarray):
    """digits-tf 1.0.0 (serving_default, features) and 1.1.0 (adds logits, same weights).

    Returns the package directories and 1.0.0's SavedModel as tensorflow_hub.load gave it.
    """
    import keras

    model = train_keras_mlp(split, x_aug, y_aug, seed=400)
    weights = [w.numpy() for w in model.weights]
    embedder = keras.Model(model.inputs, model.get_layer("embedding").output)
    reference = {}
    for part, x in (("val", split.x_val), ("test", split.x_test)):
        logits = model.predict(x, verbose=0, batch_size=len(x))
        reference[part] = {
            "serving_default": softmax(logits),
            "features": embedder.predict(x, verbose=0, batch_size=len(x)),
            "logits": logits,
        }
    params = int(sum(w.size for w in weights))
    metrics = measured(
        reference["val"]["serving_default"], reference["test"]["serving_default"], split, params
    )
    versions = [
        (
            "1.0.0",
            ["serving_default", "features"],
            "First release: a Keras 64-64-32-10 multilayer perceptron exported as a TF "
            "SavedModel with two signatures: serving_default (class probabilities) and "
            "features (the 32-float output of the penultimate layer).",
        ),
        (
            "1.1.0",
            ["serving_default", "features", "logits"],
            "Adds a third signature, logits (the scores before softmax). Same weights as "
            "1.0.0 (bit-identical variable values); serving_default and features are "
            "unchanged.",
        ),
    ]
    built = []
    loaded = None
    for version, names, notes in versions:
        directory = fresh_dir(out / f"digits-tf-{version}")
        directory.mkdir(parents=True)
        module = savedmodel_module(tf, weights, with_logits="logits" in names)
        save_savedmodel(tf, module, directory / "saved_model")
        expected = {name: reference["test"][name] for name in names}
        restored = check_savedmodel(tf, directory / "saved_model", expected, split.x_test)
        if version == "1.0.0":
            loaded = restored  # what digits-head is trained on
        size = package_bytes(directory)
        assert size < MAX_PACKAGE_BYTES, f"{directory} is {size} bytes"
        write_manifest(
            directory,
            manifest(
                "digits-tf",
                version,
                framework="tensorflow",
                kind="savedmodel",
                description=(
                    "Handwritten digit classifier (0-9) for 8x8 grey images as a TensorFlow "
                    "SavedModel: class probabilities, and a 32-float embedding of each image "
                    "for heads trained on top."
                ),
                algorithm="multilayer perceptron (Keras)",
                release_notes=notes,
                python_requires=["tensorflow"],
                artifacts=[{"format": "savedmodel", "role": "model", "file": "saved_model"}],
                metrics=dict(metrics),
                interface={
                    "preprocessing": PREPROCESSING,
                    "labels": LABELS,
                    "signatures": tf_signature_decl(names),
                },
            ),
        )
        built.append(directory)
    first, second = (checkpoint_tensors(tf, d / "saved_model") for d in built)
    assert first.keys() == second.keys() and all(
        np.array_equal(first[k], second[k]) for k in first
    ), "digits-tf 1.1.0 must keep 1.0.0's weights"
    check_keras_layer(built[0] / "saved_model", reference["test"]["features"], split.x_test)
    return built, loaded


def check_keras_layer(path: Path, want: np.ndarray, x: np.ndarray) -> None:
    """The TF Hub way of reusing a feature extractor: hub.KerasLayer on a signature."""
    hub = import_tensorflow_hub()

    layer = hub.KerasLayer(str(path), signature="features", output_key="embedding")
    got = np.asarray(layer(x))
    assert np.abs(got - want).max() <= TF_TOLERANCE, f"{path}: hub.KerasLayer differs"


# ---------------------------------------------------------------------------- digits-head


def digits_head(out: Path, split: Split, loaded, tf: ModuleType) -> Path:
    """Logistic regression on digits-tf 1.0.0's `features`, shipped as one ONNX Gemm."""
    features = loaded.signatures["features"]

    def embed(x: np.ndarray) -> np.ndarray:
        return features(pixels=tf.constant(x))["embedding"].numpy()

    e_train, e_val, e_test = embed(split.x_train), embed(split.x_val), embed(split.x_test)
    # C chosen on the validation set (the smallest of the best, for the simplest head).
    candidates = [
        LogisticRegression(C=c, max_iter=10_000).fit(e_train, split.y_train)
        for c in (0.01, 0.1, 1.0, 10.0)
    ]
    head = max(candidates, key=lambda m: (m.score(e_val, split.y_val), -m.C))
    linear = nn.Linear(32, 10)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(head.coef_.astype(np.float32)))
        linear.bias.copy_(torch.from_numpy(head.intercept_.astype(np.float32)))
    linear.eval()
    directory = fresh_dir(out / "digits-head-1.0.0")
    directory.mkdir(parents=True)
    files = {"onnx": "model.onnx"}
    export_onnx(
        linear, torch.from_numpy(e_test[:4]), directory / "model.onnx", "embedding", "logits"
    )
    reference = scores(linear, e_test)
    sklearn_logits = head.decision_function(e_test)
    assert np.abs(reference - sklearn_logits).max() <= PARITY_TOLERANCE, "head differs from sklearn"
    # Chained: pixels -> digits-tf features (the shipped SavedModel) -> the shipped ONNX head.
    metrics = measured(
        run_onnx(directory / "model.onnx", e_val),
        run_onnx(directory / "model.onnx", e_test),
        split,
        parameter_count(linear),
    )
    check_artifacts(directory, files, reference, e_test, split.y_test, metrics["test-accuracy"])
    write_manifest(
        directory,
        manifest(
            "digits-head",
            "1.0.0",
            framework="onnx",
            description=(
                "Digit classifier head: logistic regression over the 32-float embedding of "
                "digits-tf 1.x's `features` signature, returning logits for the digits 0-9."
            ),
            algorithm="multinomial logistic regression",
            release_notes=(
                "First release: fitted with scikit-learn on the features of digits-tf 1.0.0 "
                f"(1.1.0 keeps its weights bit for bit), C={head.C:g} chosen on the validation "
                "set; the accuracies are those of the chain digits-tf features -> head."
            ),
            python_requires=["numpy>=1.21"],
            files=files,
            metrics=metrics,
            interface={
                "inputs": [tensor("embedding", [32])],
                "outputs": [tensor("logits", [10])],
                "preprocessing": (
                    "none: takes the `embedding` output of digits-tf 1.x's `features` "
                    "signature as is"
                ),
                "labels": LABELS,
            },
            dependencies={"digits-tf": "^1.0.0"},
        ),
    )
    return directory


# ---------------------------------------------------------------------------- PyTorch Hub

HASH_IN_NAME = re.compile(r"-([a-f0-9]*)\.")  # torch.hub's HASH_REGEX


def hub_models() -> ModuleType:
    """hub/models.py, the exact classes hubconf.py builds, for training."""
    spec = importlib.util.spec_from_file_location("digits_hub_models", HUB_SOURCE / "models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def save_weights(model: nn.Module, folder: Path, stem: str) -> str:
    """torch.save(state_dict) as STEM-<first 8 hex of its sha256>.pth; returns the file name."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.pth"
    torch.save(model.state_dict(), path)
    name = f"{stem}-{sha256(path)[:8]}.pth"
    path.rename(folder / name)
    state = torch.load(folder / name, weights_only=True)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    return name


def write_hubconf(template: Path, dest: Path, weights: dict[str, str]) -> None:
    """Copy `template`, replacing its `_WEIGHTS = {...}` with this release's file names."""
    text = template.read_text(encoding="utf-8")
    (node,) = [
        n
        for n in ast.parse(text).body
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == "_WEIGHTS"
    ]
    assert list(ast.literal_eval(node.value)) == list(weights), f"{template}: keys differ"
    lines = text.splitlines(keepends=True)
    block = "_WEIGHTS = {\n" + "".join(f'    "{k}": "{v}",\n' for k, v in weights.items()) + "}\n"
    dest.write_text(
        "".join(lines[: node.lineno - 1]) + block + "".join(lines[node.end_lineno :]),
        encoding="utf-8",
    )


@contextlib.contextmanager
def served_weights(urls: dict[str, Path]) -> Iterator[list[str]]:
    """Answer torch.hub.load_state_dict_from_url from local files, as mlpm does: no network."""
    requested: list[str] = []

    def load_state_dict_from_url(
        url,
        model_dir=None,
        map_location=None,
        progress=True,
        check_hash=False,
        file_name=None,
        weights_only=False,
    ):
        assert url in urls, f"hubconf.py asks for {url}, which the manifest does not list"
        path = urls[url]
        if check_hash:  # what torch.hub checks after a download
            prefix = HASH_IN_NAME.search(Path(url).name).group(1)
            assert sha256(path).startswith(prefix), f"{path} does not match {url}"
        requested.append(url)
        return torch.load(path, map_location=map_location, weights_only=True)

    original = torch.hub.load_state_dict_from_url
    torch.hub.load_state_dict_from_url = load_state_dict_from_url
    try:
        yield requested
    finally:
        torch.hub.load_state_dict_from_url = original


def forget_hub_modules() -> None:
    # hubconf.py's `from models import ...` stays in sys.modules after a load; without this,
    # the next repo's hubconf.py would get the previous repo's models.py.
    for name in ("hubconf", "models"):
        sys.modules.pop(name, None)


def hub_entrypoints(hub_dir: Path) -> dict[str, Callable]:
    """What torch.hub.list shows for a local repo: public callables of hubconf.py."""
    forget_hub_modules()
    sys.path.insert(0, str(hub_dir))
    try:
        spec = importlib.util.spec_from_file_location("hubconf", hub_dir / "hubconf.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(hub_dir))
    return {
        name: getattr(module, name)
        for name in dir(module)
        if callable(getattr(module, name)) and not name.startswith("_")
    }


def hub_load(hub_dir: Path, entrypoint: str, **kwargs) -> nn.Module:
    forget_hub_modules()
    return torch.hub.load(str(hub_dir), entrypoint, source="local", trust_repo=True, **kwargs)


def digits_hub(out: Path, split: Split, x_aug: np.ndarray, y_aug: np.ndarray) -> list[Path]:
    """digits-hub 1.0.0, 1.1.0 (retrained: new weight files) and 2.0.0 (`hidden` required)."""
    models = hub_models()

    def fit(build: Callable[[], nn.Module], *, recipe: str, seed: int) -> nn.Module:
        torch.manual_seed(seed)  # before building: the initial weights come from `seed` too
        model = build()
        if recipe == "plain":  # the training images only, briefly
            return train(model, split.x_train, split.y_train, epochs=10, lr=1e-3, seed=seed)
        # the training images plus shifted copies, with weight decay, for longer
        epochs, lr, wd = (
            (30, 2e-3, 1e-3) if isinstance(model, models.DigitsCNN) else (100, 1e-3, 1e-2)
        )
        return train(model, x_aug, y_aug, epochs=epochs, lr=lr, weight_decay=wd, seed=seed)

    def mlp(hidden: int) -> Callable[[], nn.Module]:
        return lambda: models.DigitsMLP(hidden)

    # Fixed seeds; the test set played no part in choosing the recipes.
    trained = {
        "1.0.0": {
            "digits_mlp": fit(mlp(64), recipe="plain", seed=500),
            "digits_cnn": fit(models.DigitsCNN, recipe="plain", seed=501),
        },
    }
    mlp64 = fit(mlp(64), recipe="augmented", seed=510)
    cnn = fit(models.DigitsCNN, recipe="augmented", seed=511)
    trained["1.1.0"] = {"digits_mlp": mlp64, "digits_cnn": cnn}
    trained["2.0.0"] = {
        "digits_mlp_32": fit(mlp(32), recipe="augmented", seed=520),
        "digits_mlp_64": mlp64,  # 1.1.0's weights, same file
        "digits_mlp_128": fit(mlp(128), recipe="augmented", seed=521),
        "digits_cnn": cnn,
    }
    stems = {
        "digits_mlp": "digits_mlp",
        "digits_mlp_32": "digits_mlp_h32",
        "digits_mlp_64": "digits_mlp",
        "digits_mlp_128": "digits_mlp_h128",
        "digits_cnn": "digits_cnn",
    }
    # (entrypoint, kwargs, key in `trained`, metric prefix); the first is the default call.
    calls = {
        "1.0.0": [("digits_mlp", {}, "digits_mlp", ""), ("digits_cnn", {}, "digits_cnn", "cnn-")],
        "2.0.0": [
            ("digits_mlp", {"hidden": 64}, "digits_mlp_64", ""),
            ("digits_mlp", {"hidden": 32}, "digits_mlp_32", "mlp-h32-"),
            ("digits_mlp", {"hidden": 128}, "digits_mlp_128", "mlp-h128-"),
            ("digits_cnn", {}, "digits_cnn", "cnn-"),
        ],
    }
    calls["1.1.0"] = calls["1.0.0"]
    notes = {
        "1.0.0": (
            "First release: PyTorch Hub entrypoints digits_mlp (64-64-10 multilayer "
            "perceptron) and digits_cnn (two 3x3 convolutions and a linear head), both "
            "returning logits for pixels [batch, 64], briefly trained (10 epochs)."
        ),
        "1.1.0": (
            "Retrained weights for both entrypoints (training images plus one-pixel shifted "
            "copies, weight decay, 100 epochs for digits_mlp and 30 for digits_cnn): new "
            "weight files at new URLs; same entrypoints, parameters and tensors."
        ),
        "2.0.0": (
            "Breaking: digits_mlp's `hidden` is now a required keyword argument, because "
            "pretrained weights now exist for three widths (32, 64 and 128 hidden units) and "
            "none is the right default for every use. digits_mlp() and digits_mlp(True, 64) "
            "raise TypeError; digits_mlp(hidden=64) returns exactly 1.1.0's model (same "
            "weights file); hidden=32 and hidden=128 are new, trained the same way. "
            "digits_cnn is unchanged."
        ),
    }
    built = []
    for version, models_of in trained.items():
        directory = fresh_dir(out / f"digits-hub-{version}")
        hub_dir = directory / "hub"
        hub_dir.mkdir(parents=True)
        shutil.copyfile(HUB_SOURCE / "models.py", hub_dir / "models.py")
        names = {
            key: save_weights(m, directory / "weights", stems[key]) for key, m in models_of.items()
        }
        template = HUB_SOURCE / ("v2" if version.startswith("2.") else "v1") / "hubconf.py"
        write_hubconf(template, hub_dir / "hubconf.py", names)
        urls = {WEIGHTS_URL + name: directory / "weights" / name for name in names.values()}
        metrics = check_hub(hub_dir, urls, calls[version], models_of, split)
        if version.startswith("2."):
            with served_weights(urls):
                with contextlib.suppress(TypeError):
                    hub_load(hub_dir, "digits_mlp")
                    raise AssertionError("digits-hub 2.x: digits_mlp() must require hidden")
        else:
            with served_weights(urls):
                with contextlib.suppress(ValueError):
                    hub_load(hub_dir, "digits_mlp", hidden=32)
                    raise AssertionError("digits-hub 1.x has no pretrained hidden=32")
        assert sorted(p.name for p in hub_dir.iterdir()) == ["hubconf.py", "models.py"]
        size = package_bytes(directory)
        assert size < MAX_PACKAGE_BYTES, f"{directory} is {size} bytes"
        upstream = {"type": "torch-hub", "repo": HUB_REPO, "entrypoint": "digits_mlp"}
        if calls[version][0][1]:
            upstream["kwargs"] = calls[version][0][1]  # the default call needs an argument
        artifacts = [{"format": "torch-hub", "role": "code", "file": "hub"}]
        artifacts += [
            {
                "format": "torch-hub",
                "role": "weights",
                "file": f"weights/{n}",
                "upstream": WEIGHTS_URL + n,
            }
            for n in dict.fromkeys(names.values())
        ]
        write_manifest(
            directory,
            manifest(
                "digits-hub",
                version,
                framework="torch",
                kind="torch-hub",
                description=(
                    "Handwritten digit classifiers (0-9) for 8x8 grey images as a PyTorch Hub "
                    "repo: a multilayer perceptron (digits_mlp) and a small convolutional network "
                    "(digits_cnn), both returning logits."
                ),
                algorithm="multilayer perceptron; convolutional neural network",
                release_notes=notes[version],
                python_requires=["torch"],
                upstream=upstream,
                artifacts=artifacts,
                metrics=metrics,
                interface={
                    "default-entrypoint": "digits_mlp",
                    "preprocessing": PREPROCESSING,
                    "labels": LABELS,
                    "signatures": [
                        {
                            "name": "forward",
                            "inputs": [tensor("pixels", [64])],
                            "outputs": [tensor("logits", [10])],
                        }
                    ],
                },
            ),
        )
        built.append(directory)
    return built


def check_hub(
    hub_dir: Path,
    urls: dict[str, Path],
    calls: list[tuple[str, dict, str, str]],
    trained: dict[str, nn.Module],
    split: Split,
) -> dict:
    """torch.hub.load every call; each returns the trained model exactly. Returns metrics."""
    entrypoints = hub_entrypoints(hub_dir)
    assert sorted(entrypoints) == ["DigitsMLP", "digits_cnn", "digits_mlp"], sorted(entrypoints)
    assert all(entrypoints[name].__doc__ for name in entrypoints), "an entrypoint has no doc"
    metrics: dict = {}
    with served_weights(urls) as requested:
        for entrypoint, kwargs, key, prefix in calls:
            model = hub_load(hub_dir, entrypoint, **kwargs)
            assert not model.training, f"{entrypoint}{kwargs} is not in eval mode"
            got = scores(model, split.x_test)
            assert np.array_equal(got, scores(trained[key], split.x_test)), f"{entrypoint}{kwargs}"
            found = measured(scores(model, split.x_val), got, split, parameter_count(model))
            metrics |= {prefix + k: v for k, v in found.items()}
    assert set(requested) == set(urls), f"{hub_dir}: unused weights {set(urls) - set(requested)}"
    assert not (hub_dir / "__pycache__").exists()
    return metrics


# ---------------------------------------------------------------------------- main


def print_table(packages: list[Path], timings: dict[str, float]) -> None:
    print(f"{'package':22} {'bytes':>8} {'test':>7} {'val':>7} {'params':>7} {'time':>6}")
    for directory in packages:
        metrics = tomllib.loads((directory / "mlpm.toml").read_text())["package"]["metrics"]
        print(
            f"{directory.name:22} {package_bytes(directory):8d} {metrics['test-accuracy']:7.4f} "
            f"{metrics['validation-accuracy']:7.4f} {metrics['parameters']:7d} "
            f"{timings[directory.name]:5.1f}s"
        )
        standard = ("test-accuracy", "validation-accuracy", "parameters")
        extra = {k: v for k, v in metrics.items() if k not in standard}
        if extra:
            print(f"{'':22} " + "  ".join(f"{k}={v}" for k, v in extra.items()))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: train_family.py OUTDIR", file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    sys.dont_write_bytecode = True  # no __pycache__ inside the shipped hub/ folders
    scratch = Path(tempfile.mkdtemp(prefix="digits-family-"))
    # Keep the frameworks' caches and config files out of the user's home.
    os.environ |= {
        "KERAS_HOME": str(scratch / "keras"),
        "TFHUB_CACHE_DIR": str(scratch / "tfhub"),
        "TORCH_HOME": str(scratch / "torch"),
        "KERAS_BACKEND": "tensorflow",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "TF_ENABLE_ONEDNN_OPTS": "0",  # plain Eigen kernels: the same floats on any x86 CPU
    }
    torch.set_num_threads(1)  # fixes the summation order, hence the weights, on any machine
    torch.use_deterministic_algorithms(True)
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    started = clock = time.perf_counter()
    timings: dict[str, float] = {}
    packages: list[Path] = []

    def finished(dirs: list[Path]) -> None:
        nonlocal clock
        now = time.perf_counter()
        for d in dirs:
            timings[d.name] = (now - clock) / len(dirs)
        packages.extend(dirs)
        clock = now

    try:
        split = load_split()
        x_aug, y_aug = with_shifts(split.x_train, split.y_train)
        finished(mlp_sizes(out, split, x_aug, y_aug))
        tf = configure_tensorflow()
        tf_dirs, tf_loaded = digits_tf(tf, out, split, x_aug, y_aug)
        finished(tf_dirs)
        finished([digits_head(out, split, tf_loaded, tf)])
        finished(digits_hub(out, split, x_aug, y_aug))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print_table(packages, timings)
    print(f"total {time.perf_counter() - started:.1f}s; packages in {out.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

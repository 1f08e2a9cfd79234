"""Train mlpm's offline starter models on scikit-learn's bundled digits data set.

Usage:  .venv/bin/python registry-index/sources/digits/train.py OUTDIR

Writes one package directory per version into OUTDIR (``digits-1.0.0/``, ...,
``digits-calibrator-1.1.0/``), each holding an ``mlpm.toml`` and its model files,
ready for ``mlpm publish DIR --registry registry-index``.

Everything is deterministic (fixed seeds, one thread, fixed stratified 60/20/20
split with ``random_state=0``) and runs on CPU in well under a minute. Every metric is
measured, never typed in, and every exported file is checked under onnxruntime /
torch.jit.load to match torch within 1e-4 and to reproduce the recorded accuracy.
"""

from __future__ import annotations

import itertools
import json
import logging
import shutil
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from scipy.optimize import minimize_scalar
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

SOURCE = "registry-index/sources/digits/train.py"
DATASET = "scikit-learn digits (UCI optical recognition of handwritten digits), 8x8"
PREPROCESSING = "pixel values divided by 16 (range [0, 1])"
LABELS = "digits 0-9"
PARITY_TOLERANCE = 1e-4
MAX_FILE_BYTES = 200_000
ECE_BINS = 15


# ---------------------------------------------------------------------------- data


@dataclass
class Split:
    """The fixed stratified 60/20/20 split, pixels already scaled to [0, 1]."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_split() -> Split:
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)  # raw pixels are 0..16
    y = digits.target.astype(np.int64)
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=0
    )
    # 0.25 of the remaining 80% is 20% of the whole.
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=0
    )
    return Split(x_train, y_train, x_val, y_val, x_test, y_test)


def with_shifts(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The images plus four copies shifted by one pixel (up, down, left, right)."""
    images = x.reshape(-1, 8, 8)
    copies = [images]
    for axis, step in ((1, -1), (1, 1), (2, -1), (2, 1)):
        shifted = np.roll(images, step, axis=axis)
        # Zero the row/column that wrapped around instead of letting it reappear.
        edge = 0 if step == 1 else -1
        if axis == 1:
            shifted[:, edge, :] = 0.0
        else:
            shifted[:, :, edge] = 0.0
        copies.append(shifted)
    return np.concatenate(copies).reshape(-1, 64), np.tile(y, len(copies))


# ---------------------------------------------------------------------------- models


class MLP(nn.Module):
    """64 -> hidden -> 10, ReLU; returns logits."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.hidden = nn.Linear(64, hidden)
        self.out = nn.Linear(hidden, 10)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.hidden(pixels)))


class CNN(nn.Module):
    """Two 3x3 convolutions and a linear head over 1x8x8 images; returns probabilities."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.head = nn.Linear(16 * 4 * 4, 10)

    def logits(self, image: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv1(image))
        h = torch.max_pool2d(torch.relu(self.conv2(h)), 2)
        return self.head(torch.flatten(h, 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(image), dim=1)


class TemperatureScaling(nn.Module):
    """softmax(logits / T) with a single fitted temperature T."""

    def __init__(self, temperature: float) -> None:
        super().__init__()
        self.temperature = nn.Parameter(torch.tensor(temperature, dtype=torch.float32))

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.softmax(logits / self.temperature, dim=1)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def train(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    lr: float,
    weight_decay: float = 0.0,
    batch_size: int = 32,
    seed: int,
    logits: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> nn.Module:
    """Mini-batch Adam(W) on cross-entropy; the shuffling order comes from `seed`."""
    forward = logits or model
    generator = torch.Generator().manual_seed(seed)
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(xs), generator=generator)
        for start in range(0, len(xs), batch_size):
            batch = order[start : start + batch_size]
            optimizer.zero_grad()
            loss_fn(forward(xs[batch]), ys[batch]).backward()
            optimizer.step()
    return model.eval()


# ---------------------------------------------------------------------------- export


def export_onnx(model: nn.Module, example: torch.Tensor, path: Path, inp: str, out: str) -> None:
    """One self-contained .onnx file whose first dimension is the symbolic `batch`."""
    batch = torch.export.Dim("batch", min=1, max=4096)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # pytree deprecations inside the exporter
        torch.onnx.export(
            model,
            (example,),
            str(path),
            input_names=[inp],
            output_names=[out],
            dynamic_shapes=({0: batch},),
            external_data=False,
            verbose=False,
        )
    proto = onnx.load(str(path))
    # Name the batch dimension "batch" whatever the exporter called its symbol.
    for value in [*proto.graph.input, *proto.graph.output]:
        dim = value.type.tensor_type.shape.dim[0]
        if dim.HasField("dim_value"):
            raise RuntimeError(f"{path}: {value.name} has a fixed batch dimension")
        dim.dim_param = "batch"
    # The exporter records stack traces with this machine's absolute paths; ship none.
    for item in [*proto.graph.node, *proto.graph.initializer, *proto.graph.value_info]:
        del item.metadata_props[:]
    for node in proto.graph.node:
        node.doc_string = ""
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(path))


def export_torchscript(model: nn.Module, example: torch.Tensor, path: Path) -> None:
    with warnings.catch_warnings():
        # torch.jit is deprecated upstream in favour of torch.export, but TorchScript is
        # still what C++ and mobile runtimes load, so the notice is noise here.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace(model, example, _store_inputs=False)
        torch.jit.save(traced, str(path))
    # Rewrite the archive without its *.debug_pkl records: they hold source ranges with
    # this machine's absolute paths, and loading does not need them.
    reader = torch._C.PyTorchFileReader(str(path))
    records = {
        name: reader.get_record(name)
        for name in reader.get_all_records()
        if not name.endswith(".debug_pkl") and name != ".data/serialization_id"
    }
    del reader
    writer = torch._C.PyTorchFileWriter(str(path))
    for name, data in records.items():
        writer.write_record(name, data, len(data))
    writer.write_end_of_file()


def run_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {session.get_inputs()[0].name: x})
    return output


def run_torchscript(path: Path, x: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        module = torch.jit.load(str(path))
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


def accuracy(scores: np.ndarray, y: np.ndarray) -> float:
    return float((scores.argmax(axis=1) == y).mean())


# ---------------------------------------------------------------------------- calibration


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def nll(logits: np.ndarray, y: np.ndarray, temperature: float) -> float:
    z = logits.astype(np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(y)), y].mean())


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The T > 0 minimising validation NLL of softmax(logits / T), searched on log T."""
    result = minimize_scalar(
        lambda log_t: nll(logits, y, float(np.exp(log_t))),
        bounds=(-4.0, 4.0),
        method="bounded",
        options={"xatol": 1e-8},
    )
    return float(np.exp(result.x))


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> float:
    """Equal-width-bin ECE over the top-class confidence."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        in_bin = (confidence > lo) & (confidence <= hi)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)


# ---------------------------------------------------------------------------- packages


@dataclass
class Package:
    """One package directory: its mlpm.toml fields and where its files are."""

    name: str
    version: str
    framework: str
    description: str
    algorithm: str
    release_notes: str
    files: dict[str, str]
    metrics: dict[str, float | int]
    inputs: list[dict]
    outputs: list[dict]
    preprocessing: str
    dependencies: dict[str, str] = field(default_factory=dict)

    @property
    def dirname(self) -> str:
        return f"{self.name}-{self.version}"


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string of ASCII text is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def render_manifest(pkg: Package) -> str:
    fields = {
        "name": pkg.name,
        "version": pkg.version,
        "framework": pkg.framework,
        "description": pkg.description,
        "license": "MIT",
        "authors": ["mlpm starter models"],
        "task": "image-classification",
        "family": "digits",
        "algorithm": pkg.algorithm,
        "dataset": DATASET,
        "release-notes": pkg.release_notes,
        "source": SOURCE,
        "python-requires": ["numpy>=1.21"],
        "files": pkg.files,
    }
    lines = ["[package]", *(f"{k} = {toml_value(v)}" for k, v in fields.items()), ""]
    lines += ["[package.metrics]", *(f"{k} = {toml_value(v)}" for k, v in pkg.metrics.items())]
    lines += [
        "",
        "[package.interface]",
        f"inputs = {toml_value(pkg.inputs)}",
        f"outputs = {toml_value(pkg.outputs)}",
        f"preprocessing = {toml_value(pkg.preprocessing)}",
        f"labels = {toml_value(LABELS)}",
        "",
        "[dependencies]",
        *(f"{k} = {toml_value(v)}" for k, v in pkg.dependencies.items()),
    ]
    return "\n".join(lines) + "\n"


def write_manifest(pkg: Package, directory: Path) -> None:
    text = render_manifest(pkg)
    try:
        import tomllib
    except ImportError:  # Python 3.10: nothing to double-check with
        tomllib = None
    if tomllib is not None:
        parsed = tomllib.loads(text)["package"]
        assert parsed["version"] == pkg.version and parsed["files"] == pkg.files
    (directory / "mlpm.toml").write_text(text, encoding="utf-8")


def tensor(name: str, shape: list) -> dict:
    return {"name": name, "dtype": "float32", "shape": ["batch", *shape]}


# ---------------------------------------------------------------------------- verification


def check_artifacts(
    directory: Path,
    files: dict[str, str],
    reference: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    recorded_accuracy: float,
) -> None:
    """Each shipped file reproduces torch's test-set outputs and the recorded accuracy."""
    runners = {"onnx": run_onnx, "torchscript": run_torchscript}
    for fmt, filename in files.items():
        path = directory / filename
        size = path.stat().st_size
        assert size < MAX_FILE_BYTES, f"{path} is {size} bytes"
        got = runners[fmt](path, x_test)
        worst = float(np.abs(got - reference).max())
        assert worst <= PARITY_TOLERANCE, f"{path}: differs from torch by {worst:g}"
        assert round(accuracy(got, y_test), 4) == recorded_accuracy, f"{path}: accuracy differs"
        # The batch dimension really is symbolic: one image at a time works too.
        single = runners[fmt](path, x_test[:1])
        assert np.abs(single - reference[:1]).max() <= PARITY_TOLERANCE, f"{path}: batch of 1"


def build_classifier(
    directory: Path,
    model: nn.Module,
    files: dict[str, str],
    to_input: Callable[[np.ndarray], np.ndarray],
    split: Split,
) -> dict[str, float | int]:
    """Export `model` into `directory` as `files`, verify every file, return its metrics."""
    directory.mkdir(parents=True)
    x_val, x_test = to_input(split.x_val), to_input(split.x_test)
    with torch.no_grad():
        reference = model(torch.from_numpy(x_test)).numpy()
        val_scores = model(torch.from_numpy(x_val)).numpy()
    example = torch.from_numpy(x_test[:4])
    names = ("image", "probabilities") if isinstance(model, CNN) else ("pixels", "logits")
    if "onnx" in files:
        export_onnx(model, example, directory / files["onnx"], *names)
    if "torchscript" in files:
        export_torchscript(model, example, directory / files["torchscript"])
    metrics = {
        "test-accuracy": round(accuracy(reference, split.y_test), 4),
        "validation-accuracy": round(accuracy(val_scores, split.y_val), 4),
        "parameters": parameter_count(model),
    }
    check_artifacts(directory, files, reference, x_test, split.y_test, metrics["test-accuracy"])
    return metrics


def build_calibrator(directory: Path, base_onnx: Path, split: Split) -> dict[str, float | int]:
    """Fit T on the validation logits of the shipped base model; export softmax(z / T)."""
    directory.mkdir(parents=True)
    val_logits = run_onnx(base_onnx, split.x_val)
    test_logits = run_onnx(base_onnx, split.x_test)
    temperature = fit_temperature(val_logits, split.y_val)
    model = TemperatureScaling(temperature).eval()
    export_onnx(
        model,
        torch.from_numpy(test_logits[:4]),
        directory / "model.onnx",
        "logits",
        "probabilities",
    )
    with torch.no_grad():
        reference = model(torch.from_numpy(test_logits)).numpy()
    test_probs = run_onnx(directory / "model.onnx", test_logits)
    val_probs = run_onnx(directory / "model.onnx", val_logits)
    metrics = {
        "test-accuracy": round(accuracy(test_probs, split.y_test), 4),
        "validation-accuracy": round(accuracy(val_probs, split.y_val), 4),
        "parameters": 1,
        "temperature": round(temperature, 4),
        "test-ece-before": round(expected_calibration_error(softmax(test_logits), split.y_test), 4),
        "test-ece-after": round(expected_calibration_error(test_probs, split.y_test), 4),
        "test-nll-before": round(nll(test_logits, split.y_test, 1.0), 4),
        "test-nll-after": round(nll(test_logits, split.y_test, temperature), 4),
    }
    check_artifacts(
        directory,
        {"onnx": "model.onnx"},
        reference,
        test_logits,
        split.y_test,
        metrics["test-accuracy"],
    )
    return metrics


# ---------------------------------------------------------------------------- main


def as_pixels(x: np.ndarray) -> np.ndarray:
    return x  # the MLPs take the 64 scaled pixels as they are


def as_image(x: np.ndarray) -> np.ndarray:
    return x.reshape(-1, 1, 8, 8)


def fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    return path


def build_all(out: Path, split: Split, timings: dict[str, float]) -> list[Package]:
    """Train, export, verify and describe every package; returns them in publish order."""
    x_aug, y_aug = with_shifts(split.x_train, split.y_train)
    onnx_only = {"onnx": "model.onnx"}
    both = {"onnx": "model.onnx", "torchscript": "model.pt"}
    mlp_interface = {
        "inputs": [tensor("pixels", [64])],
        "outputs": [tensor("logits", [10])],
        "preprocessing": PREPROCESSING,
    }
    packages: list[Package] = []
    clock = time.perf_counter()

    def finished(pkg: Package) -> None:
        nonlocal clock
        packages.append(pkg)
        now = time.perf_counter()
        timings[pkg.dirname] = now - clock
        clock = now

    # 1.0.0: a small MLP, briefly trained.
    torch.manual_seed(100)
    mlp = train(MLP(32), split.x_train, split.y_train, epochs=30, lr=1e-3, seed=100)
    metrics = build_classifier(fresh_dir(out / "digits-1.0.0"), mlp, onnx_only, as_pixels, split)
    finished(
        Package(
            name="digits",
            version="1.0.0",
            framework="onnx",
            description=(
                "Handwritten digit classifier (0-9) for 8x8 grey images: a small multilayer "
                "perceptron returning logits."
            ),
            algorithm="multilayer perceptron",
            release_notes="First release: a 64-32-10 multilayer perceptron trained for 30 epochs.",
            files=onnx_only,
            metrics=metrics,
            **mlp_interface,
        )
    )

    # 1.1.0 (MINOR): same interface, wider and longer-trained, so new weights.
    torch.manual_seed(110)
    mlp = train(MLP(64), split.x_train, split.y_train, epochs=150, lr=1e-3, seed=110)
    metrics = build_classifier(fresh_dir(out / "digits-1.1.0"), mlp, onnx_only, as_pixels, split)
    finished(
        Package(
            name="digits",
            version="1.1.0",
            framework="onnx",
            description=(
                "Handwritten digit classifier (0-9) for 8x8 grey images: a multilayer perceptron "
                "returning logits."
            ),
            algorithm="multilayer perceptron",
            release_notes=(
                "Retrained with a 64-unit hidden layer for 150 epochs: new weights, same "
                "interface, higher accuracy."
            ),
            files=onnx_only,
            metrics=metrics,
            **mlp_interface,
        )
    )

    # 1.2.0 (MINOR): retrained with weight decay on shifted copies; adds TorchScript.
    torch.manual_seed(120)
    mlp = train(MLP(64), x_aug, y_aug, epochs=60, lr=1e-3, weight_decay=1e-2, seed=120)
    metrics = build_classifier(fresh_dir(out / "digits-1.2.0"), mlp, both, as_pixels, split)
    finished(
        Package(
            name="digits",
            version="1.2.0",
            framework="torch",
            description=(
                "Handwritten digit classifier (0-9) for 8x8 grey images: a multilayer perceptron."
            ),
            algorithm="multilayer perceptron",
            release_notes=(
                "Retrained with weight decay on the training images plus one-pixel shifted "
                "copies; adds a TorchScript file next to the ONNX one."
            ),
            files=both,
            metrics=metrics,
            **mlp_interface,
        )
    )

    # 1.2.1 (PATCH): the exact bytes of 1.2.0; only the metadata changes.
    directory = fresh_dir(out / "digits-1.2.1")
    directory.mkdir(parents=True)
    for filename in both.values():
        shutil.copyfile(out / "digits-1.2.0" / filename, directory / filename)
    finished(
        Package(
            name="digits",
            version="1.2.1",
            framework="torch",
            description=(
                "Handwritten digit classifier (0-9) for 8x8 grey images scaled to [0, 1]: a "
                "64-64-10 multilayer perceptron returning unnormalised logits (apply softmax for "
                "probabilities)."
            ),
            algorithm="multilayer perceptron",
            release_notes=(
                "Documentation only: the description now states the input range and that the "
                "output is logits. Model files are byte-for-byte those of 1.2.0."
            ),
            files=both,
            metrics=dict(metrics),
            **mlp_interface,
        )
    )

    # 2.0.0 (MAJOR): a CNN over 1x8x8 images returning probabilities.
    torch.manual_seed(200)
    cnn = CNN()
    train(
        cnn,
        as_image(x_aug),
        y_aug,
        epochs=30,
        lr=2e-3,
        weight_decay=1e-3,
        seed=200,
        logits=cnn.logits,
    )
    metrics = build_classifier(fresh_dir(out / "digits-2.0.0"), cnn, both, as_image, split)
    finished(
        Package(
            name="digits",
            version="2.0.0",
            framework="torch",
            description=(
                "Handwritten digit classifier (0-9) for 8x8 grey images: a small convolutional "
                "network returning class probabilities."
            ),
            algorithm="convolutional neural network",
            release_notes=(
                "Breaking: now a convolutional network that takes `image` [batch, 1, 8, 8] "
                "instead of `pixels` [batch, 64] and returns `probabilities` (softmax applied) "
                "instead of `logits`."
            ),
            files=both,
            metrics=metrics,
            inputs=[tensor("image", [1, 8, 8])],
            outputs=[tensor("probabilities", [10])],
            preprocessing="pixel values divided by 16 (range [0, 1]), as a 1x8x8 image (row-major)",
        )
    )

    # digits-calibrator: temperature scaling fitted on a shipped digits release's logits.
    calibrators = [
        (
            "1.0.0",
            "1.1.0",
            "^1.1.0",
            "First release: temperature fitted on the validation-set logits of digits 1.1.0.",
        ),
        (
            "1.1.0",
            "1.2.0",
            "^1.2.0",
            "Temperature refitted on the validation-set logits of digits 1.2.x.",
        ),
    ]
    for version, base, base_range, notes in calibrators:
        directory = fresh_dir(out / f"digits-calibrator-{version}")
        metrics = build_calibrator(directory, out / f"digits-{base}" / "model.onnx", split)
        finished(
            Package(
                name="digits-calibrator",
                version=version,
                framework="onnx",
                description=(
                    f"Temperature scaling for the logits of digits {base_range}: turns them into "
                    "calibrated class probabilities."
                ),
                algorithm="temperature scaling",
                release_notes=notes,
                files=onnx_only,
                metrics=metrics,
                inputs=[tensor("logits", [10])],
                outputs=[tensor("probabilities", [10])],
                # Kept identical across releases: a changed preprocessing contract is a MAJOR bump.
                preprocessing="none: takes the `logits` output of a digits 1.x classifier as is",
                dependencies={"digits": base_range},
            )
        )

    assert all(
        (out / "digits-1.2.0" / n).read_bytes() == (out / "digits-1.2.1" / n).read_bytes()
        for n in both.values()
    )
    return packages


def print_table(out: Path, packages: list[Package], timings: dict[str, float]) -> None:
    print(f"{'package':26} {'files (bytes)':>30} {'test':>7} {'val':>7} {'params':>7} {'time':>6}")
    for pkg in packages:
        directory = out / pkg.dirname
        sizes = ", ".join(f"{f}={(directory / n).stat().st_size}" for f, n in pkg.files.items())
        m = pkg.metrics
        print(
            f"{pkg.dirname:26} {sizes:>30} {m['test-accuracy']:7.4f} "
            f"{m['validation-accuracy']:7.4f} {m['parameters']:7d} "
            f"{timings[pkg.dirname]:5.1f}s"
        )
        if "temperature" in m:
            print(
                f"{'':26} T={m['temperature']}  test ECE {m['test-ece-before']} -> "
                f"{m['test-ece-after']}  test NLL {m['test-nll-before']} -> "
                f"{m['test-nll-after']}"
            )


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: train.py OUTDIR", file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)  # fixes the summation order, hence the weights, on any machine
    torch.use_deterministic_algorithms(True)
    # The exporter warns about every torchvision operator it cannot register.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    packages = build_all(out, load_split(), timings)
    for pkg in packages:
        write_manifest(pkg, out / pkg.dirname)
    print_table(out, packages, timings)
    print(f"total {time.perf_counter() - started:.1f}s; packages in {out.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

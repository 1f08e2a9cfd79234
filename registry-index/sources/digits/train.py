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
import logging
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from common import (
    DATASET,
    LABELS,
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
from scipy.optimize import minimize_scalar
from torch import nn

SOURCE = "registry-index/sources/digits/train.py"
ECE_BINS = 15


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


# ---------------------------------------------------------------------------- calibration


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


# ---------------------------------------------------------------------------- build


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

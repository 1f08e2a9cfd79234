"""Helpers shared by the digits training scripts (train.py, train_family.py).

The data split, the training loop, the exporters that strip machine-specific records,
the runtime checks and the TOML writing live here so that every starter model is made
the same way. Model classes stay in the scripts: TorchScript records a class's module in
its type name, so moving one would change the bytes of an already published file.
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

DATASET = "scikit-learn digits (UCI optical recognition of handwritten digits), 8x8"
PREPROCESSING = "pixel values divided by 16 (range [0, 1])"
LABELS = "digits 0-9"
PARITY_TOLERANCE = 1e-4
MAX_FILE_BYTES = 200_000


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


# ---------------------------------------------------------------------------- training


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


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------------------- packages


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


def tensor(name: str, shape: list) -> dict:
    return {"name": name, "dtype": "float32", "shape": ["batch", *shape]}


def fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    return path


def check_artifacts(
    directory: Path,
    files: dict[str, str],
    reference: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    recorded_accuracy: float,
    max_bytes: int = MAX_FILE_BYTES,
) -> None:
    """Each shipped file reproduces torch's test-set outputs and the recorded accuracy."""
    runners = {"onnx": run_onnx, "torchscript": run_torchscript}
    for fmt, filename in files.items():
        path = directory / filename
        size = path.stat().st_size
        assert size < max_bytes, f"{path} is {size} bytes"
        got = runners[fmt](path, x_test)
        worst = float(np.abs(got - reference).max())
        assert worst <= PARITY_TOLERANCE, f"{path}: differs from torch by {worst:g}"
        assert round(accuracy(got, y_test), 4) == recorded_accuracy, f"{path}: accuracy differs"
        # The batch dimension really is symbolic: one image at a time works too.
        single = runners[fmt](path, x_test[:1])
        assert np.abs(single - reference[:1]).max() <= PARITY_TOLERANCE, f"{path}: batch of 1"

"""ONNX models run on ONNX Runtime (CPU unless the caller asks for other providers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_session(path: Path, providers: list[str] | None = None, **_: Any):
    """An ``onnxruntime.InferenceSession`` over the verified file at ``path``."""
    import onnxruntime

    return onnxruntime.InferenceSession(str(path), providers=providers or ["CPUExecutionProvider"])

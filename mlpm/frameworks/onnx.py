"""ONNX models run on ONNX Runtime (CPU unless the caller asks for other providers)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any


def load_session(path: Path, providers: list[str] | None = None, **_: Any):
    """An ``onnxruntime.InferenceSession`` over the verified file at ``path``.

    A file ONNX Runtime refuses (an op it has no kernel for, a newer IR version) raises
    FormatNotLoadable with ONNX Runtime's own reason."""
    import onnxruntime

    try:
        return onnxruntime.InferenceSession(str(path),
                                            providers=providers or ["CPUExecutionProvider"])
    except Exception as exc:
        if type(exc).__name__ == "NoSuchFile" or not Path(path).exists():
            raise  # removed meanwhile: mlpm.frameworks.load_file says so
        if type(exc).__module__.startswith("onnxruntime"):
            from mlpm.errors import FormatNotLoadable

            raise FormatNotLoadable(f"ONNX Runtime cannot load this ONNX file "
                                    f"({refusal(str(exc))})") from None
        raise


def refusal(text: str) -> str:
    """ONNX Runtime's reason in one line, without its status code, path and C++ location.

    >>> refusal("[ONNXRuntimeError] : 1 : FAIL : Load model from /m.onnx failed:Fatal "
    ...         "error: com.example:Foo(-1) is not a registered function/op")
    'com.example:Foo(-1) is not a registered function/op'
    """
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    line = lines[0] if lines else "it gave no reason"
    line = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", line)
    line = re.sub(r"^Load model from .*? failed:", "", line)
    line = re.sub(r"^\S+\.(?:cc|cpp|h):\d+ .*?\) ", "", line)  # the C++ source and function
    line = re.sub(r"^Fatal error: ", "", line).strip().rstrip(".")
    return line if len(line) <= 300 else line[:297] + "..."

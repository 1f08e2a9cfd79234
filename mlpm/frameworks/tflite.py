"""TFLite models, run by one interpreter for ``mlpm.load`` and for conversion parity.

LiteRT's interpreter (``ai_edge_litert``, TFLite's successor) when it is installed, else
TensorFlow's ``tf.lite.Interpreter``. A published ``.tflite`` and a converted one load
through the same function that checked the conversion's parity, so a file that passed
parity is a file ``mlpm.load`` can load, and a published file is refused the same way.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mlpm.errors import FormatNotLoadable

# What TFLite's C++ logger prints on every first allocation, whatever the log level.
_TFLITE_CHATTER = ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",)


def interpreter_class() -> tuple[Any, str]:
    """(the Interpreter class, the runtime's name): LiteRT's if installed, else TensorFlow's.

    Importing TensorFlow is the fallback, so a machine with only ``ai-edge-litert`` runs
    TFLite without TensorFlow; with neither, ModuleNotFoundError names ``tensorflow``."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "LiteRT"
    except ImportError:
        pass
    from mlpm.frameworks.tensorflow import quiet_tensorflow

    quiet_tensorflow()
    import tensorflow as tf

    return tf.lite.Interpreter, "TensorFlow Lite"


def interpreter(path: Path) -> Any:
    """An interpreter over the TFLite file at ``path``, its tensors allocated.

    A file the interpreter refuses (not a TFLite model, a custom op it has no kernel for)
    raises FormatNotLoadable with the interpreter's own reason.

    >>> it = interpreter(Path("model.tflite"))  # doctest: +SKIP
    >>> it.get_signature_runner("serving_default")(x=batch)  # doctest: +SKIP
    """
    import warnings

    cls, runtime = interpreter_class()
    try:
        with warnings.catch_warnings():  # tf.lite.Interpreter's own deprecation notice
            warnings.simplefilter("ignore", UserWarning)
            made = cls(model_path=str(path))
        return allocated(made)
    except (RuntimeError, ValueError) as exc:
        if not Path(path).exists():
            raise FileNotFoundError(str(path)) from None  # removed meanwhile: the caller says so
        raise FormatNotLoadable(f"{runtime} cannot run this TFLite file "
                                f"({refusal(exc)})") from None


def load_interpreter(path: Path, **_: Any) -> Any:
    """``mlpm.load`` of a TFLite file: the allocated interpreter (``get_signature_runner``)."""
    return interpreter(path)


def refusal(exc: BaseException) -> str:
    """The interpreter's reason, in one line: its first line, without links or trailing dot."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    first = lines[0] if lines else type(exc).__name__
    return first.rstrip(".") if len(first) <= 300 else first[:297] + "..."


def allocated(interpreter):
    """``interpreter`` after ``allocate_tensors()``, without TFLite's XNNPACK INFO line.

    The line is written to the C-level stderr (TF_CPP_MIN_LOG_LEVEL does not reach it):
    stderr goes to a temp file for the call, and every other line is passed on, so real
    errors still show. The delegate is applied once, at this first allocation.
    """
    import sys
    import tempfile

    if os.environ.get("MLPM_DEBUG"):
        interpreter.allocate_tensors()
        return interpreter
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        try:
            os.dup2(captured.fileno(), 2)
            interpreter.allocate_tensors()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            rest = [line for line in captured.read().decode(errors="replace").splitlines(True)
                    if line.strip() not in _TFLITE_CHATTER]
            if rest:
                sys.stderr.write("".join(rest))
                sys.stderr.flush()
    return interpreter

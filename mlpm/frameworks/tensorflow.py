"""TF SavedModels (also from TF Hub), loaded through tensorflow_hub from a store entry.

The SavedModel is an extracted, verified entry in mlpm's store, and ``hub.load`` is
given that local folder, so tensorflow_hub's own download cache is never used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mlpm.errors import FrameworkMissing, UsageError


def quiet_tensorflow() -> None:
    """TensorFlow's C++ start-up chatter (CUDA probing on a CPU machine) is not for users:
    silence its log levels, and import it once with the C-level stderr sent to /dev/null
    (those lines are written before its logging is even set up)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import sys

    if "tensorflow" in sys.modules or os.environ.get("MLPM_DEBUG"):
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        try:
            import tensorflow  # noqa: F401
        except ImportError:
            pass  # the caller imports again and reports what is missing
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _hub(label: str):
    quiet_tensorflow()
    try:
        import tensorflow_hub as hub
    except ModuleNotFoundError:
        raise FrameworkMissing(f"{label} is a TensorFlow SavedModel; install TensorFlow with "
                               "`pip install 'mlpm[tensorflow]'`.") from None
    return hub


def load_savedmodel(path: Path, label: str, signature: str | None = None, **options: Any):
    """``hub.load`` of the SavedModel folder; with ``signature``, that signature's function."""
    hub = _hub(label)
    obj = hub.load(str(path), **options)
    if signature is None:
        return obj
    if signature not in obj.signatures:
        raise UsageError(f"{label} has no signature '{signature}'; it has "
                         f"{', '.join(sorted(obj.signatures)) or 'none'}.")
    return obj.signatures[signature]


def keras_layer(path: Path, label: str, **options: Any):
    """A ``hub.KerasLayer`` over the SavedModel folder (tf-keras)."""
    hub = _hub(label)
    return hub.KerasLayer(str(path), **options)

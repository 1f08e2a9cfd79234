"""Framework adapters: turn a verified file in the store into a loaded model.

Each adapter module imports its framework inside its functions, so that
``import mlpm`` never imports torch, TensorFlow or ONNX Runtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlpm.errors import FormatNotLoadable, FrameworkMissing, ModelLoadError, RemovedWhileLoading

# format -> (adapter module, function, pip extra that provides the framework)
LOADERS = {
    "onnx": ("mlpm.frameworks.onnx", "load_session", "onnx"),
    "torchscript": ("mlpm.frameworks.torch", "load_torchscript", "torch"),
    "exported-program": ("mlpm.frameworks.torch", "load_exported_program", "torch"),
    "state-dict": ("mlpm.frameworks.torch", "load_state_dict", "torch"),
    "tflite": ("mlpm.frameworks.tflite", "load_interpreter", "tensorflow"),
}

# Every format ``mlpm.load`` loads: the files above, and the folders mlpm/loading.py loads
# itself (a SavedModel through tensorflow_hub, hub code, a Hugging Face repository's
# safetensors). A usage context may choose only these (tests/unit/test_loading.py checks).
LOADABLE = (*LOADERS, "savedmodel", "torch-hub", "safetensors",
            "js")  # a js conversion is an ONNX file: in Python, ONNX Runtime runs it


def _identity(path: Path) -> tuple[int, int] | None:
    """Which file ``path`` names now (device, inode); None when there is none."""
    import os

    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def load_file(fmt: str, path: Path, label: str, **options: Any) -> Any:
    """Load ``path`` (an artifact of format ``fmt``) with its framework."""
    import importlib

    if fmt not in LOADERS:
        raise FormatNotLoadable(f"mlpm.load has no loader for the {fmt} format of {label}; "
                                "load another of its formats with format=...")
    module_name, func, extra = LOADERS[fmt]
    identity = _identity(path)
    try:
        module = importlib.import_module(module_name)
        loader = getattr(module, func)
        return loader(path, **options)
    except ModuleNotFoundError as exc:
        raise FrameworkMissing(
            f"loading {label} as {fmt} needs the Python package '{exc.name}', which is not "
            f"installed; run `pip install 'mlpm[{extra}]'`."
        ) from None
    except Exception as exc:
        # The file went away (`mlpm remove`, `cache prune` in another process), maybe to
        # come back as another file (the inode can be reused: the loader's own "no such
        # file" is the other sign).
        if identity is None or identity != _identity(path) or isinstance(
                exc, FileNotFoundError) or type(exc).__name__ == "NoSuchFile":
            raise RemovedWhileLoading(
                f"{label} was removed from the cache while loading (`mlpm remove` or `mlpm "
                "cache prune` in another process); run `mlpm install` and retry.") from None
        if type(exc).__name__ == "UnpicklingError":  # torch's weights_only refusal
            raise ModelLoadError(
                f"{label} holds pickled objects that can run code, so mlpm refused to load it "
                "(weights only); run `mlpm audit` to see them, and only if you trust this "
                f"package add it to allow-pickle = [\"{label.split('@')[0]}\"] in the manifest."
            ) from None
        if fmt in ("torchscript", "exported-program") and isinstance(exc, RuntimeError):
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelLoadError(f"{label} is not a loadable {fmt} file ({first}); ask its "
                                 "publisher to republish it.") from None
        raise

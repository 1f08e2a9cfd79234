"""Framework adapters: turn a verified file in the store into a loaded model.

Each adapter module imports its framework inside its functions, so that
``import mlpm`` never imports torch, TensorFlow or ONNX Runtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlpm.errors import FrameworkMissing, ModelLoadError

# format -> (adapter module, function, pip extra that provides the framework)
LOADERS = {
    "onnx": ("mlpm.frameworks.onnx", "load_session", "onnx"),
    "torchscript": ("mlpm.frameworks.torch", "load_torchscript", "torch"),
    "exported-program": ("mlpm.frameworks.torch", "load_exported_program", "torch"),
    "state-dict": ("mlpm.frameworks.torch", "load_state_dict", "torch"),
}


def load_file(fmt: str, path: Path, label: str, **options: Any) -> Any:
    """Load ``path`` (an artifact of format ``fmt``) with its framework."""
    import importlib

    if fmt not in LOADERS:
        raise FrameworkMissing(f"mlpm cannot load the format '{fmt}' of {label} yet; choose "
                               f"another format with format=... ({', '.join(LOADERS)}).")
    module_name, func, extra = LOADERS[fmt]
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

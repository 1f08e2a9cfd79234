"""PyTorch models: TorchScript, exported programs and state dicts (weights only, never
code-running pickles)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any


def load_torchscript(path: Path, **_: Any):
    """``torch.jit.load`` in eval mode on the CPU."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated upstream
        module = torch.jit.load(str(path), map_location="cpu")
    return module.eval()


def load_exported_program(path: Path, **_: Any):
    """The runnable module of a ``torch.export`` program saved as ``.pt2``."""
    return export_load(path).module()


def export_load(path: Path):
    """``torch.export.load(path)``, only after a scan shows it runs no code.

    ``torch.export.load`` unpickles pickled weights, constants and sample inputs with
    ``weights_only=False``, evaluates shape expressions with ``sympy.sympify`` and loads
    AOTInductor libraries, and it has no weights-only mode. So the archive is scanned
    first, exactly as that loader reads it (mlpm.audit), and refused unless every such
    member holds only tensors and arithmetic (docs/security.md). Load a package's
    ``.pt2`` with this, never with ``torch.export.load`` directly."""
    from mlpm.audit import scan_file
    from mlpm.errors import UnsafeModel

    scan = scan_file(path, "exported-program")
    if not scan.ok:
        raise UnsafeModel(
            "mlpm refused to load this exported program because torch.export.load would run "
            f"code from it: {scan.sentence()}; ask its publisher to re-export it with a plain "
            "torch.export.save, or load another format of the package.")
    import torch

    return torch.export.load(str(path))


def load_state_dict(path: Path, allow_pickle: bool = False, **_: Any):
    """A state dict loaded with ``weights_only=True``: tensors only, no code runs — unless
    the project opted this package into full pickle loading (allow-pickle)."""
    import torch

    from mlpm.errors import ModelLoadError

    try:
        with warnings.catch_warnings():  # a TorchScript zip: refused below in one sentence
            warnings.filterwarnings("ignore", message=".*looks like a TorchScript archive")
            return torch.load(str(path), map_location="cpu", weights_only=not allow_pickle)
    except RuntimeError as exc:
        text = str(exc).strip()
    if "legacy .tar format" in text:
        raise ModelLoadError(
            "this state dict is in torch's legacy tar format, which torch can read only by "
            "unpickling it fully (code can run), so mlpm refused to load it; run `mlpm audit` "
            "to check it, and only if you trust the package add it to allow-pickle in the "
            "manifest.")
    first = text.splitlines()[0] if text else "RuntimeError"
    raise ModelLoadError(f"this file is not a state dict torch can load ({first}); ask its "
                         "publisher to republish it with torch.save.")

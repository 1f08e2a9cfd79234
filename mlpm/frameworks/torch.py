"""PyTorch models: TorchScript, exported programs and state dicts (weights only, never pickles)."""

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
    import torch

    return torch.export.load(str(path)).module()


def load_state_dict(path: Path, allow_pickle: bool = False, **_: Any):
    """A state dict loaded with ``weights_only=True``: tensors only, no code runs — unless
    the project opted this package into full pickle loading (allow-pickle)."""
    import torch

    return torch.load(str(path), map_location="cpu", weights_only=not allow_pickle)

"""mlpm: a package manager for pre-trained ML models.

    import mlpm
    model = mlpm.load("digits")                  # the version mlpm.lock pins; no network if cached
    session = mlpm.load("digits", format="onnx")  # an onnxruntime.InferenceSession

Importing mlpm is cheap: it imports no framework, and each public function imports
what it needs when called.
"""

from __future__ import annotations

TYPE_CHECKING = False  # importing typing costs start-up time; annotations only
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"
__all__ = ["load", "path", "install", "info", "MlpmError", "__version__"]


def load(name: str, format: str | None = None, **options: Any) -> Any:
    """Load the locked version of ``name``: see ``mlpm.loading.load``."""
    from mlpm.loading import load as _load

    return _load(name, format, **options)


def path(name: str, format: str | None = None, **options: Any):
    """The verified file of ``name``'s locked version: see ``mlpm.loading.path``."""
    from mlpm.loading import path as _path

    return _path(name, format, **options)


def install(*specs: str, registry: str | None = None, project_dir=None):
    """Install packages into the nearest project, as ``mlpm install SPEC...`` does.

    >>> mlpm.install("digits@1.2")  # doctest: +SKIP
    """
    from mlpm.ops import Session
    from mlpm.ops.install import install as _install
    from mlpm.project import Project

    return _install(Project.find(project_dir), list(specs), session=Session.from_env(registry))


def info(name: str, registry: str | None = None) -> dict:
    """Everything the registry knows of ``name``, as ``mlpm info NAME --json`` prints it."""
    from mlpm.ops import Session
    from mlpm.ops.query import info as _info

    return _info(name, session=Session.from_env(registry), project=None)


def __getattr__(attr: str):
    if attr == "MlpmError":
        from mlpm.errors import MlpmError

        return MlpmError
    raise AttributeError(f"module 'mlpm' has no attribute {attr!r}")

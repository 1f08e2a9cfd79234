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
__all__ = ["load", "path", "keras_layer", "entrypoints", "signatures", "install", "info",
           "MlpmError", "__version__"]


def load(name: str, format: str | None = None, **options: Any) -> Any:
    """Load the locked version of ``name``: see ``mlpm.loading.load``."""
    from mlpm.loading import load as _load

    return _load(name, format, **options)


def keras_layer(name: str, **options: Any):
    """A ``tensorflow_hub.KerasLayer`` over the locked SavedModel of ``name``.

    >>> layer = mlpm.keras_layer("digits-tf", trainable=False)  # doctest: +SKIP
    """
    from mlpm.loading import keras_layer as _keras_layer

    return _keras_layer(name, **options)


def entrypoints(name: str, **options: Any) -> list[dict]:
    """The entrypoints of a package (name, parameters, doc), read without running its code.

    >>> [e["name"] for e in mlpm.entrypoints("digits-hub")]  # doctest: +SKIP
    ['DigitsMLP', 'digits_cnn', 'digits_mlp']
    """
    from mlpm.loading import interface

    return list(interface(name, **options).get("entrypoints", []))


def signatures(name: str, **options: Any) -> list[dict]:
    """The signatures of a package (name, inputs and outputs with dtype and shape).

    >>> mlpm.signatures("digits")[0]["inputs"]  # doctest: +SKIP
    [{'name': 'pixels', 'dtype': 'float32', 'shape': ['batch', 64]}]
    """
    from mlpm.loading import interface

    return list(interface(name, **options).get("signatures", []))


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

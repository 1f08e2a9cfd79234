"""mlpm: a package manager for pre-trained ML models.

    import mlpm
    session = mlpm.load("digits", format="onnx")  # the version mlpm.lock pins; no network if cached
    model = mlpm.load("digits", trust=True)       # TorchScript runs code: trust its source first

Importing mlpm is cheap: it imports no framework, and each public function imports
what it needs when called.
"""

from __future__ import annotations

TYPE_CHECKING = False  # importing typing costs start-up time; annotations only
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

__version__ = "0.1.0"
__all__ = ["load", "path", "keras_layer", "entrypoints", "signatures", "install", "info",
           "MlpmError", "__version__"]


# The signatures below repeat mlpm.loading's, so that help() and inspect show the real
# keyword arguments without importing it; tests/e2e/test_cli_gaps.py keeps them equal.


def load(name: str, format: str | None = None, *, entrypoint: str | None = None,
         signature: str | None = None, trust: bool = False, project_dir: Path | None = None,
         context: str | None = None, **options: Any) -> Any:
    """Load the version of ``name`` that the nearest project's mlpm.lock pins.

    ``format``: the format to load ("onnx", "torchscript", "tflite", ...); one the package
    does not publish is converted once, parity-checked and cached. ``context``: a usage
    context ("python", "server", "edge", "cpp", "onnx", "js") that picks the format.
    ``entrypoint``: the PyTorch Hub entrypoint (other keyword arguments go to it).
    ``signature``: one SavedModel / TFLite signature. ``trust``: trust the package's
    source, which formats that run code need. ``project_dir``: the project to read
    (default: the nearest one above the current folder). See mlpm.loading.load.

    >>> session = mlpm.load("digits", format="onnx")  # doctest: +SKIP
    """
    from mlpm.loading import load as _load

    return _load(name, format, entrypoint=entrypoint, signature=signature, trust=trust,
                 project_dir=project_dir, context=context, **options)


def keras_layer(name: str, *, project_dir: Path | None = None, trust: bool = False,
                **options: Any):
    """A ``tensorflow_hub.KerasLayer`` over the locked SavedModel of ``name``; other keyword
    arguments (``trainable=``...) go to the layer.

    >>> layer = mlpm.keras_layer("digits-tf", trainable=False)  # doctest: +SKIP
    """
    from mlpm.loading import keras_layer as _keras_layer

    return _keras_layer(name, project_dir=project_dir, trust=trust, **options)


def entrypoints(name: str, *, project_dir: Path | None = None,
                registry: str | None = None) -> list[dict]:
    """The entrypoints of a package (name, parameters, doc), read without running its code.

    >>> [e["name"] for e in mlpm.entrypoints("digits-hub")]  # doctest: +SKIP
    ['DigitsMLP', 'digits_cnn', 'digits_mlp']
    """
    from mlpm.loading import interface

    return list(interface(name, project_dir=project_dir, registry=registry)
                .get("entrypoints", []))


def signatures(name: str, format: str | None = None, *, project_dir: Path | None = None,
               registry: str | None = None) -> list[dict]:
    """The signatures of a package (name, inputs and outputs with dtype and shape).

    ``format``: one published format's own signatures, as read from its file ("onnx",
    "tflite", ...): an ONNX or TFLite export names and orders its tensors its own way.

    >>> mlpm.signatures("digits")[0]["inputs"]  # doctest: +SKIP
    [{'name': 'pixels', 'dtype': 'float32', 'shape': ['batch', 64]}]
    >>> mlpm.signatures("music-tagger", format="onnx")[0]["name"]  # doctest: +SKIP
    'serving_default'
    """
    from mlpm.loading import signatures as _signatures

    return _signatures(name, format, project_dir=project_dir, registry=registry)


def path(name: str, format: str | None = None, *, project_dir: Path | None = None,
         context: str | None = None) -> Path:
    """The verified file (or unpacked folder) of ``name``'s locked version in the cache.

    ``context`` picks the format as in ``load``: ``context="js"`` gives the ONNX file a
    JavaScript application runs with onnxruntime-node / onnxruntime-web, converted once and
    checked in node. See mlpm.loading.path.

    >>> mlpm.path("digits", format="onnx")  # doctest: +SKIP
    PosixPath('/home/me/.cache/mlpm/blobs/sha256/3f/3f...')
    >>> mlpm.path("digits", context="js")  # doctest: +SKIP
    PosixPath('/home/me/.cache/mlpm/entries/converted/9a3f.../model.onnx')
    """
    from mlpm.loading import path as _path

    return _path(name, format, project_dir=project_dir, context=context)


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

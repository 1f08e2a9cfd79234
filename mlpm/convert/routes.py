"""Which formats serve which usage context, and which conversions exist.

The tables are docs/reference/conversion.md, "Usage contexts" and "Routes".

Pure data and checks: nothing here imports a framework, so a caller can plan a
conversion (or refuse it) in a process that never loads torch or TensorFlow.
"""

from __future__ import annotations

from collections.abc import Iterable

from mlpm.convert.errors import ConversionError

# Source kind -> formats mlpm can convert it to. Each route is parity-checked.
ROUTES: dict[str, tuple[str, ...]] = {
    "torch": ("onnx", "torchscript", "exported-program", "js"),  # an nn.Module, e.g. hub code
    "torchscript": ("onnx", "exported-program", "js"),  # via TorchScript -> ExportedProgram
    "exported-program": ("onnx", "torchscript", "js"),
    "savedmodel": ("tflite", "onnx", "js"),
    "onnx": ("js",),  # the interchange format itself: only checked where JavaScript runs it
}

# Usage context -> formats that serve it, best first.
CONTEXTS: dict[str, tuple[str, ...]] = {
    "python": ("torch-hub", "savedmodel", "torchscript", "exported-program", "state-dict",
               "onnx"),
    "server": ("savedmodel", "torchscript", "onnx"),
    "edge": ("tflite", "torchscript", "exported-program"),
    "cpp": ("torchscript", "savedmodel", "onnx"),
    "onnx": ("onnx",),
    "browser": ("tfjs",),
    "js": ("js",),  # ONNX for onnxruntime-node / onnxruntime-web, checked in node (convert/js.py)
}

# A published format -> the source kind a conversion starts from.
SOURCE_KIND = {"torch-hub": "torch", "torchscript": "torchscript",
               "exported-program": "exported-program", "savedmodel": "savedmodel",
               "onnx": "onnx"}

# (source kind, target) -> Python packages that must be installed: module name -> pip name.
# The first ones produce the file (their versions are part of the cache key); the runtime
# that checks parity comes last and is recorded with the parity numbers instead.
_TORCH_ONNX = {"torch": "torch", "onnxscript": "onnxscript", "onnx": "onnx"}
PRODUCERS: dict[tuple[str, str], dict[str, str]] = {
    ("torch", "onnx"): _TORCH_ONNX,
    ("torch", "torchscript"): {"torch": "torch"},
    ("torch", "exported-program"): {"torch": "torch"},
    ("torchscript", "onnx"): _TORCH_ONNX,
    ("torchscript", "exported-program"): {"torch": "torch"},
    ("exported-program", "onnx"): _TORCH_ONNX,
    ("exported-program", "torchscript"): {"torch": "torch"},
    ("savedmodel", "tflite"): {"tensorflow": "tensorflow"},
    ("savedmodel", "onnx"): {"tf2onnx": "tf2onnx", "tensorflow": "tensorflow", "onnx": "onnx"},
}
# "js" is made as "onnx" is; its runtime is node's onnxruntime-node, not a Python package
PRODUCERS.update({(kind, "js"): PRODUCERS[(kind, "onnx")] for kind in ROUTES
                  if (kind, "onnx") in PRODUCERS})
# a published ONNX file is copied as it is; Python's ONNX Runtime gives the reference outputs
PRODUCERS[("onnx", "js")] = {"onnxruntime": "onnxruntime"}
RUNTIMES = {"onnx": {"onnxruntime": "onnxruntime"}, "tflite": {"tensorflow": "tensorflow"},
            "torchscript": {"torch": "torch"}, "exported-program": {"torch": "torch"}, "js": {}}

# File name of a converted model; a SavedModel converted signature by signature gives one
# file per signature, named "<signature><suffix>".
FILE_NAMES = {"onnx": "model.onnx", "torchscript": "model.pt", "exported-program": "model.pt2",
              "tflite": "model.tflite", "js": "model.onnx"}

# Default parity tolerance on the max absolute error, per target: TFLite's kernels (XNNPACK,
# fused activations) round differently from TensorFlow's, so it gets 1e-3; the others 1e-4.
DEFAULT_TOLERANCE = {"tflite": 1e-3}
TOLERANCE = 1e-4

_TFJS_MISSING = (
    "converting to TF.js (the browser context) needs the tensorflowjs converter, which does "
    "not install on this stack: tensorflowjs 4.22 requires tensorflow-decision-forests "
    "(tensorflow 2.19), jax and packaging 23; publish a TF.js artifact of the model instead."
)


def default_tolerance(target: str) -> float:
    return DEFAULT_TOLERANCE.get(target, TOLERANCE)


def check_route(kind: str, target: str, label: str = "") -> None:
    """Raise ConversionError unless mlpm can convert a ``kind`` source to ``target``.

    >>> check_route("savedmodel", "tflite")  # fine: returns None
    >>> check_route("onnx", "tflite")  # doctest: +SKIP
    ConversionError: ONNX is already the interchange format; routes from onnx: js. ...
    """
    what = label or f"a {kind} model"
    if kind not in ROUTES:
        raise ConversionError(f"mlpm cannot convert {what}: '{kind}' is not a source it knows; "
                              f"convert from one of {', '.join(ROUTES)}.")
    if target in ROUTES[kind]:
        return
    if target == "tfjs":
        raise ConversionError(_TFJS_MISSING)
    if kind == "onnx":
        raise ConversionError(
            "ONNX is already the interchange format; routes from onnx: js (the same file, "
            "checked in onnxruntime-node). Publish the "
            f"model in the target format ({target}), or convert from its torch/SavedModel "
            "source.")
    if target == kind:
        raise ConversionError(f"{what} is already in the {target} format; load it as it is.")
    raise ConversionError(
        f"mlpm cannot convert {what} to {target}; routes from {kind}: "
        f"{', '.join(ROUTES[kind])} (all routes: {_all_routes()}).")


def _all_routes() -> str:
    return "; ".join(f"{k} -> {', '.join(v) if v else 'none'}" for k, v in ROUTES.items())


def missing_packages(kind: str, target: str) -> list[str]:
    """The pip names of the packages this route needs that are not installed."""
    import importlib.util

    needed = {**PRODUCERS[(kind, target)], **RUNTIMES[target]}
    missing = []
    for module, pip_name in needed.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(pip_name)
    return missing


def converter_versions(kind: str, target: str) -> dict[str, str]:
    """Installed versions of the packages that produce the converted file (no imports)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for module, pip_name in PRODUCERS[(kind, target)].items():
        try:
            out[module] = version(pip_name)
        except PackageNotFoundError:
            out[module] = "unknown"
    return out


def runtime_versions(target: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    if target == "js":
        from mlpm.convert.js import versions

        return versions()  # node's, not Python's

    out = {}
    for module, pip_name in RUNTIMES[target].items():
        try:
            out[module] = version(pip_name)
        except PackageNotFoundError:
            out[module] = "unknown"
    return out


def formats_for_context(context: str, available: Iterable[str], source_kind: str) -> list[str]:
    """Formats that serve ``context``, best first: published ones, then convertible ones.

    ``available`` are the formats the package publishes; ``source_kind`` is the kind (or
    published format, e.g. ``torch-hub``) a local conversion would start from.

    >>> formats_for_context("edge", ["torch-hub", "onnx"], "torch")
    ['torchscript', 'exported-program']
    >>> formats_for_context("server", ["savedmodel"], "savedmodel")
    ['savedmodel', 'onnx']
    """
    from mlpm.errors import UsageError

    if context not in CONTEXTS:
        raise UsageError(f"unknown usage context '{context}'; use one of "
                         f"{', '.join(CONTEXTS)}.")
    available = set(available)
    wanted = CONTEXTS[context]
    routes = ROUTES.get(SOURCE_KIND.get(source_kind, source_kind), ())
    published = [f for f in wanted if f in available]
    return published + [f for f in wanted if f in routes and f not in published]

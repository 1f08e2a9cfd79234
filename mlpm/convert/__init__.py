"""Usage contexts and format conversion (docs/reference/conversion.md).

A model published in one format is needed in another: ONNX for another runtime,
TorchScript or an exported program for C++ / mobile, TFLite for the edge. ``convert``
makes the converted model a managed store entry: converted once, keyed by the source
digest + target + converter versions + options, verified by running the original and
the conversion on the same sample inputs, and reused instantly afterwards.

Importing this package imports no framework; a conversion imports the ones it needs.

>>> from mlpm.convert import Source, convert, formats_for_context
>>> formats_for_context("edge", ["torch-hub"], "torch-hub")
['torchscript', 'exported-program']
>>> conv = convert(Source("torch", digest, load_module=make_model,
...                       signatures=[{"name": "forward", "inputs": [
...                           {"name": "pixels", "dtype": "float32", "shape": [None, 1, 8, 8]}],
...                           "outputs": [{"name": "logits"}]}]),
...                "onnx", store=Store())  # doctest: +SKIP
>>> conv.path, conv.parity["max_abs"]  # doctest: +SKIP
(PosixPath('~/.cache/mlpm/entries/converted/9a3f.../model.onnx'), 4.7e-07)
"""

from mlpm.convert.conversion import Conversion, Source, convert
from mlpm.convert.errors import ConversionError, ParityError
from mlpm.convert.routes import CONTEXTS, ROUTES, check_route, formats_for_context

__all__ = [
    "CONTEXTS",
    "ROUTES",
    "Conversion",
    "ConversionError",
    "ParityError",
    "Source",
    "check_route",
    "convert",
    "formats_for_context",
]

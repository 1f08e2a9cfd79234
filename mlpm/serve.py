"""`mlpm serve`: one model over HTTP with the TensorFlow Serving / KServe v1 REST protocol.

A ``Runner`` holds a loaded model (ONNX Runtime session, torch module, SavedModel
signature function) and its signature; ``make_server`` puts it behind a threaded HTTP/1.1
server (keep-alive, one thread per connection); ``serve`` runs that until SIGINT/SIGTERM.

Endpoints (JSON in, JSON out; ``/versions/VERSION`` may follow ``NAME`` in each, as in
TF Serving, and must then be the served version):

``GET /v1/models``
    ``{"models": ["NAME"]}`` (KServe v1 list models).
``GET /v1/models/NAME``
    ``{"model_version_status": [{"version": "1.2.1", "state": "AVAILABLE",
    "status": {"error_code": "OK", "error_message": ""}}]}`` (TF Serving model status).
``GET /v1/models/NAME/metadata``
    TF Serving's GetModelMetadataResponse::

        {"model_spec": {"name": "NAME", "signature_name": "", "version": "1.2.1"},
         "metadata": {"signature_def": {"signature_def": {"serving_default": {
             "inputs": {"x": {"dtype": "DT_FLOAT", "name": "x", "tensor_shape": {
                 "dim": [{"size": "-1", "name": "batch"}, {"size": "4", "name": ""}],
                 "unknown_rank": false}}},
             "outputs": {...the same for each output...},
             "method_name": "tensorflow/serving/predict"}}}}}

    (sizes are strings and -1 is a variable dimension, as protobuf's JSON mapping of
    TensorShapeProto gives them; ``name`` is the symbolic dimension's name, if any).
``POST /v1/models/NAME:predict``
    Row format ``{"instances": [...]}``: one item per instance; for a one-input model
    the item is that input's value, else an object keyed by input name. The instances
    are stacked along a new first (batch) dimension. Answer: ``{"predictions": [...]}``,
    one item per instance; with several outputs each item is an object keyed by output
    name. Columnar format ``{"inputs": TENSOR}`` or ``{"inputs": {"x": TENSOR, ...}}``
    (whole tensors, batch dimension included). Answer: ``{"outputs": TENSOR}``, or an
    object keyed by output name when the model has several outputs. An optional
    ``"signature_name"`` must name the served signature (or be "serving_default").

Errors are ``{"error": "one sentence"}`` with a 4xx status for a request the server
cannot use (400 bad JSON / tensor, NaN or Infinity included, 404 unknown path or model,
405 wrong method, 408 a body too slow, 411 no Content-Length, 413 body over the limit),
503 when busy, and 500 when the model itself fails or answers NaN / Infinity, which JSON
cannot carry; the server keeps serving either way. What a client can hold is bounded
(docs/serving.md#connections-and-limits). Nothing here imports numpy or a framework at import
time: the runners import theirs when built.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import unquote

from mlpm.errors import MlpmError
from mlpm.httpd import MAX_CONNECTIONS, LimitedHandler, LimitedServer

TYPE_CHECKING = False  # typing costs start-up time; the names are for annotations only
if TYPE_CHECKING:
    from typing import Any

    import numpy as np

MAX_BODY = 64 << 20  # bytes; a larger request body gets 413 without being read
IDLE_TIMEOUT = 60.0  # seconds for a whole request head, and for each read or write
MAX_CONCURRENT = 8  # predictions at once; their bodies total at most MAX_BODY bytes
QUEUE_WAIT = 30.0  # seconds a prediction waits for room before it gets 503
MIN_BODY_RATE = 256 << 10  # bytes/s a body must keep up, after IDLE_TIMEOUT's grace

# numpy dtype name (as mlpm's interface records write them) -> KServe / Open Inference
# Protocol datatype, and -> TensorFlow DataType enum name
DATATYPES = {
    "bool": "BOOL", "uint8": "UINT8", "uint16": "UINT16", "uint32": "UINT32",
    "uint64": "UINT64", "int8": "INT8", "int16": "INT16", "int32": "INT32", "int64": "INT64",
    "float16": "FP16", "float32": "FP32", "float64": "FP64", "bfloat16": "BF16",
    "string": "BYTES",
}
TF_DTYPES = {
    "bool": "DT_BOOL", "uint8": "DT_UINT8", "uint16": "DT_UINT16", "uint32": "DT_UINT32",
    "uint64": "DT_UINT64", "int8": "DT_INT8", "int16": "DT_INT16", "int32": "DT_INT32",
    "int64": "DT_INT64", "float16": "DT_HALF", "float32": "DT_FLOAT", "float64": "DT_DOUBLE",
    "bfloat16": "DT_BFLOAT16", "string": "DT_STRING", "complex64": "DT_COMPLEX64",
    "complex128": "DT_COMPLEX128",
}
# onnxruntime's "tensor(T)" element names that differ from numpy's
_ORT_DTYPES = {"float": "float32", "double": "float64"}


class RequestError(MlpmError, ValueError):
    """A request the model cannot answer as sent; ``status`` is the HTTP status to send."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class TensorSpec:
    """One input or output: its name, numpy dtype name and shape (ints, dim names or None
    for variable dimensions; None for an unknown rank), as mlpm's interface records say."""

    def __init__(self, name: str, dtype: str, shape: list | None):
        self.name = name
        self.dtype = dtype
        self.shape = None if shape is None else [
            d if isinstance(d, str) or (isinstance(d, int) and d >= 0) else None for d in shape]
        self.accepts = _accepts(dtype)  # numpy kinds a JSON value of this input may parse as
        self._numpy_dtype: Any = False  # resolved on first use: numpy is not imported here

    def numpy_dtype(self):
        """The numpy dtype to cast a request's values to (None: leave it to the runtime)."""
        if self._numpy_dtype is False:
            import numpy as np

            try:
                self._numpy_dtype = None if self.dtype == "string" else np.dtype(self.dtype)
            except TypeError:  # a dtype numpy does not know (bfloat16, float8...)
                self._numpy_dtype = None
        return self._numpy_dtype

    @classmethod
    def from_record(cls, record: dict) -> TensorSpec:
        return cls(record["name"], record.get("dtype") or "float32", record.get("shape"))

    def shape_text(self) -> str:
        if self.shape is None:
            return "any shape"
        return "[" + ", ".join("?" if d is None else str(d) for d in self.shape) + "]"

    def metadata(self) -> dict:
        shape = None if self.shape is None else [
            d if isinstance(d, int) else -1 for d in self.shape]
        return {"name": self.name, "datatype": DATATYPES.get(self.dtype, self.dtype.upper()),
                "shape": shape}

    def tensor_info(self) -> dict:
        """TF Serving's JSON of a TensorInfo (dtype enum name, TensorShapeProto)."""
        dims = [] if self.shape is None else [
            {"size": str(d) if isinstance(d, int) else "-1",
             "name": d if isinstance(d, str) else ""} for d in self.shape]
        return {"dtype": TF_DTYPES.get(self.dtype, "DT_INVALID"), "name": self.name,
                "tensor_shape": {"dim": dims, "unknown_rank": self.shape is None}}


class Runner:
    """What serves predictions: a loaded model with named, typed inputs and outputs.

    Subclasses set ``platform`` and implement ``_run`` (arrays already checked against
    the signature, in the input dtypes) to return one array per output name.

    >>> runner = OnnxRunner("digits", "1.0.0", Path("digits.onnx"))  # doctest: +SKIP
    >>> runner.predict({"pixels": images})["logits"].argmax(1)  # doctest: +SKIP
    """

    platform = ""

    def __init__(self, name: str, version: str, inputs: list[dict], outputs: list[dict],
                 signature_name: str | None = None):
        self.name = name
        self.version = version
        self.signature_name = signature_name or "serving_default"
        self.inputs = [TensorSpec.from_record(t) for t in inputs]
        self.outputs = [TensorSpec.from_record(t) for t in outputs]
        self._by_name = {spec.name: spec for spec in self.inputs}

    def metadata(self) -> dict:
        """The model's name, versions, platform and tensors, as KServe's (Open Inference
        Protocol) model metadata: ``{"name": "m", "versions": ["1.0.0"], "platform":
        "onnxruntime", "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}],
        "outputs": [...]}``; -1 is a variable dimension, a null shape an unknown rank."""
        return {"name": self.name, "versions": [self.version], "platform": self.platform,
                "inputs": [s.metadata() for s in self.inputs],
                "outputs": [s.metadata() for s in self.outputs]}

    def signature_def(self) -> dict:
        """The TF Serving ``signature_def`` map of this model (its one signature)."""
        return {self.signature_name: {
            "inputs": {s.name: s.tensor_info() for s in self.inputs},
            "outputs": {s.name: s.tensor_info() for s in self.outputs},
            "method_name": "tensorflow/serving/predict"}}

    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the model on named input arrays; one array per output name, in signature
        order. Raises ``RequestError`` for a missing or unknown name, or a dtype, rank or
        fixed dimension that does not fit the signature."""
        missing = [s.name for s in self.inputs if s.name not in inputs]
        unknown = [k for k in inputs if k not in self._by_name]
        if unknown:
            raise RequestError(f"{self.name} has no input named {_names(unknown)}; its inputs "
                               f"are {_names(self._by_name)}.")
        if missing:
            raise RequestError(f"the request is missing the input {_names(missing)} of "
                               f"{self.name}; its inputs are {_names(self._by_name)}.")
        arrays = {s.name: _checked(s, inputs[s.name]) for s in self.inputs}
        _check_dims(self.inputs, arrays)
        return self._run(arrays)

    def _run(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _name_outputs(self, values: list) -> dict:
        """Pair the model's output values with the declared output names."""
        if self.outputs and len(values) != len(self.outputs):
            declared = _names(s.name for s in self.outputs)
            raise RuntimeError(f"{self.name} returned {len(values)} outputs but its signature "
                               f"declares {len(self.outputs)} ({declared})")
        names = [s.name for s in self.outputs] or [f"output_{i}" for i in range(len(values))]
        return dict(zip(names, values, strict=True))


class OnnxRunner(Runner):
    """An ONNX model on ONNX Runtime (CPU); names, dtypes and shapes come from the session."""

    platform = "onnxruntime"

    def __init__(self, name: str, version: str, path: Path,
                 providers: list[str] | None = None):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 4  # a failed run is reported once, by the server
        self.session = onnxruntime.InferenceSession(
            str(path), options, providers=providers or ["CPUExecutionProvider"])
        super().__init__(name, version, [_ort_record(t) for t in self.session.get_inputs()],
                         [_ort_record(t) for t in self.session.get_outputs()])
        self._output_names = [s.name for s in self.outputs]
        from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument

        self._invalid = InvalidArgument

    def _run(self, arrays):
        try:
            values = self.session.run(self._output_names, arrays)
        except self._invalid as err:  # ONNX Runtime's own check of the feeds
            raise RequestError(f"{self.name} rejected the inputs: {_last_line(err)}") from None
        return dict(zip(self._output_names, values, strict=True))


class TorchRunner(Runner):
    """A torch module (TorchScript, an exported program's module, a hub entrypoint's
    model) called as ``module(*inputs)`` in signature order, under ``inference_mode``.

    ``signature`` is a signature of mlpm's interface record: ``{"name": ..., "inputs":
    [{"name", "dtype", "shape"}], "outputs": [...]}``. The module may return a tensor, a
    tuple / list of tensors (in output order) or a dict keyed by output name.
    """

    platform = "pytorch"

    def __init__(self, name: str, version: str, module: Any, signature: dict):
        import torch

        super().__init__(name, version, signature.get("inputs", []),
                         signature.get("outputs", []), signature.get("name"))
        self.module = module
        self._torch = torch

    def _run(self, arrays):
        torch = self._torch
        tensors = [torch.from_numpy(a if a.flags.writeable else a.copy())
                   for a in (arrays[s.name] for s in self.inputs)]
        with torch.inference_mode():
            result = self.module(*tensors)
        if isinstance(result, dict):
            names = [s.name for s in self.outputs] or list(result)
            missing = [n for n in names if n not in result]
            if missing:
                raise RuntimeError(f"{self.name} returned no output {_names(missing)}")
            values = [result[n] for n in names]
        elif isinstance(result, (tuple, list)):
            values = list(result)
        else:
            values = [result]
        return self._name_outputs([v.detach().cpu().numpy() for v in values])


class SavedModelRunner(Runner):
    """A SavedModel signature function (``loaded.signatures[NAME]``), called with one
    keyword argument per input; it returns a dict keyed by output name. Without
    ``signature``, the inputs and outputs are read from the function itself."""

    platform = "tensorflow"

    def __init__(self, name: str, version: str, fn: Any, signature: dict | None = None):
        import tensorflow as tf

        signature = signature or _tf_signature(fn)
        super().__init__(name, version, signature.get("inputs", []),
                         signature.get("outputs", []), signature.get("name"))
        self.fn = fn
        self._tf = tf

    def _run(self, arrays):
        tf = self._tf
        result = self.fn(**{name: tf.constant(a) for name, a in arrays.items()})
        if not isinstance(result, dict):
            result = {"output_0": result}
        names = [s.name for s in self.outputs] or list(result)
        missing = [n for n in names if n not in result]
        if missing:
            raise RuntimeError(f"{self.name} returned no output {_names(missing)}")
        return {n: _tf_numpy(result[n]) for n in names}


# -- JSON tensors -> arrays -----------------------------------------------------------


def _names(names) -> str:
    return ", ".join(repr(n) for n in names)


def _last_line(err: BaseException) -> str:
    """The last line of an error's message: where ONNX Runtime and TorchScript put the cause
    after their own context."""
    text = str(err).strip().splitlines()
    return text[-1] if text else type(err).__name__


def _ort_record(arg) -> dict:
    element = arg.type[len("tensor("):-1] if arg.type.startswith("tensor(") else arg.type
    shape = arg.shape if isinstance(arg.shape, list) else None
    return {"name": arg.name, "dtype": _ORT_DTYPES.get(element, element), "shape": shape}


def _tf_signature(fn) -> dict:
    def record(name, spec):
        shape = None if spec.shape.rank is None else spec.shape.as_list()
        return {"name": name, "dtype": spec.dtype.name, "shape": shape}

    _, kwargs = fn.structured_input_signature
    outputs = fn.structured_outputs if isinstance(fn.structured_outputs, dict) else {}
    return {"inputs": [record(k, v) for k, v in sorted(kwargs.items())],
            "outputs": [record(k, v) for k, v in sorted(outputs.items())]}


def _tf_numpy(tensor):
    value = tensor.numpy()
    if value.dtype.kind == "O":  # tf.string comes back as bytes
        value = value.astype(str)
    return value


def _tensor(spec: TensorSpec, value: Any, what: str) -> np.ndarray:
    """A JSON value (number, string, nested lists) as an array of ``spec``'s dtype."""
    import numpy as np

    try:
        array = np.asarray(value)
    except (ValueError, TypeError, RecursionError) as err:
        if "inhomogeneous" in str(err):
            raise RequestError(f"{what} must not be ragged: every row of a tensor needs the "
                               "same length.") from None
        raise RequestError(f"{what} is not a tensor: {_last_line(err)}.") from None
    with np.errstate(over="ignore"):  # the cast may overflow: refused just below
        array = _checked(spec, array, what)
    # a JSON number past the dtype's range (1e39 in float32, 1e999 in any)
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        raise RequestError(f"{what} holds a number too large for {spec.dtype}; send "
                           "finite numbers within its range.")
    return array


def _answer_body(runner: Runner, answer: dict) -> bytes:
    """A predict answer as JSON; NaN and Infinity are not JSON, so an output holding one is
    refused (500) by name instead of written as a bare token strict parsers reject."""
    try:
        return _encode(answer).encode()
    except ValueError:  # allow_nan=False: the encoder met NaN or an infinity
        pass
    value = answer.get("outputs", answer.get("predictions"))
    if isinstance(value, dict):
        parts = list(value.items())
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        parts = [(name, [row[name] for row in value]) for name in value[0]]
    else:
        parts = [(runner.outputs[0].name if runner.outputs else "output_0", value)]
    name = next((n for n, v in parts if not _encodes(v)), parts[0][0])
    raise RequestError(f"{runner.name} answered NaN or Infinity in its output {name!r} for "
                       "this request, which JSON cannot carry; check the input values the "
                       "model was given.", 500)


def _encodes(value: Any) -> bool:
    try:
        _encode(value)
    except ValueError:
        return False
    return True


def _checked(spec: TensorSpec, array: Any, what: str | None = None) -> np.ndarray:
    """``array`` in ``spec``'s dtype, after checking its kind of values, rank and fixed
    dimensions."""
    import numpy as np

    what = what or f"input {spec.name!r}"
    array = np.asarray(array)
    kind = array.dtype.kind
    if spec.dtype == "string":
        if kind != "U":
            raise RequestError(f"{what} must hold strings; the request has {_kind(kind)}.")
        array = array.astype(object)
    elif kind not in spec.accepts:
        raise RequestError(f"{what} must hold {_wanted(spec.dtype)} ({spec.dtype}); the "
                           f"request has {_kind(kind)}.")
    else:
        target = spec.numpy_dtype()
        if target is not None and array.dtype != target:
            array = array.astype(target)
    if spec.shape is not None:
        shape = array.shape
        if len(shape) != len(spec.shape) or any(isinstance(want, int) and want != got for
                                                want, got in zip(spec.shape, shape, strict=True)):
            raise RequestError(f"{what} must have shape {spec.shape_text()}; the request "
                               f"gives [{', '.join(map(str, shape))}].")
    return array


def _accepts(dtype: str) -> str:
    """The numpy kinds a JSON value may parse as for an input of ``dtype``: integers are
    fine for a float input, but 1.5 must not silently truncate into an integer one, and
    true / false are no numbers."""
    if dtype == "bool":
        return "b"
    if "int" in dtype:
        return "iu"
    if dtype.startswith("complex"):
        return "iufc"
    if dtype.startswith(("float", "bfloat")):
        return "iuf"
    return "iufb"


def _wanted(dtype: str) -> str:
    return "booleans" if dtype == "bool" else "integers" if "int" in dtype else "numbers"


def _kind(kind: str) -> str:
    return {"b": "booleans", "i": "integers", "u": "integers", "f": "fractional numbers",
            "c": "complex numbers", "U": "strings", "S": "strings"}.get(
        kind, "values that are not all numbers (strings, nulls, objects or mixed)")


def _check_dims(specs: list[TensorSpec], arrays: dict) -> None:
    """A named variable dimension ("batch") has one size across all inputs."""
    seen: dict[str, tuple[str, int]] = {}
    for spec in specs:
        if spec.shape is None:
            continue
        for dim, size in zip(spec.shape, arrays[spec.name].shape, strict=False):
            if isinstance(dim, str):
                first = seen.setdefault(dim, (spec.name, size))
                if first[1] != size:
                    raise RequestError(f"dimension {dim!r} is {first[1]} in input {first[0]!r} "
                                       f"but {size} in input {spec.name!r}; it must agree.")


def _row_inputs(runner: Runner, instances: Any) -> tuple[dict, int]:
    """Row format: the instances stacked into one batch array per input."""
    if not isinstance(instances, list):
        raise RequestError('"instances" must be a list with one item per instance.')
    if not instances:
        raise RequestError('"instances" is empty; send at least one instance.')
    specs = runner.inputs
    keyed = isinstance(instances[0], dict)
    if not keyed and len(specs) == 1:
        what = f"the instances (stacked into input {specs[0].name!r})"
        return {specs[0].name: _tensor(specs[0], instances, what)}, len(instances)
    if not keyed or not all(isinstance(item, dict) for item in instances):
        raise RequestError(f"{runner.name} has the inputs {_names(s.name for s in specs)}, so "
                           'each item of "instances" must be an object keyed by input name.')
    columns: dict[str, list] = {s.name: [] for s in specs}
    for n, item in enumerate(instances):
        if item.keys() != columns.keys():
            unknown = [k for k in item if k not in columns]
            if unknown:
                raise RequestError(f"instance {n} has {_names(unknown)}, which {runner.name} "
                                   f"has no input of; its inputs are {_names(columns)}.")
            missing = [k for k in columns if k not in item]
            raise RequestError(f"instance {n} is missing the input {_names(missing)} of "
                               f"{runner.name}.")
        for key, value in item.items():
            columns[key].append(value)
    return {s.name: _tensor(s, columns[s.name], f"input {s.name!r} of the instances")
            for s in specs}, len(instances)


def _column_inputs(runner: Runner, inputs: Any) -> dict:
    """Columnar format: one whole tensor, or an object of named tensors."""
    specs = runner.inputs
    if not isinstance(inputs, dict):
        if len(specs) != 1:
            raise RequestError(f"{runner.name} has the inputs {_names(s.name for s in specs)}, "
                               'so "inputs" must be an object keyed by input name.')
        return {specs[0].name: _tensor(specs[0], inputs, '"inputs"')}
    by_name = runner._by_name
    unknown = [k for k in inputs if k not in by_name]
    if unknown:
        raise RequestError(f"{runner.name} has no input named {_names(unknown)}; its inputs "
                           f"are {_names(by_name)}.")
    return {name: _tensor(by_name[name], value, f"input {name!r}")
            for name, value in inputs.items()}


def _rows(runner: Runner, outputs: dict, count: int) -> list:
    """Row-format predictions: one item per instance (an object when several outputs)."""
    if len(outputs) == 1:
        (value,) = outputs.values()
        if value.ndim == 0:
            raise RequestError(f"{runner.name}'s output is a scalar, not one row per instance; "
                               'send the columnar format {"inputs": ...} instead.')
        return value.tolist()
    for name, value in outputs.items():
        if value.ndim == 0 or value.shape[0] != count:
            raise RequestError(f"{runner.name}'s output {name!r} has shape {list(value.shape)}, "
                               f"not one row per instance ({count}); send the columnar format "
                               '{"inputs": ...} instead.')
    columns = {name: value.tolist() for name, value in outputs.items()}
    return [{name: column[i] for name, column in columns.items()} for i in range(count)]


def predict_json(runner: Runner, request: Any) -> dict:
    """The answer to one parsed ``:predict`` request body (row or columnar format)."""
    if not isinstance(request, dict):
        raise RequestError('the request body must be a JSON object with "instances" or '
                           '"inputs".')
    signature = request.get("signature_name")
    if signature and signature not in (runner.signature_name, "serving_default"):
        raise RequestError(f"{runner.name} has no signature {signature!r}; it serves "
                           f"{runner.signature_name!r}.")
    if "instances" in request:
        if "inputs" in request:
            raise RequestError('the request has both "instances" and "inputs"; send one.')
        arrays, count = _row_inputs(runner, request["instances"])
        _check_dims(runner.inputs, arrays)
        return {"predictions": _rows(runner, runner._run(arrays), count)}
    if "inputs" in request:
        arrays = _column_inputs(runner, request["inputs"])
        outputs = runner.predict(arrays)
        if len(outputs) == 1:
            (value,) = outputs.values()
            return {"outputs": value.tolist()}
        return {"outputs": {name: value.tolist() for name, value in outputs.items()}}
    raise RequestError('the request body has neither "instances" (row format) nor "inputs" '
                       "(columnar format).")


# -- HTTP -------------------------------------------------------------------------------

_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def _no_constant(name: str):
    raise RequestError(f"the request body holds {name}, which is not JSON; send finite "
                       "numbers only.")


_decode = json.JSONDecoder(parse_constant=_no_constant).decode
_date = (0, "")
_PHRASES = {status.value: status.phrase for status in HTTPStatus}
_MAX_LINE = 65536  # bytes of one header line, as http.client allows
_MAX_HEADERS = 100


class Headers(dict):
    """A request's headers by lower-case name; the first of repeated headers wins (as
    ``email.message.Message.get``, which the stdlib would give, does)."""

    def get(self, name: str, default: Any = None) -> Any:
        return dict.get(self, name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and dict.__contains__(self, name.lower())


def _http_date() -> str:
    """The Date header, formatted once per second."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, formatdate(now, usegmt=True))
    return _date[1]


def _error_body(message: str) -> bytes:
    return _encode({"error": message}).encode()


class ModelRequestHandler(LimitedHandler):
    """The REST endpoints of ``server.runner`` (see the module docstring)."""

    server_version = "mlpm-serve/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (stdlib signature)
        if self.server.verbose:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def parse_request(self) -> bool:
        """The request line and headers, as the stdlib's parse_request reads them but
        without the email package's parser, a tenth of a small request's cost. HTTP/0.9
        is not spoken; a folded (obsolete) header line is refused."""
        self.command = None
        self.request_version = self.default_request_version
        self.close_connection = True
        self.requestline = requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = requestline.split()
        if not words:
            return False
        if len(words) != 3 or not words[2].startswith("HTTP/"):
            self.send_error(400, f"Bad request line {requestline[:200]!r}")
            return False
        command, path, version = words
        number = version[5:].split(".")
        if len(number) != 2 or not all(n.isascii() and n.isdigit() and len(n) <= 10
                                       for n in number):
            self.send_error(400, f"Bad request version {version[:50]!r}")
            return False
        if int(number[0]) != 1:
            self.send_error(505, f"HTTP version {version[5:50]} is not supported; use HTTP/1.1")
            return False
        self.command, self.request_version = command, version
        self.path = "/" + path.lstrip("/") if path.startswith("//") else path
        headers = Headers()
        for _ in range(_MAX_HEADERS + 1):
            line = self.rfile.readline(_MAX_LINE + 1)
            if len(line) > _MAX_LINE:
                self.send_error(431, "A header line is longer than 65536 bytes")
                return False
            if line in (b"\r\n", b"\n", b""):
                break
            name, sep, value = str(line, "iso-8859-1").partition(":")
            if not sep or not name or name != name.strip():
                self.send_error(400, f"Bad header line {line[:100]!r}")
                return False
            key = name.lower()
            value = value.strip()
            if key == "content-length" and key in headers and headers[key] != value:
                self.send_error(400, "Conflicting Content-Length headers")
                return False
            headers.setdefault(key, value)
        else:
            self.send_error(431, f"More than {_MAX_HEADERS} headers")
            return False
        self.headers = headers
        connection = headers.get("connection", "").lower()
        self.close_connection = connection == "close" or (
            number[1] == "0" and connection != "keep-alive")
        # "100 Continue" is sent only once the body is wanted (see _read_json), so that a
        # request refused on its headers (404, 411, 413) is answered without one
        self.expect_continue = (headers.get("expect", "").lower() == "100-continue"
                                and number[1] != "0")
        self.head_done()
        return True

    def do_GET(self) -> None:  # noqa: N802 (stdlib naming)
        self._handle()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def _handle(self) -> None:
        server: ModelServer = self.server
        self._body_read = False
        self._admitted: int | None = None
        server.begin()
        try:
            try:
                status, body, allow = self._route(server)
            except RequestError as err:
                status, body, allow = err.status, _error_body(str(err)), None
            except Exception as err:  # the model failed: answer 500 and keep serving
                status, body, allow = 500, _error_body(
                    f"{server.runner.name} failed on this request: {type(err).__name__}: "
                    f"{_last_line(err)}"), None
                server.report(err)
            if not self._body_read and (self.headers.get("Content-Length", "0") != "0"
                                        or "Transfer-Encoding" in self.headers):
                # the unread body would read as the next request; drop it after answering
                self.close_connection = self.linger = True
            if server.stopping:
                self.close_connection = True
            self._send(status, body, allow)
        finally:
            if self._admitted is not None:
                server.release(self._admitted)
            server.end()

    def _route(self, server: ModelServer) -> tuple[int, bytes, str | None]:
        runner = server.runner
        path = self.path.split("?", 1)[0]
        if not (path == "/v1/models" or path.startswith("/v1/models/")):
            raise RequestError(f"no such endpoint {path}; this server answers "
                               f"/v1/models/{runner.name}[/metadata] and "
                               f"/v1/models/{runner.name}:predict.", 404)
        rest = path[len("/v1/models/"):]
        if not rest.strip("/"):
            return self._only("GET", 200, server.models_body)
        verb = None
        head, sep, tail = rest.rpartition(":")
        if sep and "/" not in tail:
            rest, verb = head, tail
        parts = [unquote(p) for p in rest.strip("/").split("/")]
        name, parts = parts[0], parts[1:]
        version = None
        if len(parts) >= 2 and parts[0] == "versions":
            version, parts = parts[1], parts[2:]
        if verb is None and parts == []:
            endpoint, method = "status", "GET"
        elif verb is None and parts == ["metadata"]:
            endpoint, method = "metadata", "GET"
        elif verb == "predict" and parts == []:
            endpoint, method = "predict", "POST"
        else:
            raise RequestError(f"no such endpoint {path}; this server answers "
                               f"/v1/models/{runner.name}[/metadata] and "
                               f"/v1/models/{runner.name}:predict.", 404)
        if self.command != method and not (method == "GET" and self.command == "HEAD"):
            return HTTPStatus.METHOD_NOT_ALLOWED, _error_body(
                f"{path} takes {method}, not {self.command}."), \
                "GET, HEAD" if method == "GET" else method
        if name != runner.name:
            raise RequestError(f"no model named {name!r} here; this server serves "
                               f"{runner.name!r}.", 404)
        if version is not None and version != runner.version:
            raise RequestError(f"{runner.name} has no version {version!r} here; this server "
                               f"serves version {runner.version}.", 404)
        if endpoint == "status":
            return 200, server.status_body, None
        if endpoint == "metadata":
            return 200, server.metadata_body, None
        request = self._read_json(server)
        return 200, _answer_body(runner, predict_json(runner, request)), None

    def _only(self, method: str, status: int, body: bytes):
        if self.command in (method, "HEAD" if method == "GET" else method):
            return status, body, None
        return HTTPStatus.METHOD_NOT_ALLOWED, _error_body(
            f"{self.path} takes {method}, not {self.command}."), \
            "GET, HEAD" if method == "GET" else method

    def _read_json(self, server: ModelServer) -> Any:
        length = self.headers.get("Content-Length")
        if length is None or "Transfer-Encoding" in self.headers:
            self.close_connection = True
            raise RequestError("a POST needs a Content-Length header (chunked bodies are not "
                               "accepted).", 411)
        if not (length.isascii() and length.isdigit()):
            self.close_connection = True
            raise RequestError(f"the Content-Length header {length!r} is not a byte count.")
        size = int(length)
        if size > server.max_body:
            self.close_connection = True
            raise RequestError(f"the request body is {size} bytes, over this server's limit of "
                               f"{server.max_body} bytes; send fewer instances per request.",
                               413)
        if not server.admit(size):
            self.close_connection = True
            raise RequestError(f"the server is busy ({server.max_concurrent} predictions or "
                               f"{server.max_body} bytes of request bodies in progress); "
                               "retry in a moment.", 503)
        self._admitted = size
        if self.expect_continue:
            self.handle_expect_100()
        allowed = server.idle_timeout + size / MIN_BODY_RATE
        self.reader.deadline = time.monotonic() + allowed
        try:
            body = self.rfile.read(size)
        except OSError:  # the deadline passed, or one read waited idle_timeout
            self.close_connection = True
            raise RequestError(f"the request body did not arrive within {allowed:.0f} seconds; "
                               "send it faster or in smaller requests.", 408) from None
        finally:
            self.reader.deadline = None
        self._body_read = True
        if len(body) != size:
            self.close_connection = True
            raise RequestError("the request body ended before its Content-Length.")
        try:
            return _decode(body.decode(json.detect_encoding(body), "surrogatepass"))
        except RequestError:
            raise
        except (ValueError, RecursionError) as err:  # JSONDecodeError, bad UTF-8, too deep
            raise RequestError(f"the request body is not valid JSON: {err}.") from None

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """The stdlib's own errors (bad request line, unknown method...) as JSON too."""
        self.close_connection = True
        self._send(code, _error_body(message or _PHRASES.get(code, "Error")), None)

    def _send(self, status: int, body: bytes, allow: str | None) -> None:
        """The whole response in one write: status line, headers and body."""
        status = int(status)
        if self.server.verbose:
            self.log_request(status, len(body))
        head = (f"{self.protocol_version} {status} {_PHRASES.get(status, '')}\r\n"
                f"Server: {self.server_version}\r\nDate: {_http_date()}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n")
        if allow:
            head += f"Allow: {allow}\r\n"
        if status == 503:
            head += "Retry-After: 1\r\n"
        if self.close_connection:
            head += "Connection: close\r\n"
        elif getattr(self, "request_version", "") == "HTTP/1.0":
            head += "Connection: keep-alive\r\n"
        data = (head + "\r\n").encode("latin-1")
        if getattr(self, "command", None) != "HEAD":
            data += body
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class ModelServer(LimitedServer):
    """A threaded HTTP/1.1 server of one ``Runner``; ``url`` is the model's base URL."""

    busy_type = "application/json"
    queue_wait = QUEUE_WAIT

    def __init__(self, runner: Runner, host: str = "127.0.0.1", port: int = 0,
                 handler: type[BaseHTTPRequestHandler] = ModelRequestHandler,
                 verbose: bool = False, max_body: int = MAX_BODY, *,
                 max_concurrent: int = MAX_CONCURRENT,
                 max_connections: int = MAX_CONNECTIONS, idle_timeout: float = IDLE_TIMEOUT):
        import socket

        self.runner = runner
        self.verbose = verbose
        self.max_body = max_body
        self.max_concurrent = max_concurrent
        self.stopping = False
        self._busy = 0
        self._idle = threading.Condition()
        self._room = threading.Condition()
        self._running = self._inflight = 0  # predictions admitted, and their body bytes
        self.busy_body = _error_body(f"the server has {max_connections} connections open, its "
                                     "limit; retry in a moment.")
        # answers that never change, encoded once
        self.models_body = _encode({"models": [runner.name]}).encode()
        self.status_body = _encode({"model_version_status": [{
            "version": runner.version, "state": "AVAILABLE",
            "status": {"error_code": "OK", "error_message": ""}}]}).encode()
        self.metadata_body = _encode({
            "model_spec": {"name": runner.name, "signature_name": "",
                           "version": runner.version},
            "metadata": {"signature_def": {"signature_def": runner.signature_def()}}}).encode()
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), handler, max_connections=max_connections,
                         idle_timeout=idle_timeout)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/v1/models/{self.runner.name}"

    def begin(self) -> None:
        with self._idle:
            self._busy += 1

    def end(self) -> None:
        with self._idle:
            self._busy -= 1
            if not self._busy:
                self._idle.notify_all()

    def admit(self, size: int) -> bool:
        """Room for one more prediction with a ``size``-byte body (waits up to queue_wait):
        at most ``max_concurrent`` run at once, and their bodies total at most
        ``max_body`` bytes, so memory stays bounded however many clients post at once."""
        with self._room:
            if not self._room.wait_for(
                    lambda: self._running < self.max_concurrent
                    and self._inflight + size <= self.max_body, self.queue_wait):
                return False
            self._running += 1
            self._inflight += size
            return True

    def release(self, size: int) -> None:
        with self._room:
            self._running -= 1
            self._inflight -= size
            self._room.notify_all()

    def drain(self, timeout: float = 10.0) -> bool:
        """Stop taking requests and wait for those in progress to be answered."""
        self.stopping = True
        with self._idle:
            return self._idle.wait_for(lambda: not self._busy, timeout)

    def report(self, err: BaseException) -> None:
        """A model failure goes to stderr even when quiet: it is the server's problem."""
        sys.stderr.write(f"error: {self.runner.name} failed on a request: "
                         f"{type(err).__name__}: {_last_line(err)}\n")
        if self.verbose:
            import traceback

            traceback.print_exception(err, file=sys.stderr)
        sys.stderr.flush()


def make_server(runner: Runner, host: str = "127.0.0.1", port: int = 0, *,
                verbose: bool = False, max_body: int = MAX_BODY,
                max_concurrent: int = MAX_CONCURRENT, max_connections: int = MAX_CONNECTIONS,
                idle_timeout: float = IDLE_TIMEOUT) -> ModelServer:
    """A ``ModelServer`` bound to ``host:port`` (0: a free port), not yet serving.

    >>> server = make_server(OnnxRunner("m", "1.0.0", Path("m.onnx")))  # doctest: +SKIP
    >>> threading.Thread(target=server.serve_forever, daemon=True).start()  # doctest: +SKIP
    >>> server.url  # doctest: +SKIP
    'http://127.0.0.1:39211/v1/models/m'
    """
    return ModelServer(runner, host, port, verbose=verbose, max_body=max_body,
                       max_concurrent=max_concurrent, max_connections=max_connections,
                       idle_timeout=idle_timeout)


def _env_count(name: str, default: int) -> int:
    import os

    from mlpm.errors import UsageError

    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit() and int(text) > 0):
        raise UsageError(f"{name}={text!r} is not a positive whole number; set it to a number "
                         f"such as {default} or unset it.")
    return int(text)


def serve(runner: Runner, host: str, port: int, *, verbose: bool = False) -> None:
    """Serve ``runner`` until SIGINT or SIGTERM, then answer the requests in progress and
    return (so the process exits 0).

    >>> serve(OnnxRunner("m", "1.0.0", Path("m.onnx")), "127.0.0.1", 8501)  # doctest: +SKIP
    Serving m@1.0.0 at http://127.0.0.1:8501/v1/models/m (Ctrl-C to stop)
    """
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt

    from mlpm.fetch import env_bytes

    server = make_server(runner, host, port, verbose=verbose,
                         max_body=env_bytes("MLPM_SERVE_MAX_BODY", MAX_BODY),
                         max_concurrent=_env_count("MLPM_SERVE_MAX_CONCURRENT", MAX_CONCURRENT),
                         max_connections=_env_count("MLPM_SERVE_MAX_CONNECTIONS",
                                                    MAX_CONNECTIONS))
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, stop) if main else None
    try:
        print(f"Serving {runner.name}@{runner.version} at {server.url} (Ctrl-C to stop)",
              flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        try:
            server.drain()
        except KeyboardInterrupt:  # a second Ctrl-C: stop waiting
            pass
        if main:
            signal.signal(signal.SIGTERM, previous)
        sys.stdout.flush()

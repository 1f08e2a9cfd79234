"""The TF Serving / KServe v1 JSON codec of `mlpm serve`: request bodies to arrays, arrays to
answers, with no HTTP in sight.

It owns the tensor specs (``TensorSpec``: dtype, shape, the KServe and TF Serving metadata
of one input or output), the row (``"instances"``) and columnar (``"inputs"``) formats
read by ``predict_json``, the checks of a request's values against a signature (kind of
values, rank, fixed and named dimensions), and the NaN rules: NaN, Infinity or a number past
the input's dtype in a request is a 400 (``RequestError``); NaN or Infinity in a model's
answer is a 500 naming the output, since JSON cannot carry it. numpy is imported only when a
request is decoded.
"""

from __future__ import annotations

import json

from mlpm.errors import RequestError as RequestError

TYPE_CHECKING = False  # typing costs start-up time; the names are for annotations only
if TYPE_CHECKING:
    from typing import Any, Protocol

    import numpy as np

    class Runner(Protocol):
        """What the codec reads of a model runner (mlpm/serve/runners.py), named here so
        that the codec does not import the runners that use it."""

        name: str
        signature_name: str
        inputs: list[TensorSpec]
        outputs: list[TensorSpec]
        _by_name: dict[str, TensorSpec]

        def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...

        def _run(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...

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


def quote_names(names) -> str:
    return ", ".join(repr(n) for n in names)


def last_line(err: BaseException) -> str:
    """The last line of an error's message: where ONNX Runtime and TorchScript put the cause
    after their own context."""
    text = str(err).strip().splitlines()
    return text[-1] if text else type(err).__name__


# compact JSON; NaN and Infinity raise ValueError, which answer_body turns into a 500
encode_json = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def _no_constant(name: str):
    raise RequestError(f"the request body holds {name}, which is not JSON; send finite "
                       "numbers only.")


decode_json = json.JSONDecoder(parse_constant=_no_constant).decode


def error_body(message: str) -> bytes:
    """The body of every error answer: ``{"error": "one sentence"}``."""
    return encode_json({"error": message}).encode()


# -- JSON tensors -> arrays -----------------------------------------------------------


def _tensor(spec: TensorSpec, value: Any, what: str) -> np.ndarray:
    """A JSON value (number, string, nested lists) as an array of ``spec``'s dtype."""
    import numpy as np

    try:
        array = np.asarray(value)
    except (ValueError, TypeError, RecursionError) as err:
        if "inhomogeneous" in str(err):
            raise RequestError(f"{what} must not be ragged: every row of a tensor needs the "
                               "same length.") from None
        raise RequestError(f"{what} is not a tensor: {last_line(err)}.") from None
    with np.errstate(over="ignore"):  # the cast may overflow: refused just below
        array = checked_array(spec, array, what)
    # a JSON number past the dtype's range (1e39 in float32, 1e999 in any)
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        raise RequestError(f"{what} holds a number too large for {spec.dtype}; send "
                           "finite numbers within its range.")
    return array


def answer_body(runner: Runner, answer: dict) -> bytes:
    """A predict answer as JSON; NaN and Infinity are not JSON, so an output holding one is
    refused (500) by name instead of written as a bare token strict parsers reject."""
    try:
        return encode_json(answer).encode()
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
        encode_json(value)
    except ValueError:
        return False
    return True


def checked_array(spec: TensorSpec, array: Any, what: str | None = None) -> np.ndarray:
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


def check_dims(specs: list[TensorSpec], arrays: dict) -> None:
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
        raise RequestError(f"{runner.name} has the inputs {quote_names(s.name for s in specs)}, so "
                           'each item of "instances" must be an object keyed by input name.')
    columns: dict[str, list] = {s.name: [] for s in specs}
    for n, item in enumerate(instances):
        if item.keys() != columns.keys():
            unknown = [k for k in item if k not in columns]
            if unknown:
                raise RequestError(f"instance {n} has {quote_names(unknown)}, which {runner.name} "
                                   f"has no input of; its inputs are {quote_names(columns)}.")
            missing = [k for k in columns if k not in item]
            raise RequestError(f"instance {n} is missing the input {quote_names(missing)} of "
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
            names = quote_names(s.name for s in specs)
            raise RequestError(f"{runner.name} has the inputs {names}, "
                               'so "inputs" must be an object keyed by input name.')
        return {specs[0].name: _tensor(specs[0], inputs, '"inputs"')}
    by_name = runner._by_name
    unknown = [k for k in inputs if k not in by_name]
    if unknown:
        raise RequestError(f"{runner.name} has no input named {quote_names(unknown)}; its inputs "
                           f"are {quote_names(by_name)}.")
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
        check_dims(runner.inputs, arrays)
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

